"""Match the catalog's columns to a glossary, and review what the matcher suggests.

:func:`match` reads **metadata only** (dataset and column names, types, descriptions),
never a value, a statistic, a sample or a fingerprint: per dataset it asks the policy layer
for ``glossary.match`` (audited; a denied dataset is reported and skipped) and nothing else.
The columns of every allowed dataset are ranked together (:class:`Matcher`; in-process, or
on Spark for big catalogs, with identical rankings), optionally reordered by an LLM
reranker, and the candidates at or above the matcher's threshold are stored as
suggestions (``glossary_matches``), with their score and evidence.

Review: :func:`review` lists suggestions; :func:`accept` puts the term's tags on the column
(source ``glossary``, evidence ``glossary:<term>``) through :func:`lakeward.policy.assign_tag`
(``tag.assign``, audited) so policies see them at once; :func:`reject` remembers the pair,
which is not suggested again while the column's metadata is unchanged (a changed column is
matched again). Accepting a term whose tags include one of ``glossary.two_person_tags``
(settings) needs a second steward: the first acceptance is ``pending`` and puts on the
other tags only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from lakeward.catalog import (
    Catalog,
    Dataset,
    DatasetRepository,
    Glossary,
    GlossaryMatch,
    GlossaryTerm,
    MatchStatus,
    write_lock,
)
from lakeward.errors import InputError, NotFound, PolicyDenied
from lakeward.glossary._match import MatchConfig, Matcher
from lakeward.glossary._rerank import Reranker
from lakeward.glossary._store import require_glossary, term_meta
from lakeward.glossary._types import ColumnMeta, ColumnRanking, TermMeta

if TYPE_CHECKING:
    from lakeward.policy import TagChange

__all__ = [
    "GOVERNANCE_PURPOSE",
    "MatchOutcome",
    "MatchReport",
    "MatchedDataset",
    "Suggestion",
    "accept",
    "catalog_columns",
    "match",
    "reject",
    "review",
]

GOVERNANCE_PURPOSE = "data_governance"
#: Above this many columns ``engine="auto"`` ranks on Spark.
SPARK_THRESHOLD = 20_000


class MatchOutcome(StrEnum):
    """What became of one dataset in a match run."""

    MATCHED = "matched"
    UNCHANGED = "unchanged"  # every column was matched before with the same metadata
    NOT_PROFILED = "not_profiled"
    NO_COLUMNS = "no_columns"
    DENIED = "denied"


@dataclass(frozen=True)
class MatchedDataset:
    """One dataset's outcome in a match run."""

    dataset: str
    status: MatchOutcome
    columns: int = 0
    suggested: int = 0
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "dataset": self.dataset,
            "status": self.status.value,
            "columns": self.columns,
            "suggested": self.suggested,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Suggestion:
    """A stored column-to-term match and where it stands in review."""

    glossary: str
    dataset: str
    column: str
    term: str
    label: str
    score: float
    rank: int
    status: str
    tags: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    reviewed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "glossary": self.glossary,
            "dataset": self.dataset,
            "column": self.column,
            "term": self.term,
            "label": self.label,
            "score": round(self.score, 4),
            "rank": self.rank,
            "status": self.status,
            "tags": list(self.tags),
            "evidence": self.evidence,
            "reviewed_by": self.reviewed_by,
        }


@dataclass(frozen=True)
class MatchReport:
    """A match run: the rankings made, each dataset's outcome, and the new suggestions."""

    glossary: str
    engine: str
    rankings: tuple[ColumnRanking, ...]
    datasets: tuple[MatchedDataset, ...]
    new: tuple[Suggestion, ...] = ()
    seconds: float = 0.0

    def by_status(self, status: MatchOutcome) -> list[MatchedDataset]:
        """The datasets with this outcome."""
        return [d for d in self.datasets if d.status is status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "glossary": self.glossary,
            "engine": self.engine,
            "seconds": round(self.seconds, 3),
            "datasets": [d.to_dict() for d in self.datasets],
            "new": [s.to_dict() for s in self.new],
            "rankings": [r.to_dict() for r in self.rankings],
        }


# -- the glossary and the catalog's columns -------------------------------------------------


def _glossary(session: Any, name: str | None) -> Glossary:
    if name is not None:
        return require_glossary(session, name)
    every = list(session.scalars(select(Glossary).order_by(Glossary.name)))
    if not every:
        raise NotFound(
            "No glossary in the catalog: import one with `lakeward glossary import FILE --name G`."
        )
    if len(every) > 1:
        names = ", ".join(g.name for g in every)
        raise InputError(f"The catalog has several glossaries ({names}): name one with --glossary.")
    return every[0]  # type: ignore[no-any-return]


_MATCHERS: dict[tuple[tuple[TermMeta, ...], MatchConfig], Matcher] = {}
_MATCHERS_LOCK = threading.Lock()


def _matcher(terms: Sequence[TermMeta]) -> Matcher:
    """A matcher for these terms (kept per process: embedding a glossary costs)."""
    config = _config()
    key = (tuple(terms), config)
    with _MATCHERS_LOCK:
        found = _MATCHERS.get(key)
        if found is None:
            found = Matcher(terms, config)
            if len(_MATCHERS) > 8:
                _MATCHERS.clear()
            _MATCHERS[key] = found
        return found


def _config() -> MatchConfig:
    threshold = _setting("threshold", None)
    return MatchConfig() if threshold is None else MatchConfig(threshold=float(threshold))


def _setting(name: str, default: Any) -> Any:
    from lakeward.settings import get_settings

    section = getattr(get_settings(), "glossary", None)
    return getattr(section, name, default) if section is not None else default


def catalog_columns(session: Any, dataset: Dataset) -> list[ColumnMeta] | None:
    """The metadata of a dataset's current columns (``None``: never profiled)."""
    version = DatasetRepository(session).current_version(dataset)
    if version is None:
        return None
    names = tuple(c.name for c in version.columns)
    return [
        ColumnMeta(
            dataset=dataset.name,
            column=c.name,
            type=c.type,
            description=c.description or "",
            table_description=dataset.description or "",
            siblings=names,
        )
        for c in version.columns
    ]


def _suggestion(
    glossary: str, row: GlossaryMatch, term: TermMeta | None, dataset: str
) -> Suggestion:
    return Suggestion(
        glossary=glossary,
        dataset=dataset,
        column=row.column_name,
        term=row.term_id,
        label=term.label if term is not None else row.term_id,
        score=row.score,
        rank=row.rank,
        status=row.status,
        tags=term.tags if term is not None else (),
        evidence=dict(row.evidence or {}),
        reviewed_by=row.reviewed_by,
    )


# -- matching -------------------------------------------------------------------------------


def _rank(
    matcher: Matcher,
    columns: Sequence[ColumnMeta],
    *,
    top_k: int,
    one_to_one: bool,
    engine: str,
) -> tuple[list[ColumnRanking], str]:
    use_spark = engine == "spark" or (engine == "auto" and len(columns) > SPARK_THRESHOLD)
    if not use_spark:
        return matcher.rank(columns, top_k=top_k, one_to_one=one_to_one), "local"
    from lakeward.glossary._spark import rank_on_spark
    from lakeward.spark import session

    spark = session()
    return (
        rank_on_spark(
            spark,
            columns,
            matcher.terms,
            matcher.config,
            top_k=top_k,
            one_to_one=one_to_one,
            term_embeddings=matcher.term_embeddings(),
        ),
        "spark",
    )


def match(
    catalog: Catalog,
    principal: str,
    *,
    glossary: str | None = None,
    datasets: Sequence[str] | None = None,
    top_k: int = 5,
    one_to_one: bool = False,
    changed_only: bool = False,
    engine: str = "auto",
    purpose: str = GOVERNANCE_PURPOSE,
    reranker: Reranker | None = None,
    progress: Callable[[str], None] | None = None,
) -> MatchReport:
    """Match columns to a glossary's terms from metadata only, and store the suggestions.

    Args:
        catalog: The catalog.
        principal: Who matches (decided ``glossary.match`` per dataset, audited).
        glossary: The glossary's name (default: the only one).
        datasets: Dataset names (default: every registered dataset).
        top_k: Candidates ranked per column (and stored at most, above the threshold).
        one_to_one: Per table, give no two columns the same first term.
        changed_only: Only columns that are new or whose metadata changed since the last run
            with this glossary (the nightly flow); ``False`` ranks every column.
        engine: ``local`` (in-process), ``spark``, or ``auto`` (Spark above
            :data:`SPARK_THRESHOLD` columns).
        purpose: The purpose declared to the policy layer.
        reranker: Reorders each column's candidates (an LLM endpoint; off by default).
        progress: Called with each dataset's name once its columns are gathered.

    Returns:
        The rankings, each dataset's outcome and the new suggestions.

    Raises:
        NotFound: no such glossary or dataset.
        InputError: bad arguments, or several glossaries and none named.
    """
    from lakeward.policy import guard

    if top_k < 1:
        raise InputError("--top-k must be at least 1.")
    if engine not in ("auto", "local", "spark"):
        raise InputError(f"--engine must be auto, local or spark, not {engine!r}.")
    clock = time.perf_counter()
    with catalog.session() as session:
        found = _glossary(session, glossary)
        glossary_name, glossary_id = found.name, found.id
        term_rows = [t for t in found.terms if t.status == "active"]
        terms = [term_meta(t) for t in term_rows]
        repo = DatasetRepository(session)
        if datasets is None:
            targets = [d.name for d in repo.list()]
        else:
            targets = list(dict.fromkeys(datasets))
            for name in targets:
                repo.require(name)
    if not terms:
        raise InputError(
            f"Glossary {glossary_name!r} has no active terms: import terms with `lakeward glossary "
            "import FILE --name {glossary_name}`."
        )
    matcher = _matcher(terms)
    outcomes: dict[str, MatchedDataset] = {}
    to_rank: list[ColumnMeta] = []
    for name in targets:
        started = time.perf_counter()
        try:
            guard(catalog, principal, "glossary.match", f"dataset:{name}", {"purpose": purpose})
        except PolicyDenied as exc:
            outcomes[name] = MatchedDataset(name, MatchOutcome.DENIED, error=str(exc))
            continue
        with catalog.session() as session:
            dataset = DatasetRepository(session).require(name)
            columns = catalog_columns(session, dataset)
            seen = {
                (m.column_name, m.metadata_signature)
                for m in session.scalars(
                    select(GlossaryMatch).where(
                        GlossaryMatch.glossary_id == glossary_id,
                        GlossaryMatch.dataset_id == dataset.id,
                    )
                )
            }
        if columns is None:
            outcomes[name] = MatchedDataset(
                name,
                MatchOutcome.NOT_PROFILED,
                error=f"{name} was never profiled: run `lakeward lake profile` first",
            )
            continue
        if not columns:
            outcomes[name] = MatchedDataset(name, MatchOutcome.NO_COLUMNS)
            continue
        if changed_only:
            columns = [c for c in columns if (c.column, c.signature()) not in seen]
            if not columns:
                outcomes[name] = MatchedDataset(name, MatchOutcome.UNCHANGED)
                continue
        to_rank += columns
        outcomes[name] = MatchedDataset(
            name, MatchOutcome.MATCHED, len(columns), seconds=time.perf_counter() - started
        )
        if progress is not None:
            progress(name)
    rankings, used = _rank(matcher, to_rank, top_k=top_k, one_to_one=one_to_one, engine=engine)
    if reranker is not None:
        by_id = {t.id: t for t in terms}
        rankings = [
            ColumnRanking(
                r.dataset,
                r.column,
                tuple(reranker.rerank(column, r.candidates, by_id)),
                r.abstained,
            )
            for r, column in zip(rankings, to_rank, strict=True)
        ]
    new, counts = _store(catalog, principal, glossary_id, glossary_name, to_rank, rankings, matcher)
    for name, count in counts.items():
        done = outcomes[name]
        outcomes[name] = MatchedDataset(
            done.dataset, done.status, done.columns, count, done.error, done.seconds
        )
    return MatchReport(
        glossary_name,
        used,
        tuple(rankings),
        tuple(outcomes[n] for n in targets),
        tuple(new),
        time.perf_counter() - clock,
    )


def _store(
    catalog: Catalog,
    principal: str,
    glossary_id: int,
    glossary_name: str,
    columns: Sequence[ColumnMeta],
    rankings: Sequence[ColumnRanking],
    matcher: Matcher,
) -> tuple[list[Suggestion], dict[str, int]]:
    """Write the suggestions at or above the threshold; keep stewards' decisions."""
    threshold = matcher.config.threshold
    terms = {t.id: t for t in matcher.terms}
    new: list[Suggestion] = []
    counts: dict[str, int] = {}
    by_dataset: dict[str, list[tuple[ColumnMeta, ColumnRanking]]] = {}
    for column, ranking in zip(columns, rankings, strict=True):
        by_dataset.setdefault(column.dataset, []).append((column, ranking))
    with catalog.session(immediate=True) as session, write_lock(session, "glossary_matches"):
        for name, items in by_dataset.items():
            dataset = DatasetRepository(session).require(name)
            existing: dict[tuple[str, str], GlossaryMatch] = {
                (m.column_name, m.term_id): m
                for m in session.scalars(
                    select(GlossaryMatch).where(
                        GlossaryMatch.glossary_id == glossary_id,
                        GlossaryMatch.dataset_id == dataset.id,
                        GlossaryMatch.column_name.in_([c.column for c, _ in items]),
                    )
                )
            }
            for column, ranking in items:
                signature = column.signature()
                kept: set[str] = set()
                for rank, candidate in enumerate(ranking.candidates, start=1):
                    if candidate.score < threshold:
                        continue  # a reranker may put a weak candidate above a strong one
                    kept.add(candidate.term)
                    row = existing.get((column.column, candidate.term))
                    fresh = False
                    if row is None:
                        row = GlossaryMatch(
                            glossary_id=glossary_id,
                            dataset_id=dataset.id,
                            column_name=column.column,
                            term_id=candidate.term,
                            status=MatchStatus.SUGGESTED.value,
                            created_by=principal,
                        )
                        session.add(row)
                        fresh = True
                    elif row.status == MatchStatus.REJECTED.value:
                        if row.metadata_signature == signature:
                            continue  # the steward's rejection holds for this metadata
                        row.status = MatchStatus.SUGGESTED.value
                        row.reviewed_by = None
                        row.reviewed_at = None
                        fresh = True
                    row.rank = rank
                    row.score = float(candidate.score)
                    row.evidence = candidate.evidence
                    row.metadata_signature = signature
                    if fresh:
                        counts[name] = counts.get(name, 0) + 1
                        new.append(_suggestion(glossary_name, row, terms.get(row.term_id), name))
                for (col, term), row in existing.items():
                    if col != column.column or term in kept:
                        continue
                    if row.status == MatchStatus.SUGGESTED.value or (term == "" and kept):
                        session.delete(row)  # no longer a candidate for this metadata
                if not kept:  # remember the column was matched (nothing suggested)
                    marker = existing.get((column.column, ""))
                    if marker is None:
                        marker = GlossaryMatch(
                            glossary_id=glossary_id,
                            dataset_id=dataset.id,
                            column_name=column.column,
                            term_id="",
                            rank=0,
                            score=0.0,
                            evidence={"abstained": True},
                            status=MatchStatus.ABSTAINED.value,
                            created_by=principal,
                            metadata_signature=signature,
                        )
                        session.add(marker)
                    marker.metadata_signature = signature
                    marker.score = float(ranking.candidates[0].score) if ranking.candidates else 0.0
    return new, counts


# -- review ---------------------------------------------------------------------------------


def _visible(catalog: Catalog, principal: str, names: Sequence[str]) -> set[str]:
    from lakeward.policy import guard

    allowed = set()
    for name in names:
        try:
            guard(catalog, principal, "catalog.read_metadata", f"dataset:{name}", {})
        except PolicyDenied:
            continue
        allowed.add(name)
    return allowed


def review(
    catalog: Catalog,
    principal: str,
    *,
    glossary: str | None = None,
    datasets: Sequence[str] | None = None,
    status: str | None = MatchStatus.SUGGESTED.value,
) -> list[Suggestion]:
    """Stored matches (default: those waiting for a steward), best first per column.

    Only datasets whose metadata ``principal`` may read (``catalog.read_metadata``) are listed.

    Raises:
        NotFound: no such glossary or dataset.
        InputError: an unknown status.
    """
    statuses = {s.value for s in MatchStatus} - {MatchStatus.ABSTAINED.value}
    if status is not None and status not in statuses:
        raise InputError(f"--status must be one of {', '.join(sorted(statuses))}, not {status!r}.")
    with catalog.session() as session:
        found = _glossary(session, glossary)
        terms = {t.term_id: term_meta(t) for t in found.terms}
        query = (
            select(GlossaryMatch, Dataset.name)
            .join(Dataset, GlossaryMatch.dataset_id == Dataset.id)
            .where(GlossaryMatch.glossary_id == found.id, GlossaryMatch.term_id != "")
        )
        if status is not None:
            query = query.where(GlossaryMatch.status == status)
        if datasets is not None:
            for name in datasets:
                DatasetRepository(session).require(name)
            query = query.where(Dataset.name.in_(list(datasets)))
        rows = [
            _suggestion(found.name, m, terms.get(m.term_id), name)
            for m, name in session.execute(
                query.order_by(Dataset.name, GlossaryMatch.column_name, GlossaryMatch.rank)
            )
        ]
    allowed = _visible(catalog, principal, sorted({r.dataset for r in rows}))
    return [r for r in rows if r.dataset in allowed]


def _two_person_tags() -> frozenset[str]:
    return frozenset(_setting("two_person_tags", ("public", "not_sensitive")) or ())


def _decide(
    catalog: Catalog,
    principal: str,
    dataset: str,
    column: str,
    term: str,
    glossary: str | None,
    purpose: str,
) -> tuple[str, TermMeta, int, str]:
    """Check the review may happen; return the glossary's name, the term and ids."""
    from lakeward.policy import guard

    with catalog.session() as session:
        found = _glossary(session, glossary)
        target = DatasetRepository(session).require(dataset)
        columns = catalog_columns(session, target) or []
        if column not in {c.column for c in columns}:
            raise NotFound(
                f"{dataset} has no column {column!r} in its current version; see its columns "
                f"with `lakeward catalog show {dataset}`."
            )
        row = session.scalar(
            select(GlossaryTerm).where(
                GlossaryTerm.glossary_id == found.id, GlossaryTerm.term_id == term
            )
        )
        if row is None:
            raise NotFound(
                f"Glossary {found.name!r} has no term {term!r}; list its terms with "
                f"`lakeward glossary terms {found.name}`."
            )
        meta = term_meta(row)
        name, glossary_id, signature = found.name, found.id, ""
        for c in columns:
            if c.column == column:
                signature = c.signature()
    guard(catalog, principal, "tag.assign", f"dataset:{dataset}", {"purpose": purpose})
    return name, meta, glossary_id, signature


def _stored_match(
    session: Any,
    glossary_id: int,
    target: Dataset,
    column: str,
    term: str,
    principal: str,
    signature: str,
    score: float,
) -> GlossaryMatch:
    """The stored match of ``term`` to the column, or a new one a steward makes by hand."""
    row = session.scalar(
        select(GlossaryMatch).where(
            GlossaryMatch.glossary_id == glossary_id,
            GlossaryMatch.dataset_id == target.id,
            GlossaryMatch.column_name == column,
            GlossaryMatch.term_id == term,
        )
    )
    if row is None:
        row = GlossaryMatch(
            glossary_id=glossary_id,
            dataset_id=target.id,
            column_name=column,
            term_id=term,
            rank=0,
            score=score,
            evidence={"manual": True},
            status=MatchStatus.SUGGESTED.value,
            created_by=principal,
            metadata_signature=signature,
        )
        session.add(row)
    return row  # type: ignore[no-any-return]


def _evidence(glossary: str, term: TermMeta, principal: str) -> str:
    return f"glossary:{term.id} ({term.label}) in glossary {glossary}, accepted by {principal}"


def accept(
    catalog: Catalog,
    principal: str,
    dataset: str,
    column: str,
    term: str,
    *,
    glossary: str | None = None,
    purpose: str = GOVERNANCE_PURPOSE,
) -> tuple[Suggestion, list[TagChange]]:
    """Accept ``term`` for ``dataset.column``: its tags go on the column, approved.

    A term not suggested can be accepted too (a steward's own match). When the term carries a
    tag listed in ``glossary.two_person_tags`` the first acceptance is ``pending`` (its other
    tags go on) and a second, different steward completes it.

    Returns:
        The match as stored, and the tag changes.

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset, or accepted the pending match
            already (a second steward must).
        NotFound: no such glossary, dataset, column or term.
        InputError: a tag of the term is not in the policy bundle's vocabulary.
    """
    from lakeward.catalog._models import utcnow
    from lakeward.policy import assign_tag

    name, meta, glossary_id, signature = _decide(
        catalog, principal, dataset, column, term, glossary, purpose
    )
    sensitive = [t for t in meta.tags if t in _two_person_tags()]
    with catalog.session(immediate=True) as session, write_lock(session, "glossary_matches"):
        target = DatasetRepository(session).require(dataset)
        row = _stored_match(session, glossary_id, target, column, term, principal, signature, 1.0)
        if row.status == MatchStatus.ACCEPTED.value:
            apply = list(meta.tags)
        elif sensitive and row.status != MatchStatus.PENDING.value:
            row.status = MatchStatus.PENDING.value
            row.reviewed_by = principal
            apply = [t for t in meta.tags if t not in sensitive]
        elif sensitive:
            first = row.reviewed_by or ""
            if first == principal:
                raise PolicyDenied(
                    f"Accepting {term!r} on {dataset}.{column} puts on {', '.join(sensitive)}, "
                    f"which needs a second steward: {principal} accepted it already."
                )
            row.status = MatchStatus.ACCEPTED.value
            row.reviewed_by = f"{first},{principal}"
            apply = list(meta.tags)
        else:
            row.status = MatchStatus.ACCEPTED.value
            row.reviewed_by = principal
            apply = list(meta.tags)
        row.reviewed_at = utcnow()
        row.metadata_signature = signature or row.metadata_signature
        session.flush()
        stored = _suggestion(name, row, meta, dataset)
    changes = [
        assign_tag(
            catalog,
            principal,
            dataset,
            tag,
            column=column,
            source="glossary",
            confidence=1.0,
            evidence=_evidence(name, meta, stored.reviewed_by or principal),
            purpose=purpose,
        )
        for tag in apply
    ]
    return stored, changes


def reject(
    catalog: Catalog,
    principal: str,
    dataset: str,
    column: str,
    term: str,
    *,
    glossary: str | None = None,
    purpose: str = GOVERNANCE_PURPOSE,
) -> tuple[Suggestion, list[TagChange]]:
    """Reject ``term`` for ``dataset.column``: not suggested again while its metadata holds.

    Rejecting an accepted term takes off the tags it put on (those whose evidence names it).

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        NotFound: no such glossary, dataset, column or term.
    """
    from lakeward.catalog import Tag
    from lakeward.catalog._models import utcnow
    from lakeward.policy import remove_tag

    name, meta, glossary_id, signature = _decide(
        catalog, principal, dataset, column, term, glossary, purpose
    )
    with catalog.session(immediate=True) as session, write_lock(session, "glossary_matches"):
        target = DatasetRepository(session).require(dataset)
        row = _stored_match(session, glossary_id, target, column, term, principal, signature, 0.0)
        row.status = MatchStatus.REJECTED.value
        row.reviewed_by = principal
        row.reviewed_at = utcnow()
        row.metadata_signature = signature
        session.flush()
        stored = _suggestion(name, row, meta, dataset)
        prefix = f"glossary:{meta.id} ("
        owned = [
            t.name
            for t in session.scalars(
                select(Tag).where(
                    Tag.dataset_id == target.id,
                    Tag.column_name == column,
                    Tag.source == "glossary",
                )
            )
            if (t.evidence or "").startswith(prefix)
        ]
    changes = [
        remove_tag(catalog, principal, dataset, tag, column=column, purpose=purpose)
        for tag in owned
    ]
    return stored, changes
