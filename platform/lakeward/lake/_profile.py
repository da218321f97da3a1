"""Profile a dataset on Spark in one pass.

One aggregation job per dataset computes the row count and, per column, min, max, null
count and approximate distinct count (HyperLogLog++, relative standard deviation 5%), plus
the **content fingerprint**: an order-independent multiset hash of the rows.

Content fingerprint, precisely: every row is rendered as canonical text — columns in order
of their lower-cased names, values in canonical form (integers and integral floats as
base-10 integers, other floats and decimals as Java ``Double.toString`` of the double,
dates ``yyyy-MM-dd``, timestamps ``yyyy-MM-dd'T'HH:mm:ss.SSSSSS`` in UTC, strings trimmed,
booleans ``true``/``false``, binary as base64, nested values as JSON, null as ``\\0``) joined
by ``\\x1f``. Three 30-bit slices of two independent hashes of that text (xxhash64 and
murmur3) are summed over all rows (exact for up to 2^33 rows); SHA-256 of the lower-cased
column names, the row count and the three sums is the fingerprint. So the same rows in
another order, another file layout or another format (CSV vs Parquet) give the same
fingerprint; a changed, added or removed row gives another. It is for change detection and
cheap equality checks, not a cryptographic commitment (dedup uses keyed HMAC fingerprints).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeward.catalog import ColumnStats
from lakeward.errors import DatasetMalformed, LakeError
from lakeward.lake._discover import DatasetSpec
from lakeward.lake._schema import plan_read

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType

__all__ = ["DatasetProfile", "profile_dataset", "read_dataset"]

_MASK30 = (1 << 30) - 1
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


def canonical_text(column: Column, dtype: DataType) -> Column:
    """The canonical text of a value, as used by the content fingerprint (see module doc)."""
    from pyspark.sql import functions as F

    kind = _kind(dtype)
    if kind == "integral":
        return column.cast("string")
    if kind == "fractional":
        d = column.cast("double")
        integral = (~F.isnan(d)) & (F.abs(d) < F.lit(1e15)) & (d == F.round(d, 0))
        return F.when(integral, d.cast("long").cast("string")).otherwise(d.cast("string"))
    if kind == "boolean":
        return column.cast("string")
    if kind == "date":
        return F.date_format(column, "yyyy-MM-dd")
    if kind == "timestamp":
        return F.date_format(column, _TS_FORMAT)
    if kind == "string":
        return F.trim(column)
    if kind == "binary":
        return F.base64(column)
    return F.to_json(column)


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


def read_dataset(spark: SparkSession, spec: DatasetSpec, *, sniff_bytes: int = 1 << 20) -> DataFrame:
    """A DataFrame over the dataset, after checking its files (see ``_schema``)."""
    plan = plan_read(spec, sniff_bytes=sniff_bytes)
    reader = spark.read.format(plan.format).options(**plan.options)
    if plan.schema is not None:
        reader = reader.schema(plan.schema)
    paths = [spec.root.spark_path(f.relpath) for f in spec.files]
    return reader.load(paths)


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


def profile_dataset(
    spark: SparkSession, spec: DatasetSpec, *, sniff_bytes: int = 1 << 20
) -> DatasetProfile:
    """Profile one dataset with a single Spark aggregation.

    Raises:
        LakeError: the dataset's files cannot be read or parsed (names file and fix).
    """
    from pyspark.sql import functions as F

    started = time.perf_counter()
    signature = spec.signature
    df = read_dataset(spark, spec, sniff_bytes=sniff_bytes)
    fields = list(df.schema.fields)
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
    row_text = F.concat_ws(
        "\x1f", *[F.coalesce(canonical_text(_col(f.name), f.dataType), F.lit("\x00")) for f in ordered]
    )
    h64 = F.xxhash64(row_text)
    h32 = F.hash(row_text).cast("long")
    exprs += [
        F.sum(h64.bitwiseAND(_MASK30)).alias("fp0"),
        F.sum(F.shiftrightunsigned(h64, 30).bitwiseAND(_MASK30)).alias("fp1"),
        F.sum(h32.bitwiseAND(_MASK30)).alias("fp2"),
    ]
    try:
        row = df.agg(*exprs).collect()[0].asDict()
    except Exception as exc:  # Spark surfaces parse failures as JVM exceptions
        raise _spark_failure(spec, exc) from exc
    rows = int(row["rows"])
    columns = [
        ColumnStats(
            name=field.name,
            type=field.dataType.simpleString(),
            nullable=field.nullable,
            min_value=_canonical_value(row.get(f"lo{i}")),
            max_value=_canonical_value(row.get(f"hi{i}")),
            null_count=rows - int(row[f"n{i}"]),
            distinct_approx=int(row[f"d{i}"]),
        )
        for i, field in enumerate(fields)
    ]
    names = "\x1f".join(f.name.lower() for f in ordered)
    digest = hashlib.sha256(
        f"{names}\n{rows}\n{row['fp0'] or 0}\n{row['fp1'] or 0}\n{row['fp2'] or 0}".encode()
    ).hexdigest()
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
