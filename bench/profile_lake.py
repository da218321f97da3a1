"""Benchmark: Lakeward's lake profiling vs a plain PySpark baseline, at two lake sizes.

For each size (default 50 MB and 10x that) it generates the sample lake once (cached under
bench/out/), then, in one warm local Spark session:

- **lakeward**: ``profile_datasets(..., force=True)`` into a fresh SQLite catalog — file
  checks, one aggregation per dataset (rows, per-column min/max/nulls/approx distinct, content
  fingerprint), catalog writes;
- **baseline**: what a plain PySpark user writes — ``spark.read`` with ``inferSchema`` (CSV)
  or schema inference (JSON), then one ``df.summary("count", "min", "max",
  "approx_count_distinct")`` call per dataset. It computes less (no row count apart from
  per-column counts, no min/max for dates and timestamps, no fingerprint, nothing stored).

Lakeward runs twice: with its default concurrency (``LAKEWARD_LAKE_PROFILE_CONCURRENCY``,
several datasets' Spark jobs at once) and one dataset at a time, like the baseline.
Prints datasets/s, MB/s, the lakeward/baseline time ratios, and how cost grows with size
(time at 10x / time at 1x). Usage::

    .venv/bin/python bench/profile_lake.py [--size-mb 50] [--scale 10] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _lake(size_mb: float) -> Path:
    from lakeward.lake import MANIFEST_NAME, generate_lake

    root = OUT / f"lake-{size_mb:g}mb"
    if not (root / MANIFEST_NAME).exists():
        print(f"generating {size_mb:g} MB lake at {root} ...", flush=True)
        generate_lake(root, seed=7, size_mb=size_mb, overwrite=root.exists())
    return root


def _lakeward(root: Path, concurrency: int | None = None) -> tuple[float, int, int]:
    from lakeward.catalog import Catalog
    from lakeward.lake import profile_datasets
    from lakeward.policy import acknowledge_purpose, engine_for

    with tempfile.TemporaryDirectory() as home:
        catalog = Catalog.open(f"sqlite:///{home}/catalog.db")
        bundle = engine_for(catalog).bundle  # profiling is policy-checked, like in production
        acknowledge_purpose(catalog, bundle, "local-user", "catalog_maintenance")
        started = time.perf_counter()
        report = profile_datasets(
            catalog, root=root, force=True, principal="local-user", concurrency=concurrency
        )
        seconds = time.perf_counter() - started
        catalog.dispose()
    assert not report.errors and not report.denied, (report.errors, report.denied)
    return seconds, len(report.outcomes), sum(o.bytes for o in report.outcomes)


def _baseline(root: Path) -> float:
    from lakeward import spark as lakeward_spark
    from lakeward.lake import discover

    spark = lakeward_spark.session()
    started = time.perf_counter()
    for spec in discover(root):
        reader = spark.read.format(spec.format)
        if spec.format == "csv":
            reader = reader.option("header", "true").option("inferSchema", "true")
        df = reader.load(spec.uri)
        df.summary("count", "min", "max", "approx_count_distinct").collect()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    args = parser.parse_args()
    os.environ.setdefault("LAKEWARD_SPARK_MASTER", "local[*]")
    from lakeward import spark as lakeward_spark

    lakeward_spark.session()
    sizes = [args.size_mb, args.size_mb * args.scale]
    lakes = [_lake(s) for s in sizes]
    _lakeward(lakes[0])  # warm-up: JIT, class loading, file cache
    rows = []
    for size, lake in zip(sizes, lakes, strict=True):
        lw = min((_lakeward(lake) for _ in range(args.repeat)), key=lambda r: r[0])
        seq = min(_lakeward(lake, concurrency=1)[0] for _ in range(args.repeat))
        base = min(_baseline(lake) for _ in range(args.repeat))
        seconds, datasets, nbytes = lw
        rows.append((size, datasets, nbytes, seconds, seq, base))
    print()
    print(
        f"{'size':>8} {'datasets':>8} {'MB':>7} | {'lakeward s':>10} {'ds/s':>6} {'MB/s':>6} | "
        f"{'1-at-a-time s':>13} | {'baseline s':>10} {'ds/s':>6} {'MB/s':>6} | "
        f"{'ratio':>6} {'ratio 1-at-a-time':>17}"
    )
    for size, datasets, nbytes, seconds, seq, base in rows:
        mb = nbytes / 1e6
        print(
            f"{size:>6g}MB {datasets:>8} {mb:>7.1f} | {seconds:>10.2f} {datasets / seconds:>6.2f} "
            f"{mb / seconds:>6.1f} | {seq:>13.2f} | {base:>10.2f} {datasets / base:>6.2f} "
            f"{mb / base:>6.1f} | {seconds / base:>6.2f} {seq / base:>17.2f}"
        )
    print("ratio = lakeward time / baseline time (below 1: lakeward is faster)")
    (_, _, b1, t1, q1, base1), (_, _, b2, t2, q2, base2) = rows
    print(
        f"\ncost growth for {b2 / b1:.1f}x the bytes: lakeward {t2 / t1:.2f}x time "
        f"(1 at a time {q2 / q1:.2f}x), baseline {base2 / base1:.2f}x time"
    )


if __name__ == "__main__":
    main()
