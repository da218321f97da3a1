"""Deterministic generator for a realistic synthetic enterprise data lake.

``generate_lake`` writes a lake of a few dozen datasets (Parquet, CSV and JSON lines, single
files and directories of part files) under domain folders such as ``sales/`` or ``health/``,
plus a manifest (``_lakeward_manifest.json``) that records every dataset and every planted
redundancy: projections, selections, copies in other formats or places, renamed copies,
near-copies, decoys and chains. The manifest is ground truth for deduplication work: every
``expected_ratio`` in it is exact.

It is ground truth for tagging too: ``column_types`` names, per dataset, the semantic type
(``type.email``, ``type.iban``, …; :data:`SEMANTIC_TYPES`) of every column that holds one;
``hard_negatives`` lists columns built to be mistaken for a type they do not hold (an
``email_verified`` integer, 16-digit ids that pass Luhn by chance, ZIP+4 codes, ISO 11649
payment references, comments about email without an address in them;
:data:`HARD_NEGATIVES`); ``unscored_columns`` lists city, state and country columns, which
are neither. Every other column holds none of the types. ``support.tickets``,
``finance.bank_accounts``, ``logistics.delivery_stops`` and ``web.mobile_devices`` exist for
tagging: free text with and without contact details, IBANs, coordinates, IMEIs, IPv6.

Everything is derived from the seed: each chunk of each dataset draws from its own
``numpy.random.Generator`` seeded with ``(seed, crc32(dataset name), chunk index)``, so the same
seed gives byte-identical files and every chunk can be produced independently. Big tables are
generated chunk by chunk and derived datasets are computed from the parent's chunks as they
stream past, so memory stays bounded however large the lake.

Text formats use fixed value spellings: dates ``YYYY-MM-DD``, timestamps
``YYYY-MM-DD HH:MM:SS`` (always whole seconds), booleans ``true``/``false``, nulls as an empty
CSV field or JSON ``null``, and money rounded to two decimals.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import secrets
import shutil
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lakeward.errors import InputError, LakewardInternalError

from . import _names as nm

__all__ = [
    "COLUMN_TYPES",
    "FORMAT_EXTENSIONS",
    "HARD_NEGATIVES",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "SEMANTIC_TYPES",
    "UNSCORED_COLUMNS",
    "GeneratedLake",
    "generate_lake",
]

MANIFEST_NAME = "_lakeward_manifest.json"
"""File name of the manifest at the root of a generated lake."""

MANIFEST_VERSION = 1
"""Version of the manifest layout."""

COLUMN_TYPES: Mapping[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "date32": pa.date32(),
    "timestamp[us]": pa.timestamp("us"),
}
"""Manifest column type names mapped to the Arrow types they stand for."""

FORMAT_EXTENSIONS: Mapping[str, str] = {"parquet": ".parquet", "csv": ".csv", "json": ".jsonl"}
"""File extension of each dataset format."""

_TYPE_NAMES: dict[pa.DataType, str] = {v: k for k, v in COLUMN_TYPES.items()}
_TS = pa.timestamp("us")
_CHUNK_ROWS = 200_000
_MIN_DIR_PARTS = 4
_JSON_BATCH = 20_000
_END = np.datetime64("2025-01-01T00:00:00", "s")
_REF_DAY = np.datetime64("2024-12-31", "D")
_MAX_SIZE_MB = 1_000_000.0

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GeneratedLake:
    """What :func:`generate_lake` wrote.

    Attributes:
        root: The lake root directory.
        manifest_path: Path of the manifest file inside ``root``.
        datasets: Number of datasets written.
        bytes: Total size in bytes of the data files (the manifest excluded).
        derivations: Number of planted derivations recorded in the manifest.
    """

    root: Path
    manifest_path: Path
    datasets: int
    bytes: int
    derivations: int


# --------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------


def _clean(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())


def _weights(n: int, power: float = 0.7, offset: float = 6.0) -> F64:
    w = 1.0 / (np.arange(n, dtype=np.float64) + offset) ** power
    return np.asarray(w / w.sum(), dtype=np.float64)


_FIRST = pa.array(nm.FIRST_NAMES)
_LAST = pa.array(nm.LAST_NAMES)
_FIRST_LOWER = pa.array([_clean(x) for x in nm.FIRST_NAMES])
_LAST_LOWER = pa.array([_clean(x) for x in nm.LAST_NAMES])
_FIRST_P = _weights(len(nm.FIRST_NAMES))
_LAST_P = _weights(len(nm.LAST_NAMES))
_DOMAINS = pa.array(nm.EMAIL_DOMAINS)
_DOMAIN_P = _weights(len(nm.EMAIL_DOMAINS), power=1.1, offset=1.0)
_STREETS = pa.array(nm.STREET_NAMES)
_SUFFIXES = pa.array(nm.STREET_SUFFIXES)
_CITY = pa.array([loc.city for loc in nm.LOCATIONS])
_STATE = pa.array([loc.state for loc in nm.LOCATIONS])
_COUNTRY = pa.array([loc.country for loc in nm.LOCATIONS])
_POSTAL_TEMPLATES = [loc.postal for loc in nm.LOCATIONS]
_PHONE_TEMPLATES = [f"{loc.phone}-&##-####" for loc in nm.LOCATIONS]
_LOC_P = np.array([loc.weight for loc in nm.LOCATIONS]) / sum(loc.weight for loc in nm.LOCATIONS)
_US = np.array([i for i, loc in enumerate(nm.LOCATIONS) if loc.country == "US"], dtype=np.int64)
_US_P = _LOC_P[_US] / _LOC_P[_US].sum()

_DIGITS = np.array(list("0123456789"), dtype="<U1")
_HIGH_DIGITS = np.array(list("23456789"), dtype="<U1")
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype="<U1")
_HEX = np.array(list("0123456789abcdef"), dtype="<U1")

_DIURNAL = np.array(
    [
        0.25,
        0.15,
        0.1,
        0.08,
        0.08,
        0.12,
        0.3,
        0.55,
        0.8,
        0.95,
        1.0,
        1.05,
        1.1,
        1.05,
        1.0,
        0.95,
        0.95,
        1.0,
        1.1,
        1.2,
        1.15,
        0.95,
        0.7,
        0.45,
    ]
)
_WEEKDAY = np.array([0.95, 0.95, 1.0, 1.0, 1.1, 1.25, 1.15])
_MONTHLY = np.array([0.85, 0.8, 0.9, 0.92, 0.95, 0.95, 0.93, 0.97, 0.95, 1.0, 1.3, 1.5])


def _pick(rng: np.random.Generator, n: int, p: Sequence[float] | F64) -> I64:
    """Draw ``n`` indices into a vocabulary with probabilities ``p``."""
    probs = np.asarray(p, dtype=np.float64)
    cdf = np.cumsum(probs / probs.sum())
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, len(probs) - 1).astype(np.int64)


def _take(vocab: pa.Array, idx: I64, null: Mask | None = None) -> pa.Array:
    """Look ``idx`` up in ``vocab``; rows where ``null`` is true become null."""
    return vocab.take(pa.array(idx, type=pa.int64(), mask=null))


def _strs(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _null_mask(rng: np.random.Generator, n: int, frac: float) -> Mask:
    return np.asarray(rng.random(n) < frac, dtype=np.bool_)


def _nullify(arr: pa.Array, null: Mask) -> pa.Array:
    if not null.any():
        return arr
    return pc.if_else(pa.array(null), pa.scalar(None, type=arr.type), arr)


def _join(*parts: Any) -> pa.Array:
    """Concatenate string arrays and scalars element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def _int_str(values: I64, width: int = 0) -> pa.Array:
    s = pc.cast(pa.array(values, type=pa.int64()), pa.string())
    return pc.utf8_lpad(s, width, "0") if width else s


def _template(rng: np.random.Generator, templates: Sequence[str], which: I64) -> pa.Array:
    """Fill per-row templates: ``#`` digit, ``&`` digit 2-9, ``@`` letter, ``*`` hex digit."""
    width = max(len(t) for t in templates)
    grid = np.array([list(t.ljust(width, "\0")) for t in templates], dtype="<U1")
    chars = grid[which]
    draw = rng.integers(0, 1 << 30, size=chars.shape)
    out = np.where(chars == "#", _DIGITS[draw % 10], chars)
    out = np.where(chars == "&", _HIGH_DIGITS[draw % 8], out)
    out = np.where(chars == "@", _LETTERS[draw % 26], out)
    out = np.where(chars == "*", _HEX[draw % 16], out)
    flat = np.ascontiguousarray(out).view(f"<U{width}").reshape(-1)
    return pa.array(flat, type=pa.string())


def _mix(x: I64, salt: int) -> npt.NDArray[np.uint64]:
    """Vectorised splitmix64 finaliser: a deterministic 64-bit hash of each value."""
    z = x.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


@dataclass(frozen=True)
class _Ids:
    """Sparse, increasing id space: row ``j`` gets ``base + 3j + (0 or 1)``.

    Ids ``base + 3j + 2`` are never used, so decoys can draw ids from the gaps.
    """

    base: int
    salt: int

    def of(self, j: I64) -> I64:
        bit = (_mix(j, self.salt) >> np.uint64(17)) & np.uint64(1)
        return np.asarray(self.base + 3 * j + bit.astype(np.int64), dtype=np.int64)

    def gap(self, j: I64) -> I64:
        return np.asarray(self.base + 3 * j + 2, dtype=np.int64)


_IDS: dict[str, _Ids] = {
    "sales.customers": _Ids(1_000_000, 1),
    "sales.orders": _Ids(50_000_000, 2),
    "finance.payments": _Ids(70_000_000, 3),
    "logistics.shipments": _Ids(90_000_000, 4),
    "sales.stores": _Ids(100, 5),
    "catalog.products": _Ids(200_000, 6),
    "catalog.suppliers": _Ids(5_000, 7),
    "catalog.inventory": _Ids(3_000_000, 8),
    "hr.departments": _Ids(10, 9),
    "hr.employees": _Ids(10_000, 10),
    "health.patients": _Ids(400_000, 11),
    "health.physicians": _Ids(7_000, 12),
    "health.visits": _Ids(20_000_000, 13),
    "health.prescriptions": _Ids(30_000_000, 14),
    "health.lab_results": _Ids(40_000_000, 15),
    "web.web_events": _Ids(1_000_000_000, 16),
    "web.search_queries": _Ids(600_000_000, 17),
    "marketing.campaigns": _Ids(900, 18),
    "marketing.ad_spend": _Ids(8_000_000, 19),
    "finance.ledger_entries": _Ids(80_000_000, 20),
    "hr.payroll_runs": _Ids(95_000_000, 21),
    "logistics.warehouses": _Ids(50, 22),
    "support.tickets": _Ids(700_000_000, 23),
    "finance.bank_accounts": _Ids(60_000_000, 24),
    "logistics.delivery_stops": _Ids(110_000_000, 25),
    "web.mobile_devices": _Ids(120_000_000, 26),
}


@functools.lru_cache(maxsize=8)
def _hour_cdf(start: str, end: str) -> tuple[F64, np.datetime64]:
    """Cumulative share of activity per hour between ``start`` and ``end``.

    Activity follows a daily rhythm, a weekly rhythm, a holiday-season peak and slow growth.
    """
    t0 = np.datetime64(start, "h")
    hours = np.arange(t0, np.datetime64(end, "h"), dtype="datetime64[h]")
    hi = hours.astype(np.int64)
    month = hours.astype("datetime64[M]").astype(np.int64) % 12
    growth = 1.0 + 0.6 * np.linspace(0.0, 1.0, len(hours))
    w = _DIURNAL[hi % 24] * _WEEKDAY[(hi // 24 + 3) % 7] * _MONTHLY[month] * growth
    cdf = np.concatenate([[0.0], np.cumsum(w)])
    return np.asarray(cdf / cdf[-1], dtype=np.float64), t0


def _warp(q: F64, start: str, end: str) -> npt.NDArray[np.datetime64]:
    """Map quantiles in [0, 1) to whole-second timestamps following the activity profile."""
    cdf, t0 = _hour_cdf(start, end)
    hours = np.interp(q, cdf, np.arange(len(cdf), dtype=np.float64))
    secs = np.floor(hours * 3600.0).astype(np.int64)
    return np.asarray(t0.astype("datetime64[s]") + secs.astype("timedelta64[s]"))


def _share_before(ts: npt.NDArray[np.datetime64], start: str, end: str) -> F64:
    """Inverse of :func:`_warp`: the activity share that lies before each timestamp."""
    cdf, t0 = _hour_cdf(start, end)
    hours = (ts - t0.astype("datetime64[s]")).astype(np.int64) / 3600.0
    return np.asarray(np.interp(hours, np.arange(len(cdf), dtype=np.float64), cdf))


def _ts_array(ts: npt.NDArray[np.datetime64], null: Mask | None = None) -> pa.Array:
    return pa.array(ts.astype("datetime64[us]"), type=_TS, mask=null)


def _date_array(days: npt.NDArray[np.datetime64], null: Mask | None = None) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), type=pa.date32(), mask=null)


def _money(x: F64) -> F64:
    return np.asarray(np.round(x, 2), dtype=np.float64)


def _skewed(rng: np.random.Generator, n: int, upper: I64 | int, power: float = 1.6) -> I64:
    """Indices in ``[0, upper)`` where low indices are more popular."""
    u = rng.random(n) ** power
    idx = np.minimum((u * upper).astype(np.int64), np.maximum(np.asarray(upper) - 1, 0))
    return np.asarray(idx, dtype=np.int64)


def _ages_to_dob(rng: np.random.Generator, n: int) -> npt.NDArray[np.datetime64]:
    """Dates of birth for adults aged 18 to 90 on the reference day."""
    age_days = (18.0 + 72.0 * rng.beta(2.0, 3.2, n)) * 365.25
    return _REF_DAY - age_days.astype(np.int64).astype("timedelta64[D]")


def _names(rng: np.random.Generator, n: int) -> tuple[I64, I64]:
    return _pick(rng, n, _FIRST_P), _pick(rng, n, _LAST_P)


def _emails(
    rng: np.random.Generator, first: I64, last: I64, domain: pa.Array | str | None = None
) -> pa.Array:
    """Emails derived from names: ``jane.doe42@gmail.com``, ``jdoe@…``, ``jane_doe@…``."""
    n = len(first)
    f = _FIRST_LOWER.take(pa.array(first))
    lst = _LAST_LOWER.take(pa.array(last))
    initial = pc.utf8_slice_codeunits(f, 0, 1)
    style = pa.array(_pick(rng, n, [0.45, 0.2, 0.2, 0.15]).astype(np.int8))
    local = pc.choose(
        style, _join(f, ".", lst), _join(f, lst), _join(initial, lst), _join(f, "_", lst)
    )
    with_number = pa.array(rng.random(n) < 0.4)
    number = pc.if_else(with_number, _int_str(rng.integers(1, 100, n)), "")
    if domain is None:
        domain = _take(_DOMAINS, _pick(rng, n, _DOMAIN_P))
    return _join(local, number, "@", domain)


def _streets(rng: np.random.Generator, n: int) -> pa.Array:
    number = np.exp(rng.uniform(0.0, math.log(9999.0), n)).astype(np.int64)
    street = _take(_STREETS, rng.integers(0, len(nm.STREET_NAMES), n))
    suffix = _take(_SUFFIXES, _pick(rng, n, _weights(len(nm.STREET_SUFFIXES), 1.0, 2.0)))
    base = _join(_int_str(number), " ", street, " ", suffix)
    apt = pa.array(rng.random(n) < 0.12)
    unit = _join(" Apt ", _int_str(rng.integers(1, 40, n)))
    return pc.if_else(apt, _join(base, unit), base)


def _phones(rng: np.random.Generator, loc: I64) -> pa.Array:
    return _template(rng, _PHONE_TEMPLATES, loc)


def _postal(rng: np.random.Generator, loc: I64) -> pa.Array:
    return _template(rng, _POSTAL_TEMPLATES, loc)


def _luhn_check(payload: I64) -> I64:
    """Luhn check digit for each row of a digit matrix (the check digit goes on the right)."""
    rev = payload[:, ::-1]
    doubled = rev[:, 0::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + rev[:, 1::2].sum(axis=1)
    return np.asarray((10 - total % 10) % 10, dtype=np.int64)


_BRANDS = ("Visa", "Mastercard", "American Express", "Discover")


def _cards(key: I64) -> tuple[pa.Array, pa.Array]:
    """Card numbers and brands, one stable card per key (e.g. per customer).

    Visa starts with 4 and Mastercard with 51-55 (16 digits), American Express with 34 or 37
    (15 digits), Discover with 6011 (16 digits); every number ends in a valid Luhn digit.
    """
    n = len(key)
    h = _mix(key, 101)
    brand_roll = (_mix(key, 102) % np.uint64(100)).astype(np.int64)
    brand = np.select([brand_roll < 50, brand_roll < 80, brand_roll < 92], [0, 1, 2], 3)
    digits = np.empty((n, 16), dtype=np.int64)
    for i in range(16):
        digits[:, i] = ((h // np.uint64(10**i)) % np.uint64(10)).astype(np.int64)
    second = (_mix(key, 103) % np.uint64(5)).astype(np.int64)
    visa, master, amex, disc = brand == 0, brand == 1, brand == 2, brand == 3
    digits[visa, 0] = 4
    digits[master, 0] = 5
    digits[master, 1] = 1 + second[master]
    digits[amex, 0] = 3
    digits[amex, 1] = np.where(second[amex] % 2 == 0, 4, 7)
    digits[disc, 0:4] = [6, 0, 1, 1]
    long = ~amex
    digits[long, 15] = _luhn_check(digits[long, :15])
    digits[amex, 14] = _luhn_check(digits[amex, :14])
    chars = _DIGITS[digits]
    chars[amex, 15] = "\0"
    numbers = pa.array(np.ascontiguousarray(chars).view("<U16").reshape(-1), type=pa.string())
    return numbers, _take(_strs(_BRANDS), brand.astype(np.int64))


# --------------------------------------------------------------------------------------------
# Generation context and base tables
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    seed: int
    n: dict[str, int]
    product_price: F64 = field(default_factory=lambda: np.zeros(0))
    product_category: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def rng(self, name: str, k: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(name.encode("utf-8")), k])

    def ids(self, table: str, j: I64) -> I64:
        return _IDS[table].of(j)

    def any_id(self, rng: np.random.Generator, table: str, n: int) -> I64:
        return _IDS[table].of(rng.integers(0, self.n[table], n))


def _counts(scale: float) -> dict[str, int]:
    """Row counts per base table; big tables grow linearly with size, dimensions by sqrt."""

    def lin(base: float, least: int) -> int:
        return max(least, round(base * scale))

    def sq(base: float, least: int) -> int:
        return max(least, round(base * math.sqrt(scale)))

    return {
        "sales.customers": lin(26_000, 300),
        "sales.orders": lin(100_000, 800),
        "sales.stores": sq(160, 30),
        "catalog.products": sq(2_000, 200),
        "catalog.suppliers": sq(250, 30),
        "catalog.inventory": lin(18_000, 200),
        "hr.departments": len(nm.DEPARTMENTS),
        "hr.employees": lin(2_600, 200),
        "health.patients": lin(18_000, 300),
        "health.physicians": sq(400, 40),
        "health.visits": lin(66_000, 600),
        "health.prescriptions": lin(9_000, 200),
        "health.lab_results": lin(18_000, 200),
        "web.web_events": lin(170_000, 1_200),
        "web.search_queries": lin(11_000, 200),
        "marketing.campaigns": sq(120, 20),
        "marketing.ad_spend": lin(11_000, 100),
        "finance.exchange_rates": 1_096 * 6,
        "finance.ledger_entries": lin(35_000, 200),
        "hr.payroll_runs": lin(6_600, 200),
        "logistics.warehouses": sq(40, 8),
        "support.tickets": lin(4_000, 300),
        "finance.bank_accounts": lin(2_400, 200),
        "logistics.delivery_stops": lin(6_000, 300),
        "web.mobile_devices": lin(3_000, 200),
    }


_CUSTOMER_START, _CUSTOMER_END = "2018-01-01", "2025-01-01"


def _gen_customers(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    first, last = _names(rng, n)
    loc = _pick(rng, n, _LOC_P)
    q = (j + rng.random(n)) / ctx.n["sales.customers"]
    tier = _pick(rng, n, [0.55, 0.25, 0.15, 0.05])
    return pa.table(
        {
            "customer_id": pa.array(ids),
            "first_name": _take(_FIRST, first),
            "last_name": _take(_LAST, last),
            "email": _emails(rng, first, last),
            "phone": _nullify(_phones(rng, loc), _null_mask(rng, n, 0.03)),
            "street_address": _streets(rng, n),
            "city": _take(_CITY, loc),
            "state": _take(_STATE, loc),
            "postal_code": _postal(rng, loc),
            "country": _take(_COUNTRY, loc),
            "date_of_birth": _date_array(_ages_to_dob(rng, n), _null_mask(rng, n, 0.02)),
            "signup_ts": _ts_array(_warp(q, _CUSTOMER_START, _CUSTOMER_END)),
            "loyalty_tier": _take(
                _strs(["bronze", "silver", "gold", "platinum"]), tier, _null_mask(rng, n, 0.04)
            ),
        }
    )


_COMPANY_DOMAIN = "meridianmart.com"


def _gen_employees(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    total = ctx.n["hr.employees"]
    first, last = _names(rng, n)
    loc = _US[_pick(rng, n, _US_P)]
    dob = _ages_to_dob(rng, n)
    earliest = np.maximum(dob + np.timedelta64(int(18 * 365.25), "D"), np.datetime64("2005-01-01"))
    span = (_REF_DAY - earliest).astype(np.int64)
    hire = earliest + (rng.random(n) * span).astype(np.int64).astype("timedelta64[D]")
    termination = hire + (rng.random(n) * (_REF_DAY - hire).astype(np.int64)).astype(
        "timedelta64[D]"
    )
    top = max(1, total // 50)
    manager_j = np.minimum((rng.random(n) ** 2 * np.minimum(j, total)).astype(np.int64), j)
    title = rng.integers(0, len(nm.JOB_TITLES), n)
    level = np.array(
        [
            1.0,
            1.3,
            1.5,
            1.9,
            2.6,
            1.6,
            2.0,
            1.8,
            1.3,
            0.6,
            0.75,
            1.1,
            1.2,
            0.85,
            1.4,
            1.9,
            2.3,
            1.0,
            1.0,
        ]
    )[title]
    salary = _money(np.exp(rng.normal(math.log(68_000.0), 0.25, n)) * level)
    area = rng.integers(1, 900, n)
    area[area == 666] = 667
    ssn = _join(
        _int_str(area, 3),
        "-",
        _int_str(rng.integers(1, 100, n), 2),
        "-",
        _int_str(rng.integers(1, 10_000, n), 4),
    )
    return pa.table(
        {
            "employee_id": pa.array(ids),
            "first_name": _take(_FIRST, first),
            "last_name": _take(_LAST, last),
            "email": _emails(rng, first, last, _COMPANY_DOMAIN),
            "phone": _phones(rng, loc),
            "national_id": ssn,
            "date_of_birth": _date_array(dob),
            "hire_date": _date_array(hire),
            "termination_date": _date_array(termination, rng.random(n) >= 0.08),
            "job_title": _take(_strs(nm.JOB_TITLES), title),
            "department_id": ctx.any_id(rng, "hr.departments", n),
            "manager_id": pa.array(ctx.ids("hr.employees", manager_j), mask=j < top),
            "salary": salary,
            "is_full_time": rng.random(n) < 0.9,
            "street_address": _streets(rng, n),
            "city": _take(_CITY, loc),
            "state": _take(_STATE, loc),
            "postal_code": _postal(rng, loc),
        }
    )


def _gen_patients(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    first, last = _names(rng, n)
    loc = _US[_pick(rng, n, _US_P)]
    insurer = _pick(rng, n, [0.22, 0.18, 0.15, 0.12, 0.1, 0.15, 0.08])
    return pa.table(
        {
            "patient_id": pa.array(ids),
            "first_name": _take(_FIRST, first),
            "last_name": _take(_LAST, last),
            "date_of_birth": _date_array(_ages_to_dob(rng, n)),
            "sex": _take(_strs(["F", "M", "X"]), _pick(rng, n, [0.51, 0.485, 0.005])),
            "street_address": _streets(rng, n),
            "city": _take(_CITY, loc),
            "state": _take(_STATE, loc),
            "postal_code": _postal(rng, loc),
            "phone": _nullify(_phones(rng, loc), _null_mask(rng, n, 0.04)),
            "email": _nullify(_emails(rng, first, last), _null_mask(rng, n, 0.15)),
            "insurance_provider": _take(_strs(nm.INSURERS), insurer),
            "insurance_id": _nullify(
                _template(rng, ["@@@#########"], np.zeros(n, dtype=np.int64)),
                _null_mask(rng, n, 0.03),
            ),
            "primary_physician_id": pa.array(
                ctx.any_id(rng, "health.physicians", n), mask=_null_mask(rng, n, 0.05)
            ),
        }
    )


def _gen_products(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    cat = _pick(rng, n, _weights(len(nm.CATEGORIES), 0.5, 3.0))
    mu = np.log(np.array([90, 35, 60, 25, 22, 8, 12, 45, 38, 30, 20, 55], dtype=np.float64))
    price = np.maximum(np.round(np.exp(rng.normal(mu[cat], 0.75))) - 0.01, 0.99)
    codes = _strs([c[:3].upper() for c in nm.CATEGORIES])
    name = _join(
        _take(_strs(nm.ADJECTIVES), rng.integers(0, len(nm.ADJECTIVES), n)),
        " ",
        _take(_strs(nm.MATERIALS), rng.integers(0, len(nm.MATERIALS), n)),
        " ",
        _take(_strs(nm.PRODUCT_NOUNS), rng.integers(0, len(nm.PRODUCT_NOUNS), n)),
    )
    launched = np.datetime64("2015-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    return pa.table(
        {
            "product_id": pa.array(ids),
            "sku": _join("SKU-", _take(codes, cat), "-", _int_str(ids, 7)),
            "product_name": name,
            "category": _take(_strs(nm.CATEGORIES), cat),
            "brand": _take(_strs(nm.BRANDS), rng.integers(0, len(nm.BRANDS), n)),
            "supplier_id": ctx.any_id(rng, "catalog.suppliers", n),
            "list_price": _money(price),
            "unit_cost": _money(price * rng.uniform(0.35, 0.7, n)),
            "weight_kg": _money(np.exp(rng.normal(0.0, 1.0, n)) + 0.05),
            "is_active": rng.random(n) < 0.92,
            "launched_date": _date_array(launched),
        }
    )


def _gen_stores(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    loc = _pick(rng, n, _LOC_P)
    kind = _strs(["Downtown", "Mall", "Outlet", "Plaza", "Central", "Station", "Harbor"])
    opened = np.datetime64("1998-01-01") + rng.integers(0, 9500, n).astype("timedelta64[D]")
    return pa.table(
        {
            "store_id": pa.array(ids),
            "store_name": _join(_take(_CITY, loc), " ", _take(kind, rng.integers(0, 7, n))),
            "street_address": _streets(rng, n),
            "city": _take(_CITY, loc),
            "state": _take(_STATE, loc),
            "postal_code": _postal(rng, loc),
            "country": _take(_COUNTRY, loc),
            "phone": _phones(rng, loc),
            "opened_date": _date_array(opened),
            "square_feet": (np.round(rng.lognormal(9.6, 0.45, n) / 100) * 100).astype(np.int64),
            "is_open_24h": rng.random(n) < 0.1,
            "manager_employee_id": ctx.any_id(rng, "hr.employees", n),
        }
    )


def _gen_suppliers(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    first, last = _names(rng, n)
    loc = _pick(rng, n, _LOC_P)
    suffix = _take(_strs(nm.SUPPLIER_SUFFIXES), rng.integers(0, len(nm.SUPPLIER_SUFFIXES), n))
    company = _take(_LAST, rng.integers(0, len(nm.LAST_NAMES), n))
    slug = pc.replace_substring_regex(pc.utf8_lower(company), r"[^a-z]", "")
    domain = _join(slug, "-supply.com")
    return pa.table(
        {
            "supplier_id": pa.array(ids),
            "supplier_name": _join(company, " ", suffix),
            "contact_name": _join(_take(_FIRST, first), " ", _take(_LAST, last)),
            "contact_email": _emails(rng, first, last, domain),
            "phone": _phones(rng, loc),
            "country": _take(_COUNTRY, loc),
            "payment_terms_days": rng.choice(np.array([15, 30, 45, 60, 90]), n).astype(np.int64),
            "is_preferred": rng.random(n) < 0.25,
        }
    )


def _gen_departments(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    loc = _US[_pick(rng, n, _US_P)]
    return pa.table(
        {
            "department_id": pa.array(ids),
            "department_name": _take(_strs(nm.DEPARTMENTS), j),
            "cost_center": _join("CC-", _int_str(1000 + 10 * j, 4)),
            "location_city": _take(_CITY, loc),
            "annual_budget": _money(np.round(rng.lognormal(15.0, 0.6, n), -3)),
            "head_count_budget": rng.integers(5, 400, n).astype(np.int64),
        }
    )


def _gen_physicians(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    first, last = _names(rng, n)
    loc = _US[_pick(rng, n, _US_P)]
    return pa.table(
        {
            "physician_id": pa.array(ids),
            "first_name": _take(_FIRST, first),
            "last_name": _take(_LAST, last),
            "specialty": _take(_strs(nm.SPECIALTIES), rng.integers(0, len(nm.SPECIALTIES), n)),
            "npi": _template(rng, ["1#########"], np.zeros(n, dtype=np.int64)),
            "phone": _phones(rng, loc),
            "is_accepting_patients": rng.random(n) < 0.7,
        }
    )


def _gen_campaigns(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    season = _strs(
        ["Winter Sale", "Spring", "Summer", "Back to School", "Fall", "Black Friday", "Holiday"]
    )
    channel_names = ["email", "social", "search", "display", "affiliate"]
    channel = _take(_strs(channel_names), rng.integers(0, len(channel_names), n))
    start = np.datetime64("2022-01-01") + rng.integers(0, 1050, n).astype("timedelta64[D]")
    end = start + rng.integers(7, 90, n).astype("timedelta64[D]")
    month = start.astype("datetime64[M]").astype(np.int64) % 12
    season_of_month = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6])
    year = _int_str(start.astype("datetime64[Y]").astype(np.int64) + 1970)
    cat = _take(_strs(nm.CATEGORIES), rng.integers(0, len(nm.CATEGORIES), n))
    name = _join(_take(season, season_of_month[month]), " ", year, " ", cat)
    return pa.table(
        {
            "campaign_id": pa.array(ids),
            "campaign_name": name,
            "channel": channel,
            "start_date": _date_array(start),
            "end_date": _date_array(end),
            "budget": _money(np.round(rng.lognormal(10.0, 0.8, n), -2)),
            "target_country": _take(
                _strs(["US", "CA", "GB", "DE", "FR", "NL", "AU"]),
                _pick(rng, n, [0.5, 0.1, 0.1, 0.1, 0.08, 0.06, 0.06]),
            ),
            "is_active": end >= _REF_DAY,
        }
    )


def _gen_warehouses(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    loc = _pick(rng, n, _LOC_P)
    return pa.table(
        {
            "warehouse_id": pa.array(ids),
            "warehouse_name": _join(_take(_CITY, loc), " Distribution Center ", _int_str(j + 1)),
            "city": _take(_CITY, loc),
            "state": _take(_STATE, loc),
            "country": _take(_COUNTRY, loc),
            "capacity_pallets": (rng.integers(20, 400, n) * 100).astype(np.int64),
            "is_bonded": rng.random(n) < 0.3,
            "opened_date": _date_array(
                np.datetime64("2000-01-01") + rng.integers(0, 8000, n).astype("timedelta64[D]")
            ),
        }
    )


_QUOTES = ("EUR", "GBP", "CAD", "AUD", "JPY", "CHF")
_QUOTE_START = np.array([0.89, 0.78, 1.27, 1.45, 115.0, 0.92])


def _gen_exchange_rates(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    days = len(j) // len(_QUOTES)
    steps = rng.normal(0.0, 0.004, (days, len(_QUOTES)))
    rates = _QUOTE_START * np.exp(np.cumsum(steps, axis=0))
    day = np.datetime64("2022-01-01") + np.arange(days).astype("timedelta64[D]")
    return pa.table(
        {
            "rate_date": _date_array(np.repeat(day, len(_QUOTES))),
            "base_currency": pa.array(["USD"] * (days * len(_QUOTES))),
            "quote_currency": _take(_strs(_QUOTES), np.tile(np.arange(len(_QUOTES)), days)),
            "rate": np.round(rates.reshape(-1), 6),
        }
    )


def _gen_inventory(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    restock = _warp(rng.uniform(0.9, 1.0, n), "2022-01-01", "2025-01-01")
    return pa.table(
        {
            "inventory_id": pa.array(ids),
            "store_id": ctx.any_id(rng, "sales.stores", n),
            "product_id": ctx.ids("catalog.products", _skewed(rng, n, ctx.n["catalog.products"])),
            "quantity_on_hand": rng.negative_binomial(3, 0.08, n).astype(np.int64),
            "reorder_point": rng.choice(np.array([5, 10, 15, 20, 25, 50]), n).astype(np.int64),
            "last_restock_ts": _ts_array(restock, _null_mask(rng, n, 0.03)),
            "snapshot_date": _date_array(np.full(n, _REF_DAY)),
        }
    )


def _gen_prescriptions(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    day = _warp((j + rng.random(n)) / ctx.n["health.prescriptions"], "2021-01-01", "2025-01-01")
    return pa.table(
        {
            "prescription_id": pa.array(ids),
            "patient_id": ctx.any_id(rng, "health.patients", n),
            "physician_id": ctx.any_id(rng, "health.physicians", n),
            "drug_name": _take(_strs(nm.DRUGS), _pick(rng, n, _weights(len(nm.DRUGS)))),
            "dosage_mg": rng.choice(np.array([5, 10, 20, 25, 40, 50, 100, 250, 500]), n),
            "days_supply": rng.choice(np.array([7, 14, 30, 60, 90]), n).astype(np.int64),
            "refills": rng.integers(0, 6, n).astype(np.int64),
            "prescribed_date": _date_array(day),
            "is_generic": rng.random(n) < 0.8,
        }
    )


def _gen_lab_results(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    test = rng.integers(0, len(nm.LAB_TESTS), n)
    low = np.array([t[3] for t in nm.LAB_TESTS])[test]
    high = np.array([t[4] for t in nm.LAB_TESTS])[test]
    value = _money(np.maximum(rng.normal((low + high) / 2, (high - low) / 2.8), 0.01))
    ts = _warp((j + rng.random(n)) / ctx.n["health.lab_results"], "2021-01-01", "2025-01-01")
    return pa.table(
        {
            "lab_result_id": pa.array(ids),
            "visit_id": ctx.any_id(rng, "health.visits", n),
            "test_code": _take(_strs([t[0] for t in nm.LAB_TESTS]), test),
            "test_name": _take(_strs([t[1] for t in nm.LAB_TESTS]), test),
            "result_value": value,
            "unit": _take(_strs([t[2] for t in nm.LAB_TESTS]), test),
            "reference_low": low,
            "reference_high": high,
            "is_abnormal": (value < low) | (value > high),
            "collected_ts": _ts_array(ts),
        }
    )


def _gen_search_queries(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    ts = _warp((j + rng.random(n)) / ctx.n["web.search_queries"], "2024-07-01", "2025-01-01")
    clicked = rng.random(n) < 0.55
    return pa.table(
        {
            "query_id": pa.array(ids),
            "session_id": _template(rng, ["s_" + "*" * 16], np.zeros(n, dtype=np.int64)),
            "customer_id": pa.array(
                ctx.ids("sales.customers", _skewed(rng, n, ctx.n["sales.customers"])),
                mask=rng.random(n) < 0.5,
            ),
            "query_text": _take(_strs(nm.SEARCH_TERMS), _pick(rng, n, _weights(20))),
            "results_count": rng.negative_binomial(2, 0.04, n).astype(np.int64),
            "searched_ts": _ts_array(ts),
            "clicked_product_id": pa.array(
                ctx.ids("catalog.products", _skewed(rng, n, ctx.n["catalog.products"])),
                mask=~clicked,
            ),
        }
    )


def _gen_ad_spend(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    impressions = rng.lognormal(9.0, 1.0, n).astype(np.int64) + 100
    clicks = rng.binomial(impressions, 0.018)
    return pa.table(
        {
            "ad_spend_id": pa.array(ids),
            "spend_date": _date_array(
                np.datetime64("2023-01-01") + rng.integers(0, 731, n).astype("timedelta64[D]")
            ),
            "campaign_id": ctx.any_id(rng, "marketing.campaigns", n),
            "impressions": impressions.astype(np.int64),
            "clicks": clicks.astype(np.int64),
            "conversions": rng.binomial(clicks, 0.04).astype(np.int64),
            "spend": _money(impressions * rng.uniform(0.002, 0.012, n)),
        }
    )


def _gen_ledger(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    account = rng.integers(0, len(nm.ACCOUNT_CODES), n)
    amount = _money(rng.lognormal(6.0, 1.6, n))
    is_debit = rng.random(n) < 0.5
    ts = _warp((j + rng.random(n)) / ctx.n["finance.ledger_entries"], "2022-01-01", "2025-01-01")
    memo = _strs(
        [
            "Monthly accrual",
            "Vendor invoice",
            "Customer receipt",
            "Payroll posting",
            "Inventory adjustment",
            "Depreciation",
            "Intercompany transfer",
            "Refund",
        ]
    )
    return pa.table(
        {
            "entry_id": pa.array(ids),
            "entry_date": _date_array(ts.astype("datetime64[D]")),
            "account_code": _take(_strs([a for a, _ in nm.ACCOUNT_CODES]), account),
            "account_name": _take(_strs([b for _, b in nm.ACCOUNT_CODES]), account),
            "description": _take(memo, rng.integers(0, 8, n)),
            "debit": np.where(is_debit, amount, 0.0),
            "credit": np.where(is_debit, 0.0, amount),
            "cost_center": _join("CC-", _int_str(1000 + 10 * rng.integers(0, 20, n), 4)),
            "posted_by_employee_id": ctx.any_id(rng, "hr.employees", n),
            "posted_ts": _ts_array(ts),
        }
    )


def _gen_payroll(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    n = len(ids)
    gross = _money(rng.lognormal(math.log(3_000.0), 0.35, n))
    tax = _money(gross * rng.uniform(0.18, 0.32, n))
    period = np.datetime64("2023-01-15") + (14 * rng.integers(0, 52, n)).astype("timedelta64[D]")
    return pa.table(
        {
            "payroll_id": pa.array(ids),
            "employee_id": ctx.any_id(rng, "hr.employees", n),
            "pay_period_end": _date_array(period),
            "gross_pay": gross,
            "tax_withheld": tax,
            "net_pay": _money(gross - tax),
            "bank_account_last4": _template(rng, ["####"], np.zeros(n, dtype=np.int64)),
        }
    )


# --------------------------------------------------------------------------------------------
# Tagging ground truth: each PII column's semantic type, and hard negatives
# --------------------------------------------------------------------------------------------

SEMANTIC_TYPES: Mapping[str, str] = {
    "first_name": "type.person_name",
    "last_name": "type.person_name",
    "contact_name": "type.person_name",
    "account_holder": "type.person_name",
    "email": "type.email",
    "contact_email": "type.email",
    "phone": "type.phone",
    "contact_phone": "type.phone",
    "street_address": "type.address",
    "postal_code": "type.postal_code",
    "zip": "type.postal_code",
    "date_of_birth": "type.date_of_birth",
    "card_number": "type.credit_card",
    "national_id": "type.national_id",
    "iban": "type.iban",
    "ip_address": "type.ip_address",
    "ipv6_address": "type.ip_address",
    "latitude": "type.geo",
    "longitude": "type.geo",
    "comment": "type.free_text_pii",
}
"""Semantic type of each generator column that holds one (a column name means one thing in
every dataset; renamed copies inherit their parent column's type). Store phones and
addresses count: the types say what a value is, the policy tags say how sensitive."""

HARD_NEGATIVES: Mapping[str, tuple[str, ...]] = {
    "email_opt_in": ("type.email",),  # boolean named after email
    "email_verified": ("type.email",),  # 0/1 integers named after email
    "customer_ref": ("type.credit_card",),  # 16-digit ids from 4…: a tenth pass Luhn by chance
    "tracking_number": ("type.credit_card", "type.phone"),  # 10-16 random digits
    "device_imei": ("type.credit_card",),  # 15 digits, every one Luhn-valid, no card IIN
    "bank_account_last4": ("type.credit_card",),
    "zip": ("type.phone",),  # ZIP+4, 9 digits, some without the dash
    "npi": ("type.phone", "type.national_id"),  # 10-digit provider numbers
    "insurance_id": ("type.national_id",),
    "payment_reference": ("type.iban",),  # ISO 11649 creditor references: mod 97 like IBANs
    "bic": ("type.iban",),
    "temperature_c": ("type.geo",),  # floats inside the latitude range
    "app_version": ("type.ip_address",),  # dotted numbers
    "agent_note": ("type.free_text_pii",),  # free text about email and phone, none in it
    "description": ("type.free_text_pii",),
    "query_text": ("type.free_text_pii",),
    "supplier_name": ("type.person_name",),  # company names made of surnames
    "hire_date": ("type.date_of_birth",),
    "termination_date": ("type.date_of_birth",),
}
"""Columns that hold none of the listed types but invite a detector to say they do (their
names, or values that pass a validator by chance)."""

UNSCORED_COLUMNS: frozenset[str] = frozenset({"city", "state", "country", "location_city"})
"""Columns a benchmark should neither count as positives nor negatives: a city, state or
country is part of an address but not one (tools disagree on whether it is personal)."""


def _ground_truth(
    sources: Sequence[str], names: Sequence[str], column_map: Mapping[str, str] | None
) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    """Types, hard negatives and unscored columns of a dataset, under its final names.

    ``sources`` are the columns as generated (before a unit's renaming, ``names``);
    ``column_map`` maps a renamed copy's columns to its parent's.
    """
    back = column_map or {}
    types: dict[str, str] = {}
    negatives: dict[str, list[str]] = {}
    unscored: list[str] = []
    for source, name in zip(sources, names, strict=True):
        base = back.get(source, source)
        if base in SEMANTIC_TYPES:
            types[name] = SEMANTIC_TYPES[base]
        if base in HARD_NEGATIVES:
            negatives[name] = list(HARD_NEGATIVES[base])
        if base in UNSCORED_COLUMNS:
            unscored.append(name)
    return types, negatives, unscored


_TICKET_SUBJECTS = (
    "Order not delivered",
    "Refund request",
    "Damaged item",
    "Change delivery address",
    "Account locked",
    "Question about invoice",
    "Size exchange",
    "Promo code not working",
)
_AGENT_NOTES = (
    "Customer asked to update email preferences; done.",
    "Phone line was busy, will call back tomorrow.",
    "Escalated to tier 2 per policy.",
    "Refund issued to the original payment method.",
    "Asked for the order number and a photo of the damage.",
    "Verified identity with the usual security questions.",
    "Closed after no reply for 7 days.",
    "Sent the standard return label by email.",
    "Shipment delayed at the carrier hub; ETA 3 days.",
    "Duplicate of an earlier ticket, merged.",
    "Customer prefers contact by phone, not email.",
    "Updated the address on file as requested.",
)
_PLAIN_COMMENTS = (
    "The package arrived late and the box was damaged.",
    "Great service, thanks a lot!",
    "I want to return the shoes, they are too small.",
    "The promo code from the newsletter does not work at checkout.",
    "Why was I charged twice for the same order?",
    "The jacket colour is different from the photo.",
    "Still waiting for my refund after two weeks.",
    "Can I change the size before it ships?",
    "Item missing from the order, only two of three arrived.",
    "The tracking page has not updated since Monday.",
)
_PII_COMMENTS = (
    "Please contact me at {email} about my order.",
    "You can reach me on {phone} after 5pm.",
    "My new address is {street}, please update it before shipping.",
    "Call {phone} or write to {email} if the courier cannot find the house.",
    "Send the invoice to {email}, not to my old address.",
    "This is {name}, my order never arrived. Email {email}.",
)


def _gen_tickets(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    """Support tickets: free-text comments with contact details in about 40% of them."""
    n = len(ids)
    first, last = _names(rng, n)
    loc = _US[_pick(rng, n, _US_P)]
    emails = _emails(rng, first, last).to_pylist()
    phones = _phones(rng, loc).to_pylist()
    streets = _streets(rng, n).to_pylist()
    full = _join(_take(_FIRST, first), " ", _take(_LAST, last)).to_pylist()
    with_pii = rng.random(n) < 0.4
    plain = rng.integers(0, len(_PLAIN_COMMENTS), n)
    template = rng.integers(0, len(_PII_COMMENTS), n)
    comments = [
        _PII_COMMENTS[template[i]].format(
            email=emails[i], phone=phones[i], street=streets[i], name=full[i]
        )
        if with_pii[i]
        else _PLAIN_COMMENTS[plain[i]]
        for i in range(n)
    ]
    contact = _template(rng, [f"({x.phone[3:]}) &##-####" for x in nm.LOCATIONS], loc)
    ts = _warp((j + rng.random(n)) / ctx.n["support.tickets"], "2023-01-01", "2025-01-01")
    return pa.table(
        {
            "ticket_id": pa.array(ids),
            "customer_ref": rng.integers(4 * 10**15, 5 * 10**15, n).astype(np.int64),
            "opened_ts": _ts_array(ts),
            "channel": _take(_strs(["email", "phone", "chat", "web_form"]), rng.integers(0, 4, n)),
            "subject": _take(_strs(_TICKET_SUBJECTS), rng.integers(0, len(_TICKET_SUBJECTS), n)),
            "comment": pa.array(comments, type=pa.string()),
            "agent_note": _take(_strs(_AGENT_NOTES), rng.integers(0, len(_AGENT_NOTES), n)),
            "contact_phone": _nullify(contact, _null_mask(rng, n, 0.12)),
            "email_opt_in": rng.random(n) < 0.35,
            "email_verified": (rng.random(n) < 0.8).astype(np.int64),
            "satisfaction": rng.integers(1, 6, n).astype(np.int64),
        }
    )


# (country, length, bank identifiers drawn from, national part template after the bank)
_IBAN_FORMATS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("DE", ("37040044", "50010517", "10020030", "70150000"), "##########"),
    ("GB", ("NWBK", "BARC", "LOYD", "HBUK", "MIDL"), "##############"),
    ("FR", ("30006", "20041", "10107", "30004"), "################"),
    ("NL", ("ABNA", "INGB", "RABO", "TRIO", "SNSB"), "##########"),
    ("ES", ("2100", "0049", "0182", "2038"), "################"),
    ("IT", ("X0542811101", "A0306909606", "K0300203280"), "############"),
    ("BE", ("539", "068", "001", "363"), "#########"),
)
_BIC_BANKS = ("DEUT", "COBA", "NWBK", "BARC", "BNPA", "SOGE", "ABNA", "INGB", "CAIX", "UNCR")


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 of ``text`` with letters as 10-35 (IBANs, ISO 11649 references)."""
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def _with_check(prefix: str, body: str) -> str:
    """``prefix`` + check digits + ``body``: the IBAN / creditor-reference scheme."""
    return f"{prefix}{98 - _mod97(body + prefix + '00'):02d}{body}"


def _grouped(code: str) -> str:
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _gen_bank_accounts(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    """Customer bank accounts: valid IBANs of seven countries, some printed in groups of 4."""
    n = len(ids)
    first, last = _names(rng, n)
    country = rng.integers(0, len(_IBAN_FORMATS), n)
    templates = [fmt for _, _, fmt in _IBAN_FORMATS]
    national = _template(rng, templates, country).to_pylist()
    printed = rng.random(n) < 0.3
    bank_pick = rng.integers(0, 1 << 30, n)
    ibans: list[str] = []
    for i in range(n):
        code, banks, _ = _IBAN_FORMATS[country[i]]
        body = banks[bank_pick[i] % len(banks)] + national[i]
        if code == "BE":  # the Belgian account number carries its own mod-97 check
            body = body[:10] + f"{int(body[:10]) % 97 or 97:02d}"
        elif code == "FR":  # bank, branch, account, then the RIB key
            bank, branch, account = int(body[:5]), int(body[5:10]), int(body[10:21])
            body += f"{97 - (89 * bank + 15 * branch + 3 * account) % 97:02d}"
        iban = _with_check(code, body)
        ibans.append(_grouped(iban) if printed[i] else iban)
    refs = _template(rng, ["#" * 10, "#" * 14, "@@##########"], rng.integers(0, 3, n)).to_pylist()
    references = [
        _grouped(_with_check("RF", r)) if p else _with_check("RF", r)
        for r, p in zip(refs, rng.random(n) < 0.5, strict=True)
    ]
    countries = [_IBAN_FORMATS[c][0] for c in country]
    bics = [
        f"{_BIC_BANKS[b % len(_BIC_BANKS)]}{c}{loc}"
        for b, c, loc in zip(
            rng.integers(0, 1 << 30, n),
            countries,
            _template(rng, ["@@", "@@XXX"], rng.integers(0, 2, n)).to_pylist(),
            strict=True,
        )
    ]
    opened = np.datetime64("2010-01-01") + rng.integers(0, 5400, n).astype("timedelta64[D]")
    return pa.table(
        {
            "account_id": pa.array(ids),
            "account_holder": _join(_take(_FIRST, first), " ", _take(_LAST, last)),
            "iban": pa.array(ibans, type=pa.string()),
            "bic": pa.array(bics, type=pa.string()),
            "payment_reference": pa.array(references, type=pa.string()),
            "currency": _take(_strs(["EUR", "GBP"]), (country == 1).astype(np.int64)),
            "opened_date": _date_array(opened),
            "balance": _money(rng.lognormal(7.5, 1.3, n)),
        }
    )


def _gen_delivery_stops(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    """Courier stops: coordinates, ZIP+4 codes (some without the dash), temperatures."""
    n = len(ids)
    loc = _US[_pick(rng, n, _US_P)]
    plus4 = _int_str(rng.integers(1, 10_000, n), 4)
    dash = pa.array(rng.random(n) < 0.5)
    zip5 = _postal(rng, loc)
    zips = pc.if_else(dash, _join(zip5, "-", plus4), _join(zip5, plus4))
    ts = _warp((j + rng.random(n)) / ctx.n["logistics.delivery_stops"], "2024-01-01", "2025-01-01")
    return pa.table(
        {
            "stop_id": pa.array(ids),
            "shipment_ref": rng.integers(10**8, 10**9, n).astype(np.int64),
            "latitude": np.round(rng.uniform(25.5, 48.9, n), 6),
            "longitude": np.round(rng.uniform(-124.2, -67.5, n), 6),
            "zip": zips,
            "temperature_c": np.round(np.clip(rng.normal(17.0, 9.0, n), -15.0, 41.0), 1),
            "delivered_ts": _ts_array(ts),
            "signed": rng.random(n) < 0.7,
        }
    )


_TACS = ("35", "86", "01", "99")


def _gen_mobile_devices(ctx: _Ctx, rng: np.random.Generator, j: I64, ids: I64) -> pa.Table:
    """App installations: IPv6 addresses, Luhn-valid IMEIs, dotted app versions."""
    import ipaddress

    n = len(ids)
    payload = rng.integers(0, 10, (n, 14)).astype(np.int64)
    tac = np.array([[int(d) for d in t] for t in _TACS])[rng.integers(0, len(_TACS), n)]
    payload[:, :2] = tac
    digits = np.concatenate([payload, _luhn_check(payload)[:, None]], axis=1)
    imei = np.ascontiguousarray(_DIGITS[digits]).view("<U15").reshape(-1)
    prefixes = (0x2001, 0x2600, 0x2A00, 0x2A02, 0x2604, 0x2607, 0x2409)
    groups = rng.integers(0, 1 << 16, (n, 8))
    groups[:, 0] = np.array(prefixes)[rng.integers(0, len(prefixes), n)]
    sparse = rng.random(n) < 0.4
    groups[sparse, 3:6] = 0  # compressed ("::") forms
    ipv6 = [
        ipaddress.IPv6Address(int("".join(f"{g:04x}" for g in row), 16)).compressed
        for row in groups.tolist()
    ]
    version = _join(
        _int_str(rng.integers(1, 9, n)),
        ".",
        _int_str(rng.integers(0, 30, n)),
        ".",
        _int_str(rng.integers(0, 12, n)),
    )
    seen = _warp(rng.uniform(0.5, 1.0, n), "2024-07-01", "2025-01-01")
    return pa.table(
        {
            "device_id": _template(rng, ["*" * 32], np.zeros(n, dtype=np.int64)),
            "customer_id": pa.array(
                ctx.any_id(rng, "sales.customers", n), mask=_null_mask(rng, n, 0.2)
            ),
            "device_imei": pa.array(imei, type=pa.string()),
            "ipv6_address": pa.array(ipv6, type=pa.string()),
            "os_name": _take(_strs(["iOS", "Android"]), rng.integers(0, 2, n)),
            "app_version": version,
            "push_opt_in": rng.random(n) < 0.5,
            "last_seen_ts": _ts_array(seen),
        }
    )


_ORDER_START, _ORDER_END = "2022-01-01", "2025-01-01"
_CHANNELS = ("web", "mobile_app", "in_store")
_STATUSES = ("completed", "shipped", "processing", "cancelled", "returned")
_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
_CARRIER_TRACKING = (
    "1Z@@@###############",  # UPS
    "############",  # FedEx
    "9400############",  # USPS
    "##########",  # DHL
    "@@#########GB",  # Royal Mail
    "################",  # Canada Post
)


def _chunk_orders(ctx: _Ctx, k: int, lo: int, hi: int) -> dict[str, pa.Table]:
    """Orders with their items, payments and shipments for orders ``lo`` to ``hi``."""
    rng = ctx.rng("sales.orders", k)
    j = np.arange(lo, hi, dtype=np.int64)
    n = len(j)
    order_id = ctx.ids("sales.orders", j)
    ts = _warp((j + rng.random(n)) / ctx.n["sales.orders"], _ORDER_START, _ORDER_END)
    signed_up = _share_before(ts, _CUSTOMER_START, _CUSTOMER_END)
    n_customers = ctx.n["sales.customers"]
    cust_upper = np.maximum((signed_up * n_customers).astype(np.int64), 1)
    customer_id = ctx.ids("sales.customers", _skewed(rng, n, cust_upper, 1.3))
    channel = _pick(rng, n, [0.45, 0.25, 0.30])
    store_id = pa.array(ctx.any_id(rng, "sales.stores", n), mask=channel != 2)
    age_days = (_END - ts).astype(np.int64) / 86_400.0
    status = _pick(rng, n, [0.86, 0.0, 0.0, 0.08, 0.06])
    recent = age_days < 6
    status = np.where(recent, np.where(rng.random(n) < 0.5, 1, 2), status)
    status = np.where(recent & (rng.random(n) < 0.05), 3, status)
    status = np.where((channel == 2) & (status < 3), 0, status)

    irng = ctx.rng("sales.order_items", k)
    n_items = np.minimum(irng.geometric(0.42, n), 9).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(n_items)[:-1]]).astype(np.int64)
    m = int(n_items.sum())
    owner = np.repeat(np.arange(n), n_items)
    line_no = np.arange(m) - np.repeat(starts, n_items) + 1
    product_j = _skewed(irng, m, ctx.n["catalog.products"], 1.4)
    unit_price = ctx.product_price[product_j]
    quantity = np.minimum(irng.geometric(0.62, m), 12).astype(np.int64)
    discount = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.25])[
        _pick(irng, m, [0.7, 0.08, 0.1, 0.05, 0.05, 0.02])
    ]
    line_amount = _money(quantity * unit_price * (1.0 - discount))
    total = _money(np.add.reduceat(line_amount, starts))
    items = pa.table(
        {
            "order_item_id": pa.array(order_id[owner] * 10 + line_no),
            "order_id": pa.array(order_id[owner]),
            "line_number": line_no.astype(np.int64),
            "product_id": pa.array(ctx.ids("catalog.products", product_j)),
            "quantity": quantity,
            "unit_price": unit_price,
            "discount_rate": discount,
            "line_amount": line_amount,
        }
    )
    orders = pa.table(
        {
            "order_id": pa.array(order_id),
            "customer_id": pa.array(customer_id),
            "order_ts": _ts_array(ts),
            "status": _take(_strs(_STATUSES), status),
            "total_amount": total,
            "currency": _take(_strs(_CURRENCIES), _pick(rng, n, [0.72, 0.12, 0.07, 0.06, 0.03])),
            "store_id": store_id,
            "channel": _take(_strs(_CHANNELS), channel),
        }
    )

    prng = ctx.rng("finance.payments", k)
    cards, brands = _cards(customer_id)
    pay_status = np.where(status == 3, 3, np.where(status == 4, 2, 0))
    pay_status = np.where((pay_status == 0) & (prng.random(n) < 0.015), 1, pay_status)
    payments = pa.table(
        {
            "payment_id": pa.array(ctx.ids("finance.payments", j)),
            "order_id": pa.array(order_id),
            "card_number": cards,
            "card_brand": brands,
            "amount": total,
            "paid_ts": _ts_array(ts + prng.integers(5, 900, n).astype("timedelta64[s]")),
            "status": _take(_strs(["captured", "failed", "refunded", "voided"]), pay_status),
        }
    )

    srng = ctx.rng("logistics.shipments", k)
    ship = (channel != 2) & (status != 3) & (status != 2)
    sj = j[ship]
    s = len(sj)
    carrier = _pick(srng, s, [0.3, 0.25, 0.25, 0.1, 0.05, 0.05])
    shipped = ts[ship] + srng.integers(3 * 3600, 3 * 86_400, s).astype("timedelta64[s]")
    delivered = shipped + srng.integers(86_400, 8 * 86_400, s).astype("timedelta64[s]")
    in_transit = (delivered >= _END) | (status[ship] == 1)
    shipments = pa.table(
        {
            "shipment_id": pa.array(ctx.ids("logistics.shipments", sj)),
            "order_id": pa.array(order_id[ship]),
            "carrier": _take(_strs(nm.CARRIERS), carrier),
            "tracking_number": _template(srng, _CARRIER_TRACKING, carrier),
            "shipped_ts": _ts_array(np.minimum(shipped, _END - np.timedelta64(1, "s"))),
            "delivered_ts": _ts_array(delivered, in_transit),
            "shipping_cost": _money(
                np.array([0.0, 4.99, 7.99, 12.5, 19.99])[
                    _pick(srng, s, [0.35, 0.3, 0.2, 0.1, 0.05])
                ]
            ),
        }
    )
    return {
        "sales.orders": orders,
        "sales.order_items": items,
        "finance.payments": payments,
        "logistics.shipments": shipments,
    }


_VISIT_TYPES = ("office", "telehealth", "urgent_care", "emergency", "inpatient")
_DIAG_P = np.array(
    [5, 2, 1.5, 9, 8, 4, 7, 5, 5, 4, 6, 3, 3, 9, 4, 4, 2, 2, 2, 3, 2, 3, 2, 3, 1, 3],
    dtype=np.float64,
)


def _chunk_visits(ctx: _Ctx, k: int, lo: int, hi: int) -> dict[str, pa.Table]:
    rng = ctx.rng("health.visits", k)
    j = np.arange(lo, hi, dtype=np.int64)
    n = len(j)
    ts = _warp((j + rng.random(n)) / ctx.n["health.visits"], "2021-01-01", "2025-01-01")
    vtype = _pick(rng, n, [0.62, 0.18, 0.1, 0.07, 0.03])
    base = np.array([180.0, 95.0, 240.0, 1400.0, 9500.0])[vtype]
    minutes = np.array([25, 15, 45, 180, 2880])[vtype]
    return {
        "health.visits": pa.table(
            {
                "visit_id": pa.array(ctx.ids("health.visits", j)),
                "patient_id": ctx.ids(
                    "health.patients", _skewed(rng, n, ctx.n["health.patients"], 1.2)
                ),
                "visit_ts": _ts_array(ts),
                "visit_type": _take(_strs(_VISIT_TYPES), vtype),
                "diagnosis_code": _take(_strs(nm.DIAGNOSIS_CODES), _pick(rng, n, _DIAG_P)),
                "physician_id": ctx.any_id(rng, "health.physicians", n),
                "charge": _money(base * rng.lognormal(0.0, 0.35, n)),
                "duration_minutes": np.maximum(
                    (minutes * rng.lognormal(0.0, 0.3, n)).astype(np.int64), 5
                ),
                "is_follow_up": rng.random(n) < 0.3,
            }
        )
    }


_EVENT_TYPES = (
    "page_view",
    "product_view",
    "add_to_cart",
    "search",
    "checkout",
    "purchase",
    "login",
)
_REFERRERS = (
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.facebook.com/",
    "https://t.co/",
    "https://www.instagram.com/",
    "https://duckduckgo.com/",
)
_FIRST_OCTETS = np.array(
    [
        23,
        24,
        45,
        50,
        64,
        66,
        67,
        68,
        71,
        73,
        76,
        81,
        82,
        84,
        86,
        88,
        90,
        92,
        98,
        99,
        104,
        107,
        108,
        173,
        174,
        184,
        185,
        203,
        212,
        213,
        217,
    ]
)
_SITE = "https://www.meridianmart.com"


def _chunk_web(ctx: _Ctx, k: int, lo: int, hi: int) -> dict[str, pa.Table]:
    rng = ctx.rng("web.web_events", k)
    n = hi - lo
    lengths = rng.geometric(1.0 / 6.0, n).astype(np.int64)
    ends = np.cumsum(lengths)
    cut = int(np.searchsorted(ends, n))
    lengths = lengths[: cut + 1]
    lengths[-1] -= int(ends[cut]) - n
    sessions = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pos = np.arange(n) - np.repeat(starts, lengths)

    q = (lo + starts + rng.random(sessions)) / ctx.n["web.web_events"]
    session_start = _warp(q, "2024-10-01", "2025-01-01")
    gaps = rng.integers(3, 240, n)
    gaps[pos == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[starts], lengths)
    ts = np.minimum(
        np.repeat(session_start, lengths) + elapsed.astype("timedelta64[s]"),
        _END - np.timedelta64(1, "s"),
    )

    logged_in = rng.random(sessions) < 0.45
    customer = ctx.ids("sales.customers", _skewed(rng, sessions, ctx.n["sales.customers"]))
    agent = _pick(rng, sessions, [0.3, 0.14, 0.22, 0.16, 0.07, 0.03, 0.04, 0.03, 0.01])
    octets = [
        _FIRST_OCTETS[rng.integers(0, len(_FIRST_OCTETS), sessions)],
        rng.integers(0, 256, sessions),
        rng.integers(0, 256, sessions),
        rng.integers(1, 255, sessions),
    ]
    ip = _join(
        _int_str(octets[0]),
        ".",
        _int_str(octets[1]),
        ".",
        _int_str(octets[2]),
        ".",
        _int_str(octets[3]),
    )
    device_of_agent = np.array([0, 0, 1, 1, 0, 0, 2, 0, 3])
    referrer = rng.integers(0, len(_REFERRERS), sessions)
    direct = rng.random(sessions) < 0.4

    etype = _pick(rng, n, [0.5, 0.22, 0.09, 0.08, 0.04, 0.03, 0.04])
    etype[pos == 0] = np.where(rng.random(int((pos == 0).sum())) < 0.8, 0, 1)
    slug = _strs([c.lower().replace(" & ", "-").replace(" ", "-") for c in nm.CATEGORIES])
    product = _int_str(ctx.ids("catalog.products", _skewed(rng, n, ctx.n["catalog.products"])))
    term = pc.replace_substring(
        _take(_strs(nm.SEARCH_TERMS), rng.integers(0, len(nm.SEARCH_TERMS), n)), " ", "+"
    )
    home = pc.if_else(
        pa.array(rng.random(n) < 0.4),
        _SITE + "/",
        _join(_SITE, "/c/", _take(slug, rng.integers(0, len(nm.CATEGORIES), n))),
    )
    url = pc.choose(
        pa.array(etype.astype(np.int8)),
        home,
        _join(_SITE, "/products/", product),
        _SITE + "/cart",
        _join(_SITE, "/search?q=", term),
        _SITE + "/checkout",
        _SITE + "/checkout/confirmation",
        _SITE + "/account/login",
    )
    session_of = np.repeat(np.arange(sessions), lengths)
    first_event = pos == 0
    events = pa.table(
        {
            "event_id": pa.array(ctx.ids("web.web_events", np.arange(lo, hi, dtype=np.int64))),
            "session_id": _template(
                rng, ["s_" + "*" * 16], np.zeros(sessions, dtype=np.int64)
            ).take(pa.array(session_of)),
            "customer_id": pa.array(customer[session_of], mask=~logged_in[session_of]),
            "event_ts": _ts_array(ts),
            "page_url": url,
            "event_type": _take(_strs(_EVENT_TYPES), etype),
            "user_agent": _take(_strs(nm.USER_AGENTS), agent[session_of]),
            "ip_address": ip.take(pa.array(session_of)),
            "device_type": _take(
                _strs(["desktop", "mobile", "tablet", "bot"]), device_of_agent[agent][session_of]
            ),
            "referrer": _take(
                _strs(_REFERRERS), referrer[session_of], ~first_event | direct[session_of]
            ),
        }
    )
    return {"web.web_events": events}


# --------------------------------------------------------------------------------------------
# Writing datasets
# --------------------------------------------------------------------------------------------


def _to_text(table: pa.Table) -> pa.Table:
    """Spell dates and timestamps as strings for the text formats (whole seconds only)."""
    columns = []
    for col in table.columns:
        if pa.types.is_date(col.type):
            col = pc.strftime(col, format="%Y-%m-%d")
        elif pa.types.is_timestamp(col.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


class _FileOut:
    """Appends chunks to one file of a given format."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self.fmt = fmt
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._json: BinaryIO | None = None
        if fmt == "parquet":
            self._parquet = pq.ParquetWriter(str(path), schema, compression="snappy")
        elif fmt == "csv":
            text_schema = _to_text(schema.empty_table()).schema
            self._csv = pacsv.CSVWriter(str(path), text_schema)
        else:
            self._json = path.open("wb")

    def write(self, table: pa.Table) -> None:
        if self._parquet is not None:
            self._parquet.write_table(table, row_group_size=_CHUNK_ROWS)
        elif self._csv is not None:
            self._csv.write_table(_to_text(table))
        elif self._json is not None:
            text = _to_text(table)
            for batch in text.to_batches(max_chunksize=_JSON_BATCH):
                lines = [json.dumps(row, separators=(",", ":")) for row in batch.to_pylist()]
                if lines:
                    self._json.write(("\n".join(lines) + "\n").encode("utf-8"))

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
        if self._json is not None:
            self._json.close()


@dataclass
class _Derivation:
    parent: str
    kind: str
    column_map: dict[str, str] | None = None
    predicate: str | None = None
    distinct: bool = False
    note: str = ""


class _Sink:
    """Writes the chunks of one dataset: appended to one file, or one part file per chunk."""

    def __init__(
        self,
        root: Path,
        name: str,
        fmt: str,
        layout: str,
        rename: Callable[[str], str] | None = None,
    ) -> None:
        self.rename = rename
        domain, _, rest = name.partition(".")
        self.ext = FORMAT_EXTENSIONS[fmt]
        self.rel = f"{domain}/{rest}" + (self.ext if layout == "file" else "")
        self.path = root / self.rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if layout == "directory":
            self.path.mkdir()
        self.fmt, self.layout = fmt, layout
        self.schema: pa.Schema | None = None
        self.source_names: list[str] = []  # the columns as generated, before ``rename``
        self.rows = 0
        self.files: list[Path] = []
        self._out: _FileOut | None = None

    def write(self, table: pa.Table) -> None:
        if not self.source_names:
            self.source_names = list(table.column_names)
        if self.rename is not None:
            table = table.rename_columns([self.rename(c) for c in table.column_names])
        if self.schema is None:
            self.schema = table.schema
        elif not table.schema.equals(self.schema):
            raise LakewardInternalError(f"schema changed between chunks of {self.rel}")
        if self.layout == "file":
            if self._out is None:
                self._out = _FileOut(self.path, self.fmt, table.schema)
                self.files.append(self.path)
            self._out.write(table)
        elif table.num_rows:
            part = self.path / f"part-{len(self.files):05d}{self.ext}"
            out = _FileOut(part, self.fmt, table.schema)
            out.write(table)
            out.close()
            self.files.append(part)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
        if self.layout == "directory" and not self.files and self.schema is not None:
            part = self.path / f"part-00000{self.ext}"
            out = _FileOut(part, self.fmt, self.schema)
            out.write(self.schema.empty_table())
            out.close()
            self.files.append(part)

    def nbytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)


# A transform maps one parent chunk (and its index) to the child's chunk.
_Transform = Callable[[pa.Table, int], pa.Table]


@dataclass
class _Node:
    """A dataset in the stream: it receives chunks, writes them and feeds its children."""

    name: str
    fmt: str
    layout: str = "file"
    transform: _Transform | None = None
    derivations: list[_Derivation] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    perturbed: list[int] = field(default_factory=list)
    stats: _Stats | None = None
    sink: _Sink | None = None


class _Stats:
    """Per-column minimum and maximum of a parent, plus its first and last row."""

    def __init__(self) -> None:
        self.rows = 0
        self.lo: dict[str, pa.Scalar] = {}
        self.hi: dict[str, pa.Scalar] = {}
        self.first: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None

    def update(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.rows += table.num_rows
        for name in table.column_names:
            mm = pc.min_max(table.column(name))
            lo, hi = mm["min"], mm["max"]
            if not lo.is_valid:
                continue
            if name not in self.lo or pc.less(lo, self.lo[name]).as_py():
                self.lo[name] = lo
            if name not in self.hi or pc.greater(hi, self.hi[name]).as_py():
                self.hi[name] = hi
        if self.first is None:
            self.first = table.slice(0, 1).to_pylist()[0]
        self.last = table.slice(table.num_rows - 1, 1).to_pylist()[0]


def _project(columns: Sequence[str]) -> _Transform:
    cols = list(columns)
    return lambda t, k: t.select(cols)


def _select(
    mask: Callable[[pa.Table], pa.Array], columns: Sequence[str] | None = None
) -> _Transform:
    def run(t: pa.Table, k: int) -> pa.Table:
        out = t.filter(mask(t))
        return out.select(list(columns)) if columns is not None else out

    return run


def _rename(mapping: Mapping[str, str], order: Sequence[str]) -> _Transform:
    """Rename parent columns (``mapping`` parent → child) and put them in ``order``."""
    back = {child: parent for parent, child in mapping.items()}
    parents = [back[c] for c in order]
    return lambda t, k: t.select(parents).rename_columns(list(order))


class _Distinct:
    """Projection with duplicate rows collapsed across all chunks (first occurrence kept)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.seen: set[tuple[Any, ...]] = set()

    def __call__(self, table: pa.Table, k: int) -> pa.Table:
        sub = table.select(self.columns)
        keep: list[int] = []
        for i, row in enumerate(zip(*(c.to_pylist() for c in sub.columns), strict=True)):
            if row not in self.seen:
                self.seen.add(row)
                keep.append(i)
        return sub.take(pa.array(keep, type=pa.int64()))


class _Perturb:
    """Change one money cell in a share of rows (at least one per non-empty chunk)."""

    def __init__(self, ctx: _Ctx, name: str, column: str, share: float, node: _Node) -> None:
        self.ctx, self.name, self.column, self.share, self.node = ctx, name, column, share, node

    def __call__(self, table: pa.Table, k: int) -> pa.Table:
        n = table.num_rows
        if not n:
            return table
        rng = self.ctx.rng(self.name, k)
        count = max(1, round(n * self.share))
        rows = rng.choice(n, size=count, replace=False)
        idx = table.column_names.index(self.column)
        values = table.column(idx).to_numpy().copy()
        factor = np.array([0.9, 0.95, 1.05, 1.1, 1.25])[rng.integers(0, 5, count)]
        new = _money(values[rows] * factor)
        new = np.where(new == values[rows], values[rows] + 0.01, new)
        values[rows] = _money(new)
        if np.any(values[rows] == table.column(idx).to_numpy()[rows]):
            raise LakewardInternalError(f"perturbation of {self.name} left a cell unchanged")
        self.node.perturbed.append(count)
        return table.set_column(idx, self.column, pa.array(values, type=pa.float64()))


def _ts_lit(text: str) -> pa.Scalar:
    return pa.scalar(dt.datetime.fromisoformat(text), type=_TS)


def _date_lit(text: str) -> pa.Scalar:
    return pa.scalar(dt.date.fromisoformat(text), type=pa.date32())


# --------------------------------------------------------------------------------------------
# The lake plan
# --------------------------------------------------------------------------------------------

_TableGen = Callable[[_Ctx, np.random.Generator, I64, I64], pa.Table]
_ChunkGen = Callable[[_Ctx, int, int, int], dict[str, pa.Table]]


@dataclass
class _Decoy:
    """A dataset with a parent's schema and value ranges but none of its rows."""

    node: _Node
    parent: str
    gen: _TableGen
    share: float


@dataclass
class _Family:
    """Base datasets generated together, chunk by chunk, with their derived datasets."""

    rows: int
    parts: int
    chunk: _ChunkGen
    roots: list[_Node]
    decoys: list[_Decoy] = field(default_factory=list)


def _single(name: str, gen: _TableGen) -> _ChunkGen:
    def chunk(ctx: _Ctx, k: int, lo: int, hi: int) -> dict[str, pa.Table]:
        j = np.arange(lo, hi, dtype=np.int64)
        ids = ctx.ids(name, j) if name in _IDS else j
        return {name: gen(ctx, ctx.rng(name, k), j, ids)}

    return chunk


def _parts(rows: int, layout: str) -> int:
    parts = math.ceil(rows / _CHUNK_ROWS)
    return max(parts, _MIN_DIR_PARTS) if layout == "directory" else max(parts, 1)


def _plain(ctx: _Ctx, name: str, fmt: str, gen: _TableGen, *children: _Node) -> _Family:
    rows = ctx.n[name]
    node = _Node(name, fmt, children=list(children))
    return _Family(rows, _parts(rows, "file"), _single(name, gen), [node])


def _d(parent: str, kind: str, **kw: Any) -> _Derivation:
    return _Derivation(parent, kind, **kw)


_CUSTOMER_RENAMES = {
    "customer_id": "cust_id",
    "first_name": "First Name",
    "last_name": "LastName",
    "email": "EMAIL",
    "phone": "Phone",
    "street_address": "street_addr",
    "city": "City",
    "state": "STATE",
    "postal_code": "postal-code",
    "country": "Country",
    "date_of_birth": "dob",
    "signup_ts": "SignupTs",
    "loyalty_tier": "loyalty-tier",
}
_CUSTOMER_ORDER = [
    "EMAIL",
    "cust_id",
    "LastName",
    "First Name",
    "dob",
    "Phone",
    "street_addr",
    "City",
    "STATE",
    "postal-code",
    "Country",
    "loyalty-tier",
    "SignupTs",
]
_EMPLOYEE_RENAMES = {
    "employee_id": "EmployeeID",
    "first_name": "first-name",
    "last_name": "Last Name",
    "email": "Email",
    "phone": "PHONE",
    "national_id": "NationalID",
    "date_of_birth": "DOB",
    "hire_date": "HireDate",
    "termination_date": "termination-date",
    "job_title": "Job Title",
    "department_id": "DepartmentId",
    "manager_id": "Manager ID",
    "salary": "Salary",
    "is_full_time": "IsFullTime",
    "street_address": "Street Addr",
    "city": "CITY",
    "state": "State",
    "postal_code": "PostalCode",
}
_EMPLOYEE_ORDER = [
    "Last Name",
    "first-name",
    "EmployeeID",
    "Job Title",
    "DepartmentId",
    "Manager ID",
    "Email",
    "PHONE",
    "Street Addr",
    "CITY",
    "State",
    "PostalCode",
    "DOB",
    "NationalID",
    "HireDate",
    "termination-date",
    "IsFullTime",
    "Salary",
]
_ITEM_RENAMES = {
    "order_item_id": "OrderItemID",
    "order_id": "order-id",
    "line_number": "line_num",
    "product_id": "ProductId",
    "quantity": "qty",
    "unit_price": "Unit Price",
    "discount_rate": "DiscountRate",
    "line_amount": "line_amt",
}
_ITEM_ORDER = [
    "order-id",
    "line_num",
    "OrderItemID",
    "ProductId",
    "qty",
    "Unit Price",
    "line_amt",
    "DiscountRate",
]


def _plan(ctx: _Ctx) -> list[_Family]:
    """Every dataset of the lake, grouped into families that are generated together."""
    n = ctx.n
    fams: list[_Family] = []

    fixed = _Node(
        "scratch.products_fixed",
        "parquet",
        derivations=[
            _d("catalog.products", "near_copy", note="0.5% of rows have list_price changed")
        ],
    )
    fixed.transform = _Perturb(ctx, fixed.name, "list_price", 0.005, fixed)
    fams.append(
        _Family(
            n["catalog.products"],
            1,
            _single("catalog.products", _gen_products),
            [
                _Node(
                    "catalog.products",
                    "parquet",
                    children=[
                        _Node(
                            "catalog.products_export",
                            "csv",
                            derivations=[
                                _d(
                                    "catalog.products",
                                    "format_copy",
                                    note="Parquet exported to CSV",
                                )
                            ],
                        ),
                        fixed,
                    ],
                )
            ],
        )
    )
    fams.append(
        _plain(
            ctx,
            "sales.stores",
            "csv",
            _gen_stores,
            _Node(
                "web.store_locator",
                "json",
                derivations=[
                    _d("sales.stores", "format_copy", note="CSV republished as JSON lines")
                ],
            ),
        )
    )
    fams.append(_plain(ctx, "catalog.suppliers", "csv", _gen_suppliers))
    fams.append(_plain(ctx, "hr.departments", "csv", _gen_departments))
    fams.append(_plain(ctx, "health.physicians", "csv", _gen_physicians))
    fams.append(_plain(ctx, "marketing.campaigns", "csv", _gen_campaigns))
    fams.append(_plain(ctx, "logistics.warehouses", "json", _gen_warehouses))
    fams.append(
        _Family(
            n["finance.exchange_rates"],
            1,
            _single("finance.exchange_rates", _gen_exchange_rates),
            [_Node("finance.exchange_rates", "parquet")],
        )
    )

    # Customers: the hub of the planted redundancy.
    snapshot = _Node(
        "archive.customers_snapshot",
        "parquet",
        derivations=[_d("sales.customers", "exact_copy", note="byte-identical copy in archive/")],
        children=[
            _Node(
                "scratch.customer_emails",
                "json",
                transform=_project(["customer_id", "email", "loyalty_tier"]),
                derivations=[
                    _d("archive.customers_snapshot", "projection"),
                    _d(
                        "sales.customers",
                        "chain",
                        note="projection of archive.customers_snapshot, an exact copy of "
                        "sales.customers",
                    ),
                ],
            ),
        ],
    )
    customers = _Node(
        "sales.customers",
        "parquet",
        stats=_Stats(),
        children=[
            _Node(
                "marketing.customer_contacts",
                "parquet",
                transform=_project(["customer_id", "first_name", "last_name", "email", "phone"]),
                derivations=[_d("sales.customers", "projection")],
            ),
            _Node(
                "marketing.customer_regions",
                "csv",
                transform=_Distinct(["country", "state", "city"]),
                derivations=[
                    _d(
                        "sales.customers",
                        "projection",
                        distinct=True,
                        note="distinct (country, state, city); duplicate rows collapsed",
                    )
                ],
            ),
            _Node(
                "sales.customers_de",
                "parquet",
                transform=_select(lambda t: pc.equal(t["country"], "DE")),
                derivations=[_d("sales.customers", "selection", predicate="country = 'DE'")],
            ),
            snapshot,
            _Node(
                "marketing.crm_customers",
                "parquet",
                transform=_rename(_CUSTOMER_RENAMES, _CUSTOMER_ORDER),
                derivations=[
                    _d(
                        "sales.customers",
                        "renamed_reordered",
                        column_map={c: p for p, c in _CUSTOMER_RENAMES.items()},
                        note="CRM export: columns renamed (case, separators, "
                        "abbreviations) and reordered",
                    )
                ],
            ),
        ],
    )
    fam = _plain(ctx, "sales.customers", "parquet", _gen_customers)
    fam.roots = [customers]
    fam.decoys.append(
        _Decoy(_Node("scratch.customers_synthetic", "csv"), "sales.customers", _gen_customers, 0.15)
    )
    fams.append(fam)

    employees = _Node(
        "hr.employees",
        "parquet",
        stats=_Stats(),
        children=[
            _Node(
                "hr.employees_feed",
                "json",
                derivations=[
                    _d("hr.employees", "format_copy", note="Parquet republished as JSON lines")
                ],
            ),
            _Node(
                "hr.staff_directory",
                "csv",
                transform=_rename(_EMPLOYEE_RENAMES, _EMPLOYEE_ORDER),
                derivations=[
                    _d(
                        "hr.employees",
                        "renamed_reordered",
                        column_map={c: p for p, c in _EMPLOYEE_RENAMES.items()},
                        note="all columns, renamed and reordered, as CSV",
                    )
                ],
            ),
            _Node(
                "hr.employee_directory",
                "csv",
                transform=_project(
                    [
                        "employee_id",
                        "first_name",
                        "last_name",
                        "email",
                        "phone",
                        "job_title",
                        "department_id",
                    ]
                ),
                derivations=[_d("hr.employees", "projection")],
            ),
        ],
    )
    fam = _plain(ctx, "hr.employees", "parquet", _gen_employees)
    fam.roots = [employees]
    fam.decoys.append(
        _Decoy(_Node("scratch.employees_test", "parquet"), "hr.employees", _gen_employees, 0.4)
    )
    fams.append(fam)

    patients = _Node(
        "health.patients",
        "parquet",
        stats=_Stats(),
        children=[
            _Node(
                "health.patients_senior",
                "parquet",
                transform=_select(lambda t: pc.less(t["date_of_birth"], _date_lit("1960-01-01"))),
                derivations=[
                    _d(
                        "health.patients",
                        "selection",
                        predicate="date_of_birth < DATE '1960-01-01'",
                    )
                ],
            ),
        ],
    )
    fam = _plain(ctx, "health.patients", "parquet", _gen_patients)
    fam.roots = [patients]
    fam.decoys.append(
        _Decoy(_Node("scratch.patients_sample", "json"), "health.patients", _gen_patients, 0.1)
    )
    fams.append(fam)

    q4 = (
        "order_ts >= TIMESTAMP '2023-10-01 00:00:00' AND order_ts < TIMESTAMP '2024-01-01 00:00:00'"
    )
    q4_select = _select(
        lambda t: pc.and_(
            pc.greater_equal(t["order_ts"], _ts_lit("2023-10-01 00:00:00")),
            pc.less(t["order_ts"], _ts_lit("2024-01-01 00:00:00")),
        )
    )
    adjusted = _Node(
        "finance.orders_q4_2023_adjusted",
        "csv",
        derivations=[
            _d(
                "sales.orders",
                "near_copy",
                predicate=q4,
                note="Q4 2023 orders; 1% of rows have total_amount changed",
            )
        ],
    )
    perturb = _Perturb(ctx, adjusted.name, "total_amount", 0.01, adjusted)
    adjusted.transform = lambda t, k: perturb(q4_select(t, k), k)
    pay_cols = ["payment_id", "order_id", "amount", "paid_ts", "status"]
    n_orders = n["sales.orders"]
    fams.append(
        _Family(
            n_orders,
            _parts(n_orders, "directory"),
            _chunk_orders,
            [
                _Node(
                    "sales.orders",
                    "parquet",
                    "directory",
                    children=[
                        _Node(
                            "sales.orders_2024",
                            "parquet",
                            "directory",
                            transform=_select(
                                lambda t: pc.greater_equal(
                                    t["order_ts"], _ts_lit("2024-01-01 00:00:00")
                                )
                            ),
                            derivations=[
                                _d(
                                    "sales.orders",
                                    "selection",
                                    predicate="order_ts >= TIMESTAMP '2024-01-01 00:00:00'",
                                )
                            ],
                        ),
                        adjusted,
                    ],
                ),
                _Node(
                    "sales.order_items",
                    "parquet",
                    "directory",
                    children=[
                        _Node(
                            "finance.order_lines",
                            "parquet",
                            "directory",
                            transform=_rename(_ITEM_RENAMES, _ITEM_ORDER),
                            derivations=[
                                _d(
                                    "sales.order_items",
                                    "renamed_reordered",
                                    column_map={c: p for p, c in _ITEM_RENAMES.items()},
                                )
                            ],
                        ),
                    ],
                ),
                _Node(
                    "finance.payments",
                    "parquet",
                    "directory",
                    children=[
                        _Node(
                            "finance.large_payments",
                            "csv",
                            "directory",
                            transform=_select(
                                lambda t: pc.greater_equal(t["amount"], 500.0), pay_cols
                            ),
                            derivations=[
                                _d(
                                    "finance.payments",
                                    "projection_of_selection",
                                    predicate="amount >= 500.0",
                                    note="card columns dropped",
                                )
                            ],
                        ),
                    ],
                ),
                _Node("logistics.shipments", "parquet"),
            ],
        )
    )

    n_visits = n["health.visits"]
    fams.append(
        _Family(
            n_visits,
            _parts(n_visits, "directory"),
            _chunk_visits,
            [
                _Node(
                    "health.visits",
                    "parquet",
                    "directory",
                    children=[
                        _Node(
                            "health.diabetes_visits",
                            "json",
                            "directory",
                            transform=_select(
                                lambda t: pc.starts_with(t["diagnosis_code"], "E11"),
                                ["visit_id", "patient_id", "visit_ts", "diagnosis_code", "charge"],
                            ),
                            derivations=[
                                _d(
                                    "health.visits",
                                    "projection_of_selection",
                                    predicate="diagnosis_code LIKE 'E11%'",
                                    note="type 2 diabetes visits",
                                )
                            ],
                        ),
                        _Node(
                            "archive.visits_backup",
                            "parquet",
                            "directory",
                            derivations=[
                                _d("health.visits", "exact_copy", note="byte-identical part files")
                            ],
                            children=[
                                _Node(
                                    "health.visit_charges",
                                    "parquet",
                                    "directory",
                                    transform=_project(
                                        ["visit_id", "patient_id", "visit_ts", "charge"]
                                    ),
                                    derivations=[
                                        _d("archive.visits_backup", "projection"),
                                        _d(
                                            "health.visits",
                                            "chain",
                                            note="projection of archive.visits_backup, an "
                                            "exact copy of health.visits",
                                        ),
                                    ],
                                ),
                            ],
                        ),
                    ],
                ),
            ],
        )
    )

    n_web = n["web.web_events"]
    funnel = ("add_to_cart", "checkout", "purchase")
    fams.append(
        _Family(
            n_web,
            _parts(n_web, "directory"),
            _chunk_web,
            [
                _Node(
                    "web.web_events",
                    "parquet",
                    "directory",
                    children=[
                        _Node(
                            "web.checkout_events",
                            "parquet",
                            "directory",
                            transform=_select(
                                lambda t: pc.is_in(t["event_type"], value_set=_strs(funnel))
                            ),
                            derivations=[
                                _d(
                                    "web.web_events",
                                    "selection",
                                    predicate="event_type IN ('add_to_cart', 'checkout', "
                                    "'purchase')",
                                )
                            ],
                        ),
                    ],
                ),
            ],
        )
    )

    fams.append(_plain(ctx, "catalog.inventory", "parquet", _gen_inventory))
    fams.append(_plain(ctx, "health.prescriptions", "json", _gen_prescriptions))
    fams.append(_plain(ctx, "health.lab_results", "csv", _gen_lab_results))
    fams.append(_plain(ctx, "web.search_queries", "json", _gen_search_queries))
    fams.append(_plain(ctx, "marketing.ad_spend", "csv", _gen_ad_spend))
    fams.append(_plain(ctx, "finance.ledger_entries", "parquet", _gen_ledger))
    fams.append(_plain(ctx, "hr.payroll_runs", "json", _gen_payroll))
    # Tagging ground truth: PII the datasets above lack, beside hard negatives.
    fams.append(_plain(ctx, "support.tickets", "parquet", _gen_tickets))
    fams.append(_plain(ctx, "finance.bank_accounts", "parquet", _gen_bank_accounts))
    fams.append(_plain(ctx, "logistics.delivery_stops", "parquet", _gen_delivery_stops))
    fams.append(_plain(ctx, "web.mobile_devices", "parquet", _gen_mobile_devices))
    return fams


# --------------------------------------------------------------------------------------------
# Streaming the plan to disk
# --------------------------------------------------------------------------------------------


def _bounds(rows: int, parts: int) -> list[tuple[int, int]]:
    edges = [round(i * rows / parts) for i in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _clip(table: pa.Table, stats: _Stats) -> pa.Table:
    """Clamp every column into the parent's [min, max] (nulls stay null)."""
    columns = []
    for name in table.column_names:
        col = table.column(name)
        if name in stats.lo:
            lo, hi = stats.lo[name], stats.hi[name]
            col = pc.if_else(pc.less(col, lo), lo, col)
            col = pc.if_else(pc.greater(col, hi), hi, col)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _human(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 100_000 else f"{nbytes / 1e3:.1f} kB"


class _Builder:
    """Streams every family of the plan into ``root`` and collects the manifest."""

    def __init__(
        self,
        root: Path,
        ctx: _Ctx,
        progress: Callable[[str], None] | None,
        rename: Callable[[str], str] | None = None,
    ) -> None:
        self.root = root
        self.ctx = ctx
        self.progress = progress
        self.rename = rename
        self.datasets: list[dict[str, Any]] = []
        self.derivations: list[dict[str, Any]] = []
        self.matches: dict[str, int] = {}
        self.column_types: dict[str, dict[str, str]] = {}
        self.hard_negatives: dict[str, dict[str, list[str]]] = {}
        self.unscored: dict[str, list[str]] = {}

    def run(self) -> None:
        for family in _plan(self.ctx):
            self._family(family)

    def _open(self, node: _Node) -> None:
        node.sink = _Sink(self.root, node.name, node.fmt, node.layout, self.rename)
        for child in node.children:
            self._open(child)

    def _emit(self, node: _Node, table: pa.Table, k: int) -> None:
        out = node.transform(table, k) if node.transform is not None else table
        if node.sink is None:
            raise LakewardInternalError(f"{node.name} was not opened before writing")
        node.sink.write(out)
        if node.stats is not None:
            node.stats.update(out)
        for child in node.children:
            self._emit(child, out, k)

    def _family(self, family: _Family) -> None:
        for root in family.roots:
            self._open(root)
        for k, (lo, hi) in enumerate(_bounds(family.rows, family.parts)):
            tables = family.chunk(self.ctx, k, lo, hi)
            if "catalog.products" in tables:
                products = tables["catalog.products"]
                self.ctx.product_price = products.column("list_price").to_numpy()
            for root in family.roots:
                self._emit(root, tables[root.name], k)
        for root in family.roots:
            self._close(root)
        stats = {root.name: root.stats for root in family.roots if root.stats is not None}
        for decoy in family.decoys:
            self._decoy(decoy, stats[decoy.parent])

    def _close(self, node: _Node) -> None:
        sink = node.sink
        if sink is None or sink.schema is None:
            raise LakewardInternalError(f"{node.name} received no data")
        sink.close()
        nbytes = sink.nbytes()
        self.datasets.append(
            {
                "name": node.name,
                "path": sink.rel,
                "format": node.fmt,
                "layout": node.layout,
                "files": len(sink.files),
                "rows": sink.rows,
                "bytes": nbytes,
                "columns": [{"name": f.name, "type": _TYPE_NAMES[f.type]} for f in sink.schema],
                "derived_from": node.derivations[0].parent if node.derivations else None,
            }
        )
        for d in node.derivations:
            self._derivation(node, sink, d)
        renamed = next((d.column_map for d in node.derivations if d.column_map), None)
        types, negatives, unscored = _ground_truth(sink.source_names, sink.schema.names, renamed)
        if types:
            self.column_types[node.name] = types
        if negatives:
            self.hard_negatives[node.name] = negatives
        if unscored:
            self.unscored[node.name] = unscored
        if self.progress is not None:
            files = f"{len(sink.files)} files" if node.layout == "directory" else "1 file"
            self.progress(
                f"wrote {node.name} ({node.fmt}, {files}, {sink.rows:,} rows, {_human(nbytes)})"
            )
        for child in node.children:
            self._close(child)

    def _derivation(self, node: _Node, sink: _Sink, d: _Derivation) -> None:
        rows = sink.rows
        if not rows:
            raise LakewardInternalError(f"derived dataset {node.name} came out empty")
        if node.name in self.matches:
            unchanged = self.matches[node.name]
        else:
            unchanged = rows - sum(node.perturbed)
        ratio = unchanged / rows
        if sink.schema is None:
            raise LakewardInternalError(f"{node.name} has no schema")
        if d.column_map is None:
            column_map = {c: c for c in sink.schema.names}
        elif self.rename is not None:
            column_map = {self.rename(c): self.rename(p) for c, p in d.column_map.items()}
        else:
            column_map = d.column_map
        self.derivations.append(
            {
                "child": node.name,
                "parent": d.parent,
                "kind": d.kind,
                "column_map": column_map,
                "predicate": d.predicate,
                "distinct": d.distinct,
                "contained": unchanged == rows,
                "expected_ratio": ratio,
                "perturbed_rows": sum(node.perturbed),
                "child_rows": rows,
                "note": d.note,
            }
        )

    def _decoy(self, decoy: _Decoy, stats: _Stats) -> None:
        """Rows with the parent's schema and column ranges whose ids lie in the parent's gaps.

        Two boundary rows carry every column's minimum and maximum (with the parent's smallest
        and largest id), so min and max match the parent on every column; all other rows use
        ids the parent never has, so they cannot occur in the parent.
        """
        node = decoy.node
        n = stats.rows
        schema: pa.Schema | None = None
        ids = _IDS[decoy.parent]
        node.derivations = [
            _d(
                decoy.parent,
                "decoy",
                note="same schema and per-column min/max as the parent, ids from the gaps of "
                "the parent's id set, other values re-sampled",
            )
        ]
        self._open(node)
        if node.sink is None or stats.first is None or stats.last is None:
            raise LakewardInternalError(f"decoy parent {decoy.parent} has no rows")
        bounds = _bounds(n, _parts(n, "file"))
        low_row: dict[str, Any] = {}
        high_row: dict[str, Any] = {}
        for k, (lo, hi) in enumerate(bounds):
            rng = self.ctx.rng(node.name, k)
            j = np.arange(lo, min(hi, n - 1), dtype=np.int64)
            j = j[rng.random(len(j)) < decoy.share]
            table = _clip(decoy.gen(self.ctx, rng, j, ids.gap(j)), stats)
            if schema is None:
                schema = table.schema
                low_row = {c: stats.lo[c].as_py() if c in stats.lo else None for c in schema.names}
                high_row = {c: stats.hi[c].as_py() if c in stats.hi else None for c in schema.names}
                id_col = schema.names[0]
                if (low_row[id_col], high_row[id_col]) != (stats.first[id_col], stats.last[id_col]):
                    raise LakewardInternalError(f"ids of {decoy.parent} are not ascending")
            pieces = [table]
            if k == 0:
                pieces.insert(0, pa.Table.from_pylist([low_row], schema=schema))
            if k == len(bounds) - 1:
                pieces.append(pa.Table.from_pylist([high_row], schema=schema))
            self._emit(node, pa.concat_tables(pieces), k)
        # Only the two boundary rows share an id with the parent; count them if they match.
        self.matches[node.name] = int(low_row == stats.first) + int(high_row == stats.last)
        self._close(node)

    def manifest(self, seed: int, size_mb: float) -> dict[str, Any]:
        return {
            "generator": "lakeward",
            "version": MANIFEST_VERSION,
            "seed": seed,
            "size_mb": size_mb,
            "datasets": sorted(self.datasets, key=lambda d: str(d["name"])),
            "derivations": sorted(
                self.derivations, key=lambda d: (str(d["child"]), str(d["parent"]), d["kind"])
            ),
            "column_types": self.column_types,
            "hard_negatives": self.hard_negatives,
            "unscored_columns": self.unscored,
        }


# --------------------------------------------------------------------------------------------
# Safe placement on disk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Owned:
    """What an earlier generation wrote, relative to the lake root."""

    files: frozenset[str]
    dataset_dirs: frozenset[str]
    folders: frozenset[str]


def _owned_paths(root: Path) -> _Owned:
    """Read what a previous generation wrote under ``root`` from its manifest.

    Raises:
        InputError: ``root`` has no readable Lakeward manifest, or holds anything the manifest
            does not account for.
    """
    manifest = root / MANIFEST_NAME
    if not manifest.is_file():
        raise InputError(
            f"refusing to overwrite {root}: it is not empty and has no {MANIFEST_NAME}, so it "
            "was not written by 'lakeward lake generate'; choose an empty directory or remove "
            "its contents yourself"
        )
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("generator") != "lakeward":
            raise ValueError("not a lakeward manifest")
        entries = [(str(d["path"]), str(d["layout"])) for d in data["datasets"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"refusing to overwrite {root}: {MANIFEST_NAME} cannot be read ({exc}); choose an "
            "empty directory or remove its contents yourself"
        ) from exc
    files: set[str] = {MANIFEST_NAME}
    dataset_dirs: set[str] = set()
    folders: set[str] = set()
    for rel, layout in entries:
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or any(p in ("..", ".", "") for p in parts):
            raise InputError(
                f"refusing to overwrite {root}: its manifest names an unexpected path ({rel!r}); "
                "remove the directory yourself"
            )
        (dataset_dirs if layout == "directory" else files).add(Path(rel).as_posix())
        for i in range(1, len(parts)):
            folders.add(Path(*parts[:i]).as_posix())
    unexpected: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [*dirnames, *filenames]:
            rel_path = (Path(dirpath) / entry).relative_to(root)
            rel = rel_path.as_posix()
            in_dataset_dir = rel_path.parent.as_posix() in dataset_dirs
            if rel in files or rel in folders or rel in dataset_dirs:
                continue
            if in_dataset_dir and entry.startswith("part-") and entry in filenames:
                continue
            unexpected.append(rel)
    if unexpected:
        listed = ", ".join(sorted(unexpected)[:5]) + (" ..." if len(unexpected) > 5 else "")
        raise InputError(
            f"refusing to overwrite {root}: it holds files a previous generation did not write "
            f"({listed}); move them away or choose an empty directory"
        )
    return _Owned(frozenset(files), frozenset(dataset_dirs), frozenset(folders))


def _remove_owned(root: Path, owned: _Owned) -> bool:
    """Delete what a previous generation wrote under ``root``, then the emptied folders.

    Returns:
        True when ``root`` itself could be removed (nothing else was left in it).
    """
    for rel in owned.files:
        path = root / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
    for rel in owned.dataset_dirs:
        path = root / rel
        if path.is_dir() and not path.is_symlink():
            for part in path.iterdir():
                if part.name.startswith("part-") and part.is_file():
                    part.unlink()
    for rel in sorted(owned.dataset_dirs | owned.folders, key=lambda r: -len(Path(r).parts)):
        try:
            (root / rel).rmdir()
        except OSError:
            pass
    try:
        root.rmdir()
    except OSError:
        return False
    return True


def _check_target(root: Path, overwrite: bool) -> _Owned | None:
    """Validate the output directory; return what may be removed when overwriting."""
    if root.is_symlink():
        raise InputError(f"{root} is a symbolic link; pass the directory it points to instead")
    if not root.exists():
        return None
    if not root.is_dir():
        raise InputError(f"{root} is a file, not a directory; choose a directory path for the lake")
    if not any(root.iterdir()):
        return None
    if not overwrite:
        raise InputError(f"{root} is not empty; pass --overwrite or choose an empty directory")
    return _owned_paths(root)


def _check_size(size_mb: float) -> float:
    if isinstance(size_mb, bool) or not isinstance(size_mb, int | float):
        raise InputError(f"size_mb must be a number of megabytes, got {size_mb!r}")
    size = float(size_mb)
    if not math.isfinite(size) or size <= 0:
        raise InputError(
            f"size_mb must be a positive, finite number of megabytes, got {size_mb!r}; "
            "pass e.g. --size-mb 50"
        )
    if size > _MAX_SIZE_MB:
        raise InputError(f"size_mb={size_mb!r} is too large; pass at most {_MAX_SIZE_MB:,.0f} MB")
    return size


def generate_lake(
    out: str | Path,
    *,
    seed: int = 7,
    size_mb: float = 50.0,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    units: int = 1,
) -> GeneratedLake:
    """Generate a deterministic synthetic enterprise data lake with planted redundancy.

    The lake is written into a temporary sibling of ``out`` and renamed into place at the end,
    so ``out`` never holds a half-written lake. The manifest at ``out/_lakeward_manifest.json``
    lists every dataset and every planted derivation with its exact containment ratio.

    Args:
        out: Directory for the lake. It must not exist, be empty, or (with ``overwrite``) hold
            a lake written earlier by this function.
        seed: Non-negative seed; the same seed and size give byte-identical files.
        size_mb: Approximate total size of the data files in megabytes (within about 25%).
        overwrite: Replace a lake generated earlier at ``out``. Only what that generation
            wrote (as listed in its manifest) is removed; a directory holding anything else is
            refused.
        progress: Called with a short message after each dataset is written.
        units: Business units in the lake (for benchmarks of big lakes). Unit 0 is the lake
            described above; unit ``u >= 1`` is another instance of the same plan under
            ``u<NNN>/`` (datasets named ``u<NNN>.<domain>.<name>``) with its own random
            stream, so it holds other rows and its own planted derivations. Every tenth
            unit keeps the base column names (its datasets are schema-compatible with unit
            0's and must be told apart by content); the others suffix every column name with
            ``_<u>`` (their own schemas). ``size_mb`` is the total, shared by the units
            (each has at least the plan's minimum row counts, about 1.3 MB).

    Returns:
        A summary of what was written.

    Raises:
        InputError: ``size_mb`` is not a positive finite number, ``seed`` is negative, ``out``
            is a file, or ``out`` is not empty and cannot be overwritten.
    """
    size = _check_size(size_mb)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= 10_000:
        raise InputError(f"units must be an integer from 1 to 10000, got {units!r}")
    root = Path(out).expanduser().absolute()
    owned = _check_target(root, overwrite)
    tmp = root.parent / f".{root.name}.lakeward-tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise InputError(
            f"cannot create the lake next to {root} ({exc}); choose a writable directory path"
        ) from exc
    try:
        ctx = _Ctx(seed=seed, n=_counts(size / units / 50.0))
        builder = _Builder(tmp, ctx, progress)
        builder.run()
        manifest = builder.manifest(seed, size)
        for unit in range(1, units):
            _add_unit(manifest, tmp, seed, size / units, unit, progress)
        if units > 1:
            manifest["units"] = units
        text = json.dumps(manifest, sort_keys=True, indent=2) + "\n"
        (tmp / MANIFEST_NAME).write_text(text, encoding="utf-8")
        _place(tmp, root, owned, progress)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    datasets = manifest["datasets"]
    return GeneratedLake(
        root=root,
        manifest_path=root / MANIFEST_NAME,
        datasets=len(datasets),
        bytes=sum(int(d["bytes"]) for d in datasets),
        derivations=len(manifest["derivations"]),
    )


def _add_unit(
    manifest: dict[str, Any],
    tmp: Path,
    seed: int,
    unit_mb: float,
    unit: int,
    progress: Callable[[str], None] | None,
) -> None:
    """Generate business unit ``unit`` under ``tmp/u<NNN>`` and merge it into ``manifest``."""
    prefix = f"u{unit:03d}"
    rename = None if unit % 10 == 0 else (lambda column: f"{column}_{unit}")
    ctx = _Ctx(seed=seed + 1_000_003 * unit, n=_counts(unit_mb / 50.0))
    builder = _Builder(tmp / prefix, ctx, progress, rename)
    builder.run()
    part = builder.manifest(seed, unit_mb)
    for d in part["datasets"]:
        d["name"] = f"{prefix}.{d['name']}"
        d["path"] = f"{prefix}/{d['path']}"
        if d["derived_from"]:
            d["derived_from"] = f"{prefix}.{d['derived_from']}"
    for d in part["derivations"]:
        d["child"] = f"{prefix}.{d['child']}"
        d["parent"] = f"{prefix}.{d['parent']}"
    for key in ("column_types", "hard_negatives", "unscored_columns"):
        manifest[key].update({f"{prefix}.{name}": v for name, v in part[key].items()})
    manifest["datasets"] = sorted(
        manifest["datasets"] + part["datasets"], key=lambda d: str(d["name"])
    )
    manifest["derivations"] = sorted(
        manifest["derivations"] + part["derivations"],
        key=lambda d: (str(d["child"]), str(d["parent"]), d["kind"]),
    )


def _place(
    tmp: Path, root: Path, owned: _Owned | None, progress: Callable[[str], None] | None
) -> None:
    """Move the finished lake from ``tmp`` to ``root``, retiring an earlier lake if any."""
    if owned is None:
        if root.exists():
            root.rmdir()  # empty, checked before generating
        tmp.rename(root)
        return
    trash = root.parent / f".{root.name}.lakeward-old-{os.getpid()}-{secrets.token_hex(4)}"
    root.rename(trash)
    tmp.rename(root)
    if not _remove_owned(trash, owned) and progress is not None:
        progress(f"kept {trash}: it gained files during generation; remove it when done")
