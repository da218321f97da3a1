"""The Spark side of a stream: per-period, per-key bounded counts and sums.

Every row of the stream's datasets gets its *effective period*: ``max(event period, period at
which its file was first ingested)``. A file is ingested by the first release after it
appeared, so late events count toward the next unreleased period and released history never
changes; each event lands in exactly one period, deterministically, on every re-run.

Contribution bounding runs after one shuffle by privacy unit (every window and aggregate
below is satisfied by that partitioning, so Spark adds no other exchange):

1. pre-aggregate per (unit, effective period, key): events, clipped sum, first event time;
2. per (unit, effective period), walk the key groups by first event time and keep at most
   ``max_per_period`` events in total (a partially kept group contributes that fraction of
   its clipped sum: still within the bound, and a function of the unit's own rows only);
3. at user level, keep only each unit's first ``max_periods`` effective periods;
4. sum per (effective period, key): the increments the counters add up.
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


def _types(spark: SparkSession, spec: DatasetSpec) -> dict[str, str]:
    from lakeward.lake import read_dataset

    frame = read_dataset(spark, spec)
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
    """Rows of every source with ``_t, _u, _key, _v, _e`` (effective period), filtered."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from lakeward.lake import read_dataset

    frames = []
    mapping: list[tuple[str, str, int]] = []
    for source in sources:
        spec = source.dataset
        frame = read_dataset(spark, spec)
        file_name = F.url_decode(F.element_at(F.split(F.col("_metadata.file_path"), "/"), -1))
        keys = [F.col(c).cast("string") for c in stream.key_columns]
        key = (
            F.concat_ws(
                "|",
                *[
                    F.concat(F.lit(f"{c}="), k)
                    for c, k in zip(stream.key_columns, keys, strict=True)
                ],
            )
            if keys
            else F.lit("all")
        )
        key_ok = reduce(lambda a, b: a & b, [k.isNotNull() for k in keys], F.lit(True))
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
        frames.append(
            frame.where(key_ok).select(
                F.col(stream.time_column).cast("timestamp").alias("_t"),
                F.col(stream.unit_column).cast("string").alias("_u"),
                key.alias("_key"),
                value.alias("_v"),
                F.lit(spec.name).alias("_ds"),
                file_name.alias("_file"),
            )
        )
        mapping.extend((spec.name, name, period) for name, period in source.ingest_period.items())
    rows = reduce(lambda a, b: a.unionByName(b), frames)
    files = spark.createDataFrame(
        mapping,
        T.StructType(
            [
                T.StructField("_ds", T.StringType(), False),
                T.StructField("_file", T.StringType(), False),
                T.StructField("_ingest", T.IntegerType(), False),
            ]
        ),
    )
    start = int(stream.start.timestamp())
    period = (
        F.floor((F.unix_seconds(F.col("_t")) - F.lit(start)) / F.lit(stream.period_seconds)) + 1
    )
    labels = stream.key_labels()
    return (
        rows.join(F.broadcast(files), ["_ds", "_file"], "inner")
        .where(F.col("_t").isNotNull() & F.col("_u").isNotNull() & F.col("_key").isin(labels))
        .withColumn("_p", period.cast("long"))
        .where(F.col("_p") >= 1)
        .withColumn("_e", F.greatest(F.col("_p"), F.col("_ingest").cast("long")))
    )


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
    k = stream.max_per_period
    groups = (
        rows.repartition("_u")
        .groupBy("_u", "_e", "_key")
        .agg(F.count(F.lit(1)).alias("_n"), F.sum("_v").alias("_s"), F.min("_t").alias("_t0"))
    )
    walk = (
        Window.partitionBy("_u", "_e")
        .orderBy("_t0", "_key")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    before = F.sum("_n").over(walk) - F.col("_n")
    take = F.least(F.col("_n"), F.greatest(F.lit(k) - before, F.lit(0)))
    bounded = groups.withColumn("_take", take).where(F.col("_take") > 0)
    if stream.user_level:
        order = Window.partitionBy("_u").orderBy("_e")
        bounded = bounded.withColumn("_rank", F.dense_rank().over(order)).where(
            F.col("_rank") <= int(stream.max_periods or 1)
        )
    contribution = (
        F.col("_take") if stream.measure == "count" else F.col("_s") * F.col("_take") / F.col("_n")
    )
    totals = (
        bounded.where(F.col("_e") >= first)
        .groupBy("_e", "_key")
        .agg(F.sum(contribution.cast("double")).alias("_x"))
        .collect()
    )
    index = {label: i for i, label in enumerate(stream.key_labels())}
    out = np.zeros((last - first + 1, len(index)))
    for row in totals:
        out[int(row["_e"]) - first, index[row["_key"]]] = float(row["_x"])
    return out
