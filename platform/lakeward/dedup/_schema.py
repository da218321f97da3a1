"""Stage 1: the schema containment graph, from catalog metadata only.

A child's columns must map onto a parent's: same **normalised name** and a **compatible
type**. Names are normalised by splitting camelCase and separators (space, ``-``, ``_``,
``.``), lower-casing, and expanding common abbreviations, so ``EmployeeID``, ``employee-id``
and ``emp_id`` all become ``employee_id``, and ``dob`` becomes ``date_of_birth``.

Type compatibility (child ⊂ parent): integral ⊂ wider integral ⊂ decimal/float/double,
float ⊂ double, decimal ⊂ decimal/double; date ⊂ timestamp; timestamp ⟷ timestamp_ntz
(both are compared as UTC wall-clock values); anything ⊂ string when the parent is a text
format (CSV/JSON) whose column was read as string; a child column that is entirely NULL fits
any parent column. Numbers, dates and flags a text-format child was *inferred* to have are
only guesses from its text, so they fit any numeric (resp. temporal) parent column, and any
string parent column (whose text is then parsed the same way: ``"02134"`` read as 2134);
likewise a string child column fits a text-format parent's inferred numbers, dates or flags
(the child's strings are then parsed).

Candidates come from an inverted index over normalised names, not from all pairs: a child's
parents must hold every one of its names, so they are the intersection of the index's
posting lists, taken rarest first; datasets with the same name set share one lookup. The
cost grows with the number of name-compatible pairs, not with the square of the lake.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lakeward._naming import ABBREVIATIONS, normalize_name

__all__ = [
    "ABBREVIATIONS",
    "Candidate",
    "ColumnInfo",
    "DatasetInfo",
    "Pairing",
    "domain_of",
    "naive_schema_candidates",
    "normalize_name",
    "pair_columns",
    "quote_name",
    "schema_candidates",
    "schema_ddl",
    "type_ddl",
]

TEXT_FORMATS = frozenset({"csv", "json"})

_INTEGRAL_RANK = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}


# -- DDL from profiled types ------------------------------------------------------------------
# The catalog records each column's type as Spark's ``simpleString`` (``struct<street
# name:string>``), which does not quote nested field names: read back as DDL, a name with a
# space, a backtick or punctuation breaks the parse (or, worse, means something else).
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRIMITIVE = re.compile(
    r"[a-z_][a-z0-9_]*(\(\s*\d+\s*(,\s*-?\d+\s*)?\))?( collate \w+)?"
    r"|interval (year|month|day|hour|minute|second)( to (year|month|day|hour|minute|second))?",
    re.IGNORECASE,
)


def quote_name(name: str) -> str:
    """A column or field name as Spark SQL reads it: in backticks, inner backticks doubled."""
    return "`" + name.replace("`", "``") + "`"


def _parse_type(text: str, i: int) -> tuple[str, int] | None:
    """The DDL of the ``simpleString`` type starting at ``text[i]`` and where it ends."""
    for opener in ("array<", "map<", "struct<"):
        if text.startswith(opener, i):
            break
    else:  # the shortest primitive that ends the type (decimal(10,2) holds a comma)
        for end in range(i + 1, len(text) + 1):
            if (end == len(text) or text[end] in ",>") and _PRIMITIVE.fullmatch(text, i, end):
                return text[i:end], end
        return None
    i += len(opener)
    if opener == "array<":
        inner = _parse_type(text, i)
        if inner is None or not text.startswith(">", inner[1]):
            return None
        return f"array<{inner[0]}>", inner[1] + 1
    if opener == "map<":
        key = _parse_type(text, i)
        if key is None or not text.startswith(",", key[1]):
            return None
        value = _parse_type(text, key[1] + 1)
        if value is None or not text.startswith(">", value[1]):
            return None
        return f"map<{key[0]},{value[0]}>", value[1] + 1
    fields = _parse_fields(text, i)
    return None if fields is None else (f"struct<{fields[0]}>", fields[1])


def _parse_fields(text: str, i: int) -> tuple[str, int] | None:
    """The fields ``name:type,...>`` from ``text[i]``, quoted as needed, and where they end.

    A name may hold ``:``, ``,``, ``<`` or ``>``: each ``:`` is tried as the separator until
    the rest parses.
    """
    if text.startswith(">", i):
        return "", i + 1
    colon = text.find(":", i)
    while colon != -1:
        field_type = _parse_type(text, colon + 1)
        if field_type is not None:
            end = field_type[1]
            rest = (
                ("", end + 1)
                if text.startswith(">", end)
                else _parse_fields(text, end + 1)
                if text.startswith(",", end)
                else None
            )
            if rest is not None:
                name = text[i:colon]
                quoted = name if _PLAIN_NAME.fullmatch(name) else quote_name(name)
                head = f"{quoted}:{field_type[0]}"
                return (f"{head},{rest[0]}" if rest[0] else head), rest[1]
        colon = text.find(":", colon + 1)
    return None


def type_ddl(type_name: str) -> str:
    """A profiled type (Spark ``simpleString``) as DDL: nested field names quoted as needed.

    ``struct<street name:string,id:int>`` → ``struct<`street name`:string,id:int>``; a type
    without such names comes back unchanged. A string that does not parse is returned as it
    is (Spark then reports it).
    """
    if "<" not in type_name:
        return type_name
    parsed = _parse_type(type_name, 0)
    return parsed[0] if parsed is not None and parsed[1] == len(type_name) else type_name


def schema_ddl(columns: Iterable[tuple[str, str]]) -> str:
    """A Spark DDL schema for ``(name, profiled type)`` pairs, every name quoted."""
    return ", ".join(f"{quote_name(name)} {type_ddl(type_name)}" for name, type_name in columns)


def _family(type_name: str) -> str:
    t = type_name.strip().lower()
    if t in _INTEGRAL_RANK:
        return "integral"
    if t.startswith("decimal"):
        return "decimal"
    if t in ("float", "double"):
        return t
    if t == "date":
        return "date"
    if t in ("timestamp", "timestamp_ntz", "timestamp_ltz"):
        return "timestamp"
    if t == "string" or t.startswith(("varchar", "char")):
        return "string"
    if t == "boolean":
        return "boolean"
    if t == "binary":
        return "binary"
    if t == "void":
        return "void"
    return "nested"


def domain_of(type_name: str) -> str:
    """The comparison domain of a Spark type: number, temporal, string, boolean, binary, nested."""
    family = _family(type_name)
    if family in ("integral", "decimal", "float", "double"):
        return "number"
    if family in ("date", "timestamp"):
        return "temporal"
    if family == "void":
        return "string"
    return family


def _fits(child: ColumnInfo, child_textual: bool, parent: ColumnInfo, parent_textual: bool) -> bool:
    """Whether the child column's type is compatible with (contained in) the parent's."""
    cf, pf = _family(child.type), _family(parent.type)
    if child.all_null or child.type == parent.type:
        return True
    if pf == "string":
        # A text-format child's numbers, dates and flags were inferred from text that may be
        # the parent's very strings ("02134" read as 2134): compare by parsing the parent.
        return cf == "string" or parent_textual or (child_textual and cf != "nested")
    if cf == "string" and parent_textual:
        # The mirror case: the parent's text was inferred to be numbers, dates or flags.
        return pf in ("integral", "decimal", "float", "double", "date", "timestamp", "boolean")
    if cf in ("integral", "decimal", "float", "double"):
        if pf not in ("integral", "decimal", "float", "double"):
            return False
        if child_textual:
            return True
        if cf == "integral":
            if pf == "integral":
                return _INTEGRAL_RANK[child.type] <= _INTEGRAL_RANK[parent.type]
            return True
        if cf == "decimal":
            return pf in ("decimal", "double")
        if cf == "float":
            return pf in ("float", "double")
        return pf == "double"
    if cf == "date":
        return pf in ("date", "timestamp")
    if cf == "timestamp":
        return pf == "timestamp" or (child_textual and pf == "date")
    return cf == pf and cf in ("boolean", "binary")


@dataclass(frozen=True)
class ColumnInfo:
    """A column of a dataset's current version, with its catalog statistics."""

    name: str
    type: str
    nulls: int
    min: str | None
    max: str | None
    distinct: int
    rows: int

    @functools.cached_property
    def key(self) -> str:
        """The normalised name."""
        return normalize_name(self.name)

    @property
    def all_null(self) -> bool:
        """Every value is NULL (and the dataset has rows)."""
        return self.rows > 0 and self.nulls >= self.rows


@dataclass(frozen=True)
class DatasetInfo:
    """What stages 1 and 2 know about a dataset: its current version from the catalog."""

    id: int
    name: str
    format: str
    version: int
    rows: int
    bytes: int
    fingerprint: str
    signature: str
    columns: tuple[ColumnInfo, ...]

    @property
    def textual(self) -> bool:
        """CSV or JSON: its types were inferred from text."""
        return self.format in TEXT_FORMATS

    @functools.cached_property
    def key_set(self) -> frozenset[str]:
        """The set of normalised column names."""
        return frozenset(c.key for c in self.columns)

    def keys(self) -> frozenset[str]:
        """The set of normalised column names."""
        return self.key_set


@dataclass(frozen=True)
class Pairing:
    """One child column matched to one parent column, and how their values are compared.

    ``domain`` is the comparison domain (the child's own, unless ``child_parse``);
    ``parse`` is true when the parent's values are text that must be parsed into that domain
    (a text-format parent's string column); ``child_parse`` when the child's strings must be
    parsed into the parent's domain (a text-format parent whose text was inferred typed).
    """

    key: str
    child: str
    parent: str
    domain: str
    parent_domain: str
    parse: bool
    child_parse: bool = False


@dataclass
class Candidate:
    """A child → parent edge that passed stage 1, with what stages 2 and 3 learned."""

    child: DatasetInfo
    parent: DatasetInfo
    pairs: tuple[Pairing, ...]
    stage: str = "schema"
    status: str = "candidate"
    ratio: float | None = None
    upper_bound: float = 1.0
    exact_possible: bool = True
    sample_hits: int | None = None
    sample_size: int | None = None
    matched: int | None = None
    total: int | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def column_map(self) -> dict[str, str]:
        """Child column → parent column."""
        return {p.child: p.parent for p in self.pairs}


def _assign(
    children: Sequence[ColumnInfo],
    options: dict[str, list[ColumnInfo]],
) -> dict[str, ColumnInfo] | None:
    """A one-to-one assignment of ``children`` (in order) to their ``options``, or ``None``.

    Among all complete assignments, the one a greedy pass would pick if it never had to back
    out: each child in turn takes its first option (in preference order) with which the
    remaining children can still all be assigned (checked by augmenting paths, Kuhn's
    algorithm). Where greedy first-fit succeeds, this is its result.
    """

    def complete(rest: Sequence[ColumnInfo], taken: set[str]) -> bool:
        owner: dict[str, str] = {}  # parent column -> child column, over ``rest``
        by_name = {c.name: c for c in rest}

        def augment(child: ColumnInfo, seen: set[str]) -> bool:
            for p in options[child.name]:
                if p.name in taken or p.name in seen:
                    continue
                seen.add(p.name)
                if p.name not in owner or augment(by_name[owner[p.name]], seen):
                    owner[p.name] = child.name
                    return True
            return False

        return all(augment(c, set()) for c in rest)

    chosen: dict[str, ColumnInfo] = {}
    taken: set[str] = set()
    for i, child in enumerate(children):
        rest = children[i + 1 :]
        for p in options[child.name]:
            if p.name not in taken and complete(rest, taken | {p.name}):
                chosen[child.name] = p
                taken.add(p.name)
                break
        else:
            return None
    return chosen


def pair_columns(child: DatasetInfo, parent: DatasetInfo) -> tuple[Pairing, ...] | None:
    """Map every child column onto a parent column, or ``None`` when the schemas do not fit.

    Two child columns may not share a parent column. Columns that share a normalised name
    are assigned as a whole (a bipartite matching: ``A_ID tinyint, a_id bigint`` onto
    ``aId bigint, AId smallint`` pairs ``A_ID`` with ``AId``); when several assignments fit,
    child columns in name order each prefer the parent column with their exact raw name,
    then the first compatible one in column order.
    """
    by_key: dict[str, list[ColumnInfo]] = defaultdict(list)
    for column in parent.columns:
        by_key[column.key].append(column)
    ordered = sorted(child.columns, key=lambda c: (c.key, c.name))
    groups: dict[str, list[ColumnInfo]] = defaultdict(list)
    for column in ordered:
        groups[column.key].append(column)
    match: dict[str, ColumnInfo] = {}
    for key, members in groups.items():
        candidates = by_key.get(key)
        if not candidates or len(candidates) < len(members):
            return None
        options = {
            c.name: [
                p
                for p in sorted(candidates, key=lambda p: p.name != c.name)
                if _fits(c, child.textual, p, parent.textual)
            ]
            for c in members
        }
        if len(members) == 1:
            first = options[members[0].name]
            if not first:
                return None
            match[members[0].name] = first[0]
            continue
        assigned = _assign(members, options)
        if assigned is None:
            return None
        match.update(assigned)
    pairs: list[Pairing] = []
    for column in ordered:
        found = match[column.name]
        domain = domain_of(column.type)
        parent_domain = domain_of(found.type)
        if column.all_null:
            domain = parent_domain
        parse = parent_domain == "string" and domain != "string"
        child_parse = domain == "string" and parent_domain != "string" and not column.all_null
        if child_parse:
            domain = parent_domain
        pairs.append(
            Pairing(column.key, column.name, found.name, domain, parent_domain, parse, child_parse)
        )
    return tuple(pairs)


def schema_candidates(datasets: Sequence[DatasetInfo]) -> list[Candidate]:
    """Every child → parent pair whose schemas fit (stage 1), found through the name index.

    Datasets without columns are skipped. The result is sorted by (child, parent) name.
    """
    postings: dict[str, set[int]] = defaultdict(set)
    by_id = {d.id: d for d in datasets}
    for d in datasets:
        for key in d.keys():
            postings[key].add(d.id)
    groups: dict[frozenset[str], list[DatasetInfo]] = defaultdict(list)
    for d in datasets:
        if d.columns:
            groups[d.keys()].append(d)
    found: list[Candidate] = []
    for keys, children in groups.items():
        lists = sorted((postings[k] for k in keys), key=len)
        parents = set(lists[0])
        for other in lists[1:]:
            parents &= other
            if not parents:
                break
        for child in children:
            for pid in parents:
                if pid == child.id:
                    continue
                parent = by_id[pid]
                pairs = pair_columns(child, parent)
                if pairs is not None:
                    found.append(Candidate(child, parent, pairs))
    found.sort(key=lambda c: (c.child.name, c.parent.name))
    return found


def naive_schema_candidates(datasets: Iterable[DatasetInfo]) -> list[tuple[str, str]]:
    """All-pairs stage 1 without the index (a test oracle): sorted (child, parent) names."""
    items = [d for d in datasets if d.columns]
    pairs = [
        (c.name, p.name)
        for c in items
        for p in items
        if c.id != p.id and pair_columns(c, p) is not None
    ]
    return sorted(pairs)
