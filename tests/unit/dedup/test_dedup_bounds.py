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
    assert (
        cand.status == "pruned"
        and cand.stage == "minmax"
        and "below its minimum" in cand.reasons[0]
    )
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


def test_set_semantics_bound_by_distinct_rows_not_rows() -> None:
    """Disjoint ranges leave only rows with a NULL there, but under set semantics their
    share of *distinct* rows counts: 9 equal rows and one with a NULL are 2 distinct rows."""
    names = ["x", "y"]
    child_rows: list[tuple[Any, ...]] = [(100, 1)] * 9 + [(None, 1)]
    parent_rows: list[tuple[Any, ...]] = [(None, 1), (1, 1)]
    child = _info(1, names, ["bigint", "bigint"], child_rows)
    parent = _info(2, names, ["bigint", "bigint"], parent_rows)
    assert _ratio(child_rows, parent_rows, False) == 0.5
    cand = Candidate(child, parent, pair_columns(child, parent) or ())
    apply_statistics(cand, 0.5, False)
    assert cand.status == "candidate" and cand.upper_bound >= 0.5 and not cand.exact_possible
    cand = Candidate(child, parent, pair_columns(child, parent) or ())
    apply_statistics(cand, 0.5, True)  # multiset: 1 of 10 rows at most
    assert cand.status == "pruned" and cand.upper_bound == pytest.approx(0.1)
    # NULLs against a parent column without any: under set semantics (n - k) / (n - k + 1).
    no_nulls = _info(2, names, ["bigint", "bigint"], [(100, 1), (7, 1)])
    cand = Candidate(child, no_nulls, pair_columns(child, no_nulls) or ())
    apply_statistics(cand, 0.5, False)
    assert cand.status == "candidate" and cand.upper_bound == pytest.approx(0.9)


def _column(
    ident: int, name: str, type_name: str, lo: str, hi: str, distinct: int = 1
) -> DatasetInfo:
    rows = max(distinct, 1)
    column = ColumnInfo(name, type_name, 0, lo, hi, distinct, rows)
    return DatasetInfo(ident, f"d{ident}", "parquet", 1, rows, 1, "f", "s", (column,))


@pytest.mark.parametrize(
    ("child", "parent", "exact"),
    [
        # Whole decimals within ±9.2e18 are hashed exactly as the equal bigint.
        (("bigint", "9007199254740993"), ("decimal(20,0)", "9007199254740993"), True),
        (("bigint", "9007199254740993"), ("decimal(20,0)", "9007199254740992"), False),
        (("decimal(20,0)", "9007199254740993"), ("double", "9007199254740992.0"), False),
        # Beyond that, and fractional decimals, at double precision: 1e20 + 1 is 1e20.
        (("decimal(38,0)", "100000000000000000001"), ("double", "1e+20"), True),
        (("decimal(38,20)", "0.10000000000000000001"), ("double", "0.1"), True),
        (("decimal(10,2)", "12.50"), ("double", "12.5"), True),
        (("decimal(10,2)", "12.51"), ("double", "12.5"), False),
        # A float is its shortest decimal: 0.1f (profiled as its double value) is 0.1.
        (("float", "0.10000000149011612"), ("double", "0.1"), True),
        (("float", "0.5"), ("double", "0.5"), True),
        (("float", "0.5"), ("double", "0.25"), False),
    ],
)
def test_number_ranges_follow_stage_three(
    child: tuple[str, str], parent: tuple[str, str], exact: bool
) -> None:
    c = _column(1, "x", child[0], child[1], child[1])
    p = _column(2, "x", parent[0], parent[1], parent[1])
    cand = Candidate(c, p, pair_columns(c, p) or ())
    assert cand.pairs
    apply_statistics(cand, 1.0, False)
    assert cand.exact_possible == exact, cand.reasons
    assert (cand.status == "pruned") == (not exact)


def test_wide_decimals_give_no_distinct_floor() -> None:
    """Distinct decimals of many digits may be one double in stage 3: no distinct floor."""
    parent = _column(2, "x", "decimal(38,20)", "0.1", "0.2", distinct=10)
    for type_name, pruned in [
        ("decimal(38,20)", False),
        ("decimal(12,2)", True),
        ("decimal(18,0)", True),
        ("decimal(19,0)", False),
    ]:
        child = _column(1, "x", type_name, "0.1", "0.2", distinct=1000)
        cand = Candidate(child, parent, pair_columns(child, parent) or ())
        apply_statistics(cand, 0.5, False)
        assert (cand.status == "pruned") == pruned, type_name


def test_pruning_reasons_never_carry_column_values() -> None:
    """Reasons land in the catalog and in `dedup find` output, where a viewer may have these
    columns' statistics masked: they name columns, never min/max values."""
    child = _info(1, ["email"], ["string"], [("zed.secret@corp.example",), ("amy@x.example",)])
    parent = _info(2, ["email"], ["string"], [("bob@y.example",), ("carl@y.example",)])
    candidate = Candidate(child, parent, pair_columns(child, parent) or ())
    apply_statistics(candidate, near_threshold=1.0, multiset=False)
    text = " ".join(candidate.reasons)
    assert candidate.status == "pruned" and "email" in text
    for value in ("zed.secret", "amy@", "bob@", "carl@"):
        assert value not in text
