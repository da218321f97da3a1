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


def test_dp_release_flow_fails_after_publishing_when_refused(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path
) -> None:
    from lakeward.catalog import Catalog, DPStream
    from lakeward.dp import create_stream
    from lakeward.errors import InputError
    from lakeward.orchestration._dp_flow import dp_release

    catalog = Catalog.open()
    root = tmp_path / "lake"
    _write(root, "part-00000.parquet", _events(9, 50, 2))
    _setup(root, catalog)
    create_stream(catalog, _definition(name="clicks", horizon=20), actor="alice")
    with catalog.session() as session:  # the stream's principal loses the right to release
        row = session.query(DPStream).one()
        row.spec = {**row.spec, "principal": "erin"}
        row.principal = "erin"
    with pytest.raises(InputError, match="DP release refused for clicks"):
        dp_release(now=(START + 2 * dt.timedelta(days=1)).isoformat())
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
