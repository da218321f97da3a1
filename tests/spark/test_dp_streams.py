"""Continual-release streams end to end on local Spark: exact bounded increments, immutable
idempotent releases, late events, schema changes, crashes between reserve and commit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

pytestmark = pytest.mark.spark

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
REGIONS = ["north", "south"]


def _events(seed: int, n: int, days: int, late_from: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        day = int(rng.integers(late_from, days))
        out.append(
            {
                "event_ts": START + day * DAY + dt.timedelta(seconds=int(rng.integers(0, 86_400))),
                "user_id": f"u{int(rng.integers(0, 12))}",
                "region": REGIONS[int(rng.integers(0, 3)) % 2] if rng.random() > 0.05 else "west",
                "amount": float(rng.normal(40, 30)),
            }
        )
    return out


def _write(
    root: Path, name: str, rows: list[dict[str, Any]], amount_type: pa.DataType | None = None
) -> None:
    folder = root / "web" / "clicks"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "event_ts": pa.array([r["event_ts"] for r in rows], pa.timestamp("us", tz="UTC")),
            "user_id": pa.array([r["user_id"] for r in rows]),
            "region": pa.array([r["region"] for r in rows]),
            "amount": pa.array(
                [r["amount"] if amount_type is None else str(r["amount"]) for r in rows],
                amount_type or pa.float64(),
            ),
        }
    )
    pq.write_table(table, folder / name)


def _bounded(
    batches: list[tuple[int, list[dict[str, Any]]]],
    k: int,
    measure: str,
    clip: tuple[float, float],
    max_periods: int | None = None,
) -> dict[int, dict[str, float]]:
    """Brute force: effective period; each unit's first k events per period by (t, key, v)."""
    per_unit: dict[tuple[str, int], list[tuple[Any, str, float]]] = defaultdict(list)
    for ingest, rows in batches:
        for r in rows:
            if r["region"] not in REGIONS:
                continue
            period = (r["event_ts"] - START) // DAY + 1
            value = 1.0 if measure == "count" else min(max(r["amount"], clip[0]), clip[1])
            per_unit[(r["user_id"], max(period, ingest))].append(
                (r["event_ts"], r["region"], value)
            )
    if max_periods is not None:  # user level: each unit's first b effective periods
        periods: dict[str, list[int]] = defaultdict(list)
        for u, e in per_unit:
            periods[u].append(e)
        per_unit = {
            (u, e): v for (u, e), v in per_unit.items() if e in sorted(periods[u])[:max_periods]
        }
    out: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(REGIONS, 0.0))
    for (_, e), events in per_unit.items():
        for _, region, value in sorted(events)[:k]:
            out[e][region] += value
    return out


def _setup(root: Path, catalog: Any) -> None:
    from lakeward.lake import profile_datasets
    from lakeward.policy import acknowledge_purpose, engine_for

    profile_datasets(catalog, root=root)
    acknowledge_purpose(catalog, engine_for(catalog).bundle, "alice", "analytics")


def _definition(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "clicks-by-region",
        "datasets": ["web.clicks"],
        "time_column": "event_ts",
        "period": "1d",
        "start": START.isoformat(),
        "keys": {"region": REGIONS},
        "measure": "sum",
        "value_column": "amount",
        "clip": [0.0, 100.0],
        "unit_column": "user_id",
        "unit": "visitor",
        "max_per_period": 2,
        "horizon": 64,
        "rho": 0.5,
        "principal": "alice",
        "purpose": "analytics",
    }
    base.update(over)
    return base


def test_releases_exact_bounded_sums_once_and_late_events_go_forward(
    tmp_path: Path, catalog: Any, spark: Any
) -> None:
    from lakeward.catalog import DPRelease
    from lakeward.dp import (
        create_stream,
        release_streams,
        spec_from_mapping,
        stream_budget,
        stream_counter,
        stream_series,
    )

    root = tmp_path / "lake"
    first = _events(1, 400, 4)
    _write(root, "part-00000.parquet", first)
    _setup(root, catalog)
    stream = create_stream(catalog, _definition(), actor="alice")
    assert stream.counter == "sqrt_scaled" and stream.unit == "visitor/period"

    now = START + 4 * DAY + dt.timedelta(hours=1)
    out = release_streams(catalog, actor="lakeward-scheduler", now=now)["clicks-by-region"]
    assert [r.period for r in out] == [1, 2, 3, 4] and all(r.fresh for r in out)

    expected = _bounded([(1, first)], 2, "sum", (0.0, 100.0))
    running = np.zeros(2)
    with catalog.session() as session:
        rows = session.scalars(select(DPRelease).order_by(DPRelease.period)).all()
    for rel in rows:
        running += [expected[rel.period][r] for r in REGIONS]
        assert rel.totals["values"] == pytest.approx(running.tolist(), abs=1e-6)
        noise = np.asarray(rel.outputs["values"]) - np.asarray(rel.totals["values"])
        assert np.all(noise != 0.0)  # noise was added, and it is what was persisted
        assert rel.state == "released"

    # A re-run (Prefect retry) returns the persisted outputs and spends nothing more.
    spec_counter = stream_counter(spec_from_mapping(_definition()))
    spent = stream_budget(catalog, "clicks-by-region")["ledger_committed"]
    assert spent == pytest.approx(spec_counter.rho_through(4))
    again = release_streams(catalog, actor="lakeward-scheduler", now=now)["clicks-by-region"]
    assert again == []
    again = release_streams(catalog, ["clicks-by-region"], actor="x", now=now, through=4)
    assert again["clicks-by-region"] == []
    assert stream_budget(catalog, "clicks-by-region")["ledger_committed"] == pytest.approx(spent)

    # Late events for released periods 2-3 and a future event: the late ones count in period 5.
    late = _events(2, 60, 3, late_from=1)
    _write(root, "part-00001.parquet", late)
    before = stream_series(catalog, "clicks-by-region")
    out = release_streams(catalog, actor="s", now=START + 5 * DAY + dt.timedelta(hours=1))
    assert [r.period for r in out["clicks-by-region"]] == [5]
    after = stream_series(catalog, "clicks-by-region")
    assert after.values[:4] == before.values[:4]  # history never rewritten
    expected = _bounded([(1, first), (5, late)], 2, "sum", (0.0, 100.0))
    with catalog.session() as session:
        fifth = session.scalar(select(DPRelease).where(DPRelease.period == 5))
    assert fifth is not None
    assert np.asarray(fifth.totals["values"]) == pytest.approx(
        running + [expected[5][r] for r in REGIONS], abs=1e-6
    )
    assert expected[5]["north"] + expected[5]["south"] > 0  # the late events did count

    # Rewriting an ingested file is refused: streams need append-only sources.
    _write(root, "part-00001.parquet", late[:10])
    from lakeward.errors import LakeError

    with pytest.raises(LakeError, match="changed after it was ingested at period 5"):
        release_streams(catalog, actor="s", now=START + 6 * DAY + dt.timedelta(hours=1))


def test_schema_change_halts_and_crash_between_reserve_and_commit_spends_once(
    tmp_path: Path, home: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward.catalog import Catalog, DPRelease
    from lakeward.dp import (
        create_stream,
        release_streams,
        stream_budget,
        stream_info,
        stream_series,
    )
    from lakeward.errors import InputError, StreamSchemaChanged
    from lakeward.policy import Reservation

    catalog = Catalog.open()
    root = tmp_path / "lake"
    events = _events(3, 200, 6)
    _write(root, "part-00000.parquet", events)
    _setup(root, catalog)
    create_stream(
        catalog,
        _definition(measure="count", value_column=None, clip=None, max_periods=2, unit="customer"),
        actor="alice",
    )
    now = START + 3 * DAY + dt.timedelta(minutes=5)

    # Crash after the noise was drawn and persisted, before the spend was committed.
    real_commit = Reservation.commit

    def crash(self: Reservation) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(Reservation, "commit", crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        release_streams(catalog, actor="s", now=now)
    with catalog.session() as session:
        pending = session.scalars(select(DPRelease)).all()
    assert [(r.period, r.state) for r in pending] == [(1, "pending")]
    persisted = pending[0].outputs["values"]
    assert stream_budget(catalog, "clicks-by-region")["ledger_committed"] == 0.0

    monkeypatch.setattr(Reservation, "commit", real_commit)
    out = release_streams(catalog, actor="s", now=now)["clicks-by-region"]
    assert out[0].values == persisted  # the crashed run's noise is reused, never redrawn
    info = stream_info(catalog, "clicks-by-region")
    budget = stream_budget(catalog, "clicks-by-region")
    assert budget["ledger_committed"] == pytest.approx(info["rho_spent"])  # spent once
    # User level: 2 events per customer per day, and only each customer's first 2 days.
    expected = _bounded([(1, events)], 2, "count", (0.0, 0.0), max_periods=2)
    with catalog.session() as session:
        totals = [
            r.totals["values"]
            for r in session.scalars(select(DPRelease).order_by(DPRelease.period))
        ]
    running = np.cumsum([[expected[p][r] for r in REGIONS] for p in (1, 2, 3)], axis=0)
    assert np.asarray(totals) == pytest.approx(running)
    assert sum(expected[p][r] for p in (4, 5, 6) for r in REGIONS) < sum(
        1 for e in events if e["region"] in REGIONS and (e["event_ts"] - START) // DAY >= 3
    )  # later days lose the customers already counted twice

    # The source is replaced by files of another schema (region renamed): the stream halts,
    # audited, and later releases are refused; released history stays.
    (root / "web" / "clicks" / "part-00000.parquet").unlink()
    renamed = pa.table(
        {
            "event_ts": pa.array([START], pa.timestamp("us", tz="UTC")),
            "user_id": ["u1"],
            "area": ["north"],
            "amount": [1.0],
        }
    )
    pq.write_table(renamed, root / "web" / "clicks" / "part-00001.parquet")
    with pytest.raises(StreamSchemaChanged, match="column 'region' is missing"):
        release_streams(catalog, actor="s", now=now + 2 * DAY)
    assert stream_info(catalog, "clicks-by-region")["state"] == "halted"
    with pytest.raises(InputError, match="is halted"):
        release_streams(catalog, ["clicks-by-region"], actor="s", now=now + 2 * DAY)
    assert len(stream_series(catalog, "clicks-by-region").periods) == 3
    from lakeward.catalog import AuditLog

    assert any(r.action == "dp.stream.halt" for r in AuditLog(catalog).tail(20))
    catalog.dispose()


@pytest.mark.parametrize(
    "over",
    [
        {"unit_column": None, "max_per_period": 1, "unit": "visitor"},  # event level
        {"max_per_period": 1},  # one event per unit-period (hash aggregate path)
    ],
)
def test_event_level_and_single_event_bounds_are_exact(
    tmp_path: Path, home: Path, spark: Any, over: dict[str, Any]
) -> None:
    from lakeward.catalog import Catalog, DPRelease
    from lakeward.dp import create_stream, release_streams

    catalog = Catalog.open()
    root = tmp_path / "lake"
    events = _events(5, 300, 3)
    _write(root, "part-00000.parquet", events)
    _setup(root, catalog)
    row = create_stream(catalog, _definition(**over), actor="alice")
    release_streams(catalog, actor="s", now=START + 3 * DAY)
    k = 10**9 if "unit_column" in over else 1
    if "unit_column" in over:  # event level: every event its own unit
        events = [{**e, "user_id": f"e{i}"} for i, e in enumerate(events)]
        assert row.unit == "visitor/event"
    expected = _bounded([(1, events)], k, "sum", (0.0, 100.0))
    with catalog.session() as session:
        totals = [
            r.totals["values"]
            for r in session.scalars(select(DPRelease).order_by(DPRelease.period))
        ]
    running = np.cumsum([[expected[p][r] for r in REGIONS] for p in (1, 2, 3)], axis=0)
    assert np.asarray(totals) == pytest.approx(running)
    catalog.dispose()
