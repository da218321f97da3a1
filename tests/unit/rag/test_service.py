"""The RAG service without Spark: non-interference through every output, opt-out, answers.

Stores are built in-process (``conftest.write_store``: the store's own writer, a stand-in
embedder); readability is the real policy layer's (the default bundle, Cedar). The Spark
tier runs the same service with the real ingestion job and model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lakeward.catalog import AuditRecord, Catalog, DatasetRepository
from lakeward.errors import InputError, NotFound, PolicyDenied
from lakeward.policy import DocumentFacts, acknowledge_purpose, engine_for
from lakeward.rag import delete, list_stores, query, query_many, show
from lakeward.rag._store import LabelClass, StoreSettings, index_files, read_current
from tests.unit.rag.conftest import READERS, USERS, doc, rag_dir, write_store

WORDS = (
    "vpn client update restart printer toner salary review budget invoice laptop password "
    "reset badge office parking holiday payroll contract renewal ticket outage database "
    "backup restore network latency"
).split()
LICENCES = ("public_domain", "permissive", "attribution", "restricted")


@pytest.fixture(scope="module")
def catalog() -> Iterator[Catalog]:
    with tempfile.TemporaryDirectory(prefix="lakeward-rag-") as scratch:
        cat = Catalog.open(f"sqlite:///{Path(scratch) / 'catalog.db'}")
        bundle = engine_for(cat).bundle
        for user in (*USERS, "local-user"):
            acknowledge_purpose(cat, bundle, user, "document_retrieval")
        yield cat
        cat.dispose()


def _readable(catalog: Catalog, user: str, d: dict[str, Any]) -> bool:
    facts = DocumentFacts.of("x", "s", d["dataset"], d["readers"], d["licence"])
    allowed, errors = engine_for(catalog).decide_documents(
        user, "rag.query", [facts], {"purpose": "document_retrieval"}
    )
    assert not errors
    return allowed[0]


def _outputs(catalog: Catalog, user: str, queries: list[str], k: int) -> str:
    """Everything ``user`` can learn of store ``s``, as one string."""
    parts: list[Any] = []
    try:
        parts.append([r.to_dict() for r in query_many(catalog, user, "s", queries, k=k)])
    except (NotFound, InputError) as exc:
        parts.append(f"{type(exc).__name__}: {exc}")
    try:
        parts.append(show(catalog, user, "s").to_dict())
    except NotFound as exc:
        parts.append(f"NotFound: {exc}")
    parts.append([s.to_dict() for s in list_stores(catalog, user)])
    return json.dumps(parts, sort_keys=True)  # floats as repr: equal strings, equal bits


_text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(
    lambda ws: ". ".join(" ".join(ws[i : i + 5]) for i in range(0, len(ws), 5)) + "."
)
_doc = st.fixed_dictionaries(
    {
        "text": _text,
        "readers": st.lists(st.sampled_from(READERS), max_size=3),
        "licence": st.sampled_from(LICENCES),
        "dataset": st.sampled_from(["docs", "tickets"]),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    docs=st.lists(_doc, min_size=1, max_size=12),
    user=st.sampled_from(USERS),
    queries=st.lists(_text, min_size=1, max_size=3),
    k=st.integers(1, 6),
    extra=st.lists(_doc, max_size=4),
    mutation=st.sampled_from(["add", "remove", "edit", "relabel", "copy-query", "all"]),
    graph_min=st.sampled_from([50_000, 2]),
)
def test_outputs_depend_only_on_what_the_user_may_read(
    catalog: Catalog,
    docs: list[dict[str, Any]],
    user: str,
    queries: list[str],
    k: int,
    extra: list[dict[str, Any]],
    mutation: str,
    graph_min: int,
) -> None:
    base = [
        doc(f"d{i}", d["text"], d["readers"], d["licence"], d["dataset"])
        for i, d in enumerate(docs)
    ]
    hidden = [d for d in base if not _readable(catalog, user, d)]
    others = [r for r in READERS if r not in (f"user:{user}",)]
    changed = [d for d in base if d not in hidden]  # the visible ones, untouched
    invisible: list[dict[str, Any]] = []
    for d in hidden:
        if mutation in ("remove", "all") and len(invisible) % 2 == 0:
            invisible.append({})  # removed
            continue
        if mutation in ("edit", "all"):
            d = {**d, "text": d["text"] + " outage ticket."}
        if mutation in ("relabel", "all"):
            d = {
                **d,
                "licence": "restricted",
                "readers": tuple(sorted({*d["readers"], "user:zed"})),
            }
        invisible.append(d)
    changed += [d for d in invisible if d and not _readable(catalog, user, d)]
    if mutation in ("add", "copy-query", "all"):
        for i, e in enumerate(extra):
            text = queries[0] if mutation == "copy-query" else e["text"]
            candidate = doc(
                f"x{i}",
                text,
                [r for r in e["readers"] if r in others] or ["user:zed"],
                e["licence"],
            )
            if not _readable(catalog, user, candidate):
                changed.append(candidate)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        with rag_dir(Path(a)):
            write_store(Path(a) / "s", base, StoreSettings(chunk_chars=120, graph_min=graph_min))
            first = _outputs(catalog, user, queries, k)
        with rag_dir(Path(b)):
            if changed:
                write_store(
                    Path(b) / "s", changed, StoreSettings(chunk_chars=120, graph_min=graph_min)
                )
            second = _outputs(catalog, user, queries, k)
    assert first == second


CORPUS = [
    doc(
        "hr-1",
        "Salary review for the sales team is complete. Raises start in March.",
        ["group:stewards"],
    ),
    doc(
        "it-1",
        "The VPN client fails after the update. Restart the client to fix the VPN.",
        ["group:analysts", "user:carol"],
    ),
    doc(
        "it-2",
        "Printer toner is in the office cupboard. Ask facilities for more toner.",
        ["group:analysts"],
    ),
    doc(
        "lic-1",
        "Licensed market report: the VPN market grows. Quote with attribution.",
        ["user:grace", "user:bob"],
        "restricted",
    ),
    doc("nobody", "The VPN password reset portal is at the intranet.", []),
]


@pytest.fixture
def store(tmp_path: Path, catalog: Catalog) -> Iterator[Path]:
    with rag_dir(tmp_path / "rag"):
        write_store(tmp_path / "rag" / "s", CORPUS)
        yield tmp_path / "rag" / "s"


def test_answers_cite_only_readable_documents_with_their_join_label(
    catalog: Catalog, store: Path
) -> None:
    alice = query(catalog, "alice", "s", "vpn client update fails", k=3).to_dict()
    assert [r["doc_id"] for r in alice["results"]][0] == "it-1"
    assert {r["doc_id"] for r in alice["results"]} <= {"it-1", "it-2"}
    assert alice["citations"] and set(alice["citations"]) <= {"it-1", "it-2"}
    assert all(s["text"] in alice["answer"] for s in alice["sentences"])
    for s in alice["sentences"]:
        text = next(d["text"] for d in CORPUS if d["doc_id"] == s["doc_id"])
        assert text[s["offset"] : s["offset"] + len(s["text"])] == s["text"]
    assert "user:alice" in alice["label"]["readers"] and alice["label"]["licence"] == "permissive"
    # grace (analysts, licensed) also reads the restricted-licence report
    grace = query(catalog, "grace", "s", "vpn market report", k=5).to_dict()
    assert "lic-1" in {r["doc_id"] for r in grace["results"]}
    if "lic-1" in grace["citations"]:
        assert grace["label"]["licence"] == "restricted"
        assert grace["label"]["readers"] == ["user:bob", "user:grace"]  # bob: uncleared
    # bob may read lic-1 by readers, but not its restricted licence; nobody reads "nobody"
    bob = query(catalog, "bob", "s", "vpn market report", k=5).to_dict()
    assert {"lic-1", "nobody", "hr-1"}.isdisjoint({r["doc_id"] for r in bob["results"]})


def test_a_store_you_cannot_read_is_a_store_that_does_not_exist(
    catalog: Catalog, store: Path
) -> None:
    # erin (researchers) reads nothing in s: the same error, word for word, as no store
    with pytest.raises(NotFound) as invisible:
        query(catalog, "erin", "s", "vpn", k=3)
    with pytest.raises(NotFound) as missing:
        query(catalog, "erin", "nope", "vpn", k=3)
    assert str(invisible.value).replace("'s'", "X") == str(missing.value).replace("'nope'", "X")
    with pytest.raises(NotFound):
        show(catalog, "erin", "s")
    assert list_stores(catalog, "erin") == []
    mine = show(catalog, "alice", "s")
    assert (mine.documents, len(mine.classes)) == (2, 2)
    assert {c.readers for c in mine.classes} == {
        ("group:analysts",),
        ("group:analysts", "user:carol"),
    }


def test_bad_queries_are_input_errors(catalog: Catalog, store: Path) -> None:
    for k in (0, -1, 101, True, 2.5):
        with pytest.raises(InputError, match="k must be"):
            query(catalog, "alice", "s", "vpn", k=k)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="10,000-character limit"):
        query(catalog, "alice", "s", "x" * 100_000)
    with pytest.raises(InputError, match="empty"):
        query(catalog, "alice", "s", "   ")
    with pytest.raises(InputError, match="query 2"):
        query_many(catalog, "alice", "s", ["vpn", ""])
    with pytest.raises(InputError, match="invalid RAG store name"):
        query(catalog, "alice", "../etc", "vpn")


def test_one_audit_record_per_batch_naming_no_document(catalog: Catalog, store: Path) -> None:
    with catalog.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(AuditRecord)).scalar()
    query_many(catalog, "alice", "s", ["vpn", "toner", "printer"], k=2)
    with catalog.session() as session:
        after = session.scalar(select(func.count()).select_from(AuditRecord))
        rec = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
        seen = json.dumps([rec.reasons, rec.request])
        assert (rec.action, rec.resource, rec.decision, rec.principal) == (
            "rag.query",
            "rag:s",
            "allow",
            "alice",
        )
    assert after == before + 1
    assert "2 of 5 document classes readable" in seen
    assert "it-1" not in seen and "it-2" not in seen and "vpn" not in seen


def test_delete_equals_a_fresh_build_without_the_documents(
    catalog: Catalog, store: Path, tmp_path: Path
) -> None:
    with catalog.session() as session:
        DatasetRepository(session).register(
            name="docs",
            uri="file:///x",
            lake_root="file:///",
            format="json",
            layout="file",
            file_count=1,
            bytes=1,
        )
    with pytest.raises(PolicyDenied):
        delete(catalog, "alice", "s", ["it-2"])  # analysts may not
    with pytest.raises(InputError, match="holds no document 'ghost'"):
        delete(catalog, "carol", "s", ["it-2", "ghost"])
    before = read_current(store)
    report = delete(catalog, "carol", "s", ["it-2", "hr-1"])
    assert report.deleted == 2 and read_current(store) != before
    assert not (store / before).exists()  # the old version is gone, not kept aside
    fresh = tmp_path / "fresh"
    with rag_dir(fresh):
        write_store(fresh / "s", [d for d in CORPUS if d["doc_id"] not in ("it-2", "hr-1")])
        expected = _outputs(catalog, "alice", ["printer toner", "vpn"], 3)
    assert index_files(store / read_current(store)) == index_files(
        fresh / "s" / read_current(fresh / "s")
    )
    assert _outputs(catalog, "alice", ["printer toner", "vpn"], 3) == expected
    optouts = (store / "optout.json").read_text()
    assert "it-2" not in optouts and "hr-1" not in optouts  # keyed markers, not the ids
    for path in (store / read_current(store)).iterdir():
        assert b"it-2" not in path.read_bytes() and b"toner" not in path.read_bytes()


def test_classes_have_stable_ids() -> None:
    a = LabelClass("docs", ("group:x",), "permissive", 1, 1)
    assert a.uid == LabelClass("docs", ("group:x",), "permissive", 5, 9).uid
    assert a.uid != LabelClass("docs", ("group:y",), "permissive", 1, 1).uid


def test_ingest_checks_warn_about_readers_nobody_knows_and_skip_empty_text(
    tmp_path: Path,
) -> None:
    from lakeward.rag._ingest import DocumentMeta
    from lakeward.rag._service import _check

    def meta(
        doc_id: str, readers: tuple[str, ...] | None, chars: int = 10, **kw: Any
    ) -> DocumentMeta:
        base = {
            "sha256": "ab" * 32,
            "bytes": chars,
            "not_utf8": False,
            "licence": None,
            "title": "",
        }
        return DocumentMeta(doc_id, chars=chars, readers=readers, **{**base, **kw})

    checked = _check(
        "docs",
        [
            meta("a", ("user:alice", "group:analysts")),
            meta("b", ("user:zed", "group:ghosts")),
            meta("c", None),
            meta("d", ("user:alice",), chars=0, sha256=None),
        ],
        {"alice"},
        {"analysts"},
        set(),
        tmp_path,
    )
    assert [r.doc_id for r in checked.records] == ["a", "b", "c"]
    assert checked.records[0].licence == "permissive"  # the default
    warnings = " ".join(checked.warnings)
    assert "1 document(s) have no readers" in warnings
    assert "group:ghosts, user:zed" in warnings and "1 document(s) have empty text" in warnings


def test_remembered_decisions_follow_tag_changes(tmp_path: Path) -> None:
    """A source dataset tagged restricted after a first query: the next query reads nothing."""
    from lakeward.catalog import TagRepository

    with tempfile.TemporaryDirectory() as scratch:
        catalog = Catalog.open(f"sqlite:///{Path(scratch) / 'c.db'}")
        acknowledge_purpose(catalog, engine_for(catalog).bundle, "alice", "document_retrieval")
        with rag_dir(tmp_path / "rag"):
            write_store(tmp_path / "rag" / "s", CORPUS)
            assert query(catalog, "alice", "s", "printer toner", k=2).results
            with catalog.session() as session:
                dataset = DatasetRepository(session).register(
                    name="docs",
                    uri="file:///x",
                    lake_root="file:///",
                    format="json",
                    layout="file",
                    file_count=1,
                    bytes=1,
                )[0]
                TagRepository(session)._add(dataset, "restricted")
            with pytest.raises(NotFound):
                query(catalog, "alice", "s", "printer toner", k=2)
        catalog.dispose()
