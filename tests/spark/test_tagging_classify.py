"""``lakeward tag classify`` on Spark end to end: the real sampler and detectors on a small
lake, then the policy following the approved tags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import Catalog
from lakeward.cli import main
from lakeward.lake import profile_datasets
from lakeward.policy import acknowledge_purpose, engine_for

pytestmark = pytest.mark.spark

EMAILS = [f"customer{i}@example.com" for i in range(400)]


def test_classify_a_lake_and_analysts_follow_the_tags(
    spark: Any, catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "lake"
    (root / "crm").mkdir(parents=True)
    (root / "ops").mkdir()
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(range(400), pa.int64()),
                "email": pa.array(EMAILS),
                "email_verified": pa.array([i % 2 for i in range(400)], pa.int32()),
                "contact": pa.array(
                    [{"mail": e, "tier": "gold"} for e in EMAILS],
                    pa.struct([("mail", pa.string()), ("tier", pa.string())]),
                ),
            }
        ),
        root / "crm" / "customers.parquet",
    )
    with open(root / "ops" / "metrics.csv", "w") as fh:
        fh.write("host,requests\n")
        fh.writelines(f"web-{i % 5},{i * 3}\n" for i in range(300))
    assert not profile_datasets(catalog, root=root).errors
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "local-user", "data_governance")
    acknowledge_purpose(catalog, bundle, "alice", "analytics")

    assert main(["tag", "classify", "--json"]) == 0
    output = capsys.readouterr().out
    rows = {(r["dataset"], r["column"], r["tag"]): r for r in json.loads(output)}
    assert rows[("crm.customers", "email", "type.email")]["status"] == "approved"
    assert rows[("crm.customers", "email", "type.email")]["source"] == "values"
    assert rows[("crm.customers", "contact", "type.email")]["status"] == "approved"
    assert rows[("crm.customers", "email_verified", "not_sensitive")]["status"] == "approved"
    assert rows[("ops.metrics", "requests", "not_sensitive")]["status"] == "approved"
    assert not any(e in output for e in EMAILS)

    engine = engine_for(catalog)
    customers = engine.decide(
        "alice", "lake.read_content", "dataset:crm.customers", {"purpose": "analytics"}
    )
    metrics = engine.decide(
        "alice", "lake.read_content", "dataset:ops.metrics", {"purpose": "analytics"}
    )
    assert not customers.allowed and metrics.allowed and metrics.obligations == ()
