"""Profile a dataset on Spark in one pass.

One aggregation job per dataset computes the row count and, per column, min, max, null
count and approximate distinct count (HyperLogLog++, relative standard deviation 5%), plus
the **content fingerprint**: an order-independent multiset hash of the rows.

Content fingerprint, precisely: every value is hashed in canonical form (see
:func:`canonical_hash`: numbers as their double value plus the low bits of whole numbers,
timestamps as UTC wall-clock values, nested values as JSON); the value hashes of a row are
combined, in the order of the lower-cased column names, by two independent hashes
(xxhash64 and murmur3), and three 30-bit slices of those are summed over all rows (exact
for up to 2^33 rows). HMAC-SHA256 under the lake key (``LakeKey.content_fingerprint``) of
the lower-cased column names, the row count and the three sums is the fingerprint: keyed,
because it is published and an unkeyed one lets a viewer test guesses for masked values.
So the same rows in another order, another file layout or another format (CSV vs Parquet
vs JSON) give the same fingerprint; a changed, added or removed row gives another (under
the same key). It is for change detection and cheap equality checks.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeward.catalog import ColumnStats
from lakeward.errors import DatasetMalformed, LakeError
from lakeward.lake._discover import DatasetSpec
from lakeward.lake._schema import READ_OPTIONS, ReadPlan, plan_read

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructField

__all__ = ["DatasetProfile", "content_fingerprint", "profile_dataset", "read_dataset"]

_MASK30 = (1 << 30) - 1
# Distinct 64-bit integers that round to the same double differ by less than 2**11, so
# (double value, low 11 bits) identifies an integer exactly and equals a whole double's.
_LOW_BITS = (1 << 11) - 1
_URI = re.compile(r"((?:file|s3a?|gs|hdfs|abfss?|wasbs?):/[^\s,;\]\)'\"]+)")


@dataclass(frozen=True)
class DatasetProfile:
    """What one profiling pass learned about a dataset."""

    name: str
    rows: int
    bytes: int
    file_count: int
    fingerprint: str
    signature: str
    columns: list[ColumnStats]
    seconds: float


def _col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _kind(dtype: DataType) -> str:
    from pyspark.sql import types as T

    if isinstance(dtype, T.ByteType | T.ShortType | T.IntegerType | T.LongType):
        return "integral"
    if isinstance(dtype, T.FloatType | T.DoubleType | T.DecimalType):
        return "fractional"
    if isinstance(dtype, T.BooleanType):
        return "boolean"
    if isinstance(dtype, T.DateType):
        return "date"
    if isinstance(dtype, T.TimestampType | T.TimestampNTZType):
        return "timestamp"
    if isinstance(dtype, T.StringType | T.VarcharType | T.CharType):
        return "string"
    if isinstance(dtype, T.BinaryType):
        return "binary"
    return "nested"


_TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


def canonical_hash(column: Column, dtype: DataType) -> Column:
    """A 64-bit hash of a value's canonical form, as used by the content fingerprint.

    Typed, not textual (hashing numbers is several times cheaper than rendering them), but
    normalised so that one value read from Parquet, CSV or JSON hashes the same: every number
    as its double value plus, for whole numbers, the integer's low 11 bits (so 64-bit
    integers stay exact and ``12`` read as bigint equals ``12.0`` read as double),
    timestamps as their UTC wall-clock value, strings and booleans as they are, nested values
    as their JSON text. Null hashes to a fixed constant.
    """
    from pyspark.sql import functions as F

    kind = _kind(dtype)
    if kind == "integral":
        x = column.cast("long")
        return F.xxhash64(x.cast("double"), x.bitwiseAND(_LOW_BITS))
    if kind == "fractional":
        d = column.cast("double")
        whole = ((d % 1.0) == 0.0) & (F.abs(d) < F.lit(9.2e18))
        low = F.when(whole, d.cast("long").bitwiseAND(_LOW_BITS)).otherwise(F.lit(0).cast("long"))
        return F.xxhash64(d, low)
    if kind == "timestamp":
        return F.xxhash64(column.cast("timestamp_ntz"))
    if kind == "string":
        return F.xxhash64(column)
    if kind == "nested":
        return F.xxhash64(F.to_json(column))
    return F.xxhash64(column)  # boolean, date, binary: one representation each


def _min_max_expr(column: Column, dtype: DataType, agg: Any) -> Column | None:
    from pyspark.sql import functions as F

    kind = _kind(dtype)
    if kind in ("integral", "fractional", "boolean", "string"):
        return agg(column)  # type: ignore[no-any-return]
    if kind == "date":
        return F.date_format(agg(column), "yyyy-MM-dd")
    if kind == "timestamp":
        return F.date_format(agg(column), _TS_FORMAT)
    return None


def _canonical_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value == value else "NaN"
    return str(value)


def _load(spark: SparkSession, spec: DatasetSpec, plan: ReadPlan) -> DataFrame:
    reader = spark.read.format(plan.format).options(**plan.options)
    if plan.schema is not None:
        reader = reader.schema(plan.schema)
    return reader.load([spec.root.spark_path(f.relpath) for f in spec.files])


def read_dataset(
    spark: SparkSession,
    spec: DatasetSpec,
    *,
    sniff_bytes: int = 1 << 20,
    parquet_schema: str | None = None,
    profiled_schema: str | None = None,
) -> DataFrame:
    """A DataFrame over the dataset, after checking its files (see ``_schema``).

    ``parquet_schema`` (a DDL string such as ``"`id` bigint, `name` string"``) spares Spark
    its footer-inference job for Parquet datasets. ``profiled_schema`` (the DDL of the
    columns a profile recorded) skips the file checks for every format: only for files
    unchanged since that profile (same file signature), which the profile already checked.
    """
    paths = [spec.root.spark_path(f.relpath) for f in spec.files]
    if profiled_schema is not None:
        reader = spark.read.format(spec.format).options(**READ_OPTIONS[spec.format])
        return reader.schema(profiled_schema).load(paths)
    plan = plan_read(spec, sniff_bytes=sniff_bytes)
    if plan.format == "parquet" and parquet_schema is not None:
        reader = spark.read.format("parquet").options(**plan.options).schema(parquet_schema)
        return reader.load(paths)
    return _load(spark, spec, plan)


_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_.]+)\] ([^\n]*)")


def _spark_failure(spec: DatasetSpec, exc: Exception) -> LakeError:
    """Turn a JVM stack trace into one actionable line naming the dataset and file."""
    text = str(exc)
    causes: list[str] = []
    for match in _ERROR_CLASS.finditer(text):
        cause = f"[{match.group(1)}] {match.group(2).split(' SQLSTATE')[0].strip()}"
        if cause not in causes:
            causes.append(cause)
    if not causes:
        causes = [next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)]
    summary = causes[0] if len(causes) == 1 else f"{causes[0]} (cause: {causes[-1]})"
    where = _URI.search(text)
    location = f" in {where.group(1).rstrip('.,:').rsplit('/', 1)[-1]}" if where else ""
    hint = "Fix the file or remove it from the dataset."
    if "MALFORMED" in text or "CANNOT_PARSE" in text:
        hint = (
            "A row does not match the columns or types inferred from the files' heads "
            "(e.g. a ragged CSV row or a value of another type). " + hint
        )
    return DatasetMalformed(
        f"Dataset {spec.name}: Spark could not read it{location}: {summary[:400]}. {hint}",
        dataset=spec.name,
    )


def _profile_exprs(fields: list[StructField]) -> list[Column]:
    """The one aggregation: rows, per-column stats, and the fingerprint's three sums."""
    from pyspark.sql import functions as F

    exprs: list[Column] = [F.count(F.lit(1)).alias("rows")]
    for i, field in enumerate(fields):
        c = _col(field.name)
        exprs.append(F.count(c).alias(f"n{i}"))
        distinct_input = c if _kind(field.dataType) != "nested" else F.to_json(c)
        exprs.append(F.approx_count_distinct(distinct_input, 0.05).alias(f"d{i}"))
        lo = _min_max_expr(c, field.dataType, F.min)
        hi = _min_max_expr(c, field.dataType, F.max)
        if lo is not None and hi is not None:
            exprs.append(lo.alias(f"lo{i}"))
            exprs.append(hi.alias(f"hi{i}"))
    ordered = sorted(fields, key=lambda f: (f.name.lower(), f.name))
    value_hashes = [canonical_hash(_col(f.name), f.dataType) for f in ordered]
    h64 = F.xxhash64(*value_hashes)
    h32 = F.hash(*value_hashes).cast("long")
    return [
        *exprs,
        F.sum(h64.bitwiseAND(_MASK30)).alias("fp0"),
        F.sum(F.shiftrightunsigned(h64, 30).bitwiseAND(_MASK30)).alias("fp1"),
        F.sum(h32.bitwiseAND(_MASK30)).alias("fp2"),
    ]


def _digest(fields: list[StructField], rows: int, row: dict[str, Any]) -> str:
    from lakeward.dedup._fingerprint import current_lake_key

    ordered = sorted(fields, key=lambda f: (f.name.lower(), f.name))
    names = "\x1f".join(f.name.lower() for f in ordered)
    return current_lake_key().content_fingerprint(
        f"{names}\n{rows}\n{row['fp0'] or 0}\n{row['fp1'] or 0}\n{row['fp2'] or 0}".encode()
    )


def content_fingerprint(df: DataFrame) -> tuple[int, str]:
    """Row count and content fingerprint of any DataFrame, as :func:`profile_dataset` computes.

    Used to check that a dataset rebuilt from elsewhere (e.g. a dedup reconstruction recipe)
    has exactly the content of the original.
    """
    from pyspark.sql import functions as F

    fields = list(df.schema.fields)
    ordered = sorted(fields, key=lambda f: (f.name.lower(), f.name))
    value_hashes = [canonical_hash(_col(f.name), f.dataType) for f in ordered]
    if value_hashes:
        h64, h32 = F.xxhash64(*value_hashes), F.hash(*value_hashes).cast("long")
    else:
        h64, h32 = F.lit(0).cast("long"), F.lit(0).cast("long")
    row = (
        df.agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(h64.bitwiseAND(_MASK30)).alias("fp0"),
            F.sum(F.shiftrightunsigned(h64, 30).bitwiseAND(_MASK30)).alias("fp1"),
            F.sum(h32.bitwiseAND(_MASK30)).alias("fp2"),
        )
        .collect()[0]
        .asDict()
    )
    rows = int(row["rows"])
    return rows, _digest(fields, rows, row)


def profile_dataset(
    spark: SparkSession,
    spec: DatasetSpec,
    *,
    sniff_bytes: int = 1 << 20,
    masked: frozenset[str] = frozenset(),
    plan: ReadPlan | None = None,
) -> DatasetProfile:
    """Profile one dataset with a single Spark aggregation.

    Columns in ``masked`` (the policy layer's ``mask:<column>`` obligations) get counts,
    nulls and distinct counts but no min/max, so no value of theirs reaches the catalog.
    ``plan`` is the result of :func:`plan_read` when the caller already checked the files.

    Raises:
        LakeError: the dataset's files cannot be read or parsed (names file and fix).
    """
    started = time.perf_counter()
    signature = spec.signature
    if plan is None:
        plan = plan_read(spec, sniff_bytes=sniff_bytes)  # file checks: errors name the file
    try:
        df = _load(spark, spec, plan)
        fields = list(df.schema.fields)
        row = df.agg(*_profile_exprs(fields)).collect()[0].asDict()
    except Exception as exc:  # Spark surfaces read and parse failures as JVM exceptions
        raise _spark_failure(spec, exc) from exc
    rows = int(row["rows"])
    columns = [
        ColumnStats(
            name=field.name,
            type=field.dataType.simpleString(),
            nullable=field.nullable,
            min_value=None if field.name in masked else _canonical_value(row.get(f"lo{i}")),
            max_value=None if field.name in masked else _canonical_value(row.get(f"hi{i}")),
            null_count=rows - int(row[f"n{i}"]),
            distinct_approx=int(row[f"d{i}"]),
        )
        for i, field in enumerate(fields)
    ]
    digest = _digest(fields, rows, row)
    return DatasetProfile(
        name=spec.name,
        rows=rows,
        bytes=spec.bytes,
        file_count=len(spec.files),
        fingerprint=digest,
        signature=signature,
        columns=columns,
        seconds=time.perf_counter() - started,
    )
