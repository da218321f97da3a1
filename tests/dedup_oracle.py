"""An exact brute-force containment oracle for dedup tests, independent of fingerprints.

Rows are read with Spark exactly as Lakeward reads them, then compared in Python with the
documented normalisation: numbers by value (integers and whole decimals within ±9.2e18
exactly, other decimals at double precision, 32-bit floats as their shortest decimal text),
dates as midnight timestamps, timestamps as UTC wall-clock time, strings with surrounding
spaces trimmed, a text parent's string parsed into the child's domain (and a string child's
values parsed into a text parent's inferred type; a UTC offset in temporal text applied).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

_UNPARSED = object()
_BIGINT_SAFE = Decimal("9.2e18")


def normal(value: Any) -> Any:
    """The normalised form of a value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < _BIGINT_SAFE:
            return int(value)  # exact, as the equal bigint
        value = float(value)  # fractional or beyond ±9.2e18: at double precision
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        return value.strip(" ")
    return value


def parse(text: str | None, domain: str) -> Any:
    """A text value parsed into a comparison domain (a sentinel when it does not parse)."""
    if text is None:
        return None
    s = text.strip(" ")
    try:
        if domain == "number":
            try:
                return int(s)
            except ValueError:
                return normal(float(s))
        if domain == "temporal":
            return normal(dt.datetime.fromisoformat(s))  # an offset is applied (UTC)
        if domain == "boolean" and s.lower() in ("true", "false"):
            return s.lower() == "true"
    except ValueError:
        pass
    return _UNPARSED


def rows(spark: Any, catalog: Any, name: str) -> list[dict[str, Any]]:
    """Every row of a dataset as Lakeward's reader sees it."""
    import numpy as np
    import pyarrow as pa

    from lakeward.catalog import DatasetRepository
    from lakeward.lake import read_dataset, spec_for

    with catalog.session() as s:
        dataset = DatasetRepository(s).require(name)
        s.expunge(dataset)
    table = read_dataset(spark, spec_for(dataset)).toArrow()
    out: list[dict[str, Any]] = table.to_pylist()
    for field in table.schema:
        if pa.types.is_float32(field.type):  # a float is its shortest decimal text
            for row in out:
                if row[field.name] is not None:
                    row[field.name] = float(str(np.float32(row[field.name])))
    return out


def ratio(
    child: list[dict[str, Any]],
    parent: list[dict[str, Any]],
    pairs: Any,
    *,
    multiset: bool = False,
) -> float | None:
    """|child rows found in the parent| / |child rows| (distinct rows unless ``multiset``)."""
    from collections import Counter

    kids = Counter(
        tuple(parse(r[p.child], p.domain) if p.child_parse else normal(r[p.child]) for p in pairs)
        for r in child
    )
    if not kids:
        return None
    have = Counter(
        tuple(parse(r[p.parent], p.domain) if p.parse else normal(r[p.parent]) for p in pairs)
        for r in parent
    )
    if multiset:
        return sum(min(n, have[k]) for k, n in kids.items()) / sum(kids.values())
    return sum(1 for k in kids if k in have) / len(kids)


def all_ratios(spark: Any, catalog: Any, *, multiset: bool = False) -> dict[tuple[str, str], float]:
    """The exact ratio of every schema-compatible pair of profiled datasets (all pairs)."""
    from lakeward.dedup._find import load_datasets
    from lakeward.dedup._schema import pair_columns

    infos = load_datasets(catalog)
    data = {d.name: rows(spark, catalog, d.name) for d in infos}
    ratios = {}
    for c in infos:
        for p in infos:
            pairs = pair_columns(c, p) if c.id != p.id else None
            if pairs is not None:
                value = ratio(data[c.name], data[p.name], pairs, multiset=multiset)
                if value is not None:
                    ratios[(c.name, p.name)] = value
    return ratios
