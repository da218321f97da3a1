"""Classify datasets: sample, detect, write tags with provenance, propagate along containment.

:func:`classify` runs per dataset, each on its own (a refused or unreadable dataset is
reported, the rest are classified):

1. **Changed datasets only.** A dataset whose current version already has a classification
   is ``unchanged``; one never profiled is ``not_profiled`` (profile it first).
2. **Policy first.** ``lake.read_content`` is decided for the principal and purpose
   (``data_governance``), audited; a denied dataset gets no tags. Columns the decision masks
   are not read for values and keep their tags as they are (they are masked because they
   already carry a direct identifier).
3. **Sample and detect.** One bounded, seeded Spark sample (:func:`sample_dataset`); each
   catalog column is judged from its name, its sampled values and accepted glossary terms
   (none yet: the hook is :func:`_glossary_evidence`). Nested columns are judged leaf by
   leaf (``contact.email``, ``items[].sku``) and their top-level column gets every type one
   of its leaves has, at that leaf's confidence, with the leaf named in the evidence.
4. **Write.** :func:`lakeward.policy.suggest_tags` decides ``tag.assign``, approves a type at
   or above its ``auto_approve`` in ``tags.yaml`` and suggests it otherwise (types below
   :data:`SUGGEST_FLOOR` are only kept as evidence), keeps steward decisions, forgets what
   the classifier no longer finds, and records the classification, all in one transaction.
5. **not_sensitive.** A column for which no type reaches its ``auto_approve`` gets
   ``not_sensitive`` with confidence ``1 − (the strongest type's confidence)``; the bundle
   approves it at 0.5 (``tags.yaml``), i.e. when no type's confidence is above 0.5. Names
   alone never exceed 0.5, so a name-only hit (an all-NULL ``email`` column) leaves the
   column not sensitive with the type suggested for review; a changed column is judged again
   on its values. Above 0.5 and below a type's threshold both wait for a steward, and the
   column stays unclassified (masked, fail closed) until one decides.
6. **Propagate.** :func:`propagate` gives each child of a ``contained`` edge of the latest
   containment run (both ends still at the versions the edge was found for) its parents'
   approved tags on the mapped columns (a parent's dataset-level tags go to every mapped
   column), transitively, as ``propagated`` tags; ``not_sensitive`` and ``public`` do not
   flow (they loosen). Tags are keyed by column name, so they stay on new versions of a
   dataset until its re-classification says otherwise.

Values are never stored, printed or logged: evidence holds counts and fractions only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from lakeward.catalog import (
    Catalog,
    Classification,
    ColumnProfile,
    ContainmentEdge,
    ContainmentRun,
    Dataset,
    DatasetRepository,
    Tag,
    TagStatus,
    column_signature,
)
from lakeward.errors import InputError, LakeError, NotFound, PolicyDenied

if TYPE_CHECKING:
    from lakeward.policy import PolicyBundle, TagChange, TagSuggestion
    from lakeward.tagging._detectors import Evidence
    from lakeward.tagging._sample import ColumnSample

__all__ = [
    "SUGGEST_FLOOR",
    "ClassifiedDataset",
    "ClassifyReport",
    "ClassifyStatus",
    "ColumnExplanation",
    "Sampler",
    "TagRecord",
    "classify",
    "explain_column",
    "list_tags",
    "propagate",
    "resolve_target",
]

GOVERNANCE_PURPOSE = "data_governance"
NOT_SENSITIVE = "not_sensitive"
#: A type found with less confidence than this is evidence only (``tag explain``), never a tag.
SUGGEST_FLOOR = 0.2
#: Tags that say data may be shown: they never flow to a contained child.
_LOOSENING = frozenset({NOT_SENSITIVE, "public"})


class Sampler(Protocol):
    """What :func:`classify` reads values with (:func:`lakeward.tagging.sample_dataset`)."""

    def __call__(
        self, catalog: Catalog, name: str, *, rows: int = ..., seed: int = ...
    ) -> list[ColumnSample]:
        """A bounded, seeded sample of every leaf column of dataset ``name``."""
        ...


class ClassifyStatus(StrEnum):
    """What became of one dataset in a classification run."""

    CLASSIFIED = "classified"
    UNCHANGED = "unchanged"  # its current version was classified before
    NOT_PROFILED = "not_profiled"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True)
class ClassifiedDataset:
    """One dataset's outcome: its status, the version judged, and the tag changes."""

    dataset: str
    status: ClassifyStatus
    version: int = 0
    changes: tuple[TagChange, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (changed tags only)."""
        return {
            "dataset": self.dataset,
            "status": self.status.value,
            "version": self.version,
            "changes": [c.to_dict() for c in self.changes if c.changed],
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ClassifyReport:
    """A classification run: every dataset's outcome and what propagation changed."""

    datasets: tuple[ClassifiedDataset, ...]
    propagated: tuple[TagChange, ...] = ()

    def by_status(self, status: ClassifyStatus) -> list[ClassifiedDataset]:
        """Outcomes with ``status``."""
        return [d for d in self.datasets if d.status == status]

    @property
    def changes(self) -> list[TagChange]:
        """Every tag this run changed (new suggestions, approvals, removals, propagation)."""
        return [c for d in self.datasets for c in d.changes if c.changed] + [
            c for c in self.propagated if c.changed
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        counts = {s.value: len(self.by_status(s)) for s in ClassifyStatus}
        return {
            **counts,
            "datasets": [d.to_dict() for d in self.datasets],
            "propagated": [c.to_dict() for c in self.propagated if c.changed],
        }


@dataclass(frozen=True)
class TagRecord:
    """A tag as ``lakeward tag ls`` shows it."""

    dataset: str
    column: str | None
    tag: str
    confidence: float
    source: str
    status: str
    evidence: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (``column`` is ``None`` for a tag on the whole dataset)."""
        return {
            "dataset": self.dataset,
            "column": self.column,
            "tag": self.tag,
            "confidence": self.confidence,
            "source": self.source,
            "status": self.status,
        }


@dataclass(frozen=True)
class ColumnExplanation:
    """Why a column carries its tags: every detector's evidence and each tag's provenance."""

    dataset: str
    column: str
    declared_type: str | None
    version: int
    classified_version: int | None
    evidence: tuple[dict[str, Any], ...]
    sample: dict[str, Any]
    tags: tuple[TagRecord, ...]
    signature_changed: tuple[str, ...] = ()  # rejected tags whose column changed since

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "dataset": self.dataset,
            "column": self.column,
            "declared_type": self.declared_type,
            "version": self.version,
            "classified_version": self.classified_version,
            "sample": self.sample,
            "evidence": list(self.evidence),
            "tags": [
                {
                    **t.to_dict(),
                    "evidence": t.evidence,
                    "reviewed_by": t.reviewed_by,
                    "reviewed_at": t.reviewed_at,
                }
                for t in self.tags
            ],
            "rejections_expired": list(self.signature_changed),
        }


# --------------------------------------------------------------------------------------------
# Detection (pure: samples in, findings out)
# --------------------------------------------------------------------------------------------


def _owner(leaf: str, columns: Sequence[str]) -> str | None:
    """The catalog column a sampled leaf belongs to (the longest that is it or its prefix)."""
    best = None
    for column in columns:
        if leaf == column or (
            leaf.startswith(column) and leaf[len(column) : len(column) + 1] in (".", "[", "{")
        ):
            if best is None or len(column) > len(best):
                best = column
    return best


def _glossary_evidence(
    catalog: Catalog, dataset: str, columns: Sequence[str]
) -> dict[str, list[Evidence]]:
    """Evidence from accepted glossary terms, per column: their tags, source ``glossary``.

    Each term a steward accepted for a column (:func:`lakeward.glossary.accept`) contributes
    ``Evidence(tag, "glossary", 1.0, "glossary:<term> …")`` for every tag the term carries:
    it counts like a name without the name cap, so the classifier keeps those tags approved
    (and values that contradict a semantic type still weigh against it).
    """
    from lakeward.catalog import accepted_terms
    from lakeward.tagging._detectors import Evidence

    wanted = set(columns)
    out: dict[str, list[Evidence]] = {}
    for column, terms in accepted_terms(catalog, dataset).items():
        if column not in wanted:
            continue
        for term in terms:
            text = f"glossary:{term.term} ({term.label}) accepted in glossary {term.glossary}"
            out.setdefault(column, []).extend(
                Evidence(tag, "glossary", 1.0, text) for tag in term.tags
            )
    return out


@dataclass(frozen=True)
class _ColumnFindings:
    suggestions: list[TagSuggestion]
    record: dict[str, Any]


def _findings(
    dataset: str,
    column: str,
    declared: str,
    leaves: Sequence[ColumnSample],
    extra: Sequence[Evidence],
    bundle: PolicyBundle,
) -> _ColumnFindings:
    """Judge one catalog column from its name, its sampled leaves and other evidence."""
    from lakeward.policy import TagSuggestion
    from lakeward.tagging._detectors import Evidence, combine, name_evidence, value_evidence

    own = [*name_evidence(column, dataset, declared), *extra]
    judged: list[tuple[str, dict[str, tuple[float, list[Evidence]]]]] = []
    if not leaves or all(leaf.column != column for leaf in leaves):
        judged.append((column, combine(own)))
    for leaf in leaves:
        if leaf.column == column:
            items = own + value_evidence(leaf.values, leaf.declared_type, column=leaf.column)
        else:  # a leaf of a nested column: its own name and values, named in the evidence
            items = [
                Evidence(e.type, e.source, e.confidence, f"{leaf.column}: {e.text}")
                for e in name_evidence(leaf.column, dataset, leaf.declared_type)
                + value_evidence(leaf.values, leaf.declared_type, column=leaf.column)
            ]
        judged.append((leaf.column, combine(items)))
    best: dict[str, tuple[float, list[Evidence]]] = {}
    for _, combined in judged:
        for type_, (confidence, items) in combined.items():
            if type_ not in best or confidence > best[type_][0]:
                best[type_] = (confidence, items)
    suggestions: list[TagSuggestion] = []
    approved_any = False
    for type_, (confidence, items) in best.items():
        if type_ not in bundle.tags or confidence < SUGGEST_FLOOR:
            continue
        threshold = bundle.auto_approve(type_)
        approved_any |= threshold is not None and confidence >= threshold
        sources = [e.source for e in items if e.confidence > 0] or [e.source for e in items]
        source = "values" if "values" in sources else sources[0]
        text = "; ".join(e.text for e in items)
        suggestions.append(TagSuggestion(column, type_, source, confidence, text))
    values = sum(len(leaf.values) for leaf in leaves)
    rows = max((leaf.rows_sampled for leaf in leaves), default=0)
    if not approved_any:
        strongest = max(best.items(), key=lambda kv: kv[1][0], default=None)
        top = 0.0 if strongest is None else strongest[1][0]
        if values:
            text = f"{values:,} sampled non-null values in {rows:,} sampled rows"
        else:
            text = f"no non-null value in {rows:,} sampled rows"
        if strongest is None or top == 0:
            text += "; no detector found a semantic type"
        else:
            text += f"; the strongest finding is {strongest[0]} at {top:.2f}"
        suggestions.append(
            TagSuggestion(
                column, NOT_SENSITIVE, "values" if values else "name", round(1 - top, 4), text
            )
        )
    record = {
        "declared_type": declared,
        "rows_sampled": rows,
        "values": values,
        "nulls": max((leaf.nulls for leaf in leaves), default=0),
        "leaves": [leaf.column for leaf in leaves if leaf.column != column],
        "evidence": [
            {"leaf": leaf_name, **e.to_dict()}
            for leaf_name, combined in judged
            for _, items in combined.values()
            for e in items
        ],
        "combined": {t: c for t, (c, _) in best.items()},
    }
    return _ColumnFindings(suggestions, record)


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


def _default_sampler() -> Sampler:
    from lakeward.tagging._sample import sample_dataset

    return sample_dataset


def _classify_one(
    catalog: Catalog,
    principal: str,
    name: str,
    *,
    purpose: str,
    seed: int,
    sample_rows: int,
    sampler: Sampler,
    bundle: PolicyBundle,
) -> ClassifiedDataset:
    from lakeward.catalog._models import utcnow
    from lakeward.lake import SCHEMA_FORMAT
    from lakeward.policy import ClassificationRecord, guard, suggest_tags

    started, clock = utcnow(), time.perf_counter()
    with catalog.session() as session:
        repo = DatasetRepository(session)
        dataset = repo.require(name)
        version = repo.current_version(dataset)
        if version is None:
            return ClassifiedDataset(
                name,
                ClassifyStatus.NOT_PROFILED,
                error=f"{name} was never profiled: run `lakeward lake profile` first",
            )
        done = session.scalar(
            select(Classification.id).where(
                Classification.dataset_id == dataset.id,
                Classification.version == version.version,
            )
        )
        columns = [(c.name, c.type) for c in version.columns]
        number = version.version
        schema_only = dataset.format == SCHEMA_FORMAT
    if done is not None:
        return ClassifiedDataset(name, ClassifyStatus.UNCHANGED, number)
    masked: set[str] = set()
    samples: list[ColumnSample] = []
    if not schema_only:  # a metadata-only dataset has no contents: judged from names alone
        try:
            decision = guard(
                catalog,
                principal,
                "lake.read_content",
                f"dataset:{name}",
                {"purpose": purpose},
                columns=[c for c, _ in columns],
            )
        except PolicyDenied as exc:
            return ClassifiedDataset(name, ClassifyStatus.DENIED, number, error=str(exc))
        masked = {o[len("mask:") :] for o in decision.obligations if o.startswith("mask:")}
        try:
            samples = sampler(catalog, name, rows=sample_rows, seed=seed)
        except LakeError as exc:
            return ClassifiedDataset(
                name,
                ClassifyStatus.FAILED,
                number,
                error=str(exc),
                seconds=time.perf_counter() - clock,
            )
    names = [c for c, _ in columns]
    leaves: dict[str, list[ColumnSample]] = {}
    for sample in samples:
        owner = _owner(sample.column, names)
        if owner is not None and owner not in masked:  # masked values are never judged
            leaves.setdefault(owner, []).append(sample)
    glossary = _glossary_evidence(catalog, name, names)
    suggestions: list[TagSuggestion] = []
    evidence: dict[str, Any] = {}
    for column, declared in columns:
        if column in masked:
            evidence[column] = {"declared_type": declared, "masked": True}
            continue
        found = _findings(
            name, column, declared, leaves.get(column, []), glossary.get(column, []), bundle
        )
        suggestions += found.suggestions
        evidence[column] = found.record
    record = ClassificationRecord(
        version=number,
        seed=seed,
        sample_rows=sample_rows,
        evidence=evidence,
        summary={"columns": len(columns), "masked": sorted(masked)},
        started_at=started,
    )
    try:
        changes = suggest_tags(
            catalog,
            principal,
            name,
            suggestions,
            columns=[c for c in names if c not in masked],
            classification=record,
            purpose=purpose,
        )
    except PolicyDenied as exc:
        return ClassifiedDataset(name, ClassifyStatus.DENIED, number, error=str(exc))
    return ClassifiedDataset(
        name,
        ClassifyStatus.CLASSIFIED,
        number,
        tuple(changes),
        seconds=time.perf_counter() - clock,
    )


def classify(
    catalog: Catalog,
    principal: str,
    *,
    datasets: Sequence[str] | None = None,
    purpose: str = GOVERNANCE_PURPOSE,
    seed: int = 0,
    sample_rows: int = 1000,
    sampler: Sampler | None = None,
    progress: Callable[[str], None] | None = None,
) -> ClassifyReport:
    """Classify the changed datasets among ``datasets`` (default: every registered one).

    See the module docstring for what happens per dataset. Then tags are propagated along
    containment edges (:func:`propagate`) into and out of the datasets in scope.

    Args:
        catalog: The catalog.
        principal: Who classifies (decided ``lake.read_content`` and ``tag.assign``).
        datasets: Dataset names (default: all).
        purpose: The purpose declared to the policy layer.
        seed: The sample's seed (same seed and files: same rows).
        sample_rows: Rows sampled per dataset at most.
        sampler: Reads the sample (default :func:`lakeward.tagging.sample_dataset`, on
            Spark); tests pass a fake.
        progress: Called with each dataset's name once it is done.

    Returns:
        Each dataset's outcome and the propagated changes.

    Raises:
        NotFound: a named dataset is not registered.
        InputError: ``sample_rows`` is negative.
        SparkUnavailable: Spark cannot start.

    Example:
        >>> report = classify(catalog, "lakeward-scheduler")  # doctest: +SKIP
        >>> [(d.dataset, d.status.value) for d in report.datasets]  # doctest: +SKIP
        [('sales.customers', 'classified'), ('web.events', 'unchanged')]
    """
    from lakeward.policy import engine_for

    if sample_rows < 0:
        raise InputError(f"sample_rows must be >= 0, got {sample_rows}")
    names = _names(catalog, datasets)
    bundle = engine_for(catalog).bundle
    outcomes = []
    for name in names:
        outcomes.append(
            _classify_one(
                catalog,
                principal,
                name,
                purpose=purpose,
                seed=seed,
                sample_rows=sample_rows,
                sampler=sampler or _default_sampler(),
                bundle=bundle,
            )
        )
        if progress is not None:
            progress(name)
    propagated = propagate(catalog, principal, datasets=datasets, purpose=purpose)
    return ClassifyReport(tuple(outcomes), tuple(propagated))


def _names(catalog: Catalog, datasets: Sequence[str] | None) -> list[str]:
    with catalog.session() as session:
        repo = DatasetRepository(session)
        if datasets is None:
            return [d.name for d in repo.list()]
        return [repo.require(n).name for n in dict.fromkeys(datasets)]


# --------------------------------------------------------------------------------------------
# Propagation along containment edges
# --------------------------------------------------------------------------------------------


@dataclass
class _Graph:
    names: dict[int, str]
    run: int | None
    # child id → [(parent id, child column → parent column)]
    parents: dict[int, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    own: dict[int, dict[tuple[str, str], float]] = field(default_factory=dict)
    current: dict[int, set[tuple[str, str]]] = field(default_factory=dict)  # propagated now


def _graph(session: Any) -> _Graph:
    datasets = {d.id: d for d in session.scalars(select(Dataset))}
    graph = _Graph({i: d.name for i, d in datasets.items()}, None)
    run = session.scalar(
        select(ContainmentRun)
        .where(ContainmentRun.state == "done")
        .order_by(ContainmentRun.id.desc())
        .limit(1)
    )
    if run is not None:
        graph.run = run.id
        for edge in session.scalars(
            select(ContainmentEdge).where(
                ContainmentEdge.run_id == run.id, ContainmentEdge.status == "contained"
            )
        ):
            child, parent = datasets.get(edge.child_id), datasets.get(edge.parent_id)
            if child is None or parent is None:
                continue
            if (edge.child_version, edge.parent_version) != (
                child.current_version,
                parent.current_version,
            ):
                continue  # either end changed since: the edge says nothing about it now
            graph.parents.setdefault(child.id, []).append((parent.id, dict(edge.column_map)))
    for tag in session.scalars(select(Tag).where(Tag.status == TagStatus.APPROVED.value)):
        key = (tag.column_name, tag.name)
        if tag.source == "propagated":
            graph.current.setdefault(tag.dataset_id, set()).add(key)
        elif tag.name not in _LOOSENING:
            graph.own.setdefault(tag.dataset_id, {})[key] = tag.confidence
    return graph


def _inherit(graph: _Graph) -> dict[int, dict[tuple[str, str], tuple[float, str]]]:
    """Each child's inherited (column, tag) → (confidence, evidence), to a fixed point."""
    inherited: dict[int, dict[tuple[str, str], tuple[float, str]]] = {}
    for _ in range(len(graph.names) + 1):
        changed = False
        for child, edges in graph.parents.items():
            found: dict[tuple[str, str], tuple[float, str]] = {}
            for parent, column_map in edges:
                tags = dict(graph.own.get(parent, {}))
                for key, (confidence, _) in inherited.get(parent, {}).items():
                    tags.setdefault(key, confidence)
                by_parent_column: dict[str, list[str]] = {}
                for child_column, parent_column in column_map.items():
                    by_parent_column.setdefault(parent_column, []).append(child_column)
                for (parent_column, tag), confidence in sorted(tags.items()):
                    targets = (
                        sorted(column_map)
                        if not parent_column
                        else by_parent_column.get(parent_column, [])
                    )
                    where = (
                        f"{graph.names[parent]}.{parent_column}"
                        if parent_column
                        else (graph.names[parent])
                    )
                    for column in targets:
                        text = (
                            f"inherited from {where}, approved there: {graph.names[child]} is "
                            f"contained in {graph.names[parent]} (containment run #{graph.run})"
                        )
                        best = found.get((column, tag))
                        if best is None or confidence > best[0]:
                            found[(column, tag)] = (confidence, text)
            if found != inherited.get(child, {}):
                inherited[child] = found
                changed = True
        if not changed:
            break
    return inherited


def propagate(
    catalog: Catalog,
    principal: str,
    *,
    datasets: Sequence[str] | None = None,
    purpose: str = GOVERNANCE_PURPOSE,
) -> list[TagChange]:
    """Bring propagated tags up to date along the latest run's ``contained`` edges.

    With ``datasets``, only children that are named or have a named parent are updated.
    A child the principal may not tag is skipped (the denial is audited).

    Returns:
        The changes made.
    """
    from lakeward.policy import TagSuggestion, propagate_tags

    with catalog.session() as session:
        graph = _graph(session)
    inherited = _inherit(graph)
    scope = None if datasets is None else set(datasets)
    changes: list[TagChange] = []
    for child in sorted(set(inherited) | set(graph.current), key=lambda i: graph.names[i]):
        name = graph.names[child]
        parents = {graph.names[p] for p, _ in graph.parents.get(child, [])}
        if scope is not None and name not in scope and not parents & scope:
            continue
        wanted = inherited.get(child, {})
        if set(wanted) == graph.current.get(child, set()):
            continue
        suggestions = [
            TagSuggestion(column, tag, "propagated", confidence, text)
            for (column, tag), (confidence, text) in sorted(wanted.items())
        ]
        try:
            changes += propagate_tags(catalog, principal, name, suggestions, purpose=purpose)
        except PolicyDenied:
            continue
    return changes


# --------------------------------------------------------------------------------------------
# Reading tags: ls, explain, and DATASET.COLUMN
# --------------------------------------------------------------------------------------------


def resolve_target(catalog: Catalog, target: str, *, column_required: bool) -> tuple[str, str]:
    """``DATASET.COLUMN`` (or ``DATASET``) → (dataset, column or ``""``).

    Dataset names contain dots (``sales.customers.email``), so the dataset is the longest
    registered name followed by a dot; an exact dataset name is the dataset itself.

    Raises:
        InputError: no registered dataset prefixes ``target`` (or it names only a dataset
            where a column is required).
    """
    with catalog.session() as session:
        names = list(session.scalars(select(Dataset.name)))
    if target in names and not column_required:
        return target, ""
    prefixes = [n for n in names if target.startswith(n + ".") and len(target) > len(n) + 1]
    if not prefixes:
        what = "DATASET.COLUMN" if column_required else "DATASET or DATASET.COLUMN"
        hint = (
            f" {target!r} is a dataset: name one of its columns, e.g. {target}.COLUMN."
            if target in names
            else " List datasets with `lakeward catalog ls`, columns with `lakeward catalog "
            "show DATASET`."
        )
        raise InputError(f"{target!r} is not {what} of a registered dataset.{hint}")
    dataset = max(prefixes, key=len)
    return dataset, target[len(dataset) + 1 :]


def _record_of(dataset: str, tag: Tag) -> TagRecord:
    return TagRecord(
        dataset,
        tag.column_name or None,
        tag.name,
        tag.confidence,
        tag.source,
        tag.status,
        tag.evidence,
        tag.reviewed_by,
        tag.reviewed_at.isoformat() if tag.reviewed_at else None,
    )


def list_tags(
    catalog: Catalog,
    principal: str,
    *,
    datasets: Sequence[str] | None = None,
    status: str | None = None,
) -> list[TagRecord]:
    """Tags (with status and provenance) of the datasets whose metadata ``principal`` may read.

    Each dataset is decided as ``catalog.read_metadata`` (audited); without ``datasets``,
    those denied are left out.

    Raises:
        InputError: ``status`` is not suggested, approved or rejected.
        NotFound: a named dataset is not registered.
        PolicyDenied: ``principal`` may not read a named dataset's metadata.
    """
    from lakeward.policy import guard

    if status is not None and status not in {s.value for s in TagStatus}:
        raise InputError(
            f"Unknown tag status {status!r}: use one of {', '.join(s.value for s in TagStatus)}."
        )
    names = _names(catalog, datasets)
    visible = []
    for name in names:
        try:
            guard(catalog, principal, "catalog.read_metadata", f"dataset:{name}")
        except PolicyDenied:
            if datasets is not None:
                raise
            continue
        visible.append(name)
    with catalog.session() as session:
        query = (
            select(Dataset.name, Tag)
            .join(Tag, Tag.dataset_id == Dataset.id)
            .where(Dataset.name.in_(visible))
            .order_by(Dataset.name, Tag.column_name, Tag.name)
        )
        if status is not None:
            query = query.where(Tag.status == status)
        return [_record_of(name, tag) for name, tag in session.execute(query)]


def explain_column(
    catalog: Catalog, principal: str, dataset: str, column: str
) -> ColumnExplanation:
    """Every detector's evidence about a column and where each of its tags came from.

    Decided as ``catalog.read_metadata`` (audited). The evidence is from the latest
    classification of the dataset (``classified_version`` says which version it judged).

    Raises:
        NotFound: no such dataset, or no such column in its current version or tags.
        PolicyDenied: ``principal`` may not read the dataset's metadata.
    """
    from lakeward.policy import guard

    guard(catalog, principal, "catalog.read_metadata", f"dataset:{dataset}")
    with catalog.session() as session:
        repo = DatasetRepository(session)
        target = repo.require(dataset)
        version = repo.current_version(target)
        profile: ColumnProfile | None = None
        if version is not None:
            profile = next((c for c in version.columns if c.name == column), None)
        tags = session.scalars(
            select(Tag)
            .where(Tag.dataset_id == target.id, Tag.column_name == column)
            .order_by(Tag.name)
        ).all()
        if profile is None and not tags:
            known = ", ".join(c.name for c in version.columns) if version else "none profiled"
            raise NotFound(
                f"{dataset} has no column {column!r} (columns: {known}). Check the name with "
                f"`lakeward catalog show {dataset}`."
            )
        latest = session.scalar(
            select(Classification)
            .where(Classification.dataset_id == target.id)
            .order_by(Classification.version.desc())
            .limit(1)
        )
        judged = (latest.evidence or {}).get(column, {}) if latest is not None else {}
        signature = column_signature(profile) if profile is not None else None
        expired = tuple(
            t.name
            for t in tags
            if t.status == TagStatus.REJECTED.value and t.column_signature != signature
        )
        return ColumnExplanation(
            dataset=dataset,
            column=column,
            declared_type=profile.type if profile is not None else None,
            version=target.current_version,
            classified_version=latest.version if latest is not None else None,
            evidence=tuple(judged.get("evidence", [])),
            sample={
                k: judged[k]
                for k in ("rows_sampled", "values", "nulls", "leaves", "masked", "combined")
                if k in judged
            },
            tags=tuple(_record_of(dataset, t) for t in tags),
            signature_changed=expired,
        )
