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
    root: Path,
    name: str,
    rows: list[dict[str, Any]],
    amount_type: pa.DataType | None = None,
    time_unit: str = "us",
) -> None:
    folder = root / "web" / "clicks"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "event_ts": pa.array([r["event_ts"] for r in rows], pa.timestamp(time_unit, tz="UTC")),
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


def _sealed(catalog: Any, stream: str) -> list[Any]:
    """Each period's mechanism state, unsealed with the release key (the service's view)."""
    from lakeward.catalog import DPRelease, DPStream
    from lakeward.dp._sealed import unseal

    with catalog.session() as session:
        stream_id = session.scalar(select(DPStream.id).where(DPStream.name == stream))
        rows = session.scalars(
            select(DPRelease).where(DPRelease.stream_id == stream_id).order_by(DPRelease.period)
        ).all()
    return [unseal(r.sealed, stream_id=stream_id, stream=stream, period=r.period) for r in rows]


def _true_totals(catalog: Any, stream: str) -> list[list[float]]:
    """The true running totals of each period."""
    return [state.totals for state in _sealed(catalog, stream)]


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
    for rel, state in zip(rows, _sealed(catalog, "clicks-by-region"), strict=True):
        running += [expected[rel.period][r] for r in REGIONS]
        assert state.totals == pytest.approx(running.tolist(), abs=1e-6)
        assert rel.outputs["values"] == state.outputs  # released: written in clear
        noise = np.asarray(rel.outputs["values"]) - np.asarray(state.totals)
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
    assert np.asarray(_true_totals(catalog, "clicks-by-region")[4]) == pytest.approx(
        running + [expected[5][r] for r in REGIONS], abs=1e-6
    )
    assert expected[5]["north"] + expected[5]["south"] > 0  # the late events did count

    # Rewriting an ingested file halts the stream: streams need append-only sources.
    _write(root, "part-00001.parquet", late[:10])
    from lakeward.dp import stream_info
    from lakeward.errors import LakeError

    with pytest.raises(LakeError, match="changed after it was ingested at period 5"):
        release_streams(catalog, actor="s", now=START + 6 * DAY + dt.timedelta(hours=1))
    assert stream_info(catalog, "clicks-by-region")["state"] == "halted"


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
    from lakeward.errors import InputError, LakeError, StreamSchemaChanged
    from lakeward.policy import Reservation

    catalog = Catalog.open()
    root = tmp_path / "lake"
    events = _events(3, 200, 6)
    _write(root, "part-00000.parquet", events)
    _setup(root, catalog)
    create_stream(
        catalog,
        _definition(measure="count", value_column=None, clip=None, max_periods=2),
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
    assert pending[0].outputs == {}  # a pending period's outputs stay sealed until paid for
    persisted = _sealed(catalog, "clicks-by-region")[0].outputs
    assert stream_budget(catalog, "clicks-by-region")["ledger_committed"] == 0.0

    monkeypatch.setattr(Reservation, "commit", real_commit)
    out = release_streams(catalog, actor="s", now=now)["clicks-by-region"]
    assert out[0].values == persisted  # the crashed run's noise is reused, never redrawn
    info = stream_info(catalog, "clicks-by-region")
    budget = stream_budget(catalog, "clicks-by-region")
    assert budget["ledger_committed"] == pytest.approx(info["rho_spent"])  # spent once
    # User level: 2 events per customer per day, and only each customer's first 2 days.
    expected = _bounded([(1, events)], 2, "count", (0.0, 0.0), max_periods=2)
    totals = _true_totals(catalog, "clicks-by-region")
    running = np.cumsum([[expected[p][r] for r in REGIONS] for p in (1, 2, 3)], axis=0)
    assert np.asarray(totals) == pytest.approx(running)
    assert sum(expected[p][r] for p in (4, 5, 6) for r in REGIONS) < sum(
        1 for e in events if e["region"] in REGIONS and (e["event_ts"] - START) // DAY >= 3
    )  # later days lose the customers already counted twice

    # A stream not released yet, to see the schema change itself.
    create_stream(
        catalog, _definition(name="later", unit_column=None, max_per_period=1), actor="alice"
    )
    # The source is replaced by files of another schema (region renamed): the stream halts,
    # audited, and later releases are refused; released history stays. The stream that had
    # ingested the deleted file halts for that; the other for the schema.
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
    with pytest.raises(
        LakeError, match=r"part-00000.parquet of web.clicks \(ingested at period 1\) is gone"
    ):
        release_streams(catalog, ["clicks-by-region"], actor="s", now=now + 2 * DAY)
    with pytest.raises(StreamSchemaChanged, match="column 'region' is missing"):
        release_streams(catalog, ["later"], actor="s", now=now + 2 * DAY)
    assert stream_info(catalog, "clicks-by-region")["state"] == "halted"
    assert stream_info(catalog, "later")["state"] == "halted"
    with pytest.raises(InputError, match="is halted"):
        release_streams(catalog, ["clicks-by-region"], actor="s", now=now + 2 * DAY)
    assert len(stream_series(catalog, "clicks-by-region").periods) == 3
    from lakeward.catalog import AuditLog

    halts = [r.resource for r in AuditLog(catalog).tail(20) if r.action == "dp.stream.halt"]
    assert sorted(halts) == ["dp_stream:clicks-by-region", "dp_stream:later"]
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
    from lakeward.catalog import Catalog
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
    totals = _true_totals(catalog, "clicks-by-region")
    running = np.cumsum([[expected[p][r] for r in REGIONS] for p in (1, 2, 3)], axis=0)
    assert np.asarray(totals) == pytest.approx(running)
    catalog.dispose()


def test_compacting_ingested_files_halts_instead_of_counting_units_again(
    tmp_path: Path, home: Path, spark: Any
) -> None:
    from lakeward.catalog import AuditLog, Catalog
    from lakeward.dp import create_stream, release_streams, stream_budget, stream_info
    from lakeward.errors import LakeError

    catalog = Catalog.open()
    root = tmp_path / "lake"
    events = _events(6, 200, 2)
    _write(root, "part-00000.parquet", [e for e in events if e["event_ts"] < START + DAY])
    _write(root, "part-00001.parquet", [e for e in events if e["event_ts"] >= START + DAY])
    _setup(root, catalog)
    once = {"measure": "count", "value_column": None, "clip": None, "max_per_period": 1}
    create_stream(catalog, _definition(name="once", max_periods=1, **once), actor="alice")
    release_streams(catalog, actor="s", now=START + 2 * DAY)
    expected = _bounded([(1, events)], 1, "count", (0.0, 0.0), max_periods=1)
    totals = _true_totals(catalog, "once")
    assert totals[-1] == pytest.approx([expected[1][r] + expected[2][r] for r in REGIONS])
    assert sum(totals[-1]) <= 12  # each of the 12 visitors counts in one period at most
    spent = stream_budget(catalog, "once")["ledger_committed"]

    # Compaction: the same events rewritten into one new file. Counted at its ingest period
    # (3), every visitor would count a second time; the stream halts instead (audited).
    for name in ("part-00000.parquet", "part-00001.parquet"):
        (root / "web" / "clicks" / name).unlink()
    _write(root, "part-00002.parquet", events)
    with pytest.raises(LakeError, match="is gone.*so the stream is halted"):
        release_streams(catalog, actor="s", now=START + 3 * DAY)
    assert stream_info(catalog, "once")["state"] == "halted"
    assert stream_info(catalog, "once")["released"] == 2
    assert stream_budget(catalog, "once")["ledger_committed"] == pytest.approx(spent)
    halt = [r for r in AuditLog(catalog).tail(10) if r.action == "dp.stream.halt"]
    assert len(halt) == 1 and "part-00000.parquet of web.clicks" in halt[0].reasons[0]
    catalog.dispose()


def test_nanosecond_parquet_timestamps_are_read(tmp_path: Path, home: Path, spark: Any) -> None:
    from lakeward.catalog import Catalog
    from lakeward.dp import create_stream, release_streams

    catalog = Catalog.open()
    root = tmp_path / "lake"
    first = _events(8, 150, 2)
    _write(root, "part-00000.parquet", first, time_unit="ns")  # pandas' default precision
    assert pq.read_schema(root / "web" / "clicks" / "part-00000.parquet")[0].type.unit == "ns"
    _setup(root, catalog)
    create_stream(catalog, _definition(name="ns"), actor="alice")
    release_streams(catalog, actor="s", now=START + 2 * DAY)
    late = _events(9, 40, 3, late_from=1)  # a second file, ingested at period 3
    _write(root, "part-00001.parquet", late, time_unit="ns")
    release_streams(catalog, actor="s", now=START + 3 * DAY)
    expected = _bounded([(1, first), (3, late)], 2, "sum", (0.0, 100.0))
    running = np.cumsum([[expected[p][r] for r in REGIONS] for p in (1, 2, 3)], axis=0)
    assert np.asarray(_true_totals(catalog, "ns")) == pytest.approx(running, abs=1e-6)
    catalog.dispose()
