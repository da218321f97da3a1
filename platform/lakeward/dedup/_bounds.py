"""Stage 2: prune edges with catalog statistics only (row counts, nulls, min/max).

For each candidate it computes an **upper bound** on the containment ratio and whether exact
containment (ratio 1.0) is still possible; an edge whose bound is below the near threshold is
pruned without reading any data. The rules are sound for the value normalisation of stage 3:

- **empty child**: containment of an empty dataset is vacuous; such edges are pruned.
- **row counts** (multiset semantics): ``ratio <= parent rows / child rows``. With set
  semantics the child's distinct rows are at least its largest per-column distinct estimate
  (HyperLogLog, discounted by 25%, i.e. five standard errors) over integer, date, timestamp
  and boolean columns, and decimals of at most 15 digits or whole decimals of at most 18
  (whose distinct values stay distinct under stage 3's normalisation: wider decimals may
  merge at double precision), so ``ratio <= parent rows / that``.
- **nulls**: a child column with ``k`` NULLs (of ``n`` rows) against a parent column without
  any cannot be contained, and no child row with a NULL there is found: with multiset
  semantics ``ratio <= (n - k) / n``; with set semantics at most ``n - k`` distinct rows can
  be found and at least one is not, so ``ratio <= (n - k) / (n - k + 1)``.
- **min/max** per mapped column, compared in their common domain as stage 3 normalises them
  (numbers by value: integers and whole decimals within ±9.2e18 exactly, other decimals at
  double precision, floats as their shortest decimal, bounded here by the float's value give
  or take one float step; dates as midnight timestamps, strings by code point with stage 3's
  space trimming taken into account): a child value outside the parent's range rules out
  exact containment. Disjoint ranges leave only child rows with a NULL in that column to be
  found (none unless the parent column has NULLs): with multiset semantics
  ``ratio <= k / n``; with set semantics at most ``k`` distinct rows hold such a NULL and at
  least one distinct row does not (the column is not all NULL), so ``ratio <= k / (k + 1)``.
  (``k / n`` is not a bound on distinct rows: 9 equal rows and one with a NULL are 2 distinct
  rows, half of them found.)

Mixed-domain pairs (a typed child column against a CSV parent's text) are not compared.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from lakeward.dedup._schema import Candidate, ColumnInfo

__all__ = ["apply_statistics"]

_HLL_DISCOUNT = 0.75
_BIGINT_SAFE = 9.2e18  # stage 3 hashes whole decimals below this exactly, as bigints
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


def _keeps_distinct(type_name: str) -> bool:
    t = type_name.lower()
    if t.startswith("decimal"):
        # Distinct decimals of at most 15 significant digits are distinct doubles; whole
        # decimals of at most 18 digits are hashed exactly. Wider ones may merge.
        m = _DECIMAL.fullmatch(t)
        return m is not None and (
            int(m.group(1)) <= 15 or (int(m.group(2)) == 0 and int(m.group(1)) <= 18)
        )
    return t in ("tinyint", "smallint", "int", "bigint", "date", "boolean") or t.startswith(
        "timestamp"
    )


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _float32_step(value: float) -> float:
    """The spacing of 32-bit floats at ``value`` (above it; at least the spacing below)."""
    _, exponent = math.frexp(abs(value))
    return math.ldexp(1.0, max(exponent - 24, -149))


def _number_range(column: ColumnInfo) -> tuple[Any, Any, Any, Any] | None:
    """Number bounds as stage 3 normalises the column's values (see :func:`_range`).

    Integers, and whole decimals within ±9.2e18, are compared exactly. Other decimals are
    compared as doubles: Python's correctly rounded value, widened by two double steps in
    case Spark's conversion rounds differently. A float is compared as its shortest decimal
    text, which reads back as the same float and so lies within half a float step of it.
    """
    lo, hi = _number(column.min or ""), _number(column.max or "")
    if lo is None or hi is None:
        return None
    t = column.type.strip().lower()
    if t.startswith("decimal"):
        if isinstance(lo, int) and isinstance(hi, int) and max(abs(lo), abs(hi)) < _BIGINT_SAFE:
            return lo, hi, lo, hi
        flo, fhi = float(lo), float(hi)
        if not (math.isfinite(flo) and math.isfinite(fhi)):
            return None
        dlo, dhi = 2 * math.ulp(flo), 2 * math.ulp(fhi)
        return flo - dlo, fhi + dhi, flo + dlo, fhi - dhi
    if t == "float":
        flo, fhi = float(lo), float(hi)  # the infinities stay themselves
        slo, shi = _float32_step(flo), _float32_step(fhi)
        return flo - slo, fhi + shi, flo + slo, fhi - shi
    return lo, hi, lo, hi


def _temporal(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _boolean(text: str) -> int | None:
    return {"false": 0, "true": 1}.get(text)


def _string_bounds(low: str, high: str) -> tuple[str, str] | None:
    """Bounds on the space-trimmed values of a column whose raw min/max are ``low``/``high``.

    Stage 3 compares strings with leading and trailing spaces trimmed. When the raw minimum
    does not start with a character at or below U+0020, no value has leading spaces, so every
    trimmed value lies in ``[low cut before its first character <= U+0020, high]``.
    """
    if not low or low[0] <= " ":
        return None
    cut = next((i for i, ch in enumerate(low) if ch <= " "), len(low))
    return low[:cut], high


def _range(column: ColumnInfo, domain: str) -> tuple[Any, Any, Any, Any] | None:
    """Bounds on the column's values as stage 3 normalises them.

    (lower bound, upper bound, a value at least the smallest, a value at most the largest);
    the last two are the smallest and largest values themselves where those are known exactly.
    """
    if column.min is None or column.max is None:
        return None
    if domain == "number":
        return _number_range(column)
    if domain == "temporal":
        tlo, thi = _temporal(column.min), _temporal(column.max)
        return None if tlo is None or thi is None else (tlo, thi, tlo, thi)
    if domain == "boolean":
        blo, bhi = _boolean(column.min), _boolean(column.max)
        return None if blo is None or bhi is None else (blo, bhi, blo, bhi)
    if domain == "string":
        bounds = _string_bounds(column.min, column.max)
        if bounds is None:
            return None
        return bounds[0], bounds[1], column.min.strip(" "), column.max.strip(" ")
    return None


def apply_statistics(candidate: Candidate, near_threshold: float, multiset: bool) -> None:
    """Set the candidate's upper bound, exactness and stage-2 verdict (in place)."""
    child, parent = candidate.child, candidate.parent
    reasons = candidate.reasons
    if child.rows == 0:
        candidate.upper_bound = 0.0
        candidate.exact_possible = False
        reasons.append("child is empty: containment is vacuous")
    ub = 1.0
    exact = child.rows > 0
    if child.rows > 0:
        if multiset and child.rows > parent.rows:
            ub = min(ub, parent.rows / child.rows)
            exact = False
            reasons.append(f"child has {child.rows} rows, parent {parent.rows}")
        if not multiset:
            # Only columns whose distinct values stay distinct after normalisation (trimming
            # merges strings, -0.0 and 0.0 are one number).
            exact_kinds = [c.distinct for c in child.columns if _keeps_distinct(c.type)]
            distinct_floor = max(exact_kinds, default=0) * _HLL_DISCOUNT
            if distinct_floor > parent.rows:
                ub = min(ub, parent.rows / distinct_floor)
                exact = False
                reasons.append(
                    f"child has at least {int(distinct_floor)} distinct rows, parent {parent.rows}"
                )
        child_columns = {c.name: c for c in child.columns}
        parent_columns = {c.name: c for c in parent.columns}
        for pair in candidate.pairs:
            cc, pc = child_columns[pair.child], parent_columns[pair.parent]
            if cc.nulls > 0 and pc.nulls == 0:
                exact = False
                found = child.rows - cc.nulls  # rows without a NULL here (module docstring)
                ub = min(ub, found / child.rows if multiset else found / (found + 1))
                reasons.append(f"{pair.child} has NULLs, {pair.parent} has none")
            if pair.parse or pair.child_parse or pair.domain != pair.parent_domain or cc.all_null:
                continue
            crange, prange = _range(cc, pair.domain), _range(pc, pair.domain)
            if crange is None or prange is None:
                continue
            c_lo_bound, c_hi_bound, c_low, c_high = crange
            p_lo_bound, p_hi_bound, _, _ = prange
            try:
                below = c_low < p_lo_bound
                above = c_high > p_hi_bound
                disjoint = c_hi_bound < p_lo_bound or c_lo_bound > p_hi_bound
            except TypeError:  # values of unexpected shapes: no verdict from this column
                continue
            if below or above:
                exact = False
                # Never the values themselves: reasons are stored in the catalog and shown
                # to viewers for whom these columns' statistics may be masked.
                side = " and ".join(
                    s
                    for s, hit in (("below its minimum", below), ("above its maximum", above))
                    if hit
                )
                reasons.append(f"{pair.child} has values {side} of {pair.parent}")
            if disjoint:
                # Only child rows with a NULL here can be found. Set semantics: at most
                # cc.nulls distinct rows hold one, and at least one distinct row does not
                # (the column is not all NULL), so found / distinct <= k / (k + 1) (module
                # docstring); cc.nulls / child.rows would be a share of rows, not of distinct
                # rows.
                k = cc.nulls if pc.nulls > 0 else 0
                ub = min(ub, k / child.rows if multiset else k / (k + 1))
    candidate.upper_bound = min(candidate.upper_bound, ub)
    candidate.exact_possible = candidate.exact_possible and exact
    near_possible = near_threshold < 1.0 and candidate.upper_bound >= near_threshold
    if not candidate.exact_possible and not near_possible:
        candidate.stage = "minmax"
        candidate.status = "pruned"
        candidate.ratio = None
