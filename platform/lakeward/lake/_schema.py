"""Check a dataset's part files and decide how Spark reads them, before any Spark job.

- **Parquet**: every part file's footer is read with ``pyarrow`` (no data pages). A
  truncated or foreign file has no valid footer and is reported by name; a column whose
  type differs between part files is a :class:`SchemaConflict`. Spark then reads the
  schema from the footers itself (``mergeSchema`` when files carry different column sets).
- **CSV / JSON lines**: the first ``sniff_bytes`` of every part file are parsed with
  ``pyarrow`` to infer column types, so a ragged row or a bad header in that head is
  reported with the file and line, and per-file types are merged (int64 + double → double,
  date + timestamp → timestamp, all-null → any). Spark then reads with that explicit schema
  in ``FAILFAST`` mode: one pass, no inference pass, and any later value that does not fit
  fails the dataset instead of silently becoming null. For JSON the schema is the keys seen
  in the heads; a key that first appears further into a file is not read (raise
  ``LAKEWARD_LAKE_SNIFF_BYTES`` for very sparse keys).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeward.errors import DatasetMalformed, DatasetUnreadable, SchemaConflict
from lakeward.lake._discover import DataFile, DatasetSpec

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType

__all__ = ["READ_OPTIONS", "ReadPlan", "plan_read"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

READ_OPTIONS: dict[str, dict[str, str]] = {
    "parquet": {},
    "csv": {"header": "true", "mode": "FAILFAST", "enforceSchema": "false"},
    "json": {"mode": "FAILFAST"},
}
"""Spark reader options per format (with an explicit schema for CSV and JSON)."""


@dataclass
class ReadPlan:
    """How Spark reads one dataset."""

    format: str
    options: dict[str, str] = field(default_factory=dict)
    schema: StructType | None = None
    columns: list[str] = field(default_factory=list)  # column names, in file order


def _open(spec: DatasetSpec, f: DataFile) -> Any:
    """Open a file as a binary stream, translating OS errors."""
    if f.error:
        raise DatasetUnreadable(
            f"Dataset {spec.name}: file {f.relpath} cannot be read ({f.error}). Fix: restore "
            "the file or its permissions, or remove it from the dataset directory.",
            dataset=spec.name,
            path=f.relpath,
        )
    try:
        if spec.root.local:
            import pyarrow as pa

            return pa.input_stream(f.path, compression="detect")
        import pyarrow.fs as pafs

        fs, _ = pafs.FileSystem.from_uri(spec.root.uri)
        return fs.open_input_stream(f.path, compression="detect")
    except OSError as exc:
        raise DatasetUnreadable(
            f"Dataset {spec.name}: file {f.relpath} cannot be opened ({exc}). Fix: restore the "
            "file or its permissions.",
            dataset=spec.name,
            path=f.relpath,
        ) from exc


def _head(spec: DatasetSpec, f: DataFile, sniff_bytes: int) -> bytes:
    stream = _open(spec, f)
    try:
        data = stream.read(sniff_bytes)
        more = stream.read(1)
    except OSError as exc:
        raise DatasetUnreadable(
            f"Dataset {spec.name}: reading {f.relpath} failed ({exc}).",
            dataset=spec.name,
            path=f.relpath,
        ) from exc
    finally:
        stream.close()
    if more:  # cut at the last complete line
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut > 0 else data
    return bytes(data)


def arrow_to_spark(arrow_type: pa.DataType) -> DataType:
    """Map an Arrow type to the Spark type Spark itself would read it as."""
    import pyarrow as pa
    import pyarrow.types as pat
    from pyspark.sql import types as T

    if pat.is_null(arrow_type) or pat.is_string(arrow_type) or pat.is_large_string(arrow_type):
        return T.StringType()
    if pat.is_boolean(arrow_type):
        return T.BooleanType()
    if pat.is_int8(arrow_type):
        return T.ByteType()
    if pat.is_int16(arrow_type) or pat.is_uint8(arrow_type):
        return T.ShortType()
    if pat.is_int32(arrow_type) or pat.is_uint16(arrow_type):
        return T.IntegerType()
    if pat.is_int64(arrow_type) or pat.is_uint32(arrow_type):
        return T.LongType()
    if pat.is_uint64(arrow_type):
        return T.DecimalType(20, 0)
    if pat.is_float16(arrow_type) or pat.is_float32(arrow_type):
        return T.FloatType()
    if pat.is_float64(arrow_type):
        return T.DoubleType()
    if pat.is_decimal(arrow_type):
        return T.DecimalType(arrow_type.precision, arrow_type.scale)
    if pat.is_date(arrow_type):
        return T.DateType()
    if pat.is_timestamp(arrow_type):
        # Without a zone, Arrow timestamps are wall-clock values: Spark's TIMESTAMP_NTZ.
        return T.TimestampType() if arrow_type.tz else T.TimestampNTZType()
    if pat.is_binary(arrow_type) or pat.is_large_binary(arrow_type):
        return T.BinaryType()
    if pat.is_list(arrow_type) or pat.is_large_list(arrow_type):
        return T.ArrayType(arrow_to_spark(arrow_type.value_type), True)
    if pat.is_struct(arrow_type):
        return T.StructType(
            [
                T.StructField(
                    arrow_type.field(i).name, arrow_to_spark(arrow_type.field(i).type), True
                )
                for i in range(arrow_type.num_fields)
            ]
        )
    if pat.is_map(arrow_type):
        return T.MapType(
            arrow_to_spark(arrow_type.key_type), arrow_to_spark(arrow_type.item_type), True
        )
    if isinstance(arrow_type, pa.DictionaryType):
        return arrow_to_spark(arrow_type.value_type)
    return T.StringType()


def _merge(a: DataType, b: DataType) -> DataType | None:
    """Widen two inferred (CSV/JSON) types, or ``None`` when they conflict."""
    from pyspark.sql import types as T

    if a == b:
        return a
    numeric = (T.LongType, T.DoubleType)
    if isinstance(a, numeric) and isinstance(b, numeric):
        return T.DoubleType()
    if isinstance(a, T.DateType) and isinstance(b, T.TimestampType | T.TimestampNTZType):
        return b
    if isinstance(b, T.DateType) and isinstance(a, T.TimestampType | T.TimestampNTZType):
        return a
    if isinstance(a, T.StructType) and isinstance(b, T.StructType):
        fields: dict[str, DataType] = {f.name: f.dataType for f in a.fields}
        for fb in b.fields:
            if fb.name in fields:
                merged = _merge(fields[fb.name], fb.dataType)
                if merged is None:
                    return None
                fields[fb.name] = merged
            else:
                fields[fb.name] = fb.dataType
        return T.StructType([T.StructField(n, t, True) for n, t in fields.items()])
    return None


def _parquet_plan(spec: DatasetSpec) -> ReadPlan:
    import pyarrow.parquet as pq

    seen: dict[str, tuple[str, str]] = {}  # column → (arrow type, first file)
    column_sets: set[tuple[str, ...]] = set()
    for f in spec.files:
        if f.error:
            _open(spec, f)  # raises DatasetUnreadable with the reason
        try:
            if spec.root.local:
                schema = pq.read_schema(f.path)
            else:
                import pyarrow.fs as pafs

                schema = pq.read_schema(
                    f.path, filesystem=pafs.FileSystem.from_uri(spec.root.uri)[0]
                )
        except (FileNotFoundError, PermissionError) as exc:
            raise DatasetUnreadable(
                f"Dataset {spec.name}: {f.relpath} cannot be opened ({exc}).",
                dataset=spec.name,
                path=f.relpath,
            ) from exc
        except Exception as exc:
            raise DatasetMalformed(
                f"Dataset {spec.name}: {f.relpath} is not a readable Parquet file "
                f"({str(exc).splitlines()[0]}). It may be truncated mid-write. Fix: rewrite "
                "or remove that file.",
                dataset=spec.name,
                path=f.relpath,
            ) from exc
        column_sets.add(tuple(schema.names))
        for name, typ in zip(schema.names, schema.types, strict=True):
            arrow = str(typ)
            if name in seen and seen[name][0] != arrow:
                raise SchemaConflict(
                    f"Dataset {spec.name}: column {name!r} is {seen[name][0]} in "
                    f"{seen[name][1]} but {arrow} in {f.relpath}. Fix: rewrite the part files "
                    "with one type for the column, or move the odd file into its own dataset.",
                    dataset=spec.name,
                    path=f.relpath,
                )
            seen.setdefault(name, (arrow, f.relpath))
    options = {"mergeSchema": "true"} if len(column_sets) > 1 else {}
    return ReadPlan("parquet", options, None, list(seen))


def _text_plan(spec: DatasetSpec, sniff_bytes: int) -> ReadPlan:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    from pyspark.sql import types as T

    known: dict[str, DataType] = {}  # types inferred from non-null values
    origin: dict[str, str] = {}
    order: list[str] = []
    header: list[str] | None = None
    for f in spec.files:
        head = _head(spec, f, sniff_bytes)
        if not head.strip():
            continue
        try:
            if spec.format == "csv":
                table = pacsv.read_csv(io.BytesIO(head))
            else:
                table = pajson.read_json(io.BytesIO(head))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DatasetMalformed(
                f"Dataset {spec.name}: {f.relpath} is not valid {spec.format.upper()} "
                f"({str(exc).splitlines()[0]}). Fix the file (e.g. make every row have the "
                "header's number of fields) or remove it from the dataset.",
                dataset=spec.name,
                path=f.relpath,
            ) from exc
        if spec.format == "csv":
            if header is None:
                header = table.column_names
            elif table.column_names != header:
                raise SchemaConflict(
                    f"Dataset {spec.name}: {f.relpath} has header {table.column_names} but "
                    f"{spec.files[0].relpath} has {header}. Fix: give every part file the same "
                    "header, or split them into separate datasets.",
                    dataset=spec.name,
                    path=f.relpath,
                )
        for column in table.column_names:
            if column not in order:
                order.append(column)
            arrow_type = table.schema.field(column).type
            if pa.types.is_null(arrow_type):
                continue
            spark_type = arrow_to_spark(arrow_type)
            if spec.format == "json" and isinstance(spark_type, T.TimestampNTZType):
                values = _json_strings(head, column)
                if values and all(_DATE_ONLY.match(v) for v in values):
                    spark_type = T.DateType()
            if column not in known:
                known[column] = spark_type
                origin[column] = f.relpath
                continue
            widened = _merge(known[column], spark_type)
            if widened is None:
                raise SchemaConflict(
                    f"Dataset {spec.name}: column {column!r} looks like "
                    f"{known[column].simpleString()} in {origin[column]} but "
                    f"{spark_type.simpleString()} in {f.relpath}. Fix: make the values agree "
                    "across part files, or split the files into separate datasets.",
                    dataset=spec.name,
                    path=f.relpath,
                )
            known[column] = widened
    merged = {c: known.get(c, T.StringType()) for c in order}
    if not merged:
        raise DatasetMalformed(
            f"Dataset {spec.name}: no rows or header found in its {spec.format.upper()} files.",
            dataset=spec.name,
        )
    schema = T.StructType([T.StructField(n, t, True) for n, t in merged.items()])
    return ReadPlan(spec.format, dict(READ_OPTIONS[spec.format]), schema, list(merged))


def _json_strings(head: bytes, column: str) -> list[str]:
    """Raw string values of one top-level key in the head of a JSON-lines file."""
    import json

    values: list[str] = []
    for line in head.splitlines()[:2000]:
        try:
            value = json.loads(line).get(column)
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str):
            values.append(value)
    return values


def plan_read(spec: DatasetSpec, *, sniff_bytes: int = 1 << 20) -> ReadPlan:
    """Check the dataset's files and return how Spark should read it.

    Raises:
        DatasetUnreadable: a file cannot be opened.
        DatasetMalformed: a file is not valid for its format (truncated, ragged rows).
        SchemaConflict: a column's type differs between part files.
    """
    if not spec.files:
        raise DatasetUnreadable(
            f"Dataset {spec.name}: no data files found at {spec.uri}. It may have been moved "
            "or deleted; re-register the lake with `lakeward lake register`.",
            dataset=spec.name,
        )
    for f in spec.files:
        if f.error:
            _open(spec, f)  # raises DatasetUnreadable with the reason
    if spec.format == "parquet":
        return _parquet_plan(spec)
    return _text_plan(spec, sniff_bytes)
