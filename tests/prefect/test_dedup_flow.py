"""The dedup flow against Prefect's real (temporary) API: find → plan → propose, artifacts,
idempotent re-runs, and nothing deleted without a second steward."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from lakeward.catalog import Catalog, DeletionPlan
from tests.prefect.conftest import latest_artifact

pytestmark = [pytest.mark.prefect, pytest.mark.spark]


def test_dedup_flow_proposes_and_is_idempotent(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path
) -> None:
    from lakeward.identity import Principal, acting_as
    from lakeward.lake import profile_datasets
    from lakeward.orchestration._dedup import DEDUP_ARTIFACT_KEY, dedup
    from lakeward.policy import acknowledge_purpose, engine_for
    from tests.spark.test_dedup_cases import _csv, _parquet, _people

    root = tmp_path / "lake"
    people = _people(random.Random(2))
    _parquet(root / "base" / "people.parquet", people)
    _csv(root / "copies" / "people.csv", people)
    _parquet(root / "base" / "people_oslo.parquet", [p for p in people if p["city"] == "Oslo"])
    catalog = Catalog.open()
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "lakeward-scheduler", "data_governance")
    assert not profile_datasets(catalog, root=root).errors

    # Stands in for the worker's service credential (LAKEWARD_TOKEN of lakeward-scheduler).
    scheduler = Principal("lakeward-scheduler", ("services",), "service", "test")
    with acting_as(scheduler):
        summary = dedup(requested_by="carol")
    assert summary["counts"]["contained"] == 4  # csv ⟷ parquet, oslo ⊂ both
    from lakeward.catalog import AuditLog

    reads = [
        r
        for r in AuditLog(catalog).tail(40)
        if r.action == "lake.read_content" and r.purpose == "data_governance"
    ]
    assert reads and all(r.principal == "lakeward-scheduler" for r in reads)
    assert all(r.request["identity"]["requested_by"] == "carol" for r in reads)
    plan = summary["plan"]
    assert plan["plan"] is not None and not plan["reused"]
    assert {d["dataset"] for d in plan["datasets"]} == {"copies.people", "base.people_oslo"}
    table = latest_artifact(DEDUP_ARTIFACT_KEY)
    rows = table.data if isinstance(table.data, list) else json.loads(table.data)
    assert {(r["child"], r["status"]) for r in rows} >= {("base.people_oslo", "contained")}
    markdown = latest_artifact(f"{DEDUP_ARTIFACT_KEY}-plan")
    assert f"lakeward dedup approve {plan['plan']}" in markdown.data

    with acting_as(scheduler):
        again = dedup()
    assert again["plan"]["plan"] == plan["plan"] and again["plan"]["reused"]
    with catalog.session() as s:
        plans = s.query(DeletionPlan).all()
        assert [p.state for p in plans] == ["proposed"]  # nothing applied by the flow
    assert (root / "copies" / "people.csv").exists()
