"""Benchmark: einsum on CKKS — lakeward.he vs a naive TenSEAL baseline vs EinHops (CPU).

EinHops' 15 benchmark expressions at their shapes (research note ``einhops.md``, 1.6), every
operand encrypted, N(0,1) inputs with a fixed seed. For each expression, in a fresh process
(so peak RSS is the expression's own):

- **lakeward** (row-major, ``encrypt``'s default under such keys — EinHops' setting): keys made
  for the expression (``keygen(expressions=...)``: smallest ring degree for the depth, Galois
  keys for the plan's steps only), key generation and encryption timed separately, then the
  median of ``--repeat`` ``einsum`` calls after a first call (which plans: reported as
  "1st s"; later calls reuse the cached plan; planning alone is "plan s");
  rotations (key switches), ct×ct and ct×pt products, depth, max abs error vs numpy (the
  context keeps encoded plaintext constants, so later calls do not re-encode them);
- **lakeward planned**: the owner packs each operand as the plan wants (``packing="planned"``,
  ``encrypt(layout=plan.input_layouts[i])``): no layout change at all;
- **TenSEAL naive**: ``CKKSVector`` rows with ``dot``/``sum``/``*``, or ``CKKSTensor`` (one
  ciphertext per element) ``mm`` for the chain, N=8192 with TenSEAL's power-of-two Galois
  keys; ``n/a`` where no natural TenSEAL formulation exists (transpose, 3-operand tensor
  contractions);
- **EinHops**: the CPU figures measured in the research note (desilofhe 2.0.0, 2 threads,
  N=2^15, low-memory keys, one run each; not re-run here).

Prints the per-expression table and the ratios (``speedup = other time / lakeward time``).
Usage::

    .venv/bin/python bench/he.py [--repeat 5] [--baseline-repeat 1] [--no-baseline]
                                 [--only 5,6,13] [--json bench/out/he.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent / "out"

# number, expression, shapes, EinHops CPU: seconds, rotations, ct×pt, ct×ct, levels consumed
EXPRESSIONS: list[tuple[int, str, list[tuple[int, ...]], tuple[float, int, int, int, int]]] = [
    (1, "ij->ji", [(128, 128)], (27.9, 256, 256, 0, 2)),
    (2, "ij->", [(128, 128)], (0.22, 14, 1, 0, 1)),
    (3, "ij->j", [(128, 128)], (0.12, 7, 1, 0, 1)),
    (4, "ij->i", [(128, 128)], (28.5, 263, 256, 0, 2)),
    (5, "ik,k->i", [(128, 128), (128,)], (56.5, 526, 384, 1, 3)),
    (6, "ik,kj->ij", [(16, 32), (32, 32)], (27.8, 114, 65, 1, 3)),
    (7, "i,i->", [(16384,), (16384,)], (0.19, 14, 1, 1, 2)),
    (8, "ij,ij->", [(128, 128), (128, 128)], (0.19, 14, 1, 1, 2)),
    (9, "ij,ij->ij", [(128, 128), (128, 128)], (0.03, 0, 1, 1, 2)),
    (10, "i,j->ij", [(128,), (128,)], (28.7, 270, 129, 1, 3)),
    (11, "ijk,ikl->ijl", [(16, 8, 8), (16, 8, 8)], (22.6, 41, 17, 1, 3)),
    (12, "ij,ij,ij->ij", [(128, 128)] * 3, (0.05, 0, 1, 2, 3)),
    (13, "ij,jk,kl->il", [(16, 8), (8, 8), (8, 16)], (55.2, 316, 201, 2, 4)),
    (14, "ik,jkl,il->ij", [(8, 16), (8, 16, 16), (8, 16)], (98.4, 450, 2305, 2, 4)),
    (15, "pqrs,tuqvr->pstuv", [(2, 4, 8, 8), (1, 4, 4, 2, 8)], (49.3, 333, 769, 1, 3)),
]
MATMUL_FAMILY = {5, 6, 10, 11, 13}


def _arrays(number: int) -> list[np.ndarray]:
    _, _, shapes, _ = EXPRESSIONS[number - 1]
    rng = np.random.default_rng(number)
    return [rng.standard_normal(s) for s in shapes]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_lakeward(number: int, packing: str, repeat: int) -> dict[str, Any]:
    from lakeward import he
    from lakeward.he._plan import _cached_plan

    _, expr, shapes, _ = EXPRESSIONS[number - 1]
    arrays = _arrays(number)
    started = time.perf_counter()
    keys = he.keygen([(expr, *shapes)], packing=packing)  # type: ignore[arg-type]
    keygen_s = time.perf_counter() - started
    context = keys.public()
    plan_times = []
    for _ in range(repeat):
        _cached_plan.cache_clear()  # time planning itself, not the plan cache
        started = time.perf_counter()
        plan = he.plan_einsum(
            expr,
            *shapes,
            slots=context.slots,
            packing=packing,  # type: ignore[arg-type]
        )
        plan_times.append(time.perf_counter() - started)
    layouts = plan.input_layouts if packing == "planned" else [None] * len(arrays)
    started = time.perf_counter()
    cts = [he.encrypt(keys, a, layout=layout) for a, layout in zip(arrays, layouts, strict=True)]
    encrypt_s = time.perf_counter() - started
    _cached_plan.cache_clear()
    started = time.perf_counter()
    result = he.einsum(expr, *cts)  # the first call plans; later calls reuse the plan
    first_s = time.perf_counter() - started
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = he.einsum(expr, *cts)
        times.append(time.perf_counter() - started)
    assert isinstance(result, he.CipherTensor) and result.counts is not None
    assert result.counts.to_dict() == result.plan.counts.to_dict()  # type: ignore[union-attr]
    error = float(np.max(np.abs(he.decrypt(keys, result) - np.einsum(expr, *arrays))))
    return {
        "ring_degree": context.params.ring_degree,
        "keygen_s": keygen_s,
        "key_mb": sum(context.key_bytes.values()) / 2**20,
        "galois_keys": len(context.galois_steps),
        "encrypt_s": encrypt_s,
        "plan_s": statistics.median(plan_times),
        "first_einsum_s": first_s,
        "einsum_s": statistics.median(times),
        "rotations": result.counts.rotations,
        "floor": plan.floor,
        "ct_ct": result.counts.ct_ct,
        "ct_pt": result.counts.ct_pt,
        "depth": result.depth,
        "max_abs_err": error,
        "rss_mb": _peak_rss_mb(),
    }


# --------------------------------------------------------------------- naive TenSEAL


def _ts_context(depth: int) -> Any:
    import tenseal as ts

    ctx = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60] + [40] * depth + [60])
    ctx.global_scale = 2**40
    ctx.generate_galois_keys()
    return ctx


def _vec(ctx: Any, values: np.ndarray) -> Any:
    import tenseal as ts

    return ts.ckks_vector(ctx, np.asarray(values, dtype=float).reshape(-1).tolist())


def _rows(ctx: Any, matrix: np.ndarray) -> list[Any]:
    return [_vec(ctx, row) for row in matrix]


def _first(values: Any) -> float:
    return float(values.decrypt()[0])


# Each baseline: (depth, encrypt(ctx, arrays) -> state, compute(state) -> ciphertexts,
# decode(outputs) -> array)
Baseline = tuple[
    int, Callable[[Any, list[np.ndarray]], Any], Callable[[Any], Any], Callable[[Any], np.ndarray]
]


def _sum_all(rows: list[Any]) -> Any:
    acc = rows[0]
    for row in rows[1:]:
        acc = acc + row
    return acc


BASELINES: dict[int, Baseline] = {
    2: (
        0,
        lambda c, a: _rows(c, a[0]),
        lambda s: _sum_all(s).sum(),
        lambda o: np.array(_first(o)),
    ),
    3: (0, lambda c, a: _rows(c, a[0]), _sum_all, lambda o: np.array(o.decrypt()[:128])),
    4: (
        0,
        lambda c, a: _rows(c, a[0]),
        lambda s: [r.sum() for r in s],
        lambda o: np.array([_first(x) for x in o]),
    ),
    5: (
        1,
        lambda c, a: (_rows(c, a[0]), _vec(c, a[1])),
        lambda s: [r.dot(s[1]) for r in s[0]],
        lambda o: np.array([_first(x) for x in o]),
    ),
    6: (
        1,
        lambda c, a: (_rows(c, a[0]), _rows(c, a[1].T)),
        lambda s: [[r.dot(col) for col in s[1]] for r in s[0]],
        lambda o: np.array([[_first(x) for x in row] for row in o]),
    ),
    7: (
        1,
        lambda c, a: (_vec(c, a[0]), _vec(c, a[1])),
        lambda s: s[0].dot(s[1]),
        lambda o: np.array(_first(o)),
    ),
    8: (
        1,
        lambda c, a: (_vec(c, a[0]), _vec(c, a[1])),
        lambda s: s[0].dot(s[1]),
        lambda o: np.array(_first(o)),
    ),
    9: (
        1,
        lambda c, a: (_rows(c, a[0]), _rows(c, a[1])),
        lambda s: [x * y for x, y in zip(s[0], s[1], strict=True)],
        lambda o: np.array([x.decrypt()[:128] for x in o]),
    ),
    10: (
        1,
        lambda c, a: ([_vec(c, np.full(128, x)) for x in a[0]], _vec(c, a[1])),
        lambda s: [x * s[1] for x in s[0]],
        lambda o: np.array([x.decrypt()[:128] for x in o]),
    ),
    11: (
        1,
        lambda c, a: (
            [_rows(c, a[0][i]) for i in range(16)],
            [_rows(c, a[1][i].T) for i in range(16)],
        ),
        lambda s: [[[r.dot(col) for col in s[1][i]] for r in s[0][i]] for i in range(16)],
        lambda o: np.array([[[_first(x) for x in r] for r in m] for m in o]),
    ),
    12: (
        2,
        lambda c, a: tuple(_rows(c, m) for m in a),
        lambda s: [x * y * z for x, y, z in zip(*s, strict=True)],
        lambda o: np.array([x.decrypt()[:128] for x in o]),
    ),
    13: (
        2,
        lambda c, a: [__import__("tenseal").ckks_tensor(c, m) for m in a],
        lambda s: s[0].mm(s[1]).mm(s[2]),
        lambda o: np.array(o.decrypt().tolist()),
    ),
}


def run_tenseal(number: int, repeat: int) -> dict[str, Any] | None:
    if number not in BASELINES:
        return None
    _, expr, _, _ = EXPRESSIONS[number - 1]
    depth, encrypt, compute, decode = BASELINES[number]
    arrays = _arrays(number)
    started = time.perf_counter()
    ctx = _ts_context(depth)
    keygen_s = time.perf_counter() - started
    started = time.perf_counter()
    state = encrypt(ctx, arrays)
    encrypt_s = time.perf_counter() - started
    times, outputs = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        outputs = compute(state)
        times.append(time.perf_counter() - started)
    error = float(np.max(np.abs(decode(outputs) - np.einsum(expr, *arrays))))
    return {
        "keygen_s": keygen_s,
        "encrypt_s": encrypt_s,
        "einsum_s": statistics.median(times),
        "max_abs_err": error,
        "rss_mb": _peak_rss_mb(),
    }


# --------------------------------------------------------------------- driver


def _child(number: int, what: str, repeat: int) -> dict[str, Any] | None:
    """Run one measurement in a fresh interpreter so its peak RSS is its own."""
    command = [sys.executable, __file__, "--child", f"{number}:{what}", "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  #{number} {what} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if value < 100 else f"{value:.0f}"


def _ratio(other: float | None, ours: float | None) -> str:
    if other is None or ours is None or ours <= 0:
        return "n/a"
    return f"{other / ours:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="einsum runs (median)")
    parser.add_argument("--baseline-repeat", type=int, default=1, help="TenSEAL runs")
    parser.add_argument("--no-baseline", action="store_true", help="skip TenSEAL")
    parser.add_argument("--only", default="", help="expression numbers, e.g. 5,6,13")
    parser.add_argument("--json", dest="json_path", default=None, help="write results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        number, what = args.child.split(":")
        if what == "tenseal":
            result = run_tenseal(int(number), args.repeat)
        else:
            result = run_lakeward(int(number), what, args.repeat)
        print(json.dumps(result))
        return

    chosen = {int(n) for n in args.only.split(",") if n.strip()} or {e[0] for e in EXPRESSIONS}
    rows: dict[int, dict[str, Any]] = {}
    for number, expr, shapes, _ in EXPRESSIONS:
        if number not in chosen:
            continue
        print(f"#{number} {expr} ...", file=sys.stderr, flush=True)
        rows[number] = {
            "expr": expr,
            "shapes": shapes,
            "lakeward": _child(number, "row-major", args.repeat),
            "planned": _child(number, "planned", args.repeat),
            "tenseal": None
            if args.no_baseline
            else _child(number, "tenseal", args.baseline_repeat),
        }

    header = (
        f"{'#':>2} {'expression':<18} {'N':>5} {'keygen s':>8} {'keys MB':>7} {'enc s':>6} "
        f"{'plan s':>6} {'1st s':>6} {'einsum s':>8} {'rot':>4} {'floor':>5} {'ct×ct':>5} "
        f"{'ct×pt':>5} {'depth':>5} {'max err':>8} {'RSS MB':>6}"
    )
    print("\nlakeward.he, operands encrypted row-major (EinHops' setting)")
    print(header)
    for number, row in rows.items():
        lw = row["lakeward"]
        if lw is None:
            print(f"{number:>2} {row['expr']:<18} failed")
            continue
        print(
            f"{number:>2} {row['expr']:<18} {lw['ring_degree']:>5} {lw['keygen_s']:>8.2f} "
            f"{lw['key_mb']:>7.1f} {lw['encrypt_s']:>6.3f} {lw['plan_s']:>6.3f} "
            f"{lw['first_einsum_s']:>6.3f} "
            f"{lw['einsum_s']:>8.3f} {lw['rotations']:>4} {lw['floor']:>5} {lw['ct_ct']:>5} "
            f"{lw['ct_pt']:>5} {lw['depth']:>5} {lw['max_abs_err']:>8.1e} {lw['rss_mb']:>6.0f}"
        )

    print("\nside by side (seconds are einsum latency; speedup = their time / lakeward's)")
    print(
        f"{'#':>2} {'expression':<18} {'lakeward':>8} {'planned':>8} {'pl rot':>6} "
        f"{'TenSEAL':>8} {'speedup':>8} {'EinHops':>8} {'speedup':>8} {'rot lw/EH':>10} "
        f"{'depth lw/EH':>11}"
    )
    for number, row in rows.items():
        lw, pl, base = row["lakeward"], row["planned"], row["tenseal"]
        einhops = EXPRESSIONS[number - 1][3]
        ours = lw["einsum_s"] if lw else None
        print(
            f"{number:>2} {row['expr']:<18} {_fmt(ours):>8} "
            f"{_fmt(pl['einsum_s'] if pl else None):>8} {pl['rotations'] if pl else 'n/a':>6} "
            f"{_fmt(base['einsum_s'] if base else None):>8} "
            f"{_ratio(base['einsum_s'] if base else None, ours):>8} {einhops[0]:>8.2f} "
            f"{_ratio(einhops[0], ours):>8} "
            f"{(str(lw['rotations']) if lw else 'n/a') + '/' + str(einhops[1]):>10} "
            f"{(str(lw['depth']) if lw else 'n/a') + '/' + str(einhops[4]):>11}"
        )
    family = [
        row
        for number, row in rows.items()
        if number in MATMUL_FAMILY and row["tenseal"] and row["lakeward"] and row["planned"]
    ]
    if family:
        names = ", ".join(f"#{n}" for n in sorted(MATMUL_FAMILY & set(rows)))
        print(f"\nmatmul family ({names}): lakeward vs naive TenSEAL speedup")
        # The median reuses the plan and the encoded constants of the first call; the first
        # call plans and encodes from scratch, so it is reported too.
        for label, which, key in (
            ("row-major, median", "lakeward", "einsum_s"),
            ("row-major, first call", "lakeward", "first_einsum_s"),
            ("planned, median", "planned", "einsum_s"),
        ):
            speedups = [row["tenseal"]["einsum_s"] / row[which][key] for row in family]
            print(
                f"  {label:<22} min {min(speedups):.1f}x, "
                f"geometric mean {float(np.exp(np.mean(np.log(speedups)))):.1f}x"
            )
    slower = [
        n
        for n, r in rows.items()
        if r["lakeward"] and r["lakeward"]["einsum_s"] >= EXPRESSIONS[n - 1][3][0]
    ]
    more_rot = [
        n
        for n, r in rows.items()
        if r["lakeward"] and r["lakeward"]["rotations"] > EXPRESSIONS[n - 1][3][1]
    ]
    peak = max((r["lakeward"]["rss_mb"] for r in rows.values() if r["lakeward"]), default=0)
    print(
        f"not faster than EinHops: {slower or 'none'}; more rotations than EinHops: "
        f"{more_rot or 'none'}; peak RSS {peak:.0f} MB (goal <= 4096)"
    )
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(rows, indent=2))
        print(f"wrote {args.json_path}")


if __name__ == "__main__":
    main()
