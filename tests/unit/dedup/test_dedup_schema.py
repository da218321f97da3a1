"""Stage 1: name normalisation, type compatibility, and the index against all pairs."""

from __future__ import annotations

import random
from typing import Any

import pytest

from lakeward.dedup._schema import (
    ColumnInfo,
    DatasetInfo,
    naive_schema_candidates,
    normalize_name,
    pair_columns,
    schema_candidates,
)


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("customer_id", "customer_id"),
        ("cust_id", "customer_id"),
        ("CustomerID", "customer_id"),
        ("First Name", "first_name"),
        ("LastName", "last_name"),
        ("EMAIL", "email"),
        ("street_addr", "street_address"),
        ("Street Addr", "street_address"),
        ("postal-code", "postal_code"),
        ("PostalCode", "postal_code"),
        ("dob", "date_of_birth"),
        ("DOB", "date_of_birth"),
        ("SignupTs", "signup_timestamp"),
        ("signup_ts", "signup_timestamp"),
        ("OrderItemID", "order_item_id"),
        ("order-id", "order_id"),
        ("line_num", "line_number"),
        ("qty", "quantity"),
        ("Unit Price", "unit_price"),
        ("line_amt", "line_amount"),
        ("IsFullTime", "is_full_time"),
        ("HTTPStatus", "http_status"),
        ("Manager ID", "manager_id"),
        ("__", "__"),
    ],
)
def test_normalize_name(name: str, normal: str) -> None:
    assert normalize_name(name) == normal


def _ds(
    ident: int, name: str, fmt: str, columns: list[tuple[str, str]], *, nulls: int = 0
) -> DatasetInfo:
    rows = 10
    return DatasetInfo(
        ident,
        name,
        fmt,
        1,
        rows,
        100,
        "f",
        "s",
        tuple(ColumnInfo(c, t, nulls, None, None, rows, rows) for c, t in columns),
    )


@pytest.mark.parametrize(
    ("child_type", "child_fmt", "parent_type", "parent_fmt", "fits", "parse"),
    [
        ("int", "parquet", "bigint", "parquet", True, False),
        ("bigint", "parquet", "int", "parquet", False, False),
        ("bigint", "csv", "int", "parquet", True, False),  # text child: inferred width only
        ("bigint", "parquet", "decimal(20,0)", "parquet", True, False),
        ("bigint", "parquet", "double", "parquet", True, False),
        ("float", "parquet", "double", "parquet", True, False),
        ("double", "parquet", "float", "parquet", False, False),
        ("double", "parquet", "bigint", "parquet", False, False),
        ("decimal(10,2)", "parquet", "double", "parquet", True, False),
        ("date", "parquet", "timestamp", "parquet", True, False),
        ("date", "parquet", "timestamp_ntz", "json", True, False),
        ("timestamp", "parquet", "timestamp_ntz", "parquet", True, False),
        ("timestamp", "parquet", "date", "parquet", False, False),
        ("timestamp_ntz", "csv", "date", "parquet", True, False),
        ("bigint", "parquet", "string", "csv", True, True),  # anything ⊂ CSV string
        ("date", "parquet", "string", "json", True, True),
        ("bigint", "parquet", "string", "parquet", False, False),
        ("bigint", "csv", "string", "parquet", True, True),  # "02134" read as 2134
        ("string", "csv", "bigint", "parquet", False, False),
        ("string", "parquet", "bigint", "csv", True, False),  # the CSV's text was inferred
        ("string", "parquet", "bigint", "parquet", False, False),
        ("boolean", "parquet", "boolean", "csv", True, False),
        ("boolean", "parquet", "string", "csv", True, True),
        ("array<string>", "parquet", "array<string>", "parquet", True, False),
        ("array<string>", "parquet", "array<int>", "parquet", False, False),
    ],
)
def test_type_compatibility(
    child_type: str, child_fmt: str, parent_type: str, parent_fmt: str, fits: bool, parse: bool
) -> None:
    child = _ds(1, "c", child_fmt, [("x", child_type)])
    parent = _ds(2, "p", parent_fmt, [("X", parent_type)])
    pairs = pair_columns(child, parent)
    assert (pairs is not None) == fits
    if pairs:
        assert pairs[0].parse == parse and pairs[0].parent == "X"


def test_string_child_parsed_into_a_text_parents_inferred_type() -> None:
    child = _ds(1, "c", "parquet", [("zip", "string")])
    parent = _ds(2, "p", "csv", [("zip", "bigint")])
    pairs = pair_columns(child, parent)
    assert pairs is not None and pairs[0].child_parse and pairs[0].domain == "number"


def test_all_null_child_column_fits_any_type() -> None:
    child = _ds(1, "c", "csv", [("x", "string")], nulls=10)
    parent = _ds(2, "p", "parquet", [("x", "date")])
    pairs = pair_columns(child, parent)
    assert pairs is not None and pairs[0].domain == "temporal" and not pairs[0].parse


def test_ambiguous_parent_names_prefer_exact_then_distinct_columns() -> None:
    child = _ds(1, "c", "parquet", [("dob", "date"), ("customer_id", "bigint")])
    parent = _ds(
        2, "p", "parquet", [("date_of_birth", "date"), ("dob", "date"), ("cust_id", "bigint")]
    )
    pairs = pair_columns(child, parent)
    assert pairs is not None
    assert {p.child: p.parent for p in pairs} == {"dob": "dob", "customer_id": "cust_id"}
    two = _ds(3, "c2", "parquet", [("dob", "date"), ("date_of_birth", "date")])
    mapped = pair_columns(two, parent)
    assert mapped is not None
    assert {p.child: p.parent for p in mapped} == {"dob": "dob", "date_of_birth": "date_of_birth"}
    assert pair_columns(two, _ds(4, "p2", "parquet", [("DOB", "date")])) is None


_VOCAB = [f"col_{i}" for i in range(60)]
_TYPES = ["bigint", "double", "string", "date", "timestamp_ntz", "boolean", "int"]


def _random_lake(n: int, seed: int) -> list[DatasetInfo]:
    rng = random.Random(seed)
    bases = []
    for _ in range(max(1, n // 8)):
        width = rng.randint(3, 12)
        cols = rng.sample(_VOCAB, width)
        bases.append([(c, rng.choice(_TYPES)) for c in cols])
    out = []
    for i in range(n):
        base = rng.choice(bases)
        keep = [c for c in base if rng.random() < 0.7] or base[:1]
        cols = [
            (name.upper() if rng.random() < 0.2 else name, t if rng.random() < 0.9 else "string")
            for name, t in keep
        ]
        if rng.random() < 0.2:
            cols.append((rng.choice(_VOCAB) + "_extra", rng.choice(_TYPES)))
        out.append(_ds(i + 1, f"d{i:05d}", rng.choice(["parquet", "csv", "json"]), cols))
    return out


def test_index_finds_exactly_the_all_pairs_candidates() -> None:
    lake = _random_lake(600, seed=3)
    indexed = [(c.child.name, c.parent.name) for c in schema_candidates(lake)]
    assert indexed == naive_schema_candidates(lake)
    assert len(indexed) > 500  # the random lake is dense enough to mean something


def test_stage_one_scales_to_ten_thousand_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """10,000 datasets: every all-pairs candidate of a sample is found, and the index
    compares only pairs that share every name (not the 10^8 pairs); timing is in bench/."""
    from lakeward.dedup import _schema

    lake = _random_lake(10_000, seed=5)
    compared = 0
    real = _schema.pair_columns

    def counting(child: Any, parent: Any) -> Any:
        nonlocal compared
        compared += 1
        return real(child, parent)

    monkeypatch.setattr(_schema, "pair_columns", counting)
    found = schema_candidates(lake)
    monkeypatch.undo()
    sample = random.Random(1).sample(lake, 150)  # all pairs for a sample of children
    wanted = {(c.name, p.name) for c in sample for p in lake if c.id != p.id and pair_columns(c, p)}
    got = {(c.child.name, c.parent.name) for c in found if c.child in sample}
    assert got == wanted
    assert compared <= 3 * len(found) + len(lake), (compared, len(found))


def test_columns_sharing_a_name_are_matched_as_a_whole() -> None:
    """Greedy first-fit would give ``a_id`` (bigint) to ``aId`` and leave ``A_ID`` nothing."""
    child = _ds(1, "c", "parquet", [("A_ID", "tinyint"), ("a_id", "bigint")])
    parent = _ds(2, "p", "parquet", [("aId", "bigint"), ("AId", "smallint")])
    pairs = pair_columns(child, parent)
    assert pairs is not None
    assert {p.child: p.parent for p in pairs} == {"A_ID": "AId", "a_id": "aId"}
    exact = _ds(3, "p3", "parquet", [("AId", "bigint"), ("a_id", "bigint"), ("A_ID", "bigint")])
    pairs = pair_columns(child, exact)  # several fit: exact raw names are kept
    assert pairs is not None
    assert {p.child: p.parent for p in pairs} == {"A_ID": "A_ID", "a_id": "a_id"}


_SAME_KEY = ["a_id", "A_ID", "aId", "AId", "a-id", "A Id", "b", "B"]
_PAIR_TYPES = ["tinyint", "smallint", "int", "bigint", "double", "decimal(10,2)", "string"]


def _brute_force_pairing(child: DatasetInfo, parent: DatasetInfo) -> dict[str, str] | None:
    """Every one-to-one assignment enumerated; the preferred one (children in name order,
    each preferring its exact raw name, then parent column order) compared lexicographically."""
    import itertools

    from lakeward.dedup._schema import _fits

    children = sorted(child.columns, key=lambda c: (c.key, c.name))
    choices = [
        [
            ((p.name != c.name, i), p.name)
            for i, p in enumerate(parent.columns)
            if p.key == c.key and _fits(c, child.textual, p, parent.textual)
        ]
        for c in children
    ]
    best: tuple[Any, ...] | None = None
    mapping = None
    for combo in itertools.product(*choices):
        names = [name for _, name in combo]
        if len(set(names)) < len(names):
            continue
        rank = tuple(r for r, _ in combo)
        if best is None or rank < best:
            best = rank
            mapping = {c.name: name for c, name in zip(children, names, strict=True)}
    return mapping


def test_pairing_agrees_with_brute_force_enumeration() -> None:
    rng = random.Random(7)
    found = 0
    for i in range(3000):
        fmt = rng.choice(["parquet", "csv"]), rng.choice(["parquet", "csv"])
        child = _ds(
            1,
            "c",
            fmt[0],
            [(n, rng.choice(_PAIR_TYPES)) for n in rng.sample(_SAME_KEY, rng.randint(1, 4))],
        )
        parent = _ds(
            2,
            "p",
            fmt[1],
            [(n, rng.choice(_PAIR_TYPES)) for n in rng.sample(_SAME_KEY, rng.randint(1, 6))],
        )
        pairs = pair_columns(child, parent)
        expected = _brute_force_pairing(child, parent)
        got = None if pairs is None else {p.child: p.parent for p in pairs}
        assert got == expected, (i, child.columns, parent.columns)
        found += got is not None and len(got) > 1
    assert found > 200  # multi-column assignments were actually exercised
