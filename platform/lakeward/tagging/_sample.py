"""Read a bounded, seeded sample of a dataset's columns for the value detectors.

One Spark job per dataset: the files are read as every other job reads them
(:func:`lakeward.lake.read_dataset`: file checks, CSV dialects, link checks), rows are kept
by a seeded Bernoulli ``sample`` whose fraction comes from the catalog's row count (about
``1.2 × rows`` rows expected, never a sort or a full count), ``limit(rows)`` bounds what
comes back, and the leaves of every column are projected and collected to the driver, where
the detectors run. So nothing here needs executors that can import Lakeward, and the same
code runs on ``local[*]``, a standalone cluster and Spark Connect (no RDDs, no UDFs).

**Leaves.** A top-level column is one leaf; a struct is flattened to its fields
(``address.street name``); an array contributes the leaves of its elements (``tags[]``,
``items[].sku``; at most :data:`ELEMENTS_PER_ROW` elements per row and array level); a map
contributes its values (``attrs{}``). Binary leaves are listed with their null count and no
values. Text values longer than ``max_value_bytes`` UTF-8 bytes are cut **in Spark**, so a
10 MB cell never crosses to Python whole.

**Types.** A CSV/JSON column that profiling widened (a late value did not fit the type its
head suggested) is read with the profiled type while the files are unchanged. Without such
a profile, a sample that fails on a value's type is read once more with every top-level
scalar column as ``string`` (what ``declared_type`` then says).

**Values are data.** :class:`ColumnSample.values` are never logged, printed (its ``repr``
leaves them out) or stored; errors name the dataset and Spark's error class, never a value.

**Policy.** This module does not ask the policy layer: the caller decides
``lake.read_content`` for the principal and purpose (``data_governance`` for tagging,
audited) *before* calling :func:`sample_dataset`, as :mod:`lakeward.tagging`'s classify
service does, and drops masked columns' values if its policy says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakeward.errors import DatasetMalformed, InputError, LakeError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row, SparkSession
    from pyspark.sql.types import DataType, StructType

    from lakeward.catalog import Catalog

__all__ = ["ELEMENTS_PER_ROW", "ColumnSample", "sample_dataset"]

ELEMENTS_PER_ROW = 16
"""Array elements (and map values) read per row and nesting level."""

_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")


@dataclass(frozen=True)
class ColumnSample:
    """The sampled values of one leaf column.

    Attributes:
        column: The leaf's path: a top-level name, ``parent.field`` for struct fields,
            ``name[]`` for array elements, ``name{}`` for map values.
        declared_type: Spark's ``simpleString`` of the leaf (of an element, for arrays).
        values: Up to ``rows`` non-null sampled values (text cut to ``max_value_bytes``).
            Never log, print or store them.
        rows_sampled: Rows in the sample.
        nulls: Sampled rows where the leaf is null (for arrays: the array is null).
    """

    column: str
    declared_type: str
    values: list[object] = field(repr=False)
    rows_sampled: int
    nulls: int


@dataclass(frozen=True)
class _Leaf:
    path: str
    declared_type: str
    expr: Column
    many: bool  # the expression is an array of the leaf's values
    text: bool  # the values come as UTF-8 bytes cut to max_value_bytes
    binary: bool  # only nullness is projected


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _type_ddl(dtype: DataType) -> str:
    """A Spark type as DDL, nested field names quoted (``simpleString`` does not quote)."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.StructType):
        return (
            "struct<" + ",".join(f"{_quoted(f.name)}:{_type_ddl(f.dataType)}" for f in dtype) + ">"
        )
    if isinstance(dtype, T.ArrayType):
        return f"array<{_type_ddl(dtype.elementType)}>"
    if isinstance(dtype, T.MapType):
        return f"map<{_type_ddl(dtype.keyType)},{_type_ddl(dtype.valueType)}>"
    return str(dtype.simpleString())


def _is_text(dtype: DataType) -> bool:
    from pyspark.sql import types as T

    return isinstance(dtype, T.StringType | T.VarcharType | T.CharType)


def _getter(name: str) -> Callable[[Column], Column]:
    return lambda x: x.getField(name)


def _leaves(
    expr: Column, dtype: DataType, path: str, many: bool, max_bytes: int
) -> Iterator[_Leaf]:
    """The leaves under ``expr`` (an array of values of ``dtype`` when ``many``)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def each(fn: Callable[[Column], Column]) -> Column:
        return F.transform(expr, fn) if many else fn(expr)

    if isinstance(dtype, T.StructType):
        for f in dtype.fields:
            yield from _leaves(
                each(_getter(f.name)), f.dataType, f"{path}.{f.name}", many, max_bytes
            )
    elif isinstance(dtype, T.ArrayType | T.MapType):
        inner, suffix = (
            (dtype.elementType, "[]") if isinstance(dtype, T.ArrayType) else (dtype.valueType, "{}")
        )

        def elements(x: Column) -> Column:
            return F.slice(
                x if isinstance(dtype, T.ArrayType) else F.map_values(x), 1, ELEMENTS_PER_ROW
            )

        flat = (
            F.slice(F.flatten(F.transform(expr, elements)), 1, ELEMENTS_PER_ROW)
            if many
            else elements(expr)
        )
        yield from _leaves(flat, inner, path + suffix, True, max_bytes)
    elif isinstance(dtype, T.BinaryType):
        yield _Leaf(path, dtype.simpleString(), expr.isNull(), many, False, True)
    elif _is_text(dtype):
        cut = each(lambda x: F.substring(F.encode(x, "UTF-8"), 1, max_bytes))
        yield _Leaf(path, dtype.simpleString(), cut, many, True, False)
    else:
        yield _Leaf(path, dtype.simpleString(), expr, many, False, False)


def _all_leaves(schema: StructType, max_bytes: int) -> list[_Leaf]:
    from pyspark.sql import functions as F

    return [
        leaf
        for f in schema.fields
        for leaf in _leaves(F.col(_quoted(f.name)), f.dataType, f.name, False, max_bytes)
    ]


def _decoded(value: object, text: bool) -> object:
    if text and isinstance(value, bytes | bytearray):
        # Cut at a byte count: a character split at the end is dropped, nothing else is.
        return bytes(value).decode("utf-8", errors="ignore")
    return value


def _samples(leaves: Sequence[_Leaf], rows: list[Row], limit: int) -> list[ColumnSample]:
    out: list[ColumnSample] = []
    for i, leaf in enumerate(leaves):
        cells = [r[i] for r in rows]
        if leaf.binary:
            nulls = sum(1 for c in cells if c)
            out.append(ColumnSample(leaf.path, leaf.declared_type, [], len(rows), nulls))
            continue
        nulls = sum(1 for c in cells if c is None)
        values: list[object] = []
        for cell in cells:
            if cell is None:
                continue
            for v in cell if leaf.many else (cell,):
                if v is not None and len(values) < limit:
                    values.append(_decoded(v, leaf.text))
        out.append(ColumnSample(leaf.path, leaf.declared_type, values, len(rows), nulls))
    return out


def _expected_rows(rows: int) -> float:
    """Rows to aim the Bernoulli sample at so that at least ``rows`` come back (~1.2 × rows).

    The sample size is binomial: 1.2 × rows leaves ~5 standard deviations of margin at
    1,000 rows; the extra ``4√rows + 20`` keeps small targets from falling short.
    """
    return max(1.2 * rows, rows + 4.0 * math.sqrt(rows) + 20.0)


def _failure(name: str, exc: Exception) -> LakeError:
    # Spark's messages quote records and values: keep only error classes and the type.
    classes = list(dict.fromkeys(_ERROR_CLASS.findall(str(exc))))
    detail = ", ".join(classes) or type(exc).__name__
    return DatasetMalformed(
        f"Dataset {name}: Spark could not sample it ({detail}). Profile it "
        "(`lakeward lake profile`) to find the file and record.",
        dataset=name,
    )


def _widened(schema: StructType, profiled: dict[str, str] | None) -> str | None:
    """DDL reading top-level scalar columns as profiled (else ``string``), or ``None``.

    ``profiled`` maps column → profiled type while the files are unchanged since profiling;
    ``None`` means no such profile: every non-string scalar is read as ``string``.
    """
    from pyspark.sql import types as T

    nested = (T.StructType, T.ArrayType, T.MapType, T.BinaryType)
    columns: list[str] = []
    changed = False
    for f in schema.fields:
        ddl = _type_ddl(f.dataType)
        if not isinstance(f.dataType, nested):
            if profiled is None:
                wide = "string"
            else:
                wide = profiled.get(f.name, ddl)
                wide = ddl if "<" in wide else wide
            changed = changed or wide != ddl
            ddl = wide
        columns.append(f"{_quoted(f.name)} {ddl}")
    return ", ".join(columns) if changed else None


def sample_dataset(
    catalog: Catalog,
    name: str,
    *,
    rows: int = 1000,
    seed: int = 0,
    max_value_bytes: int = 65536,
    spark: SparkSession | None = None,
) -> list[ColumnSample]:
    """A bounded, seeded sample of every leaf column of the registered dataset ``name``.

    The caller has already decided ``lake.read_content`` for its principal and purpose (see
    the module docstring); this function reads whatever it is asked to.

    Args:
        catalog: The catalog holding the dataset (its files, row count and profile).
        name: The dataset's name.
        rows: Rows to sample at most (all rows of a smaller dataset).
        seed: Seed of the sample: the same seed, files and Spark configuration (file
            splits depend on it) give the same rows.
        max_value_bytes: Text values are cut to this many UTF-8 bytes in Spark.
        spark: The Spark session (default: :func:`lakeward.spark.session`).

    Returns:
        One :class:`ColumnSample` per leaf, in schema order.

    Raises:
        InputError: ``rows`` is negative or ``max_value_bytes`` is not positive.
        NotFound: no dataset of that name is registered.
        LakeError: the dataset's files cannot be read (names the file, never a value).

    Example:
        >>> for s in sample_dataset(catalog, "sales.customers", rows=200):  # doctest: +SKIP
        ...     print(s.column, s.declared_type, len(s.values), s.nulls)
    """
    from lakeward.catalog import DatasetRepository
    from lakeward.lake import read_dataset, spec_for
    from lakeward.settings import get_settings

    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise InputError(f"rows must be a non-negative integer, got {rows!r}")
    if (
        isinstance(max_value_bytes, bool)
        or not isinstance(max_value_bytes, int)
        or max_value_bytes < 1
    ):
        raise InputError(f"max_value_bytes must be a positive integer, got {max_value_bytes!r}")
    with catalog.session() as session:
        repo = DatasetRepository(session)
        dataset = repo.require(name)
        version = repo.current_version(dataset)
        profiled = {c.name: c.type for c in version.columns} if version is not None else None
        session.expunge(dataset)
    if spark is None:
        from lakeward import spark as lakeward_spark

        spark = lakeward_spark.session()
    spec = spec_for(dataset)
    if profiled is not None and spec.signature != dataset.file_signature:
        profiled = None  # the files changed since profiling: its types may not hold
    sniff = get_settings().lake.sniff_bytes
    frame = read_dataset(spark, spec, sniff_bytes=sniff)
    text_format = spec.format in ("csv", "json")
    if text_format and profiled is not None:
        ddl = _widened(frame.schema, profiled)
        if ddl is not None:
            frame = read_dataset(spark, spec, sniff_bytes=sniff, profiled_schema=ddl)
    try:
        return _collect(frame, dataset.rows, rows, seed, max_value_bytes)
    except LakeError:
        raise
    except Exception as exc:
        ddl = _widened(frame.schema, None) if text_format and profiled is None else None
        if ddl is None:
            raise _failure(name, exc) from None
    try:
        wide = read_dataset(spark, spec, sniff_bytes=sniff, profiled_schema=ddl)
        return _collect(wide, dataset.rows, rows, seed, max_value_bytes)
    except LakeError:
        raise
    except Exception as exc:
        raise _failure(name, exc) from None


def _collect(
    frame: DataFrame, total: int | None, rows: int, seed: int, max_value_bytes: int
) -> list[ColumnSample]:
    """Sample ``frame`` (of ``total`` rows, if known) and collect its leaves."""
    leaves = _all_leaves(frame.schema, max_value_bytes)
    if rows == 0 or not leaves:
        return _samples(leaves, [], rows)
    if total is None:
        total = frame.count()  # never profiled: one counting pass
    if total > rows:
        fraction = min(1.0, _expected_rows(rows) / total)
        if fraction < 1.0:
            frame = frame.sample(withReplacement=False, fraction=fraction, seed=seed)
    projected = frame.select(*[leaf.expr.alias(f"_{i}") for i, leaf in enumerate(leaves)])
    return _samples(leaves, projected.limit(rows).collect(), rows)
