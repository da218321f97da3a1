"""The profile_lake flow against Prefect's real (temporary) API, with local Spark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lakeward.catalog import Catalog, DatasetRepository
from tests.prefect.conftest import latest_artifact

pytestmark = [pytest.mark.prefect, pytest.mark.spark]


def test_profile_lake_flow_profiles_audits_and_publishes(
    prefect_api: None, spark: Any, home: Path, small_lake: tuple[Path, dict]
) -> None:
    from lakeward.catalog import AuditLog
    from lakeward.orchestration._flows import PROFILE_ARTIFACT_KEY, profile_lake

    root, expected = small_lake
    summary = profile_lake(str(root), purpose="catalog_maintenance")
    assert summary["profiled"] == 3 and summary["failed"] == 0
    assert summary["rows"] == sum(e["rows"] for e in expected.values())
    artifact = latest_artifact(PROFILE_ARTIFACT_KEY)
    assert artifact is not None and artifact.type == "table"
    table = artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)
    assert sorted(row["dataset"] for row in table) == sorted(expected)
    assert {row["status"] for row in table} == {"profiled"}
    catalog = Catalog.open()
    with catalog.session() as s:
        assert {d.name: d.rows for d in DatasetRepository(s).list()} == {
            k: v["rows"] for k, v in expected.items()
        }
    records = AuditLog(catalog).tail(6)  # each dataset: lake.profile + lake.read_content
    assert {(r.principal, r.purpose, r.decision) for r in records} == {
        ("local-user", "catalog_maintenance", "allow")
    }
    assert sorted(r.action for r in records) == ["lake.profile"] * 3 + ["lake.read_content"] * 3
    assert AuditLog(catalog).verify() is None
    again = profile_lake(str(root))
    assert again["unchanged"] == 3 and again["profiled"] == 0


def test_flow_fails_after_publishing_when_a_dataset_is_bad(
    prefect_api: None, spark: Any, home: Path, small_lake: tuple[Path, dict]
) -> None:
    from lakeward.errors import ProfileFailed
    from lakeward.orchestration._flows import PROFILE_ARTIFACT_KEY, profile_lake

    root, _ = small_lake
    (root / "web" / "events.jsonl").write_text("{oops\n")
    with pytest.raises(ProfileFailed) as info:
        profile_lake(str(root))
    assert list(info.value.errors) == ["web.events"]
    artifact = latest_artifact(f"{PROFILE_ARTIFACT_KEY}-summary")
    assert artifact is not None and "web.events" in artifact.data
    with Catalog.open().session() as s:
        names = {d.name: d.current_version for d in DatasetRepository(s).list()}
    assert names == {"hr.employees": 1, "sales.orders": 1, "web.events": 0}


def test_pipeline_requires_a_lake_root(prefect_api: None, home: Path) -> None:
    from lakeward.errors import ConfigurationError
    from lakeward.orchestration._flows import lakeward_pipeline

    with pytest.raises(ConfigurationError, match="LAKEWARD_LAKE_ROOT"):
        lakeward_pipeline()


def test_demo_end_to_end_then_idempotent(
    prefect_api: None, spark: Any, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakeward.cli import main
    from lakeward.lake import MANIFEST_NAME

    assert main(["demo", "--size-mb", "2", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    manifest = json.loads((home / "sample-lake" / MANIFEST_NAME).read_text())
    assert first["profiled"] == len(manifest["datasets"]) >= 40 and first["failed"] == 0
    assert first["lake_root"] == str(home / "sample-lake")
    assert main(["demo", "--size-mb", "2", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["unchanged"] == first["profiled"] and second["profiled"] == 0
    assert main(["catalog", "ls", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in listing} == {d["name"] for d in manifest["datasets"]} | {"helpdesk"}
    # The demo indexed the help-desk documents once and asked them, as its steward, a
    # question whose answer cites the VPN article; the re-run embedded nothing again.
    assert first["rag"]["added"] == 16 and second["rag"]["unchanged"] == 16
    assert first["rag"]["citations"][0] == "kb-vpn" and "VPN" in first["rag"]["answer"]
    assert main(["rag", "query", "helpdesk", "salary review", "--json"]) == 0
    hr = json.loads(capsys.readouterr().out)
    assert "hr-salary" not in [r["doc_id"] for r in hr["results"]]  # restricted: not licensed
    # The demo classifies every column once; the re-run finds nothing changed.
    assert first["tagging"]["classified"] == first["profiled"]
    assert first["tagging"]["approved"] > 0 and second["tagging"]["classified"] == 0
    assert main(["tag", "ls", "--dataset", "sales.customers", "--json"]) == 0
    tags = json.loads(capsys.readouterr().out)
    assert {"dataset": "sales.customers", "column": "email", "tag": "type.email"}.items() <= next(
        t for t in tags if t["column"] == "email" and t["tag"] == "type.email"
    ).items()
    assert main(["catalog", "show", "sales.customers", "--json"]) == 0
    shown = {c["name"]: c for c in json.loads(capsys.readouterr().out)["columns"]}
    assert shown["email"]["masked"] is True and shown["email"]["min"] is None
    # The demo matched every column to the sample glossary (metadata only) once.
    assert first["glossary"]["columns"] > 200 and first["glossary"]["new_suggestions"] > 50
    assert second["glossary"]["columns"] == 0
    assert main(["glossary", "review", "--dataset", "sales.customers", "--json"]) == 0
    review = json.loads(capsys.readouterr().out)
    assert ("date_of_birth", "party.birth_date") in {(s["column"], s["term"]) for s in review}
    assert main(["glossary", "match", "--dataset", "sales.customers", "--json"]) == 0
    ranked = {r["column"]: r for r in json.loads(capsys.readouterr().out)}
    assert "party.email" in [c["term"] for c in ranked["email"]["candidates"]]
    assert main(["glossary", "accept", "sales.customers.date_of_birth", "party.birth_date"]) == 0
    capsys.readouterr()
    assert main(["tag", "ls", "--dataset", "sales.customers", "--json"]) == 0
    dob = [t for t in json.loads(capsys.readouterr().out) if t["column"] == "date_of_birth"]
    assert {"tag": "type.date_of_birth", "source": "glossary", "status": "approved"}.items() <= (
        next(t for t in dob if t["tag"] == "type.date_of_birth").items()
    )
