"""Benchmark: budget-ledger reserve + commit as the ledger's history grows.

Every reservation now checks its (unit, principal, purpose) rows against their MACs and
reconciles them with the audited reserve/commit/release records before spending, so its cost
grows with that triple's history. Measures p50/p99 ms of reserve+commit after 0, 1,000 and
5,000 earlier reservations of the same triple, on SQLite (and PostgreSQL when
``LAKEWARD_BENCH_POSTGRES_URL`` is set), and ``lakeward policy audit verify``'s chain + ledger
check for the whole history. Usage::

    .venv/bin/python bench/ledger.py [--steps 0,1000,5000] [--samples 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bundle(tmp: Path, cap: float) -> Path:
    target = tmp / "policies"
    shutil.copytree(REPO / "policies", target)
    (target / "budgets.yaml").write_text(
        f"caps:\n  - {{unit: customer, principal: '*', purpose: analytics, rho: {cap}}}\n"
    )
    return target


def run(url: str | None, steps: list[int], samples: int) -> None:
    from lakeward.catalog import AuditLog, Catalog
    from lakeward.policy import BudgetLedger, load_bundle

    try:
        from lakeward.policy._budget import reconcile_ledger
    except ImportError:  # a checkout from before the sealed ledger (for side-by-side runs)
        reconcile_ledger = None

    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-ledger-"))
    os.environ["LAKEWARD_HOME"] = str(tmp / "home")
    catalog = Catalog.open(url or f"sqlite:///{tmp / 'catalog.db'}")
    ledger = BudgetLedger(catalog, load_bundle(_bundle(tmp, 1e9)))
    done = 0
    print(f"backend: {catalog.engine.dialect.name}")
    print("history  reserve+commit p50 ms  p99 ms")
    for step in steps:
        while done < step:
            ledger.reserve("customer", "bob", "analytics", 1e-6).commit()
            done += 1
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            ledger.reserve("customer", "bob", "analytics", 1e-6).commit()
            times.append((time.perf_counter() - t0) * 1e3)
            done += 1
        times.sort()
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(f"{step:>7}  {statistics.median(times):>21.2f}  {p99:>6.2f}")
    t0 = time.perf_counter()
    broken = AuditLog(catalog).verify()
    chain = time.perf_counter() - t0
    t0 = time.perf_counter()
    problems = reconcile_ledger(catalog) if reconcile_ledger else []
    ledger_s = time.perf_counter() - t0
    records = len(AuditLog(catalog).tail(10**9))
    print(
        f"audit verify: {records} records in {chain:.2f} s (intact: {broken is None}); "
        f"ledger reconciliation of {done} reservations in {ledger_s:.2f} s "
        f"({len([p for p in problems if p.serious])} problems)"
    )
    catalog.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="0,1000,5000")
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    run(None, steps, args.samples)
    pg = os.environ.get("LAKEWARD_BENCH_POSTGRES_URL")
    if pg:
        run(pg, steps, args.samples)


if __name__ == "__main__":
    main()
