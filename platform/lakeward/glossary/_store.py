"""Glossaries in the catalog: import, export, list, and the terms the matcher reads.

A glossary file is JSON Lines (``.jsonl``/``.ndjson``, one term per line), CSV (``.csv``,
a header row; ``synonyms`` and ``tags`` cells are ``;``- or ``|``-separated) or YAML
(``.yaml``/``.yml``: a list of terms, or a mapping with ``name``, ``description`` and
``terms``). Every format has the same fields: ``id``, ``label``, ``description``,
``synonyms``, ``parent``, ``tags``, ``owner``, ``status`` (``active`` | ``draft`` |
``deprecated``; default ``active``). :func:`export_glossary` writes them back so that
export → import changes nothing.

Importing is all or nothing: the whole file is checked first (an empty glossary, duplicate
ids, a term without id or label, unknown fields, tags outside the policy bundle's
vocabulary, over-long labels: every problem is listed with its line), then one transaction
writes it. Re-importing updates terms by id (a changed term takes the glossary's new
version), adds new ones and keeps the terms the file no longer has, unless ``replace``:
then they are deprecated, never deleted, so reviews that name them stay explainable.
Reviews (:class:`~lakeward.catalog.GlossaryMatch`) are never touched. An import that
changes nothing records no version. Importing is decided as ``glossary.manage`` (audited);
reading a glossary needs an authenticated principal only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakeward._records import Problems, jsonl_records, read_text
from lakeward.catalog import (
    Catalog,
    Glossary,
    GlossaryTerm,
    GlossaryVersion,
    write_lock,
)
from lakeward.catalog._models import utcnow
from lakeward.errors import InputError, NotFound
from lakeward.glossary._types import TermMeta

__all__ = [
    "FIELDS",
    "FORMATS",
    "MAX_ID_CHARS",
    "MAX_LABEL_CHARS",
    "GlossaryInfo",
    "ImportResult",
    "TermStatus",
    "export_glossary",
    "glossary_terms",
    "import_glossary",
    "list_glossaries",
    "require_glossary",
    "term_meta",
    "term_records",
]

#: The fields of a term, in every format, in this order.
FIELDS = ("id", "label", "description", "synonyms", "parent", "tags", "owner", "status")
#: Glossary file formats, by the name ``--format`` takes.
FORMATS = ("jsonl", "csv", "yaml")
MAX_ID_CHARS = 512
MAX_LABEL_CHARS = 512
MANAGE_PURPOSE = "data_governance"
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}
_LIST_FIELDS = ("synonyms", "tags")
_REQUIRED_HEADERS = ("id", "label")
_YAML_KEYS = ("name", "description", "terms")


class TermStatus(StrEnum):
    """Where a glossary term stands; only active terms are matched."""

    ACTIVE = "active"
    DRAFT = "draft"
    DEPRECATED = "deprecated"


@dataclass(frozen=True)
class _Term:
    """One term as read from a file, normalised (stripped strings, ``""`` for none)."""

    id: str
    label: str
    description: str = ""
    synonyms: tuple[str, ...] = ()
    parent: str = ""
    tags: tuple[str, ...] = ()
    owner: str = ""
    status: str = TermStatus.ACTIVE.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "description": self.description,
            "synonyms": list(self.synonyms),
            "parent": self.parent,
            "tags": list(self.tags),
            "owner": self.owner,
            "status": self.status,
        }

    @classmethod
    def of(cls, row: GlossaryTerm) -> _Term:
        return cls(
            id=row.term_id,
            label=row.label,
            description=row.description or "",
            synonyms=tuple(row.synonyms or ()),
            parent=row.parent or "",
            tags=tuple(row.tags or ()),
            owner=row.owner or "",
            status=row.status,
        )

    def meta(self) -> TermMeta:
        """The term as the matcher sees it."""
        return TermMeta(
            id=self.id,
            label=self.label,
            description=self.description,
            synonyms=self.synonyms,
            parent=self.parent,
            tags=self.tags,
        )


def term_meta(row: GlossaryTerm) -> TermMeta:
    """A stored term as the matcher sees it."""
    return _Term.of(row).meta()


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_glossary` did.

    Attributes:
        glossary: The glossary's name.
        version: Its version after the import (unchanged when nothing changed).
        changed: Whether the import changed anything (and so recorded a version).
        created: Whether the glossary is new.
        added: Terms new in the file.
        updated: Terms whose fields changed.
        deprecated: Terms missing from the file, deprecated by ``replace``.
        unchanged: Terms in the file exactly as in the catalog.
        kept: Terms missing from the file and kept as they were (no ``replace``).
        source: The file's name.
        format: Its format (``jsonl``, ``csv`` or ``yaml``).
        content_hash: SHA-256 of the file's normalised terms.
    """

    glossary: str
    version: int
    changed: bool
    created: bool
    added: tuple[str, ...]
    updated: tuple[str, ...]
    deprecated: tuple[str, ...]
    unchanged: int
    kept: int
    source: str
    format: str
    content_hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``lakeward glossary import --json``)."""
        return {
            "glossary": self.glossary,
            "version": self.version,
            "changed": self.changed,
            "created": self.created,
            "added": len(self.added),
            "updated": len(self.updated),
            "deprecated": len(self.deprecated),
            "unchanged": self.unchanged,
            "kept": self.kept,
            "source": self.source,
            "format": self.format,
            "content_hash": self.content_hash,
            "terms": {
                "added": list(self.added),
                "updated": list(self.updated),
                "deprecated": list(self.deprecated),
            },
        }


@dataclass(frozen=True)
class GlossaryInfo:
    """One glossary as ``lakeward glossary ls`` shows it."""

    name: str
    description: str
    version: int
    terms: dict[str, int] = field(default_factory=dict)  # status → count
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "terms": dict(self.terms),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"Unknown glossary format {fmt!r}: use one of {', '.join(FORMATS)}.")
        return fmt
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InputError(
            f"{path.name}: cannot tell the format from the extension {path.suffix or '(none)'}; "
            f"name it .jsonl, .ndjson, .csv, .yaml or .yml, or pass --format "
            f"({'|'.join(FORMATS)})."
        )
    return found


def _csv_records(text: str, problems: Problems) -> list[tuple[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        problems.add("line 1", f"not valid CSV ({exc})")
        return []
    names = [h.strip() for h in header]
    missing = [h for h in _REQUIRED_HEADERS if h not in names]
    if missing:
        problems.add(
            "line 1",
            f"the header row lacks {', '.join(missing)} (it has: {', '.join(names) or 'nothing'}); "
            f"the first row names the columns, at least {', '.join(_REQUIRED_HEADERS)} "
            f"(optional: {', '.join(f for f in FIELDS if f not in _REQUIRED_HEADERS)})",
        )
        return []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.add("line 1", f"the header names {', '.join(repeated)} more than once")
        return []
    records: list[tuple[str, Any]] = []
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(names):
                problems.add(where, f"{len(row)} cells under a header of {len(names)} columns")
                continue
            records.append((where, {n: v for n, v in zip(names, row, strict=False) if n}))
    except csv.Error as exc:
        problems.add(f"line {reader.line_num}", f"not valid CSV ({exc})")
    return records


def _yaml_records(text: str, problems: Problems) -> tuple[list[tuple[str, Any]], str | None]:
    import yaml

    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        problems.add(where, f"not valid YAML ({getattr(exc, 'problem', None) or exc})")
        return [], None
    description: str | None = None
    items_node: Any = root
    if data is None or root is None:
        return [], None
    if isinstance(data, dict):
        unknown = sorted(str(k) for k in data if k not in _YAML_KEYS)
        if unknown:
            problems.add(
                "the file",
                f"unknown top-level key(s) {', '.join(unknown)}: a glossary file is a list of "
                f"terms or a mapping with {', '.join(_YAML_KEYS)}",
            )
        if data.get("description") is not None:
            description = str(data["description"]).strip()
        terms = data.get("terms")
        items_node = next((v for k, v in getattr(root, "value", []) if k.value == "terms"), None)
        if terms is None:
            return [], description
        data = terms
    if not isinstance(data, list):
        problems.add("the file", "the terms must be a YAML list (or a mapping with `terms:`)")
        return [], description
    lines = [n.start_mark.line + 1 for n in getattr(items_node, "value", [])]
    records = [
        (f"line {lines[i]}" if i < len(lines) else f"term {i + 1}", item)
        for i, item in enumerate(data)
    ]
    return records, description


def _text_field(value: Any, name: str, where: str, problems: Problems) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | date):
        problems.add(where, f"{name} must be text, got {type(value).__name__}")
        return ""
    return str(value).strip()


def _list_field(value: Any, name: str, where: str, problems: Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.replace("|", ";").split(";")
    elif isinstance(value, list):
        items = value
    else:
        problems.add(where, f"{name} must be a list of text (or one `;`-separated text)")
        return ()
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            problems.add(where, f"{name} must hold text, found {type(item).__name__}")
            continue
        text = str(item).strip()
        if ";" in text or "|" in text:
            problems.add(
                where,
                f"{name} item {text!r} contains ';' or '|', which separate {name} in CSV; "
                "split it into separate items or drop the separator",
            )
            continue
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _term(where: str, record: Any, problems: Problems) -> _Term | None:
    if not isinstance(record, dict):
        problems.add(where, f"a term must be an object with {', '.join(FIELDS)}")
        return None
    unknown = sorted(str(k) for k in record if k not in FIELDS)
    if unknown:
        problems.add(
            where,
            f"unknown field(s) {', '.join(unknown)}; a term has {', '.join(FIELDS)} "
            "(rename or remove them)",
        )
    before = len(problems.items)
    term_id = _text_field(record.get("id"), "id", where, problems)
    label = _text_field(record.get("label"), "label", where, problems)
    status = _text_field(record.get("status"), "status", where, problems) or "active"
    term = _Term(
        id=term_id,
        label=label,
        description=_text_field(record.get("description"), "description", where, problems),
        synonyms=_list_field(record.get("synonyms"), "synonyms", where, problems),
        parent=_text_field(record.get("parent"), "parent", where, problems),
        tags=_list_field(record.get("tags"), "tags", where, problems),
        owner=_text_field(record.get("owner"), "owner", where, problems),
        status=status,
    )
    if not term_id:
        problems.add(where, "the term has no id; give every term a stable, unique id")
    elif len(term_id) > MAX_ID_CHARS:
        problems.add(where, f"the id is {len(term_id)} characters; at most {MAX_ID_CHARS}")
    if not label:
        problems.add(where, f"term {term_id or '(no id)'!r} has no label; give it a short name")
    elif len(label) > MAX_LABEL_CHARS:
        problems.add(
            where,
            f"term {term_id!r}: the label is {len(label)} characters, at most {MAX_LABEL_CHARS}; "
            "put the long text in `description`",
        )
    if status not in {s.value for s in TermStatus}:
        problems.add(
            where,
            f"term {term_id!r}: status {status!r} is not one of "
            f"{', '.join(s.value for s in TermStatus)}",
        )
    return term if len(problems.items) == before else None


def _parse(text: str, fmt: str, problems: Problems) -> tuple[list[_Term], str | None]:
    description = None
    if fmt == "jsonl":
        records = jsonl_records(text, problems, "term")
    elif fmt == "csv":
        records = _csv_records(text, problems)
    else:
        records, description = _yaml_records(text, problems)
    terms: list[_Term] = []
    first: dict[str, str] = {}
    for where, record in records:
        term = _term(where, record, problems)
        if term is None:
            continue
        if term.id in first:
            problems.add(
                where, f"duplicate term id {term.id!r} (first at {first[term.id]}); ids are unique"
            )
            continue
        first[term.id] = where
        terms.append(term)
    return terms, description


def _check_tags(terms: Iterable[_Term], vocabulary: Iterable[str], problems: Problems) -> None:
    known = set(vocabulary)
    unknown: dict[str, list[str]] = {}
    for term in terms:
        for tag in term.tags:
            if tag not in known:
                unknown.setdefault(tag, []).append(term.id)
    for tag, ids in sorted(unknown.items()):
        shown = ", ".join(repr(i) for i in ids[:3]) + (", …" if len(ids) > 3 else "")
        problems.add(
            f"tag {tag!r}",
            f"not in the policy bundle's tag vocabulary (on term(s) {shown}); add it to "
            "policies/tags.yaml and apply the bundle (`lakeward policy apply`), or fix the tag",
        )


def _content_hash(terms: Iterable[_Term]) -> str:
    data = sorted((t.to_dict() for t in terms), key=lambda d: d["id"])
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_glossary_file(
    path: str | os.PathLike[str], *, fmt: str | None = None, vocabulary: Iterable[str] = ()
) -> tuple[list[_Term], str | None, str]:
    """Read and check a glossary file: its terms, its description, its format.

    Raises:
        InputError: anything wrong with the file (every problem, with its line).
    """
    file = Path(path)
    fmt = _format_of(file, fmt)
    text = read_text(file, "a glossary file")
    problems = Problems(file.name)
    terms, description = _parse(text, fmt, problems)
    if not terms and not problems.items:
        problems.add("the file", "no terms: a glossary needs at least one term")
    _check_tags(terms, vocabulary, problems)
    problems.raise_if_any()
    return terms, description, fmt


# --------------------------------------------------------------------------------------------
# The catalog
# --------------------------------------------------------------------------------------------


def require_glossary(session: Session, name: str) -> Glossary:
    """The glossary called ``name``.

    Raises:
        NotFound: no such glossary (the message suggests ``lakeward glossary ls``).
    """
    glossary = session.scalar(select(Glossary).where(Glossary.name == name))
    if glossary is None:
        raise NotFound(
            f"No glossary named {name!r}. List them with `lakeward glossary ls`; import one "
            f"with `lakeward glossary import FILE --name {name}`."
        )
    return glossary


def _authenticated(catalog: Catalog) -> str:
    """The authenticated principal (reading a glossary needs one, but no decision)."""
    from lakeward.identity import current_principal

    return current_principal(catalog).name


def _apply(row: GlossaryTerm, term: _Term) -> None:
    row.label = term.label
    row.description = term.description or None
    row.synonyms = list(term.synonyms)
    row.parent = term.parent or None
    row.tags = list(term.tags)
    row.owner = term.owner or None
    row.status = term.status


def import_glossary(
    catalog: Catalog,
    principal: str | None,
    path: str | os.PathLike[str],
    *,
    name: str,
    replace: bool = False,
    fmt: str | None = None,
    description: str | None = None,
) -> ImportResult:
    """Import (or re-import) a glossary file into the catalog, all or nothing.

    Decided as ``glossary.manage`` on the platform (purpose ``data_governance``, audited).

    Example:
        >>> result = import_glossary(catalog, None, "terms.jsonl", name="business")
        >>> result.added, result.version  # doctest: +SKIP

    Args:
        catalog: The catalog.
        principal: Who imports (default: the authenticated principal).
        path: The file (``.jsonl``/``.ndjson``, ``.csv``, ``.yaml``/``.yml``).
        name: The glossary's name in the catalog.
        replace: Deprecate the glossary's terms the file no longer has (default: keep them).
        fmt: The file's format when its extension does not say (``jsonl``, ``csv``, ``yaml``).
        description: The glossary's description (default: the YAML file's, else unchanged).

    Raises:
        PolicyDenied: importing is not permitted for ``principal``.
        InputError: the file or the name is wrong (nothing was written).
    """
    from lakeward.policy import engine_for, guard

    principal = principal or _authenticated(catalog)
    name = name.strip()
    if not name or len(name) > 256:
        raise InputError("A glossary name is 1 to 256 characters: pass --name NAME.")
    guard(
        catalog,
        principal,
        "glossary.manage",
        "platform",
        {"purpose": MANAGE_PURPOSE},
    )
    terms, file_description, fmt = _read_glossary_file(
        path, fmt=fmt, vocabulary=engine_for(catalog).bundle.tags
    )
    source = Path(path).name
    content_hash = _content_hash(terms)
    description = description if description is not None else file_description
    added: list[str] = []
    updated: list[str] = []
    deprecated: list[str] = []
    unchanged = kept = 0
    with catalog.session(immediate=True) as session, write_lock(session, "glossaries"):
        glossary = session.scalar(select(Glossary).where(Glossary.name == name))
        created = glossary is None
        if glossary is None:
            glossary = Glossary(
                name=name,
                description=description or None,
                version=0,
                created_by=principal,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            session.add(glossary)
            session.flush()
            existing: dict[str, GlossaryTerm] = {}
        else:
            existing = {
                t.term_id: t
                for t in session.scalars(
                    select(GlossaryTerm).where(GlossaryTerm.glossary_id == glossary.id)
                )
            }
        new_version = glossary.version + 1
        now = utcnow()
        for term in terms:
            row = existing.get(term.id)
            if row is None:
                row = GlossaryTerm(
                    glossary_id=glossary.id, term_id=term.id, version=new_version, updated_at=now
                )
                _apply(row, term)
                session.add(row)
                added.append(term.id)
            elif _Term.of(row) != term:
                _apply(row, term)
                row.version, row.updated_at = new_version, now
                updated.append(term.id)
            else:
                unchanged += 1
        in_file = {t.id for t in terms}
        for term_id, row in sorted(existing.items()):
            if term_id in in_file:
                continue
            if replace and row.status != TermStatus.DEPRECATED.value:
                row.status = TermStatus.DEPRECATED.value
                row.version, row.updated_at = new_version, now
                deprecated.append(term_id)
            else:
                kept += 1
        described = description is not None and (description or None) != glossary.description
        changed = created or bool(added or updated or deprecated) or described
        if changed:
            if described:
                glossary.description = description or None
            glossary.version = new_version
            glossary.updated_at = now
            session.add(
                GlossaryVersion(
                    glossary_id=glossary.id,
                    version=new_version,
                    imported_by=principal,
                    imported_at=now,
                    source=source,
                    content_hash=content_hash,
                    changes={
                        "format": fmt,
                        "replace": replace,
                        "terms": len(terms),
                        "added": len(added),
                        "updated": len(updated),
                        "deprecated": len(deprecated),
                        "unchanged": unchanged,
                        "kept": kept,
                    },
                )
            )
        version = glossary.version
    return ImportResult(
        glossary=name,
        version=version,
        changed=changed,
        created=created,
        added=tuple(added),
        updated=tuple(updated),
        deprecated=tuple(deprecated),
        unchanged=unchanged,
        kept=kept,
        source=source,
        format=fmt,
        content_hash=content_hash,
    )


def _stored_terms(catalog: Catalog, name: str) -> tuple[Glossary, list[_Term]]:
    with catalog.session() as session:
        glossary = require_glossary(session, name)
        rows = session.scalars(
            select(GlossaryTerm)
            .where(GlossaryTerm.glossary_id == glossary.id)
            .order_by(GlossaryTerm.term_id)
        )
        terms = [_Term.of(r) for r in rows]
        session.expunge(glossary)
    return glossary, terms


def export_glossary(catalog: Catalog, name: str, fmt: str = "jsonl") -> str:
    """A glossary's terms as the text of a file of format ``fmt`` (every term, by id).

    Importing the text again (``--replace`` or not) changes nothing.

    Raises:
        NotFound: no such glossary.
        InputError: an unknown format.
    """
    if fmt not in FORMATS:
        raise InputError(f"Unknown glossary format {fmt!r}: use one of {', '.join(FORMATS)}.")
    _authenticated(catalog)
    glossary, terms = _stored_terms(catalog, name)
    rows = [t.to_dict() for t in terms]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(FIELDS)
        for r in rows:
            writer.writerow([";".join(r[f]) if f in _LIST_FIELDS else r[f] for f in FIELDS])
        return buffer.getvalue()
    import yaml

    document = {"name": glossary.name, "description": glossary.description or "", "terms": rows}
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))


def list_glossaries(catalog: Catalog) -> list[GlossaryInfo]:
    """Every glossary with its version and how many terms it has in each status, by name."""
    _authenticated(catalog)
    with catalog.session() as session:
        counts: dict[int, dict[str, int]] = {}
        for glossary_id, status, count in session.execute(
            select(GlossaryTerm.glossary_id, GlossaryTerm.status, func.count()).group_by(
                GlossaryTerm.glossary_id, GlossaryTerm.status
            )
        ):
            counts.setdefault(glossary_id, {})[status] = int(count)
        return [
            GlossaryInfo(
                name=g.name,
                description=g.description or "",
                version=g.version,
                terms=dict(sorted(counts.get(g.id, {}).items())),
                updated_at=g.updated_at,
            )
            for g in session.scalars(select(Glossary).order_by(Glossary.name))
        ]


def glossary_terms(
    catalog: Catalog, name: str, *, include_inactive: bool = False
) -> list[TermMeta]:
    """A glossary's terms as the matcher reads them, by id: active ones, or all.

    Raises:
        NotFound: no such glossary.
    """
    _authenticated(catalog)
    _, terms = _stored_terms(catalog, name)
    return [t.meta() for t in terms if include_inactive or t.status == TermStatus.ACTIVE.value]


def term_records(
    catalog: Catalog, name: str, *, include_inactive: bool = False
) -> list[dict[str, Any]]:
    """A glossary's terms with every field (``lakeward glossary terms --json``), by id.

    Raises:
        NotFound: no such glossary.
    """
    _authenticated(catalog)
    _, terms = _stored_terms(catalog, name)
    return [t.to_dict() for t in terms if include_inactive or t.status == TermStatus.ACTIVE.value]
