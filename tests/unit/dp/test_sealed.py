"""Mechanism secrets are sealed: a reader of the whole catalog, without the release key,
recovers no period's true value; sealed rows cannot be swapped; the upgrade seals old rows."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import inspect, select, text

from lakeward.errors import CheckFailed
from tests.unit.dp.conftest import insert_stream

# Distinctive true increments (no small integers that ids or periods could match).
INCREMENTS = np.random.default_rng(20261205).uniform(1000.0, 2000.0, size=(16, 2)).round(6)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _release(catalog: Any, ledger: Any, row: Any, spec: Any, periods: range) -> list[Any]:
    from lakeward.dp._service import _release_period

    return [
        _release_period(catalog, ledger, row, spec, p, INCREMENTS[p - 1], "test") for p in periods
    ]


def _every_number_in_the_catalog(catalog: Any) -> list[float]:
    """Every number in every cell of every table, JSON and text included (raw SQL)."""
    found: list[float] = []
    with catalog.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for record in conn.execute(text(f'SELECT * FROM "{table}"')):
                for cell in record:
                    if isinstance(cell, int | float) and not isinstance(cell, bool):
                        found.append(float(cell))
                    elif cell is not None:
                        raw = cell if isinstance(cell, str) else json.dumps(cell, default=str)
                        # a timestamp's microseconds (".003000") are not a stored number
                        raw = _TIMESTAMP.sub(" ", raw)
                        found += [float(m) for m in _NUMBER.findall(raw)]
    return found


def _recoverable(values: np.ndarray, stored: list[float]) -> list[float]:
    pool = np.asarray(stored)
    return [float(v) for v in values.ravel() if np.any(np.isclose(pool, v, rtol=0, atol=1e-6))]


@pytest.mark.parametrize("kind", ["sqrt_scaled", "honaker"])
def test_no_true_value_or_noise_is_readable_from_the_catalog(
    catalog: Any, ledger: Any, home: Path, kind: str
) -> None:
    row, spec = insert_stream(catalog, counter=kind)
    released = np.asarray([r.values for r in _release(catalog, ledger, row, spec, range(1, 7))])
    totals = np.cumsum(INCREMENTS[:6], axis=0)
    noise = released - totals
    assert np.all(np.abs(noise) > 1e-3)
    stored = _every_number_in_the_catalog(catalog)
    assert _recoverable(released, stored)  # the released values are there, in clear
    assert _recoverable(totals, stored) == []  # no true running total
    assert _recoverable(noise, stored) == []  # and no noise to subtract
    assert _recoverable(INCREMENTS[:6], stored) == []  # nor a period's true increment
    with catalog.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("dp_releases")}
    assert not columns & {"totals", "noise", "counter_state"}
    # The key lives outside the catalog, 0600, and the service reads the state back exactly.
    key = home / "keys" / "dp-release.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
    from lakeward.catalog import DPRelease
    from lakeward.dp._sealed import unseal

    with catalog.session() as session:
        rel = session.scalar(select(DPRelease).where(DPRelease.period == 6))
    assert rel is not None
    state = unseal(rel.sealed, stream_id=row.id, stream=row.name, period=6)
    assert state.totals == pytest.approx(totals[-1].tolist(), abs=1e-9)
    assert state.outputs == rel.outputs["values"]


def test_sealed_rows_cannot_be_swapped_or_opened_with_another_key(
    catalog: Any, ledger: Any, home: Path
) -> None:
    from lakeward.catalog import DPRelease
    from lakeward.dp._sealed import unseal

    row, spec = insert_stream(catalog)
    _release(catalog, ledger, row, spec, range(1, 3))
    with catalog.session() as session:
        first, second = session.scalars(select(DPRelease).order_by(DPRelease.period)).all()
        second.sealed = first.sealed  # period 1's ciphertext moved into period 2's row
    with pytest.raises(CheckFailed, match="stream clicks period 2 does not open"):
        _release(catalog, ledger, row, spec, range(3, 4))
    with pytest.raises(CheckFailed):
        unseal(first.sealed, stream_id=row.id, stream=row.name, period=1, key=b"k" * 32)


def _downgrade(catalog: Any, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from lakeward.catalog._engine import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with catalog.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_upgrade_seals_the_clear_secrets_of_existing_releases(catalog_url: str, home: Path) -> None:
    from lakeward.catalog import Catalog
    from lakeward.dp._sealed import unseal

    catalog = Catalog.open(catalog_url, migrate=False)
    catalog.upgrade("0006")
    with catalog.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dp_streams (id, name, spec, schema_hash, unit, principal, purpose, "
                "counter, horizon, rho, state, created_by, created_at) VALUES (7, 's', '{}', "
                "'h', 'visitor', 'alice', 'analytics', 'tree', 4, 0.5, 'active', 'a', "
                "CURRENT_TIMESTAMP)"
            )
        )
        for period, state, outputs in ((1, "released", 1510.25), (2, "pending", 3333.5)):
            conn.execute(
                text(
                    "INSERT INTO dp_releases (stream_id, period, state, rho, outputs, sd, noise, "
                    "counter_state, totals, released_by, created_at) VALUES (7, :p, :s, 0.1, "
                    ":o, 1.0, :n, :c, :t, 'a', CURRENT_TIMESTAMP)"
                ),
                {
                    "p": period,
                    "s": state,
                    "o": json.dumps({"values": [outputs]}),
                    "n": json.dumps({"draws": [[10.25 * period]]}),
                    "c": json.dumps({"step": period, "nodes": {}}),
                    "t": json.dumps({"values": [1500.0 * period]}),
                },
            )
    catalog.upgrade()
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT period, outputs, sealed FROM dp_releases ORDER BY period")
        ).all()
    opened = [unseal(r.sealed, stream_id=7, stream="s", period=r.period) for r in rows]
    assert [(s.totals, s.draws, s.outputs) for s in opened] == [
        ([1500.0], [[10.25]], [1510.25]),
        ([3000.0], [[20.5]], [3333.5]),
    ]
    outputs = [r.outputs if isinstance(r.outputs, dict) else json.loads(r.outputs) for r in rows]
    assert outputs == [{"values": [1510.25]}, {}]  # the pending period's outputs are sealed
    stored = _every_number_in_the_catalog(catalog)
    assert _recoverable(np.array([1500.0, 3000.0, 3333.5, 20.5]), stored) == []
    _downgrade(catalog, "0006")  # and back: the downgrade unseals
    with catalog.engine.connect() as conn:
        totals = conn.execute(text("SELECT totals FROM dp_releases ORDER BY period")).scalars()
        assert [t if isinstance(t, dict) else json.loads(t) for t in totals] == [
            {"values": [1500.0]},
            {"values": [3000.0]},
        ]
    catalog.dispose()
