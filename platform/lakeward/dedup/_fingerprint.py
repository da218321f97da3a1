"""Keyed row fingerprints on Spark: value normalisation and HMAC-SHA256 in built-in functions.

**Value normalisation** (so the same data in CSV, JSON and Parquet compare equal). Every
value is reduced to a 64-bit hash in its comparison domain; NULL is one fixed constant in
every domain:

- *number*: integers, decimals and floating point values alike, as their double value plus,
  for whole numbers, the integer's low 11 bits, so 64-bit integers stay exact (``12``,
  ``12.0`` and ``12.00`` are equal; ``-0.0`` equals ``0.0``). A whole-valued decimal within
  ±9.2e18 is hashed exactly as the equal ``bigint`` (``9007199254740993`` as ``decimal(20,0)``
  equals that ``bigint`` and differs from ``…992``); other decimals (fractional, or whole
  beyond ±9.2e18) are compared at double precision. A ``float`` (32-bit) value is first
  written as its shortest decimal text that reads back as the same float (the nearest such,
  ties to even), so ``0.1f`` equals the double ``0.1`` and the text ``"0.1"``, not
  ``0.10000000149011612``;
- *temporal*: dates as midnight, timestamps as their UTC wall-clock value (so a date equals
  the timestamp at its midnight, and ``timestamp`` equals ``timestamp_ntz``);
- *string*: leading and trailing spaces trimmed; *boolean*, *binary* as they are; nested
  values as their JSON text;
- a text-format parent's string column compared with a typed child column is *parsed* into
  the child's domain (``"12.50"`` equals ``12.5``); text that does not parse never matches.
  Temporal text needs a date; a UTC offset or zone in it is applied
  (``"2024-01-01T10:00:00+02:00"`` equals ``08:00``), text without one is UTC wall-clock time
  (sessions run in UTC). Boolean text is ``true`` or ``false`` in any case, nothing else.

**Row fingerprint**: ``HMAC-SHA256(lake secret, names | h1 | h2 | ...)`` truncated to 128
bits, over the row's value hashes in the order of the normalised column names, with those
names in the message (so rows over different column sets never collide). HMAC is computed
with Spark's ``sha2`` on the standard inner/outer padded keys; the padded keys reach Spark as
a one-row DataFrame joined in, not as literals, so they never appear in plan text. The
expressions are built as SQL text (one call into Spark per fingerprint, not hundreds).
Fingerprints stored anywhere (recipes, the scratch area) disclose nothing without the key.

**Dataset content fingerprint** (the catalog's ``fingerprint``, published in ``catalog
show`` and the server's dataset endpoint): :meth:`LakeKey.content_fingerprint`, HMAC-SHA256
under the same key over the profiler's order-independent content summary (see
``lakeward.lake._profile``), with its own context prefix so it never equals a row
fingerprint. Unkeyed, it let anyone who sees the fingerprint and the other columns' min/max
test guesses for a masked value (one Spark pass over 2,000 candidate emails recovered one);
keyed, it still serves equality checks (same content, same key → same fingerprint), but
changing the key changes every content fingerprint until datasets are profiled again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lakeward.errors import ConfigurationError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "NULL_HASH",
    "LakeKey",
    "current_lake_key",
    "hmac_sql",
    "indexed_fingerprint_sql",
    "lake_key",
    "row_fingerprint",
    "row_fingerprint_sql",
    "value_hash_sql",
    "with_key",
]

NULL_HASH = 0x5EED_0F_1A_CE_0000  # the hash of NULL in every domain
_LOW_BITS = (1 << 11) - 1
_UNPARSED = "lakeward-unparsed:"
_BLOCK = 64  # SHA-256 block size in bytes
_CONTENT_CONTEXT = b"lakeward dataset content fingerprint v1\n"


class LakeKey:
    """The HMAC key: its padded forms for Spark and a public identifier."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ConfigurationError(
                "LAKEWARD_LAKE_SECRET is too short for a fingerprint key: use at least 16 "
                "characters (or unset it to use the generated key under LAKEWARD_HOME/keys).",
                setting="LAKEWARD_LAKE_SECRET",
            )
        key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
        key = key.ljust(_BLOCK, b"\x00")
        self._ipad = bytes(b ^ 0x36 for b in key)
        self._opad = bytes(b ^ 0x5C for b in key)
        self._secret = secret
        self.key_id = hmac.new(secret, b"lakeward key id", hashlib.sha256).hexdigest()[:16]

    def hmac128(self, message: bytes) -> bytes:
        """The 128-bit keyed fingerprint of ``message`` (Python side, for tests and checks)."""
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:16]

    def content_fingerprint(self, summary: bytes) -> str:
        """A dataset's published content fingerprint: HMAC-SHA256 (hex) of its content summary.

        Not reproducible from the data without the key, so publishing it discloses nothing
        about masked values.
        """
        return hmac.new(self._secret, _CONTENT_CONTEXT + summary, hashlib.sha256).hexdigest()

    def frame(self, spark: SparkSession) -> DataFrame:
        """A one-row DataFrame with the padded keys (``_lw_ipad``, ``_lw_opad``)."""
        from pyspark.sql import types as T

        schema = T.StructType(
            [T.StructField("_lw_ipad", T.BinaryType()), T.StructField("_lw_opad", T.BinaryType())]
        )
        return spark.createDataFrame([(bytearray(self._ipad), bytearray(self._opad))], schema)


def lake_key(home: Path, secret: str | None) -> LakeKey:
    """The lake's HMAC key: ``LAKEWARD_LAKE_SECRET``, else ``<home>/keys/lake.key``.

    The key file is created once (32 random bytes, mode 0600, published atomically so two
    processes starting together agree on one key).
    """
    if secret:
        return LakeKey(secret.encode())
    path = home / "keys" / "lake.key"
    if not path.exists():
        from lakeward._secret_files import publish_secret_file

        publish_secret_file(path, os.urandom(32).hex().encode())
    text = path.read_text().strip()
    if len(text) < 32:
        raise ConfigurationError(
            f"The lake key file {path} is damaged (too short). Restore it from backup; "
            "fingerprints made with another key no longer match.",
            setting="LAKEWARD_LAKE_SECRET",
        )
    return LakeKey(text.encode())


def current_lake_key() -> LakeKey:
    """The lake's key from the settings (``LAKEWARD_LAKE_SECRET``, else the key file)."""
    from lakeward.settings import get_settings

    settings = get_settings()
    secret = settings.lake.secret.get_secret_value() if settings.lake.secret else None
    return lake_key(settings.home, secret)


def with_key(df: DataFrame, key: LakeKey, frame: DataFrame | None = None) -> DataFrame:
    """``df`` with the key's padded columns attached (a broadcast one-row cross join).

    ``frame``: the key's frame from :meth:`LakeKey.frame`, when the caller reuses one.
    """
    from pyspark.sql import functions as F

    return df.crossJoin(F.broadcast(frame if frame is not None else key.frame(df.sparkSession)))


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _string_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_INTEGRAL_TYPES = ("tinyint", "smallint", "int", "bigint")
_BIGINT_SAFE = "9.2E18D"  # |x| below this casts to BIGINT exactly


def _number_sql(x: str, integral: bool) -> str:
    if integral:
        n = f"CAST({x} AS BIGINT)"
        return f"xxhash64(CAST({n} AS DOUBLE), {n} & {_LOW_BITS})"
    d = f"(CAST({x} AS DOUBLE) + 0.0D)"  # -0.0 + 0.0 == +0.0
    low = (
        f"CASE WHEN {d} % 1.0D = 0.0D AND abs({d}) < {_BIGINT_SAFE} "
        f"THEN CAST({d} AS BIGINT) & {_LOW_BITS} ELSE CAST(0 AS BIGINT) END"
    )
    return f"xxhash64({d}, {low})"


def _decimal_sql(x: str) -> str:
    """A decimal's number hash: whole values within ±9.2e18 exactly as the equal ``bigint``."""
    return (
        f"CASE WHEN abs({x}) < {_BIGINT_SAFE} AND {x} % 1 = 0 "
        f"THEN {_number_sql(x, True)} ELSE {_number_sql(x, False)} END"
    )


def _float32_sql(x: str) -> str:
    """A 32-bit float's number hash, via its shortest decimal text (nearest, ties to even).

    Built from Java's ``%.16e`` digits (a float's value to 17 digits): for each length ``p``
    from 1 to 9, those digits rounded half-even to ``p`` digits, then rounded up; the first
    that reads back as the same float is the value. Java's ``Float.toString`` is not used: before
    JDK 19 it is not always the shortest (``2.82879379E17`` for ``2.8287938E17``). NaN and the
    infinities (no digits) keep their value, and so do whole values below 2**24 (fast path).
    """
    s, p, t, v = "_lw_s", "_lw_p", "_lw_t", "_lw_v"
    digits = f"concat(substring({s}, 1, 1), substring({s}, 3, 16))"
    exponent = f"try_cast(substring_index({s}, 'e', -1) AS INT)"
    nxt, rest = f"substring({digits}, {p} + 1, 1)", f"substring({digits}, {p} + 2)"
    odd = f"substring({digits}, {p}, 1) IN ('1', '3', '5', '7', '9')"
    up = f"({nxt} > '5' OR ({nxt} = '5' AND ({rest} RLIKE '[1-9]' OR {odd})))"
    head = f"try_cast(substring({digits}, 1, {p}) AS BIGINT)"

    def text(mantissa: str) -> str:
        return (
            f"concat(IF({x} < 0, '-', ''), CAST({mantissa} AS STRING), 'e', "
            f"CAST({exponent} - {p} + 1 AS STRING))"
        )

    # The nearest p digits; then the next p digits up, which a power of two (whose rounding
    # interval is narrower below) may need when the nearest lies below it.
    candidates = f"array({text(f'{head} + IF({up}, 1, 0)')}, {text(f'{head} + 1')})"
    shortest = (
        f"try_element_at(filter(flatten(transform(sequence(1, 9), {p} -> {candidates})), "
        f"{t} -> try_cast({t} AS FLOAT) = {x}), 1)"
    )
    d = f"CAST({x} AS DOUBLE)"
    value = (
        f"CASE WHEN abs({d}) < 16777216.0D AND {d} % 1.0D = 0.0D THEN {d} "  # whole: exact
        f"ELSE coalesce(try_cast(try_element_at(transform(array(format_string('%.16e', "
        f"abs({d}))), {s} -> {shortest}), 1) AS DOUBLE), {d}) END"
    )
    return f"try_element_at(transform(array({value}), {v} -> {_number_sql(v, False)}), 1)"


def value_hash_sql(name: str, type_name: str, domain: str, parse: bool = False) -> str:
    """SQL for the normalised 64-bit hash of column ``name`` (Spark type ``type_name``).

    With ``parse`` the column's text is parsed into ``domain`` (text that does not parse
    hashes to a value no typed value has).
    """
    c = _ident(name)
    t = type_name.strip().lower()
    if parse:
        text = f"trim(CAST({c} AS STRING))"
        unparsed = f"xxhash64({_string_literal(_UNPARSED)}, {text})"
        if domain == "number":
            as_long, as_double = f"try_cast({text} AS BIGINT)", f"try_cast({text} AS DOUBLE)"
            hashed = (
                f"CASE WHEN {as_long} IS NOT NULL THEN {_number_sql(as_long, True)} "
                f"WHEN {as_double} IS NOT NULL THEN {_number_sql(as_double, False)} "
                f"ELSE {unparsed} END"
            )
        elif domain == "temporal":
            # A date is required (TIMESTAMP alone would read "10:00" as today). An offset or
            # zone is applied through TIMESTAMP; without one that reads the text as UTC
            # wall-clock time (the session zone), the same instant as TIMESTAMP_NTZ.
            wall = f"try_cast({text} AS TIMESTAMP_NTZ)"
            ts = f"coalesce(CAST(try_cast({text} AS TIMESTAMP) AS TIMESTAMP_NTZ), {wall})"
            hashed = f"CASE WHEN {wall} IS NOT NULL THEN xxhash64({ts}) ELSE {unparsed} END"
        elif domain == "boolean":
            flag = f"CASE lower({text}) WHEN 'true' THEN true WHEN 'false' THEN false END"
            hashed = f"CASE WHEN {flag} IS NOT NULL THEN xxhash64({flag}) ELSE {unparsed} END"
        else:
            hashed = unparsed
    elif domain == "number":
        if t in _INTEGRAL_TYPES:
            hashed = _number_sql(c, True)
        elif t.startswith("decimal"):
            hashed = _decimal_sql(c)
        elif t == "float":
            hashed = _float32_sql(c)
        else:
            hashed = _number_sql(c, False)
    elif domain == "temporal":
        hashed = f"xxhash64(CAST({c} AS TIMESTAMP_NTZ))"
    elif domain == "string":
        hashed = f"xxhash64(trim(CAST({c} AS STRING)))"
    elif domain == "nested":
        hashed = f"xxhash64(to_json({c}))"
    else:
        hashed = f"xxhash64({c})"
    return f"CASE WHEN {c} IS NULL THEN {NULL_HASH}L ELSE {hashed} END"


def hmac_sql(message: str) -> str:
    """SQL for HMAC-SHA256 (first 128 bits, binary) of the binary SQL expression ``message``.

    Needs the ``_lw_ipad``/``_lw_opad`` columns of :func:`with_key` on the DataFrame.
    """
    inner = f"unhex(sha2(concat(_lw_ipad, {message}), 256))"
    return f"unhex(substring(sha2(concat(_lw_opad, {inner}), 256), 1, 32))"


def row_fingerprint_sql(keys: Sequence[str], value_hashes: Sequence[str]) -> str:
    """SQL for HMAC-SHA256 (first 128 bits, binary) of a row's value hashes.

    The message is ``names|h1|h2|...`` (:func:`python_value_message`). Needs the
    ``_lw_ipad``/``_lw_opad`` columns of :func:`with_key` on the DataFrame.
    """
    parts = ", ".join(
        [_string_literal(",".join(keys)), *(f"CAST({h} AS STRING)" for h in value_hashes)]
    )
    return hmac_sql(f"CAST(concat_ws('|', {parts}) AS BINARY)")


def indexed_fingerprint_sql(keys: str, hashes: str, indexes: str, width: int) -> str:
    """SQL for the same fingerprint as :func:`row_fingerprint_sql`, with data-driven columns.

    ``hashes`` is an ``array<bigint>`` column of a row's value hashes, ``indexes`` an
    ``array<int>`` column of (1-based) positions in it, at most ``width`` long, and ``keys``
    a string column of the names. One expression serves every projection of every dataset
    (``concat_ws`` skips the NULLs past a projection's end; value hashes are never NULL).
    """
    parts = ", ".join(
        [
            keys,
            *(
                f"CAST(try_element_at({hashes}, get({indexes}, {i})) AS STRING)"
                for i in range(width)
            ),
        ]
    )
    return hmac_sql(f"CAST(concat_ws('|', {parts}) AS BINARY)")


def row_fingerprint(columns: Sequence[tuple[str, str, str, str, bool]]) -> Column:
    """The row fingerprint over ``(key, column, type, domain, parse)``, in that order."""
    from pyspark.sql import functions as F

    return F.expr(
        row_fingerprint_sql(
            [k for k, _, _, _, _ in columns],
            [value_hash_sql(n, t, d, p) for _, n, t, d, p in columns],
        )
    )


def python_value_message(keys: Sequence[str], hashes: Sequence[int]) -> bytes:
    """The HMAC message for given value hashes (mirrors :func:`row_fingerprint`; for tests)."""
    return "|".join([",".join(keys), *(str(h) for h in hashes)]).encode()
