"""Releases on the real catalog and ledger (no Spark): idempotence, concurrency, crashes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.conftest import REPO
from tests.unit.dp.conftest import insert_stream

INCREMENTS = np.arange(32, dtype=float).reshape(16, 2)


def _release(catalog: Any, ledger: Any, row: Any, spec: Any, periods: range) -> list[Any]:
    from lakeward.dp._service import _release_period

    return [
        _release_period(catalog, ledger, row, spec, p, INCREMENTS[p - 1], "test") for p in periods
    ]


@pytest.mark.parametrize("kind", ["sqrt_scaled", "tree", "honaker"])
def test_rerun_returns_persisted_outputs_and_spends_nothing_more(
    catalog: Any, ledger: Any, kind: str
) -> None:
    from lakeward.dp import stream_counter

    row, spec = insert_stream(catalog, counter=kind)
    first = _release(catalog, ledger, row, spec, range(1, 9))
    assert all(r.fresh for r in first)
    spent = ledger.spent("visitor/period", "alice", "analytics")
    assert spent == pytest.approx(stream_counter(spec).rho_through(8))
    again = _release(catalog, ledger, row, spec, range(1, 9))
    assert [r.values for r in again] == [r.values for r in first]  # never re-noised
    assert not any(r.fresh for r in again)
    # Each period is charged what it adds (a tree step that completes no new level: 0).
    counter = stream_counter(spec)
    assert [r.rho for r in first] == pytest.approx(
        [counter.rho_through(t) - counter.rho_through(t - 1) for t in range(1, 9)]
    )
    assert ledger.spent("visitor/period", "alice", "analytics") == pytest.approx(spent)
    # Sums are running totals + noise whose sd grows as the closed form says.
    assert [r.sd for r in first] == pytest.approx(
        [stream_counter(spec).variance(t) ** 0.5 for t in range(1, 9)]
    )


def test_crash_after_commit_before_mark_is_finished_without_a_second_spend(
    catalog: Any, ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward.catalog import DPRelease
    from lakeward.dp import _service

    row, spec = insert_stream(catalog)
    mark_released = _service._mark_released

    def crash(*_: Any) -> None:
        raise RuntimeError("killed after commit")

    monkeypatch.setattr(_service, "_mark_released", crash)
    with pytest.raises(RuntimeError):
        _release(catalog, ledger, row, spec, range(1, 2))
    spent = ledger.spent("visitor/period", "alice", "analytics")
    assert spent > 0  # the spend was committed
    with catalog.session() as session:
        pending = session.scalar(select(DPRelease))
    assert pending is not None and pending.state == "pending"
    assert pending.outputs == {}  # sealed until paid for and released
    from lakeward.dp._sealed import unseal

    sealed = unseal(pending.sealed, stream_id=row.id, stream=row.name, period=1)
    # Not monkeypatch.undo(): that would also undo the test's LAKEWARD_HOME (and audit key).
    monkeypatch.setattr(_service, "_mark_released", mark_released)
    (result,) = _release(catalog, ledger, row, spec, range(1, 2))
    assert result.values == sealed.outputs
    assert ledger.spent("visitor/period", "alice", "analytics") == pytest.approx(spent)


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from sqlalchemy import select
    from lakeward.catalog import Catalog, DPStream
    from lakeward.dp import spec_from_mapping
    from lakeward.dp._service import _release_period
    from lakeward.policy import BudgetLedger, engine_for

    catalog = Catalog.open(sys.argv[1])
    ledger = BudgetLedger(catalog, engine_for(catalog).bundle)
    with catalog.session() as s:
        row = s.scalar(select(DPStream))
    spec = spec_from_mapping(row.spec)
    inc = np.arange(32, dtype=float).reshape(16, 2)
    while time.time() < float(sys.argv[2]):
        time.sleep(0.005)
    out = [_release_period(catalog, ledger, row, spec, p, inc[p - 1], sys.argv[3]).values
           for p in range(1, 9)]
    print(json.dumps(out))
    """
)


def test_two_processes_releasing_the_same_periods_release_once(
    catalog: Any, catalog_url: str, ledger: Any, dp_bundle: Path
) -> None:
    import json
    import time

    from lakeward.catalog import DPRelease
    from lakeward.dp import stream_counter

    row, spec = insert_stream(catalog)
    go = time.time() + 4.0  # both start together, after interpreter start-up
    env = {**os.environ, "LAKEWARD_CATALOG_URL": catalog_url, "LAKEWARD_POLICY_DIR": str(dp_bundle)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, catalog_url, str(go), f"worker-{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for i in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]  # both see the one release of every period
    with catalog.session() as session:
        rows = session.scalars(select(DPRelease).order_by(DPRelease.period)).all()
    assert [(r.period, r.state) for r in rows] == [(p, "released") for p in range(1, 9)]
    assert ledger.spent("visitor/period", "alice", "analytics") == pytest.approx(
        stream_counter(spec).rho_through(8)
    )
    assert {r.released_by for r in rows} <= {"worker-0", "worker-1"}


def test_cap_lowered_below_spent_refuses_and_reports_over_cap(
    catalog: Any, ledger: Any, dp_bundle: Path
) -> None:
    from lakeward.dp import stream_budget
    from lakeward.errors import BudgetExhausted
    from lakeward.policy import BudgetLedger, engine_for

    row, spec = insert_stream(catalog, rho=0.8)
    released = _release(catalog, ledger, row, spec, range(1, 9))
    spent = ledger.spent("visitor/period", "alice", "analytics")
    (dp_bundle / "budgets.yaml").write_text(
        "caps:\n  - {unit: visitor/period, principal: '*', purpose: analytics, rho: 0.1}\n"
    )
    lowered = BudgetLedger(catalog, engine_for(catalog).bundle)
    assert lowered.bundle.cap_for("visitor/period", "alice", "analytics").rho == 0.1
    with pytest.raises(BudgetExhausted, match="would exceed the cap 0.1"):
        _release(catalog, lowered, row, spec, range(9, 10))
    # Nothing double-spent, nothing lost: the released periods stay as they were.
    assert lowered.spent("visitor/period", "alice", "analytics") == pytest.approx(spent)
    again = _release(catalog, lowered, row, spec, range(1, 9))
    assert [r.values for r in again] == [r.values for r in released]
    budget = stream_budget(catalog, spec.name)
    assert budget["over_cap"] is True and budget["ledger_remaining"] < 0
