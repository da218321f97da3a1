"""Check a dataset's part files and decide how Spark reads them, before any Spark job.

- **Parquet**: every part file's footer is read with ``pyarrow`` (no data pages). A
  truncated or foreign file has no valid footer and is reported by name; a column whose
  type differs between part files is a :class:`SchemaConflict`. Spark then reads the
  schema from the footers itself (``mergeSchema`` when files carry different column sets).
- **CSV / JSON lines**: the head of every part file (``sniff_bytes``, extended to the end of
  its first whole record, see ``_text``) is parsed with ``pyarrow`` to infer column types.
  CSV is read as RFC 4180 (quoted fields with line breaks and ``""`` escapes) in the
  dialect sniffed per file (delimiter, encoding, BOM), which the plan records. JSON files
  are first scanned whole for records nested deeper than ``MAX_JSON_DEPTH`` (refused, with
  file and line). Per-file types are merged (int64 + double → double, date + timestamp →
  timestamp, all-null → any, anything else → string, recorded as a :class:`Widening`).
  Spark then reads with that explicit schema in ``FAILFAST`` mode: one pass, no inference
  pass; a later value that does not fit makes the profiler widen that column (see
  ``_profile``), never silently null. For JSON the schema is the keys seen in the heads; a
  key that first appears further into a file is not read (raise
  ``LAKEWARD_LAKE_SNIFF_BYTES`` for very sparse keys).

No error raised here quotes a value from a file: a bad record is named by file, line and
what is wrong with its shape.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeward.errors import DatasetMalformed, DatasetUnreadable, SchemaConflict
from lakeward.lake._discover import DataFile, DatasetSpec
from lakeward.lake._text import (
    MAX_JSON_DEPTH,
    CsvDialect,
    RecordTooLong,
    find_bad_csv_record,
    find_bad_json_line,
    json_depth_violation,
    json_head,
    sniff_csv,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType

__all__ = ["READ_OPTIONS", "ReadPlan", "Widening", "plan_read", "read_options"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

READ_OPTIONS: dict[str, dict[str, str]] = {
    "parquet": {},
    "csv": {"header": "true", "mode": "FAILFAST", "enforceSchema": "false"},
    "json": {"mode": "FAILFAST"},
}
"""Spark reader options per format (with an explicit schema for CSV and JSON); CSV adds
its dialect's options (:meth:`CsvDialect.spark_options`)."""


@dataclass(frozen=True)
class Widening:
    """A column read as a wider type than its first values suggested, and why."""

    column: str
    from_type: str
    to_type: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-friendly form."""
        return {
            "column": self.column,
            "from": self.from_type,
            "to": self.to_type,
            "reason": self.reason,
        }


@dataclass
class ReadPlan:
    """How Spark reads one dataset."""

    format: str
    options: dict[str, str] = field(default_factory=dict)
    schema: StructType | None = None
    columns: list[str] = field(default_factory=list)  # column names, in file order
    dialect: CsvDialect | None = None  # CSV: how the files are written
    widened: list[Widening] = field(default_factory=list)


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


def _malformed(spec: DatasetSpec, f: DataFile, what: str, fix: str) -> DatasetMalformed:
    return DatasetMalformed(
        f"Dataset {spec.name}: {f.relpath} {what}. Fix: {fix}",
        dataset=spec.name,
        path=f.relpath,
    )


_FIX_RECORD = "correct that record or remove the file from the dataset."


def _check_json_depth(spec: DatasetSpec, f: DataFile) -> None:
    """Refuse a JSON file nested deeper than parsers survive, before any parser reads it."""
    stream = _open(spec, f)
    try:
        found = json_depth_violation(stream)
    except OSError as exc:
        raise DatasetUnreadable(
            f"Dataset {spec.name}: reading {f.relpath} failed ({exc}).",
            dataset=spec.name,
            path=f.relpath,
        ) from exc
    finally:
        stream.close()
    if found is not None:
        line, offset = found
        raise _malformed(
            spec,
            f,
            f"line {line} (byte {offset}): a JSON value is nested deeper than {MAX_JSON_DEPTH} "
            "levels, more than Lakeward reads (such records crash JSON parsers)",
            "flatten that record or remove it (or the file) from the dataset.",
        )


def _sniff(spec: DatasetSpec, f: DataFile, sniff_bytes: int) -> tuple[bytes, CsvDialect | None]:
    """The head of a text file as UTF-8 cut after a whole record, and its CSV dialect."""
    stream = _open(spec, f)
    try:
        if spec.format == "csv":
            head = sniff_csv(stream, sniff_bytes)
            return head.text.encode("utf-8"), head.dialect
        return json_head(stream, sniff_bytes), None
    except RecordTooLong as exc:
        raise _malformed(
            spec,
            f,
            f"has a first record longer than Lakeward reads to infer column types ({exc})",
            "split the oversized record, or check that every quote is closed.",
        ) from None
    except OSError as exc:
        raise DatasetUnreadable(
            f"Dataset {spec.name}: reading {f.relpath} failed ({exc}).",
            dataset=spec.name,
            path=f.relpath,
        ) from exc
    finally:
        stream.close()


def _parse_csv_head(spec: DatasetSpec, f: DataFile, head: bytes, dialect: CsvDialect) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(
            io.BytesIO(head),
            read_options=pacsv.ReadOptions(block_size=len(head) + 1),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter,
                quote_char=dialect.quote,
                double_quote=True,
                newlines_in_values=True,
            ),
            # As Spark reads: only the empty field is null, booleans are true/false.
            convert_options=pacsv.ConvertOptions(
                null_values=[""],
                true_values=["true", "True", "TRUE"],
                false_values=["false", "False", "FALSE"],
            ),
        )
    except pa.ArrowException:
        pass  # pyarrow's message quotes the offending row: locate it ourselves instead
    utf8 = CsvDialect(dialect.delimiter, "UTF-8", False, dialect.quote, dialect.escape)
    bad = find_bad_csv_record(io.BytesIO(head), utf8)
    where = f"line {bad.line}: {bad.reason}" if bad else "cannot be parsed as CSV"
    raise _malformed(
        spec,
        f,
        f"is not valid CSV ({where}; delimiter {dialect.delimiter!r})",
        "make every record have the header's number of fields, or remove the file from the "
        "dataset.",
    )


def _top_level_key(path: str, keys: list[str]) -> str | None:
    """The top-level key of a pyarrow JSON column path such as ``/a/b``."""
    matches = [k for k in keys if path == "/" + k or path.startswith("/" + k + "/")]
    return max(matches, key=len) if matches else None


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, dict):
        return "struct"
    if isinstance(value, list):
        return "array"
    return "string"


def _parse_json_head(
    spec: DatasetSpec, f: DataFile, head: bytes
) -> tuple[pa.Table, dict[str, str], list[str]]:
    """The head as a table, the keys whose values disagree within it, and all keys in order.

    Keys whose values disagree (a number here, a string there) are left out of the table
    and read as strings; the dict maps each to the kind of its first value.
    """
    import json

    import pyarrow as pa
    import pyarrow.json as pajson

    records: list[dict[str, Any]] | None = None
    mixed: dict[str, str] = {}
    data = head
    while True:
        try:
            table = pajson.read_json(
                io.BytesIO(data), read_options=pajson.ReadOptions(block_size=len(data) + 1)
            )
            break
        except pa.ArrowException as exc:
            path = re.search(r"Column\((/[^)]*)\) changed from", str(exc))
            if records is None:
                bad = find_bad_json_line(io.BytesIO(head))
                if bad is not None or path is None:
                    where = f"{bad.where()}: {bad.reason}" if bad else "its values cannot be typed"
                    raise _malformed(
                        spec, f, f"is not valid JSON lines ({where})", _FIX_RECORD
                    ) from None
                records = [json.loads(ln) for ln in head.splitlines() if ln.strip()]
            keys = list(dict.fromkeys(k for r in records for k in r))
            key = _top_level_key(path.group(1), keys) if path else None
            if key is None or key in mixed:
                raise _malformed(
                    spec, f, "is not valid JSON lines (its values cannot be typed)", _FIX_RECORD
                ) from None
            first = next((r[key] for r in records if r.get(key) is not None), None)
            mixed[key] = _json_kind(first)
            data = b"".join(
                json.dumps({k: v for k, v in r.items() if k not in mixed}).encode() + b"\n"
                for r in records
            )
    order = list(dict.fromkeys(k for r in records for k in r)) if records else table.column_names
    return table, mixed, order


def _text_plan(spec: DatasetSpec, sniff_bytes: int) -> ReadPlan:
    import pyarrow as pa
    from pyspark.sql import types as T

    if spec.format == "json":
        for f in spec.files:
            _check_json_depth(spec, f)
    known: dict[str, DataType] = {}  # types inferred from non-null values
    origin: dict[str, str] = {}
    order: list[str] = []
    widened: dict[str, Widening] = {}
    header: list[str] | None = None
    dialect: CsvDialect | None = None
    for f in spec.files:
        head, file_dialect = _sniff(spec, f, sniff_bytes)
        if file_dialect is not None:
            merged_dialect = dialect.merge(file_dialect) if dialect else file_dialect
            if merged_dialect is None:
                raise SchemaConflict(
                    f"Dataset {spec.name}: {f.relpath} is written in another CSV dialect "
                    f"({file_dialect.to_dict()}) than {spec.files[0].relpath} "
                    f"({dialect.to_dict() if dialect else {}}). Fix: rewrite the part files "
                    "in one dialect, or split them into separate datasets.",
                    dataset=spec.name,
                    path=f.relpath,
                )
            dialect = merged_dialect
        if not head.strip():
            continue
        mixed: dict[str, str] = {}
        if spec.format == "csv":
            assert file_dialect is not None
            table = _parse_csv_head(spec, f, head, file_dialect)
            if header is None:
                header = table.column_names
            elif table.column_names != header:
                # Names only by position: a part file without a header has values there.
                names = table.column_names
                at = next(
                    (i for i, (a, b) in enumerate(zip(names, header, strict=False)) if a != b),
                    min(len(names), len(header)),
                )
                raise SchemaConflict(
                    f"Dataset {spec.name}: the header of {f.relpath} ({len(names)} columns) "
                    f"differs from that of {spec.files[0].relpath} ({len(header)} columns) "
                    f"from column {at + 1} on. Fix: give every part file the same header, or "
                    "split them into separate datasets.",
                    dataset=spec.name,
                    path=f.relpath,
                )
            file_order = table.column_names
        else:
            table, mixed, file_order = _parse_json_head(spec, f, head)
        for column in file_order:
            if column not in order:
                order.append(column)
            if column in mixed:
                spark_type: DataType = T.StringType()
                widened.setdefault(
                    column,
                    Widening(
                        column, mixed[column], "string", f"values disagree in {f.relpath}'s head"
                    ),
                )
            else:
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
            wider = _merge(known[column], spark_type)
            if wider is None:  # CSV/JSON values are text: what fits both is a string
                wider = T.StringType()
                widened.setdefault(
                    column,
                    Widening(
                        column,
                        known[column].simpleString(),
                        "string",
                        f"{f.relpath} has {spark_type.simpleString()} values",
                    ),
                )
            known[column] = wider
    merged = {c: known.get(c, T.StringType()) for c in order}
    if not merged:
        raise DatasetMalformed(
            f"Dataset {spec.name}: no rows or header found in its {spec.format.upper()} files.",
            dataset=spec.name,
        )
    schema = T.StructType([T.StructField(n, t, True) for n, t in merged.items()])
    options = dict(READ_OPTIONS[spec.format])
    if dialect is not None:
        options.update(dialect.spark_options())
    return ReadPlan(spec.format, options, schema, list(merged), dialect, list(widened.values()))


def read_options(spec: DatasetSpec, *, sniff_bytes: int = 1 << 20) -> dict[str, str]:
    """Spark reader options for the dataset's files (for CSV: their sniffed dialect)."""
    options = dict(READ_OPTIONS[spec.format])
    if spec.format != "csv":
        return options
    dialect: CsvDialect | None = None
    for f in spec.files:
        _, file_dialect = _sniff(spec, f, sniff_bytes)
        if file_dialect is not None:
            dialect = (dialect.merge(file_dialect) if dialect else file_dialect) or dialect
    if dialect is not None:
        options.update(dialect.spark_options())
    return options


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
