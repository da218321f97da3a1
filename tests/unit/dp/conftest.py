"""DP service fixtures without Spark: stream rows inserted directly, a bundle with test caps."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CAPS = """caps:
  - {unit: visitor/period, principal: "*", purpose: analytics, rho: 1.0}
  - {unit: customer, principal: "*", purpose: analytics, rho: 0.5}
"""


@pytest.fixture
def dp_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default bundle with small caps: visitor/period 1.0, customer 0.5 (analytics)."""
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO / "policies", bundle)
    (bundle / "budgets.yaml").write_text(CAPS)
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", str(bundle))
    return bundle


def definition(**over: Any) -> dict[str, Any]:
    """A count stream of web clicks per region, 16 daily periods."""
    base: dict[str, Any] = {
        "name": "clicks",
        "datasets": ["web.clicks"],
        "time_column": "event_ts",
        "period": "1d",
        "start": "2026-01-01T00:00:00+00:00",
        "keys": {"region": ["north", "south"]},
        "unit_column": "user_id",
        "unit": "visitor",
        "horizon": 16,
        "rho": 0.25,
        "principal": "alice",
        "purpose": "analytics",
    }
    base.update(over)
    return base


def insert_stream(catalog: Any, **over: Any) -> tuple[Any, Any]:
    """A stream row as create_stream writes it (its Spark schema check is tested in spark/)."""
    from lakeward.catalog import DPStream
    from lakeward.dp import spec_from_mapping, stream_counter

    spec = spec_from_mapping(definition(**over))
    with catalog.session() as session:
        row = DPStream(
            name=spec.name,
            spec=spec.model_dump(mode="json"),
            schema_hash="test",
            unit=spec.ledger_unit,
            principal=spec.principal,
            purpose=spec.purpose,
            counter=stream_counter(spec).kind,
            horizon=spec.horizon,
            rho=spec.rho,
            state="active",
            created_by="test",
        )
        session.add(row)
    return row, spec


@pytest.fixture
def ledger(catalog: Any, dp_bundle: Path) -> Iterator[Any]:
    """The budget ledger over the test bundle."""
    from lakeward.policy import BudgetLedger, engine_for

    yield BudgetLedger(catalog, engine_for(catalog).bundle)
