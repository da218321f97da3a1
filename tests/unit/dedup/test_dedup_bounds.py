"""Stage 2 is sound: whatever it prunes is truly not (near-)contained under stage 3's rules.

Random child/parent pairs are drawn (children often derived from their parent: subsets,
duplicates, NULLs, values with surrounding spaces, perturbed cells), their catalog statistics
computed as the profiler does, and the true ratio computed by brute force with stage 3's
normalisation (numbers by value, dates as midnight timestamps, strings space-trimmed).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from lakeward.dedup._bounds import apply_statistics
from lakeward.dedup._schema import Candidate, ColumnInfo, DatasetInfo, pair_columns

TYPES = ["bigint", "double", "string", "date", "timestamp_ntz"]


def _value(rng: random.Random, t: str) -> Any:
    if t == "bigint":
        return rng.randint(-5, 30)
    if t == "double":
        return rng.choice([rng.randint(-5, 30) * 1.0, rng.randint(-50, 300) / 10])
    if t == "string":
        word = rng.choice(["a", "b", "ab", "b c", "z", "Zed", "\tq", "m"])
        return rng.choice(["", " ", "  "]) + word + rng.choice(["", " "])
    if t == "date":
        return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 40))
    return dt.datetime(2024, 1, 1) + dt.timedelta(hours=rng.randint(0, 40 * 24), seconds=0)


def _canonical(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return v.isoformat() if isinstance(v, dt.date) else str(v)


def _normal(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        return v.strip(" ")
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime.combine(v, dt.time())
    return v


def _info(
    ident: int, names: list[str], types: list[str], rows: list[tuple[Any, ...]]
) -> DatasetInfo:
    columns = []
    for i, (name, t) in enumerate(zip(names, types, strict=True)):
        values = [r[i] for r in rows if r[i] is not None]
        lo = min(values) if values else None
        hi = max(values) if values else None
        columns.append(
            ColumnInfo(
                name,
                t,
                sum(1 for r in rows if r[i] is None),
                None if lo is None else _canonical(lo),
                None if hi is None else _canonical(hi),
                len(set(values)),
                len(rows),
            )
        )
    return DatasetInfo(ident, f"d{ident}", "parquet", 1, len(rows), 1, "f", "s", tuple(columns))


def _ratio(
    child_rows: list[tuple[Any, ...]], parent_rows: list[tuple[Any, ...]], multiset: bool
) -> float:
    norm_c = [tuple(_normal(v) for v in r) for r in child_rows]
    norm_p = [tuple(_normal(v) for v in r) for r in parent_rows]
    if multiset:
        from collections import Counter

        pc = Counter(norm_p)
        cc = Counter(norm_c)
        return sum(min(n, pc[k]) for k, n in cc.items()) / len(norm_c)
    pset = set(norm_p)
    distinct = set(norm_c)
    return sum(1 for r in distinct if r in pset) / len(distinct)


def _case(rng: random.Random) -> tuple[DatasetInfo, DatasetInfo, list[Any], list[Any]]:
    width = rng.randint(1, 3)
    ptypes = [rng.choice(TYPES) for _ in range(width)]
    parent_rows = [
        tuple(None if rng.random() < 0.1 else _value(rng, t) for t in ptypes)
        for _ in range(rng.randint(1, 25))
    ]
    child_rows = []
    for _ in range(rng.randint(1, 25)):
        if rng.random() < 0.85:
            row = list(rng.choice(parent_rows))
        else:
            row = [None if rng.random() < 0.2 else _value(rng, t) for t in ptypes]
        if rng.random() < 0.1:
            i = rng.randrange(width)
            row[i] = None if rng.random() < 0.5 else _value(rng, ptypes[i])
        child_rows.append(tuple(row))
    ctypes = list(ptypes)
    for i, t in enumerate(ctypes):  # widen the parent's view sometimes: date ⊂ timestamp
        if t == "date" and rng.random() < 0.3:
            ptypes[i] = "timestamp_ntz"
            parent_rows = [
                tuple(
                    dt.datetime.combine(v, dt.time()) if j == i and v is not None else v
                    for j, v in enumerate(r)
                )
                for r in parent_rows
            ]
    names = [f"c{i}" for i in range(width)]
    child = _info(1, names, ctypes, child_rows)
    parent = _info(2, names, ptypes, parent_rows)
    return child, parent, child_rows, parent_rows


@pytest.mark.parametrize("multiset", [False, True])
def test_pruning_is_sound(multiset: bool) -> None:
    rng = random.Random(20261126 + multiset)
    tau = 0.7
    pruned = exact_ruled_out = 0
    for _ in range(4000):
        child, parent, child_rows, parent_rows = _case(rng)
        pairs = pair_columns(child, parent)
        assert pairs is not None
        cand = Candidate(child, parent, pairs)
        apply_statistics(cand, tau, multiset)
        truth = _ratio(child_rows, parent_rows, multiset)
        if not cand.exact_possible:
            exact_ruled_out += 1
            assert truth < 1.0, (child, parent, cand.reasons)
        if multiset:
            assert truth <= cand.upper_bound + 1e-12, (child, parent, cand.reasons)
        if cand.status == "pruned":
            pruned += 1
            assert truth < tau, (child, parent, cand.reasons, truth)
    assert exact_ruled_out > 500 and pruned > 100  # the rules actually fire


def test_rules_that_fire() -> None:
    names = ["id", "name"]
    parent = _info(2, names, ["bigint", "string"], [(1, "a"), (2, "b"), (3, "c")])
    below = _info(1, names, ["bigint", "string"], [(0, "a")])
    cand = Candidate(below, parent, pair_columns(below, parent) or ())
    apply_statistics(cand, 1.0, False)
    assert cand.status == "pruned" and cand.stage == "minmax" and "range" in cand.reasons[0]
    nulls = _info(1, names, ["bigint", "string"], [(1, None), (2, "b")])
    cand = Candidate(nulls, parent, pair_columns(nulls, parent) or ())
    apply_statistics(cand, 0.9, True)
    assert cand.status == "pruned" and cand.upper_bound == 0.5
    cand = Candidate(nulls, parent, pair_columns(nulls, parent) or ())
    apply_statistics(cand, 0.4, True)
    assert cand.status == "candidate" and not cand.exact_possible
    empty = _info(1, names, ["bigint", "string"], [])
    cand = Candidate(empty, parent, pair_columns(empty, parent) or ())
    apply_statistics(cand, 0.9, False)
    assert cand.status == "pruned" and "empty" in cand.reasons[0]
    spaced = _info(1, names, ["bigint", "string"], [(1, "  a")])
    cand = Candidate(spaced, parent, pair_columns(spaced, parent) or ())
    apply_statistics(cand, 1.0, False)
    assert cand.status == "candidate"  # "  a" trims to "a": not out of range
