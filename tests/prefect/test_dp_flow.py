"""The dp_release flow against Prefect's real (temporary) API, with local Spark."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.prefect.conftest import latest_artifact
from tests.spark.test_dp_streams import START, _definition, _events, _setup, _write

pytestmark = [pytest.mark.prefect, pytest.mark.spark]


def test_dp_release_flow_publishes_and_retries_return_the_persisted_noise(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward.catalog import Catalog
    from lakeward.dp import create_stream, stream_budget, stream_series
    from lakeward.orchestration._dp_flow import DP_ARTIFACT_KEY, dp_release
    from lakeward.policy import Reservation

    catalog = Catalog.open()
    root = tmp_path / "lake"
    _write(root, "part-00000.parquet", _events(9, 200, 5))
    _setup(root, catalog)
    create_stream(catalog, _definition(name="clicks", horizon=20), actor="alice")

    # The first attempt dies after drawing and persisting the noise, before the spend is
    # committed; Prefect's task retry finishes the release with that same noise.
    real_commit = Reservation.commit
    calls = {"n": 0}

    def flaky(self: Reservation) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("worker lost its catalog connection")
        real_commit(self)

    monkeypatch.setattr(Reservation, "commit", flaky)
    now = (START + 3 * dt.timedelta(days=1, minutes=1)).isoformat()
    summary = dp_release(now=now)
    assert summary["released"] == {"clicks": [1, 2, 3]}
    assert calls["n"] == 4  # one failed commit, then three good ones
    first = stream_series(catalog, "clicks")
    spent = stream_budget(catalog, "clicks")["ledger_committed"]
    assert spent == pytest.approx(stream_budget(catalog, "clicks")["stream_spent"])

    artifact = latest_artifact(DP_ARTIFACT_KEY)
    table = artifact.data if isinstance(artifact.data, list) else json.loads(artifact.data)
    assert {(r["period"], r["key"]) for r in table} == {
        (p, f"region={k}") for p in (1, 2, 3) for k in ("north", "south")
    }
    row = next(r for r in table if r["period"] == 3 and r["key"] == "region=north")
    assert row["ci95_high"] - row["value"] == pytest.approx(1.959964 * row["sd"], abs=2e-3)

    # A re-run of the same periods (manual re-run of the deployment) changes nothing.
    again = dp_release(now=now)
    assert again["released"] == {"clicks": []}
    assert stream_series(catalog, "clicks").values == first.values
    assert stream_budget(catalog, "clicks")["ledger_committed"] == pytest.approx(spent)
    catalog.dispose()


def test_a_refused_or_failing_stream_never_blocks_the_others(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from lakeward.catalog import Catalog, DPStream
    from lakeward.dp import _service, create_stream, stream_series
    from lakeward.orchestration._dp_flow import DP_ARTIFACT_KEY, DPReleaseFailed, dp_release

    catalog = Catalog.open()
    root = tmp_path / "lake"
    _write(root, "part-00000.parquet", _events(9, 50, 2))
    _setup(root, catalog)
    for name in ("a-refused", "b-broken", "c-clicks"):
        create_stream(catalog, _definition(name=name, horizon=20, rho=0.1), actor="alice")
    with catalog.session() as session:  # a-refused's principal loses the right to release
        row = session.query(DPStream).filter_by(name="a-refused").one()
        row.spec = {**row.spec, "principal": "erin"}
        row.principal = "erin"
    ingest = _service._ingest_files

    def broken(catalog: Any, row: Any, *args: Any) -> Any:  # as a duplicated source did
        if row.name == "b-broken":
            raise IntegrityError("INSERT INTO dp_stream_files", {}, Exception("UNIQUE failed"))
        return ingest(catalog, row, *args)

    monkeypatch.setattr(_service, "_ingest_files", broken)
    with pytest.raises(DPReleaseFailed) as exc:
        dp_release(now=(START + 2 * dt.timedelta(days=1)).isoformat())
    assert "refused for a-refused" in str(exc.value) and "failed for b-broken" in str(exc.value)
    assert stream_series(catalog, "c-clicks").periods == [1, 2]  # released after both
    assert stream_series(catalog, "a-refused").periods == []
    table = latest_artifact(DP_ARTIFACT_KEY).data
    table = table if isinstance(table, list) else json.loads(table)
    assert {r["stream"] for r in table} == {"c-clicks"}
    catalog.dispose()


def test_pipeline_profiles_then_releases_due_dp_periods(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path
) -> None:
    from lakeward.catalog import Catalog
    from lakeward.dp import create_stream, stream_series
    from lakeward.orchestration._flows import lakeward_pipeline

    catalog = Catalog.open()
    root = tmp_path / "lake"
    _write(root, "part-00000.parquet", _events(4, 80, 3))
    _setup(root, catalog)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2, hours=1)
    create_stream(
        catalog, _definition(name="clicks", start=start.isoformat(), horizon=10), actor="alice"
    )
    result = lakeward_pipeline(str(root))
    assert result["profile"]["unchanged"] == 1
    assert result["dp"]["released"] == {"clicks": [1, 2]}
    assert stream_series(catalog, "clicks").periods == [1, 2]
    catalog.dispose()
