"""The tag_lake flow against Prefect's real (temporary) API, with local Spark and the real
classifier: tags written, counts published (never values), re-runs idempotent, a denied
dataset reported and left alone, a failure raised after publishing, and the pipeline
tagging right after profiling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import AuditLog, Catalog
from tests.prefect.conftest import latest_artifact

pytestmark = [pytest.mark.prefect, pytest.mark.spark]

FIRST = ["Anna", "Jonas", "Maria", "Lukas", "Emma", "Noah", "Sofia", "Elias", "Mia", "Paul"]
LAST = ["Schmidt", "Meyer", "Garcia", "Smith", "Jones", "Brown", "Rossi", "Dubois", "Novak"]


def _contacts(n: int) -> pa.Table:
    return pa.table(
        {
            "contact_id": pa.array(range(1, n + 1), pa.int64()),
            "full_name": [f"{FIRST[i % 10]} {LAST[i % 9]}" for i in range(n)],
            "email": [
                f"{FIRST[i % 10].lower()}.{LAST[i % 9].lower()}{i}@example.org" for i in range(n)
            ],
            "email_verified": pa.array([i % 2 for i in range(n)], pa.int64()),
            "city": ["Berlin", "Madrid", "Rome", "Paris"] * (n // 4),
        }
    )


def _metrics(n: int) -> pa.Table:
    return pa.table(
        {"host": [f"web-{i % 7}" for i in range(n)], "requests": pa.array(range(n), pa.int64())}
    )


def _write_lake(root: Path) -> None:
    for domain in ("crm", "ops", "hr"):
        (root / domain).mkdir(parents=True, exist_ok=True)
    pq.write_table(_contacts(200), root / "crm" / "contacts.parquet")
    pq.write_table(_metrics(120), root / "ops" / "metrics.parquet")
    pq.write_table(_contacts(40), root / "hr" / "secret.parquet")


def _setup(root: Path) -> Catalog:
    from lakeward.lake import profile_datasets
    from lakeward.policy import acknowledge_purpose, engine_for

    catalog = Catalog.open()
    acknowledge_purpose(catalog, engine_for(catalog).bundle, "local-user", "data_governance")
    _write_lake(root)
    assert not profile_datasets(catalog, root=root).errors
    return catalog


def _table(key: str) -> list[dict[str, Any]]:
    artifact = latest_artifact(key)
    assert artifact is not None and artifact.type == "table"
    data = artifact.data
    return data if isinstance(data, list) else json.loads(data)  # type: ignore[no-any-return]


def test_tag_lake_tags_publishes_counts_and_reruns_idempotently(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path
) -> None:
    from lakeward.orchestration._tagging import TAG_ARTIFACT_KEY, tag_lake
    from lakeward.policy import assign_tag
    from lakeward.tagging import list_tags

    catalog = _setup(tmp_path / "lake")
    assign_tag(catalog, "local-user", "hr.secret", "restricted")
    summary = tag_lake(sample_rows=150, seed=3)
    assert (summary["classified"], summary["denied"], summary["failed"]) == (2, 1, 0)
    assert summary["approved"] + summary["new_suggestions"] > 0
    assert summary["by_tag"]["type.email"]["approved"] == 1
    assert summary["principal"] == "local-user" and summary["purpose"] == "data_governance"

    rows = {r["dataset"]: r for r in _table(TAG_ARTIFACT_KEY)}
    assert {d: r["status"] for d, r in rows.items()} == {
        "crm.contacts": "classified",
        "ops.metrics": "classified",
        "hr.secret": "denied",
    }
    assert "type.email" in rows["crm.contacts"]["tags changed"]
    assert "restricted-is-off-limits" in rows["hr.secret"]["error"]
    markdown = latest_artifact(f"{TAG_ARTIFACT_KEY}-summary")
    assert markdown is not None and "Refused by the policy layer" in markdown.data
    published = json.dumps(rows) + markdown.data
    values = _contacts(200).to_pydict()
    assert not any(str(v) in published for v in values["email"][:50] + values["full_name"][:20])

    tags = {(t.column, t.tag): t.status for t in list_tags(catalog, "local-user")}
    assert tags[("email", "type.email")] == "approved"
    assert not any(t.startswith("type.") for (c, t) in tags if c == "email_verified")
    secret = list_tags(catalog, "local-user", datasets=["hr.secret"])
    assert {t.tag for t in secret} == {"restricted"}  # denied: never read, never tagged
    reads = [
        (r.resource, r.decision)
        for r in AuditLog(catalog).tail(60)
        if r.action == "lake.read_content" and r.purpose == "data_governance"
    ]
    assert ("dataset:crm.contacts", "allow") in reads and ("dataset:hr.secret", "deny") in reads

    again = tag_lake(sample_rows=150, seed=3)
    assert (again["classified"], again["unchanged"], again["denied"]) == (0, 2, 1)
    assert again["new_suggestions"] == again["approved"] == again["removed"] == 0
    catalog.dispose()


def test_failure_is_raised_after_publishing_and_the_pipeline_tags_after_profiling(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path
) -> None:
    from lakeward.orchestration._flows import lakeward_pipeline
    from lakeward.orchestration._tagging import TAG_ARTIFACT_KEY, TagLakeFailed, tag_lake

    root = tmp_path / "lake"
    catalog = _setup(root)
    (root / "ops" / "metrics.parquet").write_bytes(b"not parquet any more")
    with pytest.raises(TagLakeFailed) as info:
        tag_lake(datasets=["crm.contacts", "ops.metrics"])
    assert list(info.value.errors) == ["ops.metrics"]
    rows = {r["dataset"]: r["status"] for r in _table(TAG_ARTIFACT_KEY)}
    assert rows == {"crm.contacts": "classified", "ops.metrics": "failed"}

    pq.write_table(_metrics(90), root / "ops" / "metrics.parquet")
    result = lakeward_pipeline(str(root))
    assert result["profile"]["profiled"] == 1 and result["profile"]["unchanged"] == 2
    tags = result["tags"]
    assert {d["dataset"]: d["status"] for d in tags["datasets"]} == {
        "crm.contacts": "unchanged",
        "hr.secret": "classified",
        "ops.metrics": "classified",
    }
    assert "dp" in result
    catalog.dispose()
