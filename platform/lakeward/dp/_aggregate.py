"""The Spark side of a stream: per-period, per-key bounded counts and sums.

Every row of the stream's datasets gets its *effective period*: ``max(event period, period at
which its file was first ingested)``. A file is ingested by the first release after it
appeared, so late events count toward the next unreleased period and released history never
changes; each event lands in exactly one period, deterministically, on every re-run.

Contribution bounding (one shuffle by unit; the windows below share it; none at event level,
and a sort-free hash aggregate when a unit keeps one event per period):

1. per (unit, effective period), keep the unit's first ``max_per_period`` events ordered by
   (event time, key, clipped value) — a deterministic function of the unit's own rows;
2. at user level, keep only each unit's first ``max_periods`` effective periods;
3. sum per (effective period, key): the increments the counters add up.

Parquet files written with nanosecond timestamps (pandas' and pyarrow's default for
``datetime64[ns]``) are read through a child session that reads them as longs
(``spark.sql.legacy.parquet.nanosAsLong``), then turned into timestamps truncated to the
microsecond: Spark's own timestamps have no finer precision, and period boundaries are whole
seconds, so no event changes period.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lakeward.dp._streams import StreamSpec
from lakeward.errors import InputError, StreamSchemaChanged

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeward.lake import DatasetSpec

__all__ = ["StreamSource", "period_increments", "schema_hash", "source_frame"]

_TIME_TYPES = ("timestamp", "timestamp_ntz", "date")
_NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


@dataclass(frozen=True)
class StreamSource:
    """One dataset of a stream: its files now, and the period each file was ingested at."""

    dataset: DatasetSpec
    ingest_period: dict[str, int]  # file name → period


def _nanosecond_columns(spec: DatasetSpec) -> dict[str, bool]:
    """Top-level nanosecond timestamp columns of a Parquet dataset → whether UTC-adjusted."""
    if spec.format != "parquet":
        return {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[str, bool] = {}
    for f in spec.files:
        try:
            if spec.root.local:
                schema = pq.read_schema(f.path)
            else:
                import pyarrow.fs as pafs

                fs = pafs.FileSystem.from_uri(spec.root.uri)[0]
                schema = pq.read_schema(f.path, filesystem=fs)
        except Exception:  # read_dataset reports unreadable files precisely
            continue
        for field in schema:
            if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
                found[field.name] = field.type.tz is not None
    return found


def _read(spark: SparkSession, spec: DatasetSpec) -> DataFrame:
    """The dataset as Spark reads it, nanosecond Parquet timestamps included (module doc)."""
    from pyspark.sql import functions as F

    from lakeward.lake import read_dataset

    nanos = _nanosecond_columns(spec)
    if not nanos:
        return read_dataset(spark, spec)
    child = spark.newSession()
    child.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    # Lakeward runs Spark in UTC; the child must agree for timestamp_ntz columns.
    child.conf.set(
        "spark.sql.session.timeZone", spark.conf.get("spark.sql.session.timeZone") or "UTC"
    )
    frame = read_dataset(child, spec)
    longs = {f.name for f in frame.schema.fields if f.dataType.simpleString() == "bigint"}
    for column, utc in nanos.items():
        if column not in longs:  # INT96 timestamps also show as ns in pyarrow; Spark reads them
            continue
        q = "`" + column.replace("`", "``") + "`"
        micros = F.timestamp_micros(F.expr(f"({q} - pmod({q}, 1000)) div 1000"))
        frame = frame.withColumn(column, micros if utc else micros.cast("timestamp_ntz"))
    return frame


def _types(spark: SparkSession, spec: DatasetSpec) -> dict[str, str]:
    frame = _read(spark, spec)
    return {f.name: f.dataType.simpleString() for f in frame.schema.fields}


def schema_hash(spark: SparkSession, stream: StreamSpec, datasets: Sequence[DatasetSpec]) -> str:
    """Hash of the needed columns' types in every dataset, after checking they fit the stream.

    Raises:
        StreamSchemaChanged: a needed column is missing or has a type the stream cannot use.
    """
    digest = hashlib.sha256()
    for spec in sorted(datasets, key=lambda s: s.name):
        types = _types(spark, spec)
        problems = []
        for column in stream.needed_columns():
            kind = types.get(column)
            if kind is None:
                problems.append(
                    f"column {column!r} is missing (columns: {', '.join(sorted(types))})"
                )
            elif column == stream.time_column and kind not in _TIME_TYPES:
                problems.append(f"time column {column!r} is {kind}, not a timestamp or date")
            elif column == stream.value_column and not kind.startswith(_NUMERIC):
                problems.append(f"value column {column!r} is {kind}, not numeric")
            digest.update(f"{spec.name}\0{column}\0{kind}\n".encode())
        if problems:
            raise StreamSchemaChanged(
                f"Stream {stream.name}: dataset {spec.name} cannot feed it: "
                + "; ".join(problems)
                + ". Fix the dataset, or create a new stream for the new schema."
            )
    return digest.hexdigest()


def source_frame(
    spark: SparkSession, stream: StreamSpec, sources: Sequence[StreamSource]
) -> DataFrame:
    """Rows of every source as ``_t, _u, _k0.._kn, _v, _e`` (effective period), filtered.

    Keys are the declared values only (an InSet filter, no string building); the ingest
    period comes from the file name when a source's files were ingested at different
    periods, and is a literal otherwise.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    start = int(stream.start.timestamp())
    frames = []
    for source in sources:
        spec = source.dataset
        frame = _read(spark, spec)
        unit = F.col(stream.unit_column) if stream.unit_column else F.lit("")
        keep = F.col(stream.time_column).isNotNull() & unit.isNotNull()
        for column in stream.key_columns:
            keep = keep & F.col(column).cast("string").isin(stream.keys[column])
        value = (
            F.coalesce(
                F.least(
                    F.greatest(F.col(stream.value_column).cast("double"), F.lit(stream.clip[0])),
                    F.lit(stream.clip[1]),
                ),
                F.lit(0.0),
            )
            if stream.value_column and stream.clip
            else F.lit(1.0)
        )
        t = F.col(stream.time_column).cast("timestamp")
        period = F.floor((F.unix_seconds(t) - F.lit(start)) / F.lit(stream.period_seconds)) + 1
        periods = set(source.ingest_period.values())
        if len(periods) <= 1:
            ingest = F.lit(periods.pop() if periods else 1)
            extra = []
        else:
            ingest = F.col("_ingest")
            extra = [F.col("_metadata.file_name").alias("_file")]
        selected = frame.where(keep).select(
            t.alias("_t"),
            unit.cast("string").alias("_u"),
            *[F.col(c).cast("string").alias(f"_k{i}") for i, c in enumerate(stream.key_columns)],
            value.alias("_v"),
            period.cast("long").alias("_p"),
            *extra,
        )
        if extra:
            files = spark.createDataFrame(
                list(source.ingest_period.items()),
                T.StructType(
                    [
                        T.StructField("_file", T.StringType(), False),
                        T.StructField("_ingest", T.IntegerType(), False),
                    ]
                ),
            )
            selected = selected.join(F.broadcast(files), ["_file"], "inner").drop("_file")
        frames.append(
            selected.where(F.col("_p") >= 1).withColumn(
                "_e", F.greatest(F.col("_p"), ingest.cast("long"))
            )
        )
    return reduce(lambda a, b: a.unionByName(b), frames)


def period_increments(
    spark: SparkSession, stream: StreamSpec, sources: Sequence[StreamSource], first: int, last: int
) -> npt.NDArray[np.float64]:
    """Bounded per-key increments for periods ``first..last``, shape ``(periods, keys)``.

    Raises:
        InputError: ``first..last`` is empty.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not 1 <= first <= last:
        raise InputError(f"No periods to compute: {first}..{last}.")
    rows = source_frame(spark, stream, sources).where(F.col("_e") <= last)
    if not stream.user_level:  # only user level needs earlier periods (first-b ranking)
        rows = rows.where(F.col("_e") >= first)
    keys = [f"_k{i}" for i in range(len(stream.key_columns))]
    if stream.event_level:  # each event is its own unit: nothing to bound, no shuffle
        pass
    elif stream.max_per_period == 1 and not stream.user_level:
        # One event per unit-period: a hash aggregate (no sort) keeps the first by (t, key, v).
        first_event = F.min(F.struct("_t", *keys, "_v")).alias("_m")
        rows = (
            rows.withColumn("_u", F.xxhash64("_u"))
            .groupBy("_u", "_e")
            .agg(first_event)
            .select("_e", *[F.col(f"_m.{k}").alias(k) for k in keys], F.col("_m._v").alias("_v"))
        )
    else:
        # Units as 64-bit hashes: cheaper to shuffle; a collision merges two units, which only
        # tightens the bound (each still contributes at most its share).
        rows = rows.withColumn("_u", F.xxhash64("_u"))
        if stream.user_level:  # one shuffle by unit serves both windows
            rows = rows.repartition("_u")
        first_k = Window.partitionBy("_u", "_e").orderBy("_t", *keys, "_v")
        rows = rows.withColumn("_r", F.row_number().over(first_k)).where(
            F.col("_r") <= stream.max_per_period
        )
        if stream.user_level:
            periods = Window.partitionBy("_u").orderBy("_e")
            rows = rows.withColumn("_rank", F.dense_rank().over(periods)).where(
                F.col("_rank") <= int(stream.max_periods or 1)
            )
    totals = (
        rows.where(F.col("_e") >= first).groupBy("_e", *keys).agg(F.sum("_v").alias("_x")).collect()
    )
    index = {label: i for i, label in enumerate(stream.key_labels())}
    columns = stream.key_columns
    out = np.zeros((last - first + 1, len(index)))
    for row in totals:
        label = "|".join(f"{c}={row[k]}" for c, k in zip(columns, keys, strict=True)) or "all"
        out[int(row["_e"]) - first, index[label]] = float(row["_x"])
    return out
