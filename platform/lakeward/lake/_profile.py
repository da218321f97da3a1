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

CSV/JSON columns are typed from the files' heads. When a value further in does not fit
(the ``FAILFAST`` pass fails), one lenient pass finds the columns concerned and the
narrowest type all their values fit (int → bigint → double → string, date → timestamp →
string), and the profile pass runs again with those; :attr:`DatasetProfile.widened` lists
each widening. A dataset never fails for a value's type, only for a record that cannot be
parsed at all (a ragged CSV row, a line that is not JSON), reported by file and line.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeward.catalog import ColumnStats
from lakeward.errors import DatasetMalformed, LakeError
from lakeward.lake._discover import DataFile, DatasetSpec
from lakeward.lake._schema import ReadPlan, Widening, plan_read, read_options
from lakeward.lake._text import BadRecord, find_bad_csv_record, find_bad_json_line

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
    dialect: dict[str, Any] | None = None  # CSV: delimiter, encoding, BOM, quoting
    widened: list[dict[str, str]] = dataclasses.field(default_factory=list)  # see Widening.to_dict


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


def _reader(spark: SparkSession, fmt: str, options: dict[str, str]) -> Any:
    if options.get("encoding") == "windows-1252":
        # Spark 4 reads only a short list of charsets unless the legacy switch is on; it
        # only widens that list, so turning it on for the session is harmless.
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    return spark.read.format(fmt).options(**options)


def _load(spark: SparkSession, spec: DatasetSpec, plan: ReadPlan) -> DataFrame:
    reader = _reader(spark, plan.format, plan.options)
    if plan.schema is not None:
        reader = reader.schema(plan.schema)
    return reader.load([spec.root.spark_path(f.relpath) for f in spec.files])  # type: ignore[no-any-return]


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
        reader = _reader(spark, spec.format, read_options(spec, sniff_bytes=sniff_bytes))
        return reader.schema(profiled_schema).load(paths)  # type: ignore[no-any-return]
    plan = plan_read(spec, sniff_bytes=sniff_bytes)
    if plan.format == "parquet" and parquet_schema is not None:
        reader = spark.read.format("parquet").options(**plan.options).schema(parquet_schema)
        return reader.load(paths)
    return _load(spark, spec, plan)


_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")
_CAUSE = re.compile(r"(?:Caused by: |^)([a-z][\w$]*(?:\.[\w$]+)+(?:Exception|Error))", re.M)


def _failed_file(spec: DatasetSpec, text: str) -> DataFile | None:
    """The dataset file a Spark error names, if it names one."""
    for match in _URI.finditer(text):
        uri = match.group(1).rstrip(".,:")
        for f in spec.files:
            if uri == spec.root.spark_path(f.relpath) or uri.endswith("/" + f.relpath):
                return f
    return None


def _locate_bad_record(
    spec: DatasetSpec, plan: ReadPlan, files: list[DataFile]
) -> tuple[DataFile, BadRecord] | None:
    """The first ragged CSV record or non-JSON line in ``files`` (CSV and JSON only)."""
    from lakeward.lake._schema import _open

    if plan.format not in ("csv", "json"):
        return None
    for f in files:
        try:
            stream = _open(spec, f)
        except LakeError:
            continue
        try:
            if plan.format == "csv" and plan.dialect is not None:
                bad = find_bad_csv_record(stream, plan.dialect, len(plan.columns))
            else:
                bad = find_bad_json_line(stream)
        except (OSError, UnicodeDecodeError):
            bad = None
        finally:
            stream.close()
        if bad is not None:
            return f, bad
    return None


def read_failure(spec: DatasetSpec, exc: Exception, *, sniff_bytes: int = 1 << 20) -> LakeError:
    """The error to raise when a Spark job over ``spec`` (read with :func:`read_dataset`) fails.

    Names the dataset, the file and the bad record's line, never a value (see
    ``_spark_failure``); a file check that now fails is returned as it is.
    """
    try:
        plan = plan_read(spec, sniff_bytes=sniff_bytes)
    except LakeError as checked:
        return checked
    return _spark_failure(spec, plan, exc)


def _spark_failure(spec: DatasetSpec, plan: ReadPlan, exc: Exception) -> LakeError:
    """One actionable line naming the dataset, file and record, and never a value.

    Spark's messages quote the records they could not parse (``Malformed records are
    detected in record parsing: [600,ceo.private@corp.example,null]``, ``For input string:
    "..."``), so only their error classes and exception names are kept; the bad record is
    located again here, by file and line, and described by its shape.
    """
    text = str(exc)
    classes = list(dict.fromkeys(_ERROR_CLASS.findall(text)))
    causes = list(dict.fromkeys(c.rsplit(".", 1)[-1] for c in _CAUSE.findall(text)))
    failed = _failed_file(spec, text)
    found = _locate_bad_record(spec, plan, [failed] if failed else list(spec.files))
    if found is not None:
        f, bad = found
        what = f" {f.relpath}, {bad.where()}: {bad.reason}"
    else:
        what = f" {failed.relpath}" if failed else ""
    detail = ", ".join(classes + causes) or type(exc).__name__
    return DatasetMalformed(
        f"Dataset {spec.name}: Spark could not read{what} ({detail}). Fix the record or "
        "remove the file from the dataset.",
        dataset=spec.name,
        path=found[0].relpath if found else failed.relpath if failed else None,
    )


def _wider_types(dtype: DataType) -> list[DataType]:
    """The types a column may widen to before string: int → bigint → double, date → timestamp."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.ByteType | T.ShortType | T.IntegerType):
        return [T.LongType(), T.DoubleType()]
    if isinstance(dtype, T.LongType | T.FloatType | T.DecimalType):
        return [T.DoubleType()]
    if isinstance(dtype, T.DateType):
        return [T.TimestampNTZType()]
    return []


def _widen(spark: SparkSession, spec: DatasetSpec, plan: ReadPlan) -> ReadPlan | None:
    """After a failed pass: widen the columns whose values do not all fit their type.

    One extra pass reads the files leniently (``PERMISSIVE``, keeping each record Spark could
    not convert) and re-parses only those records, one column at a time and with each wider
    type in turn (Spark's own ``from_csv``/``from_json``, so exactly the reader's rules);
    each column gets the narrowest type all its values fit, string at worst. ``None`` when no
    column needs widening: the failure was something else (a ragged row, broken JSON).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if plan.schema is None or plan.format not in ("csv", "json"):
        return None
    fields = list(plan.schema.fields)
    chains = {
        i: [f.dataType, *_wider_types(f.dataType)]
        for i, f in enumerate(fields)
        if not isinstance(f.dataType, T.StringType)
    }
    if not chains:
        return None
    corrupt = "_lakeward_unparsed"
    while corrupt in {f.name for f in fields}:
        corrupt += "_"
    options = dict(plan.options, mode="PERMISSIVE", columnNameOfCorruptRecord=corrupt)
    frame = (
        _reader(spark, plan.format, options)
        .schema(T.StructType([*fields, T.StructField(corrupt, T.StringType(), True)]))
        .load([spec.root.spark_path(f.relpath) for f in spec.files])
    )
    raw = F.col(corrupt)
    # An aggregate over every column makes Spark convert them all (no column pruning).
    exprs: list[Column] = [F.max(F.xxhash64(*[_col(f.name) for f in fields])).alias("all")]
    if plan.format == "csv":
        dialect = plan.dialect
        csv_options = (
            {"sep": dialect.delimiter, "quote": dialect.quote, "escape": dialect.escape}
            if dialect
            else {}
        )

        def ddl(level: int) -> str:
            types = [
                chains[i][level].simpleString()
                if i in chains and level < len(chains[i])
                else "string"
                for i in range(len(fields))
            ]
            return ", ".join(f"c{i} {t}" for i, t in enumerate(types))

        text = F.from_csv(raw, ", ".join(f"c{i} string" for i in range(len(fields))), csv_options)
        for level in range(max(len(c) for c in chains.values())):
            parsed = F.from_csv(raw, ddl(level), csv_options)
            for i, chain in chains.items():
                if level < len(chain):
                    value = text.getField(f"c{i}")
                    misfit = value.isNotNull() & (value != "") & parsed.getField(f"c{i}").isNull()
                    exprs.append(F.count(F.when(misfit, 1)).alias(f"m{i}_{level}"))
    else:
        for i, chain in chains.items():
            name = fields[i].name

            def one(dtype: DataType, name: str = name) -> Column:
                return F.from_json(raw, T.StructType([T.StructField(name, dtype, True)])).getField(
                    name
                )

            value = one(T.StringType())
            for level, dtype in enumerate(chain):
                misfit = value.isNotNull() & one(dtype).isNull()
                exprs.append(F.count(F.when(misfit, 1)).alias(f"m{i}_{level}"))
    row = frame.where(raw.isNotNull()).agg(*exprs).collect()[0].asDict()
    widened: list[Widening] = []
    new_fields = list(fields)
    for i, chain in chains.items():
        fits = [dtype for level, dtype in enumerate(chain) if row[f"m{i}_{level}"] == 0]
        chosen = fits[0] if fits else T.StringType()
        if chosen != chain[0]:
            widened.append(
                Widening(
                    fields[i].name,
                    chain[0].simpleString(),
                    chosen.simpleString(),
                    "values further into the files do not fit " + chain[0].simpleString(),
                )
            )
            new_fields[i] = T.StructField(fields[i].name, chosen, True)
    if not widened:
        return None
    return ReadPlan(
        plan.format,
        plan.options,
        T.StructType(new_fields),
        plan.columns,
        plan.dialect,
        [*plan.widened, *widened],
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

    def one_pass(plan: ReadPlan) -> tuple[list[StructField], dict[str, Any]]:
        df = _load(spark, spec, plan)
        fields = list(df.schema.fields)
        return fields, df.agg(*_profile_exprs(fields)).collect()[0].asDict()

    # Spark surfaces read and parse failures as JVM exceptions whose text quotes records:
    # they are replaced (``from None``), never chained, so no value reaches a log.
    try:
        fields, row = one_pass(plan)
    except Exception as exc:
        try:
            wider = _widen(spark, spec, plan)
        except Exception:
            wider = None
        if wider is None:
            raise _spark_failure(spec, plan, exc) from None
        plan = wider
        try:
            fields, row = one_pass(plan)
        except Exception as again:
            raise _spark_failure(spec, plan, again) from None
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
        dialect=plan.dialect.to_dict() if plan.dialect else None,
        widened=[w.to_dict() for w in plan.widened],
    )
