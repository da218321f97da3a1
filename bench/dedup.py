"""Benchmark: Lakeward containment search vs datasketch LSH Ensemble, on lakes of ~100/1,000/5,000
datasets.

Lakes come from the sample-lake generator with business units (48 datasets each, ~1.3 MB,
26 planted derivations; every tenth unit shares unit 0's column names, so its datasets
must be told apart by content), cached under ``bench/out/``. Each system runs in its own
process, whose peak memory (the whole process tree, the Spark JVM included) is sampled
from ``/proc``:

- **lakeward**: register + profile (statistics collection) into a fresh SQLite catalog,
  then ``find_containment`` (stages 1–3 on local Spark), then deletion planning with the
  exact MILP and with the greedy planner on the same edges (seeded random access rates);
- **lshe**: the datasketch baseline as a user would run it: read every dataset with
  pyarrow (types from the generator's manifest, which is generous to the baseline), one
  MinHash (128 permutations) per column over its distinct values, ``MinHashLSHEnsemble``
  (threshold 0.9, 16 partitions) indexed once, every child column queried; a table pair is
  a candidate when every non-empty child column hits some column of the parent. *Raw*: the
  candidates are the answer. *Verified*: each candidate is checked exactly in Python (child
  rows in the parent's projection through the hit columns, preferring equal names);
- **oracle**: the ground truth, exact containment by brute force in Python over every
  schema-compatible pair (pyarrow reads; the normalisation of the issue: numbers by value,
  dates as midnight timestamps, strings space-trimmed; distinct rows).

Prints per lake: wall time per stage, pairs surviving each stage, tables/min and MB/min end
to end (statistics collection included) and for the search alone, precision/recall/F1 at
τ = 1.0 and τ = 0.9, peak memory, the throughput ratio against LSH Ensemble + verification,
cost growth with lake size, and MILP vs greedy bytes reclaimed. Each lake's raw results are
saved next to it (``bench/out/<lake>.results.json``); ``--report-only`` prints them again.
Usage::

    .venv/bin/python bench/dedup.py [--units 2,21,105] [--unit-mb 1.3] [--report-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
TAU = 0.9
SPARK_TYPES = {
    "int64": "bigint",
    "float64": "double",
    "bool": "boolean",
    "string": "string",
    "date32": "date",
    "timestamp[us]": "timestamp_ntz",
}


# -- lakes and process measurement -------------------------------------------------------------


def _lake(units: int, unit_mb: float) -> Path:
    from lakeward.lake import MANIFEST_NAME, generate_lake

    root = OUT / f"dedup-{units}u-{unit_mb:g}mb"
    if not (root / MANIFEST_NAME).exists():
        print(f"generating {units} units at {root} ...", flush=True)
        generate_lake(root, seed=7, size_mb=units * unit_mb, units=units, overwrite=root.exists())
    return root


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        p = int(entry)
        children[int(fields.get("PPid", "0").strip() or 0)].append(p)
        rss[p] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def _run_role(role: str, lake: Path, extra: list[str] | None = None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    cmd = [
        sys.executable,
        __file__,
        "--role",
        role,
        "--lake",
        str(lake),
        "--result",
        str(result_path),
    ]
    proc = subprocess.Popen([*cmd, *(extra or [])])
    peak = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            stop.wait(0.25)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    code = proc.wait()
    stop.set()
    watcher.join()
    if code != 0:
        raise SystemExit(f"{role} failed with exit code {code}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    result_path.unlink()
    result["peak_rss"] = peak
    return result


# -- reading lakes in Python (baseline and oracle) ---------------------------------------------


def _normal(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        return value.strip(" ")
    return value


def _read_all(lake: Path) -> tuple[dict[str, Any], dict[str, dict[str, list[Any]]]]:
    """The manifest's datasets and each one's columns as Python lists (typed per manifest)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.dataset as pads
    import pyarrow.json as pajson

    from lakeward.lake._generate import COLUMN_TYPES

    manifest = json.loads((lake / "_lakeward_manifest.json").read_text())
    data: dict[str, dict[str, list[Any]]] = {}
    for d in manifest["datasets"]:
        schema = pa.schema([(c["name"], COLUMN_TYPES[c["type"]]) for c in d["columns"]])
        path = lake / d["path"]
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        tables = []
        for f in files:
            if d["format"] == "parquet":
                tables.append(pads.dataset(f).to_table().cast(schema))
            elif d["format"] == "csv":
                opts = pacsv.ConvertOptions(
                    strings_can_be_null=True,
                    column_types={
                        c["name"]: (
                            pa.string()
                            if c["type"] in ("date32", "timestamp[us]")
                            else COLUMN_TYPES[c["type"]]
                        )
                        for c in d["columns"]
                    },
                )
                tables.append(_retype(pacsv.read_csv(f, convert_options=opts), schema))
            else:
                text_schema = pa.schema(
                    [
                        (
                            c["name"],
                            pa.string()
                            if c["type"] in ("date32", "timestamp[us]")
                            else COLUMN_TYPES[c["type"]],
                        )
                        for c in d["columns"]
                    ]
                )
                parse = pajson.ParseOptions(explicit_schema=text_schema)
                tables.append(_retype(pajson.read_json(f, parse_options=parse), schema))
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        data[d["name"]] = {name: table.column(name).to_pylist() for name in table.column_names}
    return manifest, data


def _retype(table: Any, schema: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field in schema:
        col = table.column(field.name)
        if pa.types.is_date(field.type):
            col = pc.strptime(col, format="%Y-%m-%d", unit="s").cast(pa.date32())
        elif pa.types.is_timestamp(field.type):
            col = pc.strptime(col, format="%Y-%m-%d %H:%M:%S", unit="us")
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema)


def _rows(columns: dict[str, list[Any]], names: list[str]) -> set[tuple[Any, ...]]:
    if not names:
        return set()
    return set(zip(*[[_normal(v) for v in columns[n]] for n in names], strict=True))


# -- roles -------------------------------------------------------------------------------------


def role_lakeward(lake: Path) -> dict[str, Any]:
    os.environ.setdefault("LAKEWARD_SPARK_MASTER", "local[*]")
    with tempfile.TemporaryDirectory() as home:
        os.environ["LAKEWARD_HOME"] = home
        from lakeward.catalog import Catalog
        from lakeward.dedup import compute_plan, find_containment
        from lakeward.lake import profile_datasets
        from lakeward.policy import acknowledge_purpose, engine_for
        from lakeward.spark import session

        session()  # JVM start-up is not counted
        catalog = Catalog.open()
        bundle = engine_for(catalog).bundle
        for purpose in ("catalog_maintenance", "data_governance"):
            acknowledge_purpose(catalog, bundle, "local-user", purpose)
        started = time.perf_counter()
        profiled = profile_datasets(catalog, root=lake, principal="local-user")
        profile_s = time.perf_counter() - started
        assert not profiled.errors, profiled.errors
        report = find_containment(catalog, near_threshold=TAU)
        rng = random.Random(11)
        names = {o.name for o in profiled.outcomes}
        access = {n: rng.choice([0.0, 0.0, 0.0, 2.0, 50.0, 2000.0]) for n in sorted(names)}
        plans = {}
        for solver in ("milp", "greedy"):
            t = time.perf_counter()
            plan = compute_plan(catalog, access=access, force_solver=solver).result
            plans[solver] = {
                "seconds": time.perf_counter() - t,
                "bytes": plan.bytes_reclaimed,
                "savings": plan.savings_usd_month,
                "optimum": plan.optimum_usd_month,
                "proven": plan.optimum_proven,
                "max_bytes": plan.max_reclaimable_bytes,
                "datasets": len(plan.choices),
                "solver": plan.solver,
            }
        catalog.dispose()
    return {
        "datasets": len(profiled.outcomes),
        "bytes": sum(o.bytes for o in profiled.outcomes),
        "profile_s": profile_s,
        "seconds": report.seconds,
        "counts": report.counts,
        "contained": [(e["child"], e["parent"]) for e in report.by_status("contained")],
        "near": [(e["child"], e["parent"]) for e in report.by_status("near")],
        "plans": plans,
    }


def _infos(manifest: dict[str, Any], data: dict[str, dict[str, list[Any]]]) -> list[Any]:
    from lakeward.dedup._schema import ColumnInfo, DatasetInfo

    infos = []
    for i, d in enumerate(manifest["datasets"]):
        cols = data[d["name"]]
        rows = len(next(iter(cols.values()))) if cols else 0
        infos.append(
            DatasetInfo(
                i + 1,
                d["name"],
                d["format"],
                1,
                rows,
                int(d["bytes"]),
                "",
                "",
                tuple(
                    ColumnInfo(
                        c["name"],
                        SPARK_TYPES[c["type"]],
                        sum(v is None for v in cols[c["name"]]),
                        None,
                        None,
                        0,
                        rows,
                    )
                    for c in d["columns"]
                ),
            )
        )
    return infos


def role_oracle(lake: Path) -> dict[str, Any]:
    from lakeward.dedup._schema import schema_candidates

    started = time.perf_counter()
    manifest, data = _read_all(lake)
    children: dict[str, set[tuple[Any, ...]]] = {}
    projections: dict[tuple[str, tuple[str, ...]], set[tuple[Any, ...]]] = {}
    truth = {}
    for cand in schema_candidates(_infos(manifest, data)):
        c, p = cand.child.name, cand.parent.name
        if cand.child.rows == 0:
            continue
        if c not in children:
            children[c] = _rows(data[c], [x.child for x in cand.pairs])
        key = (p, tuple(x.parent for x in cand.pairs))
        if key not in projections:
            projections[key] = _rows(data[p], list(key[1]))
        kid = _rows(data[c], [x.child for x in cand.pairs])
        have = projections[key]
        truth[f"{c}\t{p}"] = sum(1 for r in kid if r in have) / len(kid)
    return {"ratios": truth, "seconds": time.perf_counter() - started}


def role_lshe(lake: Path) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSHEnsemble

    from lakeward.dedup._schema import normalize_name

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    manifest, data = _read_all(lake)
    seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    entries = []
    by_dataset: dict[str, list[tuple[str, Any, int]]] = {}
    for name, cols in data.items():
        mine = []
        for col, values in cols.items():
            tokens = {str(_normal(v)).encode() for v in values if v is not None}
            if not tokens:
                mine.append((col, None, 0))
                continue
            mh = MinHash(num_perm=128)
            mh.update_batch(list(tokens))
            entries.append(((name, col), mh, len(tokens)))
            mine.append((col, mh, len(tokens)))
        by_dataset[name] = mine
    seconds["minhash"] = time.perf_counter() - t
    t = time.perf_counter()
    index = MinHashLSHEnsemble(threshold=TAU, num_perm=128, num_part=16)
    index.index(entries)
    seconds["index"] = time.perf_counter() - t
    t = time.perf_counter()
    candidates: dict[tuple[str, str], dict[str, list[str]]] = {}
    for child, cols in by_dataset.items():
        hits_by_parent: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        needed = [col for col, mh, size in cols if mh is not None]
        for col, mh, size in cols:
            if mh is None:
                continue
            for parent, parent_col in index.query(mh, size):
                if parent != child:
                    hits_by_parent[parent][col].append(parent_col)
        for parent, hits in hits_by_parent.items():
            if needed and all(hits.get(col) for col in needed):
                candidates[(child, parent)] = hits
    seconds["query"] = time.perf_counter() - t
    t = time.perf_counter()
    verified = {}
    for (child, parent), hits in candidates.items():
        mapping: dict[str, str] = {}
        used: set[str] = set()
        for col, _, _ in by_dataset[child]:
            options = sorted(
                (pc for pc in hits.get(col, []) if pc not in used),
                key=lambda pc, col=col: normalize_name(pc) != normalize_name(col),
            )
            if not options:  # an all-NULL child column: any NULL-bearing parent column
                options = [pc for pc in data[parent] if pc not in used and None in data[parent][pc]]
            if not options:
                break
            mapping[col] = options[0]
            used.add(options[0])
        if len(mapping) != len(by_dataset[child]):
            continue
        kid = _rows(data[child], list(mapping))
        have = _rows(data[parent], list(mapping.values()))
        if kid:
            verified[f"{child}\t{parent}"] = sum(1 for r in kid if r in have) / len(kid)
    seconds["verify"] = time.perf_counter() - t
    # The same answers restricted to name-compatible pairs (the definition of
    # containment): a stronger baseline, given Lakeward's schema rules for free.
    from lakeward.dedup._schema import pair_columns

    infos = {d.name: d for d in _infos(manifest, data)}
    named = {
        k: r
        for k, r in verified.items()
        if pair_columns(infos[k.split("\t")[0]], infos[k.split("\t")[1]]) is not None
    }
    return {
        "seconds": seconds,
        "candidates": [f"{c}\t{p}" for c, p in candidates],
        "verified": verified,
        "verified_named": named,
        "columns": len(entries),
    }


# -- report ------------------------------------------------------------------------------------


def _prf(predicted: set[str], truth: set[str]) -> tuple[float, float, float]:
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _fmt(prf: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.3f}" for x in prf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", default="2,21,105", help="business units per lake (48 each)")
    parser.add_argument("--unit-mb", type=float, default=1.3)
    parser.add_argument("--role", choices=["lakeward", "lshe", "oracle"])
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--result", type=Path)
    parser.add_argument(
        "--report-only", action="store_true", help="print the saved results of earlier runs"
    )
    args = parser.parse_args()
    if args.role:
        run = {"lakeward": role_lakeward, "lshe": role_lshe, "oracle": role_oracle}[args.role]
        args.result.write_text(json.dumps(run(args.lake), default=str))
        return
    rows = []
    for units in [int(u) for u in args.units.split(",")]:
        saved = OUT / f"dedup-{units}u-{args.unit_mb:g}mb.results.json"
        if args.report_only:
            got = json.loads(saved.read_text())
            rows.append((units, got["lakeward"], got["lshe"], got["oracle"]))
            _report(units, got["lakeward"], got["lshe"], got["oracle"])
            continue
        lake = _lake(units, args.unit_mb)
        print(f"\n== {lake.name}", flush=True)
        lw = _run_role("lakeward", lake)
        print(f"   lakeward done ({lw['seconds']['total']:.1f} s find)", flush=True)
        ls = _run_role("lshe", lake)
        print(f"   lshe done ({sum(ls['seconds'].values()):.1f} s)", flush=True)
        oracle = _run_role("oracle", lake)
        (lake.parent / f"{lake.name}.results.json").write_text(
            json.dumps({"lakeward": lw, "lshe": ls, "oracle": oracle}, default=str)
        )
        rows.append((units, lw, ls, oracle))
        _report(units, lw, ls, oracle)
    if len(rows) > 1:
        print("\ncost growth (time ratio / dataset ratio; 1.0 = linear):")
        for (_, a, b, _), (_, c, d, _) in zip(rows, rows[1:], strict=False):
            n = c["datasets"] / a["datasets"]
            lw1, lw2 = (
                a["profile_s"] + a["seconds"]["total"],
                c["profile_s"] + c["seconds"]["total"],
            )
            f1, f2 = a["seconds"]["total"], c["seconds"]["total"]
            s1, s2 = sum(b["seconds"].values()), sum(d["seconds"].values())
            print(
                f"  {a['datasets']} → {c['datasets']} datasets ({n:.1f}x): lakeward end to end "
                f"{lw2 / lw1 / n:.2f}, search {f2 / f1 / n:.2f}; LSH Ensemble + verification "
                f"{s2 / s1 / n:.2f}"
            )


def _report(units: int, lw: dict[str, Any], ls: dict[str, Any], oracle: dict[str, Any]) -> None:
    ratios = oracle["ratios"]
    contained = {k for k, r in ratios.items() if r == 1.0}
    near = {k for k, r in ratios.items() if r >= TAU}
    lw_contained = {f"{c}\t{p}" for c, p in lw["contained"]}
    lw_near = lw_contained | {f"{c}\t{p}" for c, p in lw["near"]}
    raw = set(ls["candidates"])
    ver_contained = {k for k, r in ls["verified"].items() if r == 1.0}
    ver_near = {k for k, r in ls["verified"].items() if r >= TAU}
    named = ls.get("verified_named", {})
    named_contained = {k for k, r in named.items() if r == 1.0}
    named_near = {k for k, r in named.items() if r >= TAU}
    n, mb = lw["datasets"], lw["bytes"] / 1e6
    s = lw["seconds"]
    c = lw["counts"]
    end_to_end = lw["profile_s"] + s["total"]
    lshe_total = sum(ls["seconds"].values())
    lshe_raw = lshe_total - ls["seconds"]["verify"]
    print(
        f"\n{n} datasets, {mb:.1f} MB; truth: {len(contained)} contained, "
        f"{len(near) - len(contained)} near (τ={TAU}) of {len(ratios)} schema-compatible pairs"
    )
    print(
        f"  lakeward stages (s): profile {lw['profile_s']:.1f} | freshness {s['freshness']:.1f} "
        f"schema {s['schema']:.2f} min-max {s['minmax']:.2f} policy {s['policy']:.1f} "
        f"fingerprint {s.get('fingerprint', 0):.1f} sample {s.get('sample', 0):.1f} "
        f"exact {s.get('exact', 0):.1f} | find total {s['total']:.1f}"
    )
    print(
        f"  pairs: schema {c['schema']} → min-max {c['minmax']} (exact possible "
        f"{c['minmax_exact']}) → sample {c['sample']} → contained {c['contained']}, "
        f"near {c['near']}"
    )
    print(
        f"  lshe stages (s): read {ls['seconds']['read']:.1f} minhash "
        f"{ls['seconds']['minhash']:.1f} index {ls['seconds']['index']:.1f} query "
        f"{ls['seconds']['query']:.1f} verify {ls['seconds']['verify']:.1f}; "
        f"{ls['columns']} columns, {len(raw)} candidates"
    )
    header = (
        f"  {'system':34} {'P/R/F1 τ=1.0':>20} {'P/R/F1 τ=0.9':>20} {'tables/min':>11} "
        f"{'MB/min':>8} {'peak MB':>8}"
    )
    print(header)
    for label, pc, pn, seconds, rss in (
        ("lakeward (profile + find)", lw_contained, lw_near, end_to_end, lw["peak_rss"]),
        ("lakeward find only", lw_contained, lw_near, s["total"], lw["peak_rss"]),
        ("LSH Ensemble raw", raw, raw, lshe_raw, ls["peak_rss"]),
        ("LSH Ensemble + verification", ver_contained, ver_near, lshe_total, ls["peak_rss"]),
        ("  … + Lakeward's name rules", named_contained, named_near, lshe_total, ls["peak_rss"]),
    ):
        print(
            f"  {label:34} {_fmt(_prf(pc, contained)):>20} {_fmt(_prf(pn, near)):>20} "
            f"{n / seconds * 60:>11.1f} {mb / seconds * 60:>8.1f} {rss / 1e6:>8.0f}"
        )
    print(
        f"  throughput vs LSH Ensemble + verification: end to end {lshe_total / end_to_end:.2f}x, "
        f"find only {lshe_total / s['total']:.2f}x"
    )
    m, g = lw["plans"]["milp"], lw["plans"]["greedy"]
    print(
        f"  planning: MILP {m['datasets']} datasets, {m['bytes'] / 1e6:.2f} MB reclaimed, saves "
        f"${m['savings']:.3g}/month (optimum, {m['seconds']:.2f} s); greedy {g['datasets']} "
        f"datasets, {g['bytes'] / 1e6:.2f} MB, ${g['savings']:.3g}/month "
        f"({g['savings'] / m['savings'] if m['savings'] else 1:.3f} of optimum, "
        f"{g['seconds']:.2f} s)"
        f"; at most {m['max_bytes'] / 1e6:.2f} MB reclaimable under the latency bound"
    )


if __name__ == "__main__":
    main()
