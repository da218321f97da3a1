"""Metadata-only datasets: tables known only by their schema (``lakeward catalog import-schema``).

An external warehouse's ``information_schema`` or a metastore export becomes catalog
datasets with no files: ``format`` and ``layout`` ``schema``, ``uri``
``schema:<file name>#<table>``, and one version per distinct schema whose columns carry
their declared type (normalised to Spark ``simpleString`` names) and description, with no
statistics (no rows were read: counts are 0, min/max ``NULL``). Glossary matching and
tagging treat them like any dataset (from names only); profiling and dedup skip them.

The file is JSON Lines, one table per line (``.json``: a JSON list of tables; ``.yaml`` /
``.yml``: a YAML list)::

    {"name": "crm.customers", "description": "...",
     "columns": [{"name": "email", "type": "varchar(255)", "description": "..."}]}

The whole file is checked before anything is written (duplicate tables, duplicate column
names compared case-insensitively as Spark does, tables without columns, empty names,
unknown types: every problem with its line), then one transaction records it. Re-importing
a table whose columns, types or descriptions changed records a new version; an unchanged
table is left alone. Decided as ``lake.register`` on the platform (audited).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeward._records import MAX_PROBLEMS, Problems, jsonl_records, read_text
from lakeward.catalog import Catalog, ColumnStats, Dataset, DatasetRepository
from lakeward.catalog._models import utcnow
from lakeward.errors import InputError

__all__ = ["SCHEMA_FORMAT", "ImportedTable", "import_schema", "spark_type_name"]

#: ``Dataset.format`` (and ``layout``) of a metadata-only dataset.
SCHEMA_FORMAT = "schema"
REGISTER_PURPOSE = "catalog_maintenance"
MAX_NAME_CHARS = 512
_TABLE_KEYS = ("name", "description", "columns")
_COLUMN_KEYS = ("name", "type", "description", "nullable")

# Common SQL / information_schema spellings → Spark simpleString.
_SCALARS = {
    **dict.fromkeys(
        (
            "string",
            "text",
            "varchar",
            "character varying",
            "char",
            "character",
            "nvarchar",
            "nchar",
            "bpchar",
            "citext",
            "clob",
            "json",
            "jsonb",
            "uuid",
            "xml",
            "time",
            "timetz",
            "time with time zone",
            "time without time zone",
        ),
        "string",
    ),
    **dict.fromkeys(("int", "integer", "int4", "mediumint", "serial", "serial4"), "int"),
    **dict.fromkeys(("smallint", "int2", "short", "smallserial", "serial2"), "smallint"),
    **dict.fromkeys(("tinyint", "byte"), "tinyint"),
    **dict.fromkeys(("bigint", "int8", "long", "bigserial", "serial8"), "bigint"),
    **dict.fromkeys(("double", "double precision", "float8", "float"), "double"),
    **dict.fromkeys(("real", "float4"), "float"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    "date": "date",
    **dict.fromkeys(
        (
            "timestamp",
            "timestamptz",
            "timestamp with time zone",
            "timestamp without time zone",
            "timestamp_ltz",
            "datetime",
            "datetime2",
            "smalldatetime",
        ),
        "timestamp",
    ),
    "timestamp_ntz": "timestamp_ntz",
    **dict.fromkeys(("binary", "varbinary", "bytea", "blob"), "binary"),
}
_DECIMALS = ("decimal", "numeric", "dec", "number")
_PARAMETRISED = re.compile(r"^(?P<base>[a-z_][a-z0-9_ ]*?)\s*\((?P<args>[^()]*)\)\s*(?P<rest>.*)$")
ACCEPTED_TYPES = (
    "string/text/varchar(n)/character varying/char(n)/json/jsonb/uuid, "
    "int/integer/int4, smallint/int2, tinyint, bigint/int8, double/double precision/float8, "
    "real/float4, decimal(p,s)/numeric(p,s), boolean/bool, date, timestamp/timestamp with "
    "time zone/timestamptz/datetime, binary/bytea, T[] and array<T>, map<K,V>, struct<a:T,...>"
)


def _split_top(text: str) -> list[str]:
    """Split on commas outside ``<>`` and ``()``."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _decimal(args: str) -> str | None:
    numbers = [a.strip() for a in args.split(",")] if args.strip() else []
    if len(numbers) > 2 or not all(n.isdigit() for n in numbers):
        return None
    precision = int(numbers[0]) if numbers else 10
    scale = int(numbers[1]) if len(numbers) == 2 else 0
    if not 1 <= precision <= 38 or scale > precision:
        return None
    return f"decimal({precision},{scale})"


def spark_type_name(declared: str) -> str | None:
    """The Spark ``simpleString`` for a declared SQL type, or ``None`` when unknown.

    Example:
        >>> spark_type_name("character varying(255)"), spark_type_name("numeric(10, 2)")
        ('string', 'decimal(10,2)')
    """
    text = " ".join(declared.strip().split())
    lower = text.lower()
    if lower.endswith("[]"):
        inner = spark_type_name(text[:-2])
        return f"array<{inner}>" if inner else None
    for head in ("array", "map", "struct"):
        if lower.startswith(head + "<") and lower.endswith(">"):
            return _complex(head, text[len(head) + 1 : -1])
    if lower in _SCALARS:
        return _SCALARS[lower]
    if lower in _DECIMALS:
        return "decimal(10,0)"
    match = _PARAMETRISED.match(lower)
    if match is None:
        return None
    base = " ".join(f"{match['base']} {match['rest']}".split())
    if base in _DECIMALS:
        return _decimal(match["args"])
    if base == "float":
        digits = match["args"].strip()
        return ("float" if int(digits) <= 24 else "double") if digits.isdigit() else None
    return _SCALARS.get(base)


def _complex(head: str, body: str) -> str | None:
    parts = _split_top(body)
    if head == "array":
        inner = spark_type_name(body) if len(parts) == 1 else None
        return f"array<{inner}>" if inner else None
    if head == "map":
        if len(parts) != 2:
            return None
        key, value = spark_type_name(parts[0]), spark_type_name(parts[1])
        return f"map<{key},{value}>" if key and value else None
    fields = []
    for part in parts:
        name, colon, type_text = part.partition(":")
        inner = spark_type_name(type_text) if colon and name.strip() else None
        if inner is None:
            return None
        fields.append(f"{name.strip()}:{inner}")
    return f"struct<{','.join(fields)}>"


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    description: str
    nullable: bool


@dataclass(frozen=True)
class _Table:
    where: str
    name: str
    description: str
    columns: tuple[_Column, ...]

    def schema(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "type": c.type, "nullable": c.nullable, "description": c.description}
            for c in self.columns
        ]

    def signature(self) -> str:
        """SHA-256 of the table's normalised schema (and description)."""
        text = json.dumps(
            {"description": self.description, "columns": self.schema()},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ImportedTable:
    """One table of an imported schema file.

    Attributes:
        name: The dataset's name.
        status: ``added`` (new dataset), ``updated`` (a new version) or ``unchanged``.
        version: Its current version.
        columns: How many columns it has.
        uri: ``schema:<file name>#<table>``.
    """

    name: str
    status: str
    version: int
    columns: int
    uri: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``lakeward catalog import-schema --json``)."""
        return {
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "columns": self.columns,
            "uri": self.uri,
        }


def _records(path: Path, text: str, problems: Problems) -> list[tuple[str, Any]]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.add("the file", f"not valid YAML ({exc})")
            return []
        return _listed(data, problems)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.add(f"line {exc.lineno}", f"not valid JSON ({exc.msg})")
            return []
        return _listed(data, problems)
    return jsonl_records(text, problems, "table")


def _listed(data: Any, problems: Problems) -> list[tuple[str, Any]]:
    if data is None:
        return []
    if not isinstance(data, list):
        problems.add("the file", "a .json or .yaml schema file is a list of tables")
        return []
    return [(f"table {i + 1}", item) for i, item in enumerate(data)]


def _name(value: Any, what: str, where: str, problems: Problems) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.add(where, f'{what} has no name; give it a non-empty "name"')
        return ""
    name = value.strip()
    if len(name) > MAX_NAME_CHARS:
        problems.add(where, f"{what} name is {len(name)} characters; at most {MAX_NAME_CHARS}")
        return ""
    return name


def _text(value: Any, what: str, where: str, problems: Problems) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.add(where, f"{what} must be text, got {type(value).__name__}")
        return ""
    return value.strip()


def _table(where: str, record: Any, problems: Problems) -> _Table | None:
    before = len(problems.items)
    if not isinstance(record, dict):
        problems.add(where, "a table is an object with name, description and columns")
        return None
    unknown = sorted(str(k) for k in record if k not in _TABLE_KEYS)
    if unknown:
        problems.add(
            where, f"unknown key(s) {', '.join(unknown)}; a table has {', '.join(_TABLE_KEYS)}"
        )
    name = _name(record.get("name"), "the table", where, problems)
    label = f"table {name!r}" if name else "the table"
    description = _text(record.get("description"), f"{label}: description", where, problems)
    raw = record.get("columns")
    if not isinstance(raw, list) or not raw:
        problems.add(
            where,
            f'{label} has no columns; list them as "columns": '
            '[{"name": ..., "type": ..., "description": ...}]',
        )
        return None
    columns: list[_Column] = []
    seen: dict[str, str] = {}
    for i, column in enumerate(raw, start=1):
        if not isinstance(column, dict):
            problems.add(where, f"{label}: column {i} is not an object with name, type")
            continue
        extra = sorted(str(k) for k in column if k not in _COLUMN_KEYS)
        if extra:
            problems.add(
                where,
                f"{label}: column {i} has unknown key(s) {', '.join(extra)}; a column has "
                f"{', '.join(_COLUMN_KEYS)}",
            )
        cname = _name(column.get("name"), f"{label}: column {i}", where, problems)
        if not cname:
            continue
        folded = cname.casefold()
        if folded in seen:
            problems.add(
                where,
                f"{label} has column {cname!r} twice (as {seen[folded]!r} before; Spark "
                "compares column names case-insensitively): rename one",
            )
            continue
        seen[folded] = cname
        declared = column.get("type")
        spark_type = ""
        if declared is not None:
            if not isinstance(declared, str):
                problems.add(where, f"{label}: column {cname!r}: the type must be text")
                continue
            found = spark_type_name(declared) if declared.strip() else ""
            if found is None:
                problems.add(
                    where,
                    f"{label}: column {cname!r} has an unknown type {declared!r}; accepted: "
                    f"{ACCEPTED_TYPES}",
                )
                continue
            spark_type = found
        nullable = column.get("nullable", True)
        if not isinstance(nullable, bool):
            problems.add(where, f"{label}: column {cname!r}: nullable must be true or false")
            continue
        columns.append(
            _Column(
                cname,
                spark_type,
                _text(column.get("description"), f"column {cname!r}: description", where, problems),
                nullable,
            )
        )
    if len(problems.items) != before:
        return None
    return _Table(where, name, description, tuple(columns))


def _read(path: Path) -> list[_Table]:
    text = read_text(path, "a schema file (JSON Lines)")
    problems = Problems(path.name)
    tables: list[_Table] = []
    first: dict[str, str] = {}
    for where, record in _records(path, text, problems):
        table = _table(where, record, problems)
        if table is None:
            continue
        if table.name in first:
            problems.add(
                where, f"table {table.name!r} appears twice (first at {first[table.name]})"
            )
            continue
        first[table.name] = where
        tables.append(table)
    if not tables and not problems.items:
        problems.add("the file", "no tables: one JSON object per line, each with its columns")
    problems.raise_if_any()
    return tables


def _acting(catalog: Catalog, principal: str | None) -> str:
    if principal is not None:
        return principal
    from lakeward.identity import current_principal

    return current_principal(catalog).name


def import_schema(
    catalog: Catalog, principal: str | None, path: str | os.PathLike[str]
) -> list[ImportedTable]:
    """Record the tables of a schema file as metadata-only datasets, all or nothing.

    Decided as ``lake.register`` on the platform (purpose ``catalog_maintenance``, audited).

    Example:
        >>> import_schema(catalog, None, "warehouse.jsonl")  # doctest: +SKIP
        [ImportedTable(name='crm.customers', status='added', version=1, columns=12, ...)]

    Args:
        catalog: The catalog.
        principal: Who imports (default: the authenticated principal).
        path: The schema file (JSON Lines; ``.json``/``.yaml``: a list of tables).

    Raises:
        PolicyDenied: registering datasets is not permitted for ``principal``.
        InputError: the file is wrong, or a table's name is a file-backed dataset's (nothing
            was written).
    """
    from lakeward.policy import guard

    principal = _acting(catalog, principal)
    guard(catalog, principal, "lake.register", "platform", {"purpose": REGISTER_PURPOSE})
    file = Path(path)
    tables = _read(file)
    imported: list[ImportedTable] = []
    with catalog.session(immediate=True) as session:
        repo = DatasetRepository(session)
        existing = {t.name: repo.get(t.name) for t in tables}
        clashes = [
            f"{t.where}: table {t.name!r} is already a {d.format} dataset at {d.uri}"
            for t in tables
            if (d := existing[t.name]) is not None and d.format != SCHEMA_FORMAT
        ]
        if clashes:
            raise InputError(
                f"{file.name}: {len(clashes)} table name(s) belong to datasets with files; "
                "nothing was imported. Rename the table(s) in the file (e.g. prefix the "
                "warehouse's name).\n  " + "\n  ".join(clashes[:MAX_PROBLEMS])
            )
        for table in tables:
            uri = f"schema:{file.name}#{table.name}"
            signature = table.signature()
            dataset = existing[table.name]
            if dataset is None:
                dataset = Dataset(
                    name=table.name,
                    uri=uri,
                    lake_root="",
                    format=SCHEMA_FORMAT,
                    layout=SCHEMA_FORMAT,
                    description=table.description or None,
                    file_count=0,
                    bytes=0,
                    current_version=0,
                    registered_at=utcnow(),
                )
                session.add(dataset)
                session.flush()
                status = "added"
            elif dataset.file_signature == signature and dataset.current_version > 0:
                imported.append(
                    ImportedTable(
                        table.name, "unchanged", dataset.current_version, len(table.columns), uri
                    )
                )
                continue
            else:
                status = "updated"
            dataset.uri = uri
            dataset.description = table.description or None
            version = repo.record_profile(
                dataset,
                rows=0,
                bytes=0,
                file_count=0,
                fingerprint=signature,
                file_signature=signature,
                columns=[
                    ColumnStats(c.name, c.type, c.nullable, None, None, 0, 0) for c in table.columns
                ],
                seconds=0.0,
                principal=principal,
            )
            version.schema_json = table.schema()
            dataset.rows = None  # known by schema only: no rows were counted
            dataset.profiled_at = None
            for profile, column in zip(version.columns, table.columns, strict=True):
                profile.description = column.description or None
            imported.append(
                ImportedTable(table.name, status, version.version, len(table.columns), uri)
            )
    return imported
