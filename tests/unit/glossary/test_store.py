"""Glossaries in the catalog: import in three formats, export round trips, re-import by id
(reviews kept), ``replace`` deprecates, bad files are refused whole with their lines, and
importing is ``glossary.manage`` (denied to analysts, audited).

Runs on SQLite and, with ``LAKEWARD_TEST_POSTGRES_URL``, PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lakeward.catalog import (
    AuditLog,
    Catalog,
    DatasetRepository,
    Glossary,
    GlossaryMatch,
    GlossaryTerm,
    GlossaryVersion,
    MatchStatus,
)
from lakeward.cli import main
from lakeward.errors import InputError, NotFound, PolicyDenied
from lakeward.glossary import TermMeta
from lakeward.glossary._store import (
    export_glossary,
    glossary_terms,
    import_glossary,
    list_glossaries,
    require_glossary,
)
from lakeward.identity import Principal, acting_as
from lakeward.policy import acknowledge_purpose, engine_for

TERMS = [
    {
        "id": "T1",
        "label": "Customer Email",
        "description": "The email address a customer gave us.",
        "synonyms": ["e-mail", "mail address"],
        "parent": "Customer",
        "tags": ["pii", "pii_direct"],
        "owner": "carol",
        "status": "active",
    },
    {"id": "T2", "label": "Order Total", "description": "Amount, with tax.", "tags": ["financial"]},
    {"id": "T3", "label": "Kundennummer", "description": "Identifiant client — 顧客番号 🧾"},
    {"id": "T4", "label": "Legacy code", "status": "draft"},
]


@pytest.fixture
def cat(catalog: Catalog, bundle_dir: Path) -> Catalog:
    bundle = engine_for(catalog).bundle
    for principal in ("carol", "local-user"):
        acknowledge_purpose(catalog, bundle, principal, "data_governance")
    acknowledge_purpose(catalog, bundle, "alice", "analytics")
    return catalog


def write_jsonl(path: Path, terms: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in terms))
    return path


def counts(catalog: Catalog) -> tuple[int, int, int]:
    with catalog.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Glossary)) or 0,
            session.scalar(select(func.count()).select_from(GlossaryTerm)) or 0,
            session.scalar(select(func.count()).select_from(GlossaryVersion)) or 0,
        )


def stored(catalog: Catalog, name: str) -> dict[str, GlossaryTerm]:
    with catalog.session() as session:
        glossary = require_glossary(session, name)
        rows = session.scalars(select(GlossaryTerm).where(GlossaryTerm.glossary_id == glossary.id))
        return {r.term_id: r for r in rows}


def test_import_jsonl_and_read_terms(cat: Catalog, tmp_path: Path) -> None:
    result = import_glossary(cat, "carol", write_jsonl(tmp_path / "g.jsonl", TERMS), name="biz")
    assert result.created and result.changed and result.version == 1
    assert sorted(result.added) == ["T1", "T2", "T3", "T4"] and result.format == "jsonl"
    terms = glossary_terms(cat, "biz")
    assert [t.id for t in terms] == ["T1", "T2", "T3"]  # the draft is not matched
    assert terms[0] == TermMeta(
        "T1",
        "Customer Email",
        "The email address a customer gave us.",
        ("e-mail", "mail address"),
        "Customer",
        ("pii", "pii_direct"),
    )
    assert terms[2].description.endswith("🧾")
    assert len(glossary_terms(cat, "biz", include_inactive=True)) == 4
    [info] = list_glossaries(cat)
    assert info.name == "biz" and info.version == 1
    assert info.terms == {"active": 3, "draft": 1}
    with cat.session() as session:
        version = session.scalars(select(GlossaryVersion)).one()
    assert version.source == "g.jsonl" and version.imported_by == "carol"
    assert version.changes["added"] == 4 and version.changes["format"] == "jsonl"
    assert version.content_hash == result.content_hash and len(result.content_hash) == 64


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "yaml"])
def test_export_import_round_trips_exactly(cat: Catalog, tmp_path: Path, fmt: str) -> None:
    first = import_glossary(
        cat, "carol", write_jsonl(tmp_path / "g.jsonl", TERMS), name="biz", description="Ours"
    )
    before = glossary_terms(cat, "biz", include_inactive=True)
    text = export_glossary(cat, "biz", fmt)
    path = tmp_path / f"exported.{'yml' if fmt == 'yaml' else fmt}"
    path.write_text(text, encoding="utf-8")
    again = import_glossary(cat, "carol", path, name="biz", replace=True)
    assert not again.changed and again.version == 1 and again.unchanged == 4
    assert again.content_hash == first.content_hash
    # ... and into a fresh glossary: the same terms.
    copy = import_glossary(cat, "carol", path, name="copy")
    assert copy.added and glossary_terms(cat, "copy", include_inactive=True) == before
    assert export_glossary(cat, "copy", "jsonl") == export_glossary(cat, "biz", "jsonl")


def test_csv_and_yaml_inputs(cat: Catalog, tmp_path: Path) -> None:
    csv_file = tmp_path / "g.csv"
    csv_file.write_text(
        "\ufeffid,label,synonyms,tags\n"
        "C1,Customer Email,e-mail|mail;email addr,pii\n"
        'C2,"Order, Total",,\n',
        encoding="utf-8",
    )
    import_glossary(cat, "carol", csv_file, name="csv")
    terms = {t.id: t for t in glossary_terms(cat, "csv")}
    assert terms["C1"].synonyms == ("e-mail", "mail", "email addr")
    assert terms["C2"].label == "Order, Total" and terms["C2"].tags == ()
    yaml_file = tmp_path / "g.yaml"
    yaml_file.write_text(
        "name: whatever\ndescription: From YAML\nterms:\n"
        "  - {id: 1, label: One, synonyms: [uno]}\n"
        "  - id: two\n    label: Two\n    tags: pii; financial\n"
    )
    import_glossary(cat, "carol", yaml_file, name="yml")
    assert [t.id for t in glossary_terms(cat, "yml")] == ["1", "two"]
    assert glossary_terms(cat, "yml")[1].tags == ("pii", "financial")
    assert {g.name: g.description for g in list_glossaries(cat)}["yml"] == "From YAML"
    listed = tmp_path / "list.yml"
    listed.write_text("- {id: a, label: A}\n")
    assert import_glossary(cat, "carol", listed, name="listed").added == ("a",)


def test_reimport_updates_by_id_and_keeps_reviews(cat: Catalog, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", TERMS)
    import_glossary(cat, "carol", path, name="biz")
    with cat.session() as session:
        repo = DatasetRepository(session)
        dataset, _ = repo.register(
            name="sales.customers",
            uri="schema:x#sales.customers",
            lake_root="",
            format="schema",
            layout="schema",
            file_count=0,
            bytes=0,
        )
        glossary = require_glossary(session, "biz")
        for term, status in (("T1", MatchStatus.ACCEPTED), ("T2", MatchStatus.REJECTED)):
            session.add(
                GlossaryMatch(
                    glossary_id=glossary.id,
                    dataset_id=dataset.id,
                    column_name="email",
                    term_id=term,
                    rank=1,
                    score=0.9,
                    evidence={},
                    status=status.value,
                    metadata_signature="s" * 64,
                    created_by="lakeward-scheduler",
                    reviewed_by="carol",
                )
            )
    changed = [dict(TERMS[0], label="Customer E-mail"), TERMS[1], {"id": "T5", "label": "New"}]
    result = import_glossary(cat, "carol", write_jsonl(path, changed), name="biz")
    assert result.version == 2 and result.updated == ("T1",) and result.added == ("T5",)
    assert result.unchanged == 1 and result.kept == 2 and not result.deprecated
    rows = stored(cat, "biz")
    assert rows["T1"].label == "Customer E-mail" and rows["T1"].version == 2
    assert rows["T2"].version == 1 and rows["T5"].version == 2
    assert rows["T3"].status == "active"  # kept: not in the file, no --replace
    with cat.session() as session:
        matches = {m.term_id: m.status for m in session.scalars(select(GlossaryMatch))}
    assert matches == {"T1": "accepted", "T2": "rejected"}

    # --replace deprecates what the file lacks; never deletes.
    replaced = import_glossary(cat, "carol", path, name="biz", replace=True)
    assert sorted(replaced.deprecated) == ["T3", "T4"] and replaced.version == 3
    rows = stored(cat, "biz")
    assert len(rows) == 5 and rows["T3"].status == "deprecated" and rows["T3"].version == 3
    assert [t.id for t in glossary_terms(cat, "biz")] == ["T1", "T2", "T5"]
    # Nothing changed: no new version.
    same = import_glossary(cat, "carol", path, name="biz", replace=True)
    assert not same.changed and same.version == 3
    assert counts(cat)[2] == 3
    with cat.session() as session:
        assert {m.term_id: m.status for m in session.scalars(select(GlossaryMatch))} == matches


BAD = [
    ("empty.jsonl", "", "no terms"),
    ("blank.csv", "id,label\n", "no terms"),
    ("dup.jsonl", '{"id": "a", "label": "A"}\n{"id": "a", "label": "B"}\n', "line 2: duplicate"),
    ("nolabel.jsonl", '{"id": "a", "label": "A"}\n{"id": "b"}\n', "line 2: term 'b' has no label"),
    ("noid.jsonl", '{"label": "A"}\n', "line 1: the term has no id"),
    ("header.csv", "id,name\na,A\n", "line 1: the header row lacks label"),
    ("unknown.jsonl", '{"id": "a", "label": "A", "colour": "red"}\n', "unknown field(s) colour"),
    ("tag.jsonl", '{"id": "a", "label": "A", "tags": ["secret"]}\n', "policies/tags.yaml"),
    ("long.jsonl", json.dumps({"id": "a", "label": "x" * 600}) + "\n", "at most 512"),
    ("json.jsonl", '{"id": "a", "label": "A"}\n{"id": \n', "line 2: not valid JSON"),
    ("status.csv", "id,label,status\na,A,retired\n", "status 'retired'"),
    ("sep.jsonl", '{"id": "a", "label": "A", "synonyms": ["x|y"]}\n', "separate synonyms"),
    ("bad.yaml", "terms: [\n", "not valid YAML"),
    ("top.yaml", "glossary: x\nterms: []\n", "unknown top-level key(s) glossary"),
    ("scalar.yaml", "- just text\n", "line 1: a term must be an object"),
    ("g.txt", "id,label\n", "--format"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_refused_whole(
    cat: Catalog, tmp_path: Path, name: str, text: str, message: str
) -> None:
    import_glossary(cat, "carol", write_jsonl(tmp_path / "ok.jsonl", TERMS), name="biz")
    before = counts(cat), export_glossary(cat, "biz", "jsonl")
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        import_glossary(cat, "carol", path, name="biz", replace=True)
    assert message in str(info.value)
    if name != "g.txt":
        assert name in str(info.value) and "nothing was imported" in str(info.value)
    assert (counts(cat), export_glossary(cat, "biz", "jsonl")) == before


def test_every_problem_is_listed(cat: Catalog, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [{"id": "a"}, {"id": "b", "label": "B"}, {"id": "b", "label": "C"}, {"label": "D"}],
    )
    with pytest.raises(InputError) as info:
        import_glossary(cat, "carol", path, name="biz")
    assert "3 problem(s)" in str(info.value)
    assert counts(cat) == (0, 0, 0)


def test_analysts_may_not_import_and_are_audited(cat: Catalog, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", TERMS)
    with pytest.raises(PolicyDenied):
        import_glossary(cat, "alice", path, name="biz")
    assert counts(cat) == (0, 0, 0)
    denied = [r for r in AuditLog(cat).tail(10) if r.action == "glossary.manage"]
    assert denied and denied[-1].decision == "deny" and denied[-1].principal == "alice"
    import_glossary(cat, None, path, name="biz")  # the OS user's principal: local-user
    allowed = [r for r in AuditLog(cat).tail(10) if r.action == "glossary.manage"]
    assert allowed[-1].decision == "allow" and allowed[-1].principal == "local-user"


def test_unknown_glossary_names_the_fix(cat: Catalog) -> None:
    with pytest.raises(NotFound, match="lakeward glossary ls"):
        glossary_terms(cat, "nope")
    with pytest.raises(NotFound):
        export_glossary(cat, "nope", "csv")
    with pytest.raises(InputError, match="format"):
        export_glossary(cat, "nope", "xml")


def test_a_large_glossary_imports(cat: Catalog, tmp_path: Path) -> None:
    terms = [{"id": f"T{i:05d}", "label": f"Term {i}", "synonyms": [f"t{i}"]} for i in range(3000)]
    result = import_glossary(cat, "carol", write_jsonl(tmp_path / "big.jsonl", terms), name="big")
    assert len(result.added) == 3000
    assert len(glossary_terms(cat, "big")) == 3000


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI as the OS user's principal (local-user, a steward)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_import_export_ls_terms(
    cat: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", TERMS)
    code, out, err = run(capsys, "glossary", "import", "--name", "biz", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 4 and json.loads(out)["version"] == 1
    code, out, err = run(capsys, "glossary", "import", str(path), "--name", "biz")
    assert code == 0 and "no change" in out
    code, out, _ = run(capsys, "glossary", "ls", "--json")
    [info] = json.loads(out)
    assert info["name"] == "biz" and info["terms"] == {"active": 3, "draft": 1}
    code, out, _ = run(capsys, "glossary", "terms", "biz", "--json")
    assert [t["id"] for t in json.loads(out)] == ["T1", "T2", "T3"]
    code, out, _ = run(capsys, "glossary", "terms", "biz", "--all")
    assert code == 0 and "Legacy code" in out
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "glossary", "export", "biz", "--format", "csv", "-o", str(target))
    assert code == 0 and target.read_text().startswith("id,label,description,synonyms")
    code, out, _ = run(capsys, "glossary", "export", "biz", "--format", "yaml")
    assert code == 0 and "Kundennummer" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\na,A\n")
    code, out, err = run(capsys, "glossary", "import", str(bad), "--name", "biz")
    assert code == 2 and "lacks label" in err and "Traceback" not in err
    code, out, err = run(capsys, "glossary", "terms", "nope")
    assert code != 0 and "lakeward glossary ls" in err


def test_cli_import_is_denied_to_analysts(
    cat: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", TERMS)
    with acting_as(Principal("alice", authenticated_by="test")):
        code, _, err = run(capsys, "glossary", "import", str(path), "--name", "biz")
    assert code == 1 and "glossary.manage" in err


def test_server_takes_the_glossary_as_an_upload(cat: Catalog, tmp_path: Path) -> None:
    from lakeward.client import pack_uploads
    from lakeward.server._commands import run_command

    csv_file = tmp_path / "terms.csv"
    csv_file.write_text("id,label,tags\nC1,Customer Email,pii\n")
    argv = ["glossary", "import", "--name", "biz", "--replace", str(csv_file)]
    args, uploads = pack_uploads(argv)
    assert args[-1] == "@upload:0" and list(uploads["0"]) == ["file:terms.csv"]
    carol = Principal("carol", authenticated_by="test")
    result = run_command(carol, args, uploads)
    assert result.exit_code == 0, result.stderr
    assert [t.id for t in glossary_terms(cat, "biz")] == ["C1"]
    with cat.session() as session:
        assert session.scalars(select(GlossaryVersion.source)).one() == "terms.csv"
    with pytest.raises(InputError, match="uploaded by the client"):
        run_command(carol, argv)
    with pytest.raises(InputError, match="server's disk"):
        run_command(carol, ["glossary", "export", "biz", "--output", "/tmp/x"])


def test_the_client_writes_export_output_itself() -> None:
    from lakeward.cli._client import _client_output

    assert _client_output(["glossary", "export", "biz", "-o", "x.csv", "--format", "csv"]) == (
        ["glossary", "export", "biz", "--format", "csv"],
        "x.csv",
    )
    assert _client_output(["glossary", "export", "biz", "--output=y.yml"]) == (
        ["glossary", "export", "biz"],
        "y.yml",
    )
    assert _client_output(["glossary", "ls"]) == (["glossary", "ls"], None)
