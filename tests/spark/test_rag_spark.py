"""RAG ingestion on Spark with the real model: a lake's document datasets to a store and back.

JSON Lines (readers as arrays), CSV (readers as a comma-separated cell) and Parquet (list
column); incremental ingests (only new and changed documents embedded), relabelling without
re-embedding, removal, opt-out that survives re-ingest, a rebuild byte-identical to the
incrementally maintained store, bad input, and the CLI's public JSON contract.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import Catalog
from lakeward.cli import main
from lakeward.errors import InputError
from lakeward.policy import acknowledge_purpose, engine_for
from lakeward.rag import ingest, query, rebuild
from lakeward.rag._store import index_files, load_current, read_current

pytestmark = pytest.mark.spark

TICKETS = [
    {
        "doc_id": "t1",
        "text": "The VPN client fails after the update. Restart the client and sign in again.",
        "readers": ["group:analysts", "user:carol"],
        "licence": "permissive",
        "title": "VPN after update",
    },
    {
        "doc_id": "t2",
        "text": "Salary review for the sales team is complete. Raises start in March.",
        "readers": ["group:stewards"],
        "licence": "permissive",
        "title": "Salary review",
    },
    {
        "doc_id": "t3",
        "text": "Printer toner lives in the office cupboard. Facilities order more each month.",
        "readers": ["group:analysts"],
        "title": "Toner",
    },
    {"doc_id": "t4", "text": "Nobody may read this one.", "readers": []},
]


def _write_jsonl(path: Path, docs: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


@pytest.fixture
def lake(tmp_path: Path, home: Path, spark: Any) -> tuple[Path, Catalog]:
    """A lake of three document datasets, registered and profiled (SQLite: the store's own
    files are the subject here; the catalog only decides and audits)."""
    root = tmp_path / "lake"
    root.mkdir()
    _write_jsonl(root / "tickets.jsonl", TICKETS)
    (root / "notes.csv").write_text(
        "doc_id,text,readers\n"
        'n1,"Backups run nightly. Restores take an hour.","user:alice, group:stewards"\n'
    )
    pq.write_table(
        pa.table(
            {
                "doc_id": ["p1"],
                "text": ["Parquet documents work too. Their readers are a list column."],
                "readers": [["user:bob"]],
            }
        ),
        root / "papers.parquet",
    )
    catalog = Catalog.shared()
    bundle = engine_for(catalog).bundle
    for user in ("local-user", "alice", "bob", "carol"):
        for purpose in ("document_retrieval", "catalog_maintenance"):
            acknowledge_purpose(catalog, bundle, user, purpose)
    assert main(["lake", "register", str(root)]) == 0
    assert main(["lake", "profile"]) == 0  # readers (array<string>) profiles like any column
    from sqlalchemy import select

    from lakeward.catalog import ColumnProfile

    with catalog.session() as session:  # rows with readers of their own: no value statistic
        stats = session.execute(select(ColumnProfile.min_value, ColumnProfile.max_value)).all()
    assert stats and all(lo is None and hi is None for lo, hi in stats)
    return root, catalog


def test_ingest_query_incremental_relabel_remove_and_rebuild(lake: tuple[Path, Catalog]) -> None:
    root, catalog = lake
    first = ingest(catalog, "local-user", "help", "tickets")
    assert (first.added, first.documents, first.embedded_chunks > 0) == (4, 4, True)
    assert any("no readers" in w for w in first.warnings)
    answer = query(catalog, "alice", "help", "how do I fix the VPN after an update?", k=2).to_dict()
    assert answer["results"][0]["doc_id"] == "t1"
    assert {r["doc_id"] for r in answer["results"]} <= {"t1", "t3"}
    assert answer["citations"][0] == "t1" and "VPN" in answer["answer"]

    again = ingest(catalog, "local-user", "help", "tickets")
    assert (again.unchanged, again.embedded_chunks, again.version) == (4, 0, first.version)

    docs = [dict(d) for d in TICKETS]
    docs[0]["text"] += " If that fails, reinstall the VPN client."  # changed
    docs[2]["readers"] = ["group:analysts", "group:stewards"]  # relabelled only
    del docs[1]  # removed
    docs.append(
        {"doc_id": "t5", "text": "Badges are renewed at reception.", "readers": ["user:bob"]}
    )
    _write_jsonl(root / "tickets.jsonl", docs)
    assert main(["lake", "profile"]) == 0
    step = ingest(catalog, "local-user", "help", "tickets")
    assert (step.added, step.changed, step.relabelled, step.removed, step.unchanged) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert step.embedded_chunks == 2  # t1 and t5, one chunk each; t3 kept its vector

    from lakeward.settings import get_settings

    home = Path(get_settings().rag.dir) / "help"
    incremental = index_files(home / read_current(home))
    rebuilt = rebuild(catalog, "local-user", "help")
    assert rebuilt.embedded_chunks >= 4 and rebuilt.version != step.version
    assert index_files(home / read_current(home)) == incremental  # incremental == from scratch


def test_vectors_depend_on_their_document_alone(lake: tuple[Path, Catalog]) -> None:
    from lakeward._embed import passage_embedder
    from lakeward.rag._chunk import chunk_text
    from lakeward.settings import get_settings

    _, catalog = lake
    ingest(catalog, "local-user", "help", "tickets")
    home = Path(get_settings().rag.dir) / "help"
    version = load_current(home)
    rows = version.chunk_rows()
    for d in TICKETS:
        chunks = chunk_text(d["text"], max_chars=800, overlap=1)
        alone = passage_embedder().encode_batch([c.text for c in chunks])
        mine = [v for doc, v in zip(rows.doc_ids, rows.vectors, strict=True) if doc == d["doc_id"]]
        assert np.array_equal(np.stack(mine), alone)  # bitwise: no other document in its batch


def test_csv_and_parquet_sources_and_opt_out_survives_reingest(
    lake: tuple[Path, Catalog], capsys: pytest.CaptureFixture[str]
) -> None:
    _, catalog = lake
    for dataset in ("notes", "papers", "tickets"):
        assert main(["rag", "ingest", "mixed", "--dataset", dataset, "--json"]) == 0
    capsys.readouterr()
    code = main(["rag", "query", "mixed", "when do backups run", "--json", "--k", "3"])
    out = capsys.readouterr().out
    assert code == 0
    # run as the OS user (local-user, a steward): n1 names group:stewards
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) >= {"results", "answer", "citations", "label"}
    assert result["results"][0]["doc_id"] == "n1" and result["citations"][0] == "n1"
    assert main(["rag", "delete", "mixed", "n1"]) == 2  # --yes required
    assert main(["rag", "delete", "mixed", "n1", "--yes", "--json"]) == 0
    capsys.readouterr()
    assert main(["rag", "ingest", "mixed", "--dataset", "notes", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["added"], again["skipped_opted_out"]) == (0, 1)
    assert main(["rag", "query", "mixed", "when do backups run", "--json"]) == 0
    assert "n1" not in capsys.readouterr().out
    bob = query(catalog, "bob", "mixed", "parquet readers list column", k=1).to_dict()
    assert bob["results"][0]["doc_id"] == "p1"


def test_bad_documents_stop_the_ingest_and_change_nothing(
    lake: tuple[Path, Catalog], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, catalog = lake
    ingest(catalog, "local-user", "help", "tickets")
    from lakeward.settings import get_settings

    home = Path(get_settings().rag.dir) / "help"
    before = read_current(home)
    cases = {
        "duplicate": TICKETS + [TICKETS[0]],
        "licence": [{**TICKETS[0], "licence": "copyleft"}],
        "readers": [{**TICKETS[0], "readers": ["alice"]}],
    }
    for name, docs in cases.items():
        _write_jsonl(root / "tickets.jsonl", docs)
        with pytest.raises(InputError) as err:
            ingest(catalog, "local-user", "help", "tickets")
        assert "nothing was ingested" in str(err.value), name
        assert read_current(home) == before
    (root / "tickets.jsonl").write_bytes(
        b'{"doc_id": "u1", "text": "caf\xe9 au lait", "readers": ["user:alice"]}\n'
    )
    with pytest.raises(InputError, match="tickets.jsonl"):  # Spark refuses it; named, no value
        ingest(catalog, "local-user", "help", "tickets")
    _write_jsonl(root / "tickets.jsonl", TICKETS)
    monkeypatch.setenv("LAKEWARD_RAG_MAX_DOCUMENT_BYTES", "40")
    with pytest.raises(InputError, match="over the 40-byte limit"):
        ingest(catalog, "local-user", "help", "tickets")
    monkeypatch.delenv("LAKEWARD_RAG_MAX_DOCUMENT_BYTES")
    assert read_current(home) == before
    assert main(["rag", "ingest", "help", "--dataset", "nope"]) != 0
    assert main(["rag", "query", "help", "vpn", "--k", "0"]) == 2
    assert main(["rag", "query", "missing", "vpn"]) == 2
    err = capsys.readouterr().err
    assert "k must be an integer" in err and "no RAG store 'missing'" in err
