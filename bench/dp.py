"""Benchmark: continual-release DP — counter error, noise throughput, MaxSum, the Spark job.

1. **Counter error** (exact closed forms): max and mean per-step sd of every counter for
   T = 2^10 … 2^20 at ρ = 1/2, with the ratio to the binary tree and to the factorization
   lower bound (HKU25: (0.701 + ln T/π)/√(2ρ)); plus E[max_t |err|] at T = 2^16 over 200
   seeded runs.
2. **Noisy outputs/s per stream on one core**: the online release path (OpenDP exact
   samplers) and the seeded simulation path, for 1 and 1,000 keys.
3. **MaxSum / SumSelect**: predicted errors and the choice for d ∈ {10, 10², 10³, 10⁴} at
   T = 2^12 and 2^16; simulated errors of both mechanisms at T = 2^12.
4. **Spark job cost**: per-period per-key bounded sums for N events (default 10^7) and 10^3
   keys vs the same job without privacy (read + groupBy(period, key) sum), same files.

Usage::

    .venv/bin/python bench/dp.py [--events 10000000] [--skip-spark] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n## {title}\n")
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))


def counter_error() -> None:
    from lakeward.dp import make_counter
    from lakeward.dp._plot import error_table

    rows = [
        [
            f"2^{r['log2_T']}",
            r["counter"],
            f"{r['max_sd']:.3f}",
            f"{r['rmse']:.3f}",
            f"{r['vs_tree']:.3f}",
            f"{r['vs_lower_bound']:.3f}",
        ]
        for r in error_table(0.5, range(10, 21))
    ]
    _table(
        "Counter error, rho = 1/2 (sd in units of 1/sqrt(2 rho))",
        ["T", "counter", "max sd", "rmse", "max/tree", "max/lower bound"],
        rows,
    )
    t = 2**16
    x = np.zeros((t, 200))
    out = []
    for kind in ("tree", "honaker", "sqrt", "sqrt_scaled"):
        counter = make_counter(kind, t, 0.5, width=200)
        started = time.perf_counter()
        err = np.abs(counter.run(x, seed=42)).max(axis=0)
        out.append(
            [
                kind,
                f"{err.mean():.2f}",
                f"{np.percentile(err, 95):.2f}",
                f"{time.perf_counter() - started:.1f}",
            ]
        )
    _table(
        "E[max_t |err|] at T = 2^16, rho = 1/2, 200 seeded runs",
        ["counter", "mean", "p95", "seconds"],
        out,
    )


def throughput() -> None:
    from lakeward.dp import SeededGaussian, make_counter, release_source

    rows = []
    for kind in ("tree", "honaker", "sqrt", "sqrt_scaled"):
        for width, steps in ((1, 4096), (1000, 1024)):
            for path in ("OpenDP (release)", "seeded (simulation)"):
                counter = make_counter(kind, 1 << 16, 0.5, width=width)
                source = (
                    release_source(counter.distribution, counter.node_scale)
                    if path.startswith("OpenDP")
                    else SeededGaussian(counter.node_scale, 1)
                )
                started = time.perf_counter()
                for _ in range(steps):
                    counter.next_noise(source)
                seconds = time.perf_counter() - started
                rows.append([kind, width, path, steps, f"{steps * width / seconds:,.0f}"])
    _table(
        "Noisy outputs/s per stream, one core (steps 1..n of a 2^16 horizon)",
        ["counter", "keys", "noise", "steps", "outputs/s"],
        rows,
    )


def maxsum() -> None:
    from lakeward.dp import choose_maxsum, make_counter
    from lakeward.dp._select import SparseVectorMaxSum

    rows = []
    for t in (2**12, 2**16):
        for d in (10, 100, 1000, 10_000):
            c = choose_maxsum(t, d, 0.5)
            rows.append(
                [
                    f"2^{int(math.log2(t))}",
                    d,
                    f"{c['counter_error']:.1f}",
                    f"{c['svt_error']:.1f}",
                    f"{c['alpha']:.0f}",
                    c["mechanism"],
                ]
            )
    _table(
        "MaxSum predicted max error, rho = 1/2 (counters: formula; sparse vector: simulated)",
        ["T", "d", "counters", "sparse vector", "alpha", "choice"],
        rows,
    )
    t = 2**12
    rows = []
    for d in (10, 100, 1000):
        rng = np.random.default_rng(d)
        p = np.minimum(0.5, 2.0 / np.arange(1, d + 1))
        sums = np.cumsum(rng.random((t, d)) < p, axis=0).astype(np.float64)
        top = sums.max(axis=1)
        counter = make_counter("sqrt", t, 0.5, sensitivity=math.sqrt(d), width=d)
        noisy = sums + counter.noise_matrix(seed=1)
        pick = noisy.argmax(axis=1)
        c_max = float(np.abs(noisy.max(axis=1) - top).max())
        c_sel = float((top - sums[np.arange(t), pick]).max())
        svt = SparseVectorMaxSum(t, d, 0.5, seed=1)
        s_max = s_sel = 0.0
        for i in range(t):
            value, index = svt.step(sums[i])
            s_max = max(s_max, abs(value - top[i]))
            s_sel = max(s_sel, top[i] - sums[i, index])
        rows.append(
            [d, f"{c_max:.1f}", f"{s_max:.1f}", f"{c_sel:.0f}", f"{s_sel:.0f}", svt.refreshes]
        )
    _table(
        "Simulated MaxSum / SumSelect max error at T = 2^12 (skewed {0,1}^d stream)",
        ["d", "MaxSum counters", "MaxSum SVT", "Select counters", "Select SVT", "refreshes"],
        rows,
    )


def _events(path: Path, n: int, keys: int, days: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    chunk = 2_000_000
    for i, lo in enumerate(range(0, n, chunk)):
        m = min(chunk, n - lo)
        ts = start + rng.integers(0, days * 86_400_000_000, size=m).astype("timedelta64[us]")
        table = pa.table(
            {
                "event_ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                "user_id": pa.array(rng.integers(0, n // 20, size=m)),
                "sku": pa.array([f"k{k:04d}" for k in rng.integers(0, keys, size=m)]),
                "amount": pa.array(rng.gamma(2.0, 20.0, size=m)),
            }
        )
        pq.write_table(table, path / f"part-{i:05d}.parquet")


def spark_job(events: int, repeat: int) -> None:
    os.environ.setdefault("LAKEWARD_HOME", tempfile.mkdtemp(prefix="lakeward-bench-dp-"))
    os.environ.setdefault("LAKEWARD_SPARK_LOG_LEVEL", "ERROR")
    from pyspark.sql import functions as F

    from lakeward.dp import spec_from_mapping
    from lakeward.dp._aggregate import StreamSource, period_increments
    from lakeward.lake import discover, read_dataset
    from lakeward.spark import session

    keys, days = 1000, 64
    root = Path(os.environ["LAKEWARD_HOME"]) / "lake"
    started = time.perf_counter()
    _events(root / "shop" / "sales", events, keys, days)
    print(f"\n(generated {events:,} events in {time.perf_counter() - started:.1f} s)")
    (spec,) = discover(root)
    base_def: dict[str, Any] = {
        "name": "bench",
        "datasets": [spec.name],
        "time_column": "event_ts",
        "period": "1d",
        "start": "2026-01-01T00:00:00+00:00",
        "keys": {"sku": [f"k{k:04d}" for k in range(keys)]},
        "measure": "sum",
        "value_column": "amount",
        "clip": [0.0, 200.0],
        "unit": "customer",
        "horizon": days,
        "rho": 0.5,
        "principal": "alice",
        "purpose": "analytics",
    }
    variants = {
        "lakeward, event level": {},
        "lakeward, 1 event per customer-day": {"unit_column": "user_id"},
        "lakeward, 3 per customer-day": {"unit_column": "user_id", "max_per_period": 3},
        "lakeward, 3 per day, 30 days per customer": {
            "unit_column": "user_id",
            "max_per_period": 3,
            "max_periods": 30,
        },
    }
    source = StreamSource(spec, {f.relpath.rsplit("/", 1)[-1]: 1 for f in spec.files})
    spark = session()

    def private(over: dict[str, Any]) -> Any:
        stream = spec_from_mapping({**base_def, **over})
        return lambda: period_increments(spark, stream, [source], 1, days)

    def plain() -> None:
        start = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
        frame = read_dataset(spark, spec)
        (
            frame.withColumn(
                "p", F.floor((F.unix_seconds("event_ts") - F.lit(start)) / F.lit(86_400)) + 1
            )
            .groupBy("p", "sku")
            .agg(F.sum("amount"))
            .collect()
        )

    jobs = {"without privacy": plain, **{k: private(v) for k, v in variants.items()}}
    results = {}
    for name, job in jobs.items():
        job()  # warm-up (JIT, file listing)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            job()
            times.append(time.perf_counter() - started)
        results[name] = statistics.median(times)
    base = results["without privacy"]
    _table(
        f"Spark job: {events:,} events, {keys} keys, {days} daily periods, local[{os.cpu_count()}]",
        ["job", "median s", "events/s", "ratio"],
        [[k, f"{v:.2f}", f"{events / v:,.0f}", f"{v / base:.2f}"] for k, v in results.items()],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args(argv)
    counter_error()
    throughput()
    maxsum()
    if not args.skip_spark:
        spark_job(args.events, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
