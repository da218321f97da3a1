from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from lakeward.catalog import AuditLog, BudgetEntry, Catalog
from lakeward.errors import BudgetExhausted, InputError
from lakeward.policy import BudgetLedger, load_bundle

CAP = 1.0  # budgets.yaml: customer / * / analytics


@pytest.fixture
def ledger(catalog: Catalog, bundle_dir: Path) -> BudgetLedger:
    return BudgetLedger(catalog, load_bundle(bundle_dir))


@pytest.mark.parametrize("rho", [-1, 0, 0.0, math.nan, math.inf, -math.inf, "0.1", None, True])
def test_rejects_invalid_spends(ledger: BudgetLedger, rho: object) -> None:
    with pytest.raises(InputError, match="finite number > 0"):
        ledger.reserve("customer", "bob", "analytics", rho)  # type: ignore[arg-type]


def test_reserve_commit_release_and_cap(ledger: BudgetLedger, catalog: Catalog) -> None:
    r1 = ledger.reserve("customer", "bob", "analytics", 0.6)
    with pytest.raises(BudgetExhausted, match="would exceed the cap 1"):
        ledger.reserve("customer", "bob", "analytics", 0.5)  # reserved counts too
    r1.release()
    r2 = ledger.reserve("customer", "bob", "analytics", 0.5)
    r2.commit()
    assert ledger.spent("customer", "bob", "analytics") == pytest.approx(0.5)
    with pytest.raises(BudgetExhausted, match="is committed"):
        r2.release()
    ledger.reserve("customer", "bob", "analytics", 0.5).commit()
    with pytest.raises(BudgetExhausted):
        ledger.reserve("customer", "bob", "analytics", 1e-6)
    row = next(r for r in ledger.summary() if r["principal"] == "bob")
    assert row["committed"] == pytest.approx(1.0) and row["remaining"] == pytest.approx(0.0)
    actions = [r.action for r in AuditLog(catalog).tail(50)]
    assert actions.count("dp.budget.commit") == 2 and "dp.budget.release" in actions
    assert AuditLog(catalog).verify() is None


def test_no_cap_means_no_budget_and_specific_cap_wins(ledger: BudgetLedger) -> None:
    with pytest.raises(BudgetExhausted, match="no budget cap"):
        ledger.reserve("customer", "bob", "fraud_detection", 0.1)
    ledger.reserve("customer", "alice", "analytics", 0.5).commit()
    with pytest.raises(BudgetExhausted, match="cap 0.5"):
        ledger.reserve("customer", "alice", "analytics", 0.01)


def test_reservation_of_a_dead_holder_expires_and_is_audited(
    ledger: BudgetLedger, catalog: Catalog
) -> None:
    short = BudgetLedger(catalog, ledger.bundle, ttl_s=0.05)
    orphan = short.reserve("customer", "bob", "analytics", 0.9)
    time.sleep(0.1)  # the holder died; its time-to-live passes
    fresh = ledger.reserve("customer", "bob", "analytics", 0.9)
    fresh.commit()
    with pytest.raises(BudgetExhausted, match="is expired"):
        orphan.commit()
    orphan.release()  # releasing an expired reservation is a no-op
    assert ledger.spent("customer", "bob", "analytics") == pytest.approx(0.9)
    assert "dp.budget.expire" in [r.action for r in AuditLog(catalog).tail(20)]


def test_threads_never_overspend(ledger: BudgetLedger) -> None:
    results: list[str] = []

    def worker() -> None:
        for _ in range(6):
            try:
                ledger.reserve("customer", "bob", "analytics", 0.07).commit()
                results.append("ok")
            except BudgetExhausted:
                results.append("refused")

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 14  # floor(1.0 / 0.07)
    assert ledger.spent("customer", "bob", "analytics") <= CAP + 1e-9


WORKER = r"""
import json, random, sys
from lakeward.catalog import Catalog
from lakeward.errors import BudgetExhausted
from lakeward.policy import BudgetLedger, load_bundle
url, bundle, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
ledger = BudgetLedger(Catalog.open(url), load_bundle(bundle))
committed = []
refusals = 0
while refusals < 3:
    rho = rng.choice([0.01, 0.02, 0.05, 0.1])
    try:
        r = ledger.reserve("customer", "bob", "analytics", rho)
    except BudgetExhausted:
        refusals += 1
        continue
    if rng.random() < 0.2:
        r.release()
    else:
        r.commit()
        committed.append(rho)
print(json.dumps(committed))
"""


def test_sixteen_processes_race_without_overspending(
    catalog_url: str, catalog: Catalog, bundle_dir: Path
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, catalog_url, str(bundle_dir), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(16)
    ]
    reported: list[float] = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        reported += json.loads(out)
    with catalog.session() as s:
        states = list(s.scalars(select(BudgetEntry.state)))
        committed = sum(s.scalars(select(BudgetEntry.rho).where(BudgetEntry.state == "committed")))
    assert committed <= CAP + 1e-9
    assert committed == pytest.approx(sum(reported))
    assert committed > CAP - 0.1  # the cap was actually reached, not starved
    assert "reserved" not in states
