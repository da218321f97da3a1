"""Stage 3's value normalisation on Spark: which values hash equal (``value_hash_sql``).

Numbers by value (whole decimals exactly as the equal bigint, 32-bit floats as their
shortest decimal), text parsed into the other side's domain (a UTC offset applied, booleans
only ``true``/``false``). All values sit in one row, hashed by one query.
"""

from __future__ import annotations

from typing import Any

import pytest

from lakeward.dedup._fingerprint import value_hash_sql
from lakeward.dedup._schema import domain_of

pytestmark = pytest.mark.spark

# name: (SQL value, parsed into this domain or None for the column's own)
VALUES: dict[str, tuple[str, str | None]] = {
    # decimals against bigint and double
    "big_993": ("CAST(9007199254740993 AS BIGINT)", None),
    "big_992": ("CAST(9007199254740992 AS BIGINT)", None),
    "dec_993": ("CAST('9007199254740993' AS DECIMAL(20,0))", None),
    "dec_992": ("CAST('9007199254740992' AS DECIMAL(20,0))", None),
    "dbl_992": ("CAST(9007199254740992 AS DOUBLE)", None),
    "dec_neg": ("CAST('-9007199254740993' AS DECIMAL(38,4))", None),
    "big_neg": ("CAST(-9007199254740993 AS BIGINT)", None),
    "dec_12": ("CAST('12.00' AS DECIMAL(10,2))", None),
    "big_12": ("CAST(12 AS BIGINT)", None),
    "dbl_12": ("CAST(12 AS DOUBLE)", None),
    "txt_12": ("'12'", "number"),
    "dec_12_5": ("CAST('12.50' AS DECIMAL(10,2))", None),
    "dbl_12_5": ("CAST(12.5 AS DOUBLE)", None),
    "dec_1e20": ("CAST('100000000000000000001' AS DECIMAL(38,0))", None),
    "dbl_1e20": ("CAST(1e20 AS DOUBLE)", None),
    # 32-bit floats: their shortest decimal, not their binary value
    "flt_0_1": ("CAST(0.1 AS FLOAT)", None),
    "dbl_0_1": ("CAST(0.1 AS DOUBLE)", None),
    "txt_0_1": ("' 0.1'", "number"),
    "dbl_0_1f": ("CAST(CAST(0.1 AS FLOAT) AS DOUBLE)", None),
    "flt_big": ("CAST(2.8287938E17 AS FLOAT)", None),  # Float.toString: 2.82879379E17
    "txt_big": ("'2.8287938E17'", "number"),
    "flt_tie": ("CAST(19781.0625 AS FLOAT)", None),  # 19781.062 and .063 both fit: even
    "txt_tie": ("'19781.062'", "number"),
    "flt_pow2": ("CAST(power(2, -96) AS FLOAT)", None),  # narrower interval below
    "txt_pow2": ("'1.2621775e-29'", "number"),
    "flt_3": ("CAST(3 AS FLOAT)", None),
    "big_3": ("CAST(3 AS BIGINT)", None),
    "flt_neg": ("CAST(-2.5e-7 AS FLOAT)", None),
    "dbl_neg": ("CAST(-2.5e-7 AS DOUBLE)", None),
    # temporal text: an offset applied, none means UTC wall clock, a date required
    "txt_off": ("'2024-01-01T10:00:00+02:00'", "temporal"),
    "txt_z": ("'2024-01-01T08:00:00Z'", "temporal"),
    "ntz_8": ("TIMESTAMP_NTZ '2024-01-01 08:00:00'", None),
    "ts_8": ("TIMESTAMP '2024-01-01 08:00:00'", None),  # session zone UTC
    "txt_plain": ("'2024-01-01 10:00:00'", "temporal"),
    "ntz_10": ("TIMESTAMP_NTZ '2024-01-01 10:00:00'", None),
    "txt_date": ("'2024-01-01'", "temporal"),
    "date": ("DATE '2024-01-01'", None),
    "txt_time": ("'10:00:00'", "temporal"),
    "ntz_today": ("CAST(concat(current_date(), ' 10:00:00') AS TIMESTAMP_NTZ)", None),
    # boolean text: true or false only
    "true": ("true", None),
    "false": ("false", None),
    "txt_true": ("' TRUE '", "boolean"),
    "txt_false": ("'false'", "boolean"),
    "txt_yes": ("'yes'", "boolean"),
    "txt_y": ("'y'", "boolean"),
    "txt_t": ("'t'", "boolean"),
    "txt_1": ("'1'", "boolean"),
    "txt_no": ("'no'", "boolean"),
    "txt_0": ("'0'", "boolean"),
}


@pytest.fixture(scope="module")
def hashes(spark: Any) -> dict[str, int]:
    df = spark.sql("SELECT " + ", ".join(f"{v} AS `{k}`" for k, (v, _) in VALUES.items()))
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    exprs = []
    for name, (_, parsed) in VALUES.items():
        domain = parsed or domain_of(types[name])
        exprs.append(f"{value_hash_sql(name, types[name], domain, parsed is not None)} AS `{name}`")
    row = df.selectExpr(*exprs).collect()[0]
    return {name: row[name] for name in VALUES}


@pytest.mark.parametrize(
    "group",
    [
        ["big_993", "dec_993"],
        ["big_992", "dec_992", "dbl_992"],
        ["big_neg", "dec_neg"],
        ["dec_12", "big_12", "dbl_12", "txt_12"],
        ["dec_12_5", "dbl_12_5"],
        ["dec_1e20", "dbl_1e20"],  # beyond ±9.2e18: double precision, as documented
        ["flt_0_1", "dbl_0_1", "txt_0_1"],
        ["flt_big", "txt_big"],
        ["flt_tie", "txt_tie"],
        ["flt_pow2", "txt_pow2"],
        ["flt_3", "big_3"],
        ["flt_neg", "dbl_neg"],
        ["txt_off", "txt_z", "ntz_8", "ts_8"],
        ["txt_plain", "ntz_10"],
        ["txt_date", "date"],
        ["txt_true", "true"],
        ["txt_false", "false"],
    ],
)
def test_equal(hashes: dict[str, int], group: list[str]) -> None:
    assert {name: hashes[name] for name in group} == dict.fromkeys(group, hashes[group[0]])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("dec_993", "dec_992"),
        ("dec_993", "dbl_992"),
        ("big_993", "big_992"),
        ("flt_0_1", "dbl_0_1f"),
        ("txt_off", "ntz_10"),
        ("txt_time", "ntz_today"),
        ("txt_yes", "true"),
        ("txt_y", "true"),
        ("txt_t", "true"),
        ("txt_1", "true"),
        ("txt_no", "false"),
        ("txt_0", "false"),
    ],
)
def test_different(hashes: dict[str, int], a: str, b: str) -> None:
    assert hashes[a] != hashes[b]


def test_nothing_unparsed_matches_a_typed_value(hashes: dict[str, int]) -> None:
    unparsed = ["txt_time", "txt_yes", "txt_y", "txt_t", "txt_1", "txt_no", "txt_0"]
    typed = [k for k, (_, parsed) in VALUES.items() if parsed is None]
    assert not {hashes[u] for u in unparsed} & {hashes[t] for t in typed}
