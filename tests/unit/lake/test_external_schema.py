"""Metadata-only datasets (``lakeward catalog import-schema``): SQL types normalised, bad
files refused whole with their lines, versions only on change, ``lake.register`` audited;
profiling, dedup and the classifier's sampler skip them; the catalog lists them; the CLI
and the server's upload path. Runs on SQLite and, with ``LAKEWARD_TEST_POSTGRES_URL``,
PostgreSQL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lakeward.catalog import (
    AuditLog,
    Catalog,
    Dataset,
    DatasetRepository,
    DatasetVersion,
    describe_dataset,
)
from lakeward.cli import main
from lakeward.errors import InputError, PolicyDenied
from lakeward.identity import Principal
from lakeward.lake import SCHEMA_FORMAT, import_schema, profile_datasets, spark_type_name
from lakeward.policy import acknowledge_purpose, engine_for

CUSTOMERS = {
    "name": "crm.customers",
    "description": "People who bought something.",
    "columns": [
        {"name": "customer_id", "type": "bigint", "description": "Surrogate key."},
        {"name": "email", "type": "character varying(255)", "description": "Contact email."},
        {"name": "balance", "type": "numeric(10, 2)"},
        {"name": "signed_up", "type": "timestamp with time zone"},
        {"name": "notes"},
    ],
}
ORDERS = {
    "name": "crm.orders",
    "columns": [{"name": "order_id", "type": "int4"}, {"name": "payload", "type": "jsonb"}],
}


@pytest.fixture
def cat(catalog: Catalog, bundle_dir: Path) -> Catalog:
    bundle = engine_for(catalog).bundle
    for principal in ("carol", "local-user", "lakeward-scheduler"):
        acknowledge_purpose(catalog, bundle, principal, "catalog_maintenance")
        acknowledge_purpose(catalog, bundle, principal, "data_governance")
    acknowledge_purpose(catalog, bundle, "alice", "analytics")
    return catalog


def write(path: Path, tables: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tables))
    return path


def table_counts(catalog: Catalog) -> tuple[int, int]:
    with catalog.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Dataset)) or 0,
            session.scalar(select(func.count()).select_from(DatasetVersion)) or 0,
        )


@pytest.mark.parametrize(
    ("declared", "spark"),
    [
        ("varchar(255)", "string"),
        ("CHARACTER VARYING", "string"),
        ("text", "string"),
        ("json", "string"),
        ("integer", "int"),
        ("int4", "int"),
        ("BIGINT", "bigint"),
        ("double precision", "double"),
        ("real", "float"),
        ("numeric(10,2)", "decimal(10,2)"),
        ("numeric", "decimal(10,0)"),
        ("timestamp with time zone", "timestamp"),
        ("timestamp(6) without time zone", "timestamp"),
        ("boolean", "boolean"),
        ("date", "date"),
        ("integer[]", "array<int>"),
        ("map<string, array<bigint>>", "map<string,array<bigint>>"),
        ("struct<Street:varchar(20), zip:int>", "struct<Street:string,zip:int>"),
        ("float(53)", "double"),
        ("geometry", None),
        ("numeric(50,2)", None),
        ("varchar(", None),
    ],
)
def test_sql_types_become_spark_types(declared: str, spark: str | None) -> None:
    assert spark_type_name(declared) == spark


def test_import_records_metadata_only_datasets(cat: Catalog, tmp_path: Path) -> None:
    path = write(tmp_path / "warehouse.jsonl", [CUSTOMERS, ORDERS])
    result = import_schema(cat, "carol", path)
    assert [(t.name, t.status, t.version, t.columns) for t in result] == [
        ("crm.customers", "added", 1, 5),
        ("crm.orders", "added", 1, 2),
    ]
    with cat.session() as session:
        repo = DatasetRepository(session)
        dataset = repo.require("crm.customers")
        assert (dataset.format, dataset.layout, dataset.lake_root) == ("schema", "schema", "")
        assert dataset.uri == "schema:warehouse.jsonl#crm.customers"
        assert dataset.description == "People who bought something."
        assert dataset.rows is None and dataset.bytes == 0 and dataset.file_count == 0
        version = repo.current_version(dataset)
        assert version is not None and version.profiled_by == "carol"
        assert (version.rows, version.bytes, version.file_count) == (0, 0, 0)
        assert version.fingerprint == version.file_signature and len(version.fingerprint) == 64
        columns = [(c.name, c.type, c.description) for c in version.columns]
        assert [c["name"] for c in version.schema_json] == [c[0] for c in columns]
        assert all(
            (c.null_count, c.distinct_approx, c.min_value, c.max_value) == (0, 0, None, None)
            for c in version.columns
        )
    assert columns == [
        ("customer_id", "bigint", "Surrogate key."),
        ("email", "string", "Contact email."),
        ("balance", "decimal(10,2)", None),
        ("signed_up", "timestamp", None),
        ("notes", "", None),
    ]
    audit = [r for r in AuditLog(cat).tail(5) if r.action == "lake.register"]
    assert audit[-1].principal == "carol" and audit[-1].decision == "allow"

    # Unchanged: nothing new. A changed description: a new version of that table only.
    assert {t.status for t in import_schema(cat, "carol", path)} == {"unchanged"}
    assert table_counts(cat) == (2, 2)
    columns_now = [*CUSTOMERS["columns"][:4], {"name": "notes", "description": "Free text"}]  # type: ignore[index]
    changed = dict(CUSTOMERS, columns=columns_now)
    again = import_schema(cat, "carol", write(path, [changed, ORDERS]))
    assert [(t.name, t.status, t.version) for t in again] == [
        ("crm.customers", "updated", 2),
        ("crm.orders", "unchanged", 1),
    ]
    assert table_counts(cat) == (2, 3)

    # The catalog lists and shows them (no rows, format schema).
    summary = describe_dataset(cat, "alice", "crm.customers")
    assert summary["format"] == "schema" and summary["rows"] is None
    assert [c["type"] for c in summary["columns"]][:2] == ["bigint", "string"]


def test_odd_names_import(cat: Catalog, tmp_path: Path) -> None:
    tables = [
        {"name": "raw.export", "columns": [{"name": f"_c{i}"} for i in range(4)]},
        {
            "name": "ventes.clients_été",
            "description": "顧客 🧾",
            "columns": [{"name": "prénom", "type": "text"}, {"name": "🎉", "type": "int"}],
        },
    ]
    result = import_schema(cat, "carol", write(tmp_path / "odd.jsonl", tables))
    assert [t.status for t in result] == ["added", "added"]
    summary = describe_dataset(cat, "carol", "ventes.clients_été")
    assert [c["name"] for c in summary["columns"]] == ["prénom", "🎉"]


def test_a_5000_column_table_imports_quickly(cat: Catalog, tmp_path: Path) -> None:
    wide = {
        "name": "wide.table",
        "columns": [{"name": f"col_{i}", "type": "varchar(20)"} for i in range(5000)],
    }
    started = time.perf_counter()
    [result] = import_schema(cat, "carol", write(tmp_path / "wide.jsonl", [wide]))
    assert result.columns == 5000 and time.perf_counter() - started < 60


BAD = [
    (
        [{"name": "t", "columns": [{"name": "Id"}, {"name": "id"}]}],
        "line 1: table 't' has column 'id' twice",
    ),
    ([{"name": "t", "columns": [{"name": "a", "type": "geometry"}]}], "unknown type 'geometry'"),
    ([{"name": "t", "columns": []}], "line 1: table 't' has no columns"),
    ([{"name": "t"}], "has no columns"),
    ([{"name": "", "columns": [{"name": "a"}]}], "the table has no name"),
    ([{"name": "t", "columns": [{"name": " "}]}], "column 1 has no name"),
    (
        [{"name": "t", "columns": [{"name": "a"}]}, {"name": "t", "columns": [{"name": "b"}]}],
        "line 2: table 't' appears twice (first at line 1)",
    ),
    ([{"name": "t", "cols": [{"name": "a"}]}], "unknown key(s) cols"),
    ([], "no tables"),
]


@pytest.mark.parametrize(("tables", "message"), BAD)
def test_bad_schema_files_are_refused_whole(
    cat: Catalog, tmp_path: Path, tables: list[dict[str, object]], message: str
) -> None:
    import_schema(cat, "carol", write(tmp_path / "ok.jsonl", [ORDERS]))
    before = table_counts(cat)
    good = {"name": "crm.new", "columns": [{"name": "a"}]}
    with pytest.raises(InputError) as info:
        import_schema(
            cat, "carol", write(tmp_path / "bad.jsonl", [good, *tables] if tables else [])
        )
    text = str(info.value).replace("line 2", "line 1").replace("line 3", "line 2")
    assert message in text and "bad.jsonl" in text and "nothing was imported" in text
    assert table_counts(cat) == before


def test_invalid_json_names_the_line(cat: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(ORDERS) + "\n{oops\n")
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        import_schema(cat, "carol", path)
    assert table_counts(cat) == (0, 0)


def test_json_and_yaml_lists(cat: Catalog, tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps([ORDERS]))
    assert import_schema(cat, "carol", tmp_path / "s.json")[0].status == "added"
    (tmp_path / "s.yaml").write_text("- name: y.t\n  columns:\n    - {name: a, type: int}\n")
    assert import_schema(cat, "carol", tmp_path / "s.yaml")[0].name == "y.t"


def test_a_file_backed_name_is_refused(cat: Catalog, tmp_path: Path) -> None:
    with cat.session() as session:
        DatasetRepository(session).register(
            name="crm.orders",
            uri="file:///lake/crm/orders",
            lake_root="file:///lake",
            format="parquet",
            layout="directory",
            file_count=1,
            bytes=10,
        )
    with pytest.raises(InputError, match="belong to datasets with files"):
        import_schema(cat, "carol", write(tmp_path / "s.jsonl", [CUSTOMERS, ORDERS]))
    assert table_counts(cat) == (1, 0)


def test_analysts_may_not_import_schemas(cat: Catalog, tmp_path: Path) -> None:
    with pytest.raises(PolicyDenied):
        import_schema(cat, "alice", write(tmp_path / "s.jsonl", [ORDERS]))
    assert table_counts(cat) == (0, 0)
    denied = [r for r in AuditLog(cat).tail(5) if r.action == "lake.register"]
    assert denied[-1].principal == "alice" and denied[-1].decision == "deny"


def test_profile_dedup_and_classify_skip_schema_datasets(
    cat: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_schema(cat, "carol", write(tmp_path / "s.jsonl", [CUSTOMERS, ORDERS]))
    report = profile_datasets(cat, ["crm.customers", "crm.orders"], principal="carol")
    assert {o.status for o in report.outcomes} == {"skipped"}
    assert report.to_dict()["skipped"] == 2 and not report.errors
    assert "metadata-only" in (report.outcomes[0].error or "")

    from lakeward.dedup._find import find_containment, load_datasets

    assert load_datasets(cat) == []
    monkeypatch.setattr("lakeward.spark.session", lambda: None)  # no candidates: never used
    found = find_containment(cat, principal="carol")
    assert set(found.skipped) == {"crm.customers", "crm.orders"} and not found.failed
    assert not found.stale and found.counts["datasets"] == 0

    from lakeward.tagging import ClassifyStatus, classify, list_tags

    def sampler(*_args: object, **_kwargs: object) -> list[object]:
        raise AssertionError("a metadata-only dataset is never sampled")

    classified = classify(cat, "lakeward-scheduler", sampler=sampler)  # type: ignore[arg-type]
    assert {d.status for d in classified.datasets} == {ClassifyStatus.CLASSIFIED}
    email = [t for t in list_tags(cat, "carol", datasets=["crm.customers"]) if t.column == "email"]
    assert any(t.tag == "type.email" for t in email)
    reads = [r for r in AuditLog(cat).tail(50) if r.action == "lake.read_content"]
    assert reads == []


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_import_schema_and_catalog(
    cat: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "s.jsonl", [CUSTOMERS])
    code, out, err = run(capsys, "catalog", "import-schema", str(path), "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "name": "crm.customers",
            "status": "added",
            "version": 1,
            "columns": 5,
            "uri": "schema:s.jsonl#crm.customers",
        }
    ]
    code, out, err = run(capsys, "catalog", "ls")
    assert code == 0 and "crm.customers" in out and "schema" in out
    code, out, err = run(capsys, "catalog", "show", "crm.customers")
    assert code == 0 and "no rows" in out
    bad = write(tmp_path / "bad.jsonl", [{"name": "t", "columns": []}])
    code, out, err = run(capsys, "catalog", "import-schema", str(bad))
    assert code == 2 and "has no columns" in err and "Traceback" not in err


def test_server_takes_the_schema_file_as_an_upload(cat: Catalog, tmp_path: Path) -> None:
    from lakeward.client import pack_uploads
    from lakeward.server._commands import run_command

    path = write(tmp_path / "warehouse.jsonl", [ORDERS])
    argv = ["catalog", "import-schema", str(path), "--json"]
    args, uploads = pack_uploads(argv)
    assert args[2] == "@upload:0" and list(uploads["0"]) == ["file:warehouse.jsonl"]
    result = run_command(Principal("carol", authenticated_by="test"), args, uploads)
    assert result.exit_code == 0, result.stderr
    with cat.session() as session:
        dataset = DatasetRepository(session).require("crm.orders")
        assert dataset.uri == "schema:warehouse.jsonl#crm.orders"
        assert dataset.format == SCHEMA_FORMAT
    with pytest.raises(InputError, match="uploaded by the client"):
        run_command(Principal("carol", authenticated_by="test"), argv)
