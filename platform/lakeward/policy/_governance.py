"""Privileged catalog changes that steer decisions: tags, and audit records from outside.

Tags decide what policies match (``pii``, ``restricted``, ``mask:`` on ``pii_direct``
columns), so a tag changes only through the functions here, which decide ``tag.assign``
through the guard (purpose ``data_governance`` by default) and audit the change:

- :func:`assign_tag` / :func:`remove_tag`: a steward's own tag (source ``manual``,
  approved at once) and its removal;
- :func:`suggest_tags`: a classifier's findings for some columns of a dataset. Each is
  approved when its confidence reaches the tag's ``auto_approve`` in the bundle's
  ``tags.yaml``, otherwise suggested for a steward; a rejected tag is not suggested again
  while the column keeps the signature it had when rejected; tags the classifier wrote
  earlier and no longer finds go (a steward's approvals and manual tags stay). It records
  the dataset version's classification in the same transaction;
- :func:`approve_tag` / :func:`reject_tag`: a steward's review. Approving ``not_sensitive``
  on a column rejects the suggestions still pending on it; approving (or assigning) any other
  tag on a column drops a ``not_sensitive`` the classifier put there;
- :func:`propagate_tags`: tags a dataset inherits along containment edges (source
  ``propagated``, approved: they were approved on the parent).

:func:`record_event` lets a permitted principal (services, admins) append to the audit log;
the decision to let it is itself audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from lakeward.catalog import (
    AuditLog,
    Catalog,
    Classification,
    Dataset,
    DatasetRepository,
    Tag,
    TagRepository,
    TagStatus,
    column_signature,
    write_lock,
)
from lakeward.catalog._models import utcnow
from lakeward.errors import InputError, NotFound

__all__ = [
    "ClassificationRecord",
    "TagChange",
    "TagSource",
    "TagSuggestion",
    "approve_tag",
    "assign_tag",
    "propagate_tags",
    "record_event",
    "reject_tag",
    "remove_tag",
    "suggest_tags",
]

GOVERNANCE_PURPOSE = "data_governance"
NOT_SENSITIVE = "not_sensitive"


class TagSource(StrEnum):
    """Where a tag came from."""

    GLOSSARY = "glossary"
    NAME = "name"
    VALUES = "values"
    PROPAGATED = "propagated"
    MANUAL = "manual"


#: sources a classification run writes and may take back when it no longer finds them.
CLASSIFIER_SOURCES = frozenset({TagSource.GLOSSARY, TagSource.NAME, TagSource.VALUES})


@dataclass(frozen=True)
class TagChange:
    """One tag change: what it is on, what happened, and whether anything changed.

    ``action``: ``assigned``, ``removed``, ``suggested``, ``approved``, ``rejected`` or
    ``kept`` (a finding that left the tag as it was: a steward's decision stands).
    ``superseded``: tags on the same column this change rejected or removed.
    """

    dataset: str
    column: str
    tag: str
    action: str
    changed: bool
    source: str = "manual"
    confidence: float = 1.0
    status: str = TagStatus.APPROVED.value
    evidence: str | None = None
    superseded: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "dataset": self.dataset,
            "column": self.column,
            "tag": self.tag,
            "action": self.action,
            "changed": self.changed,
            "source": self.source,
            "confidence": self.confidence,
            "status": self.status,
            "evidence": self.evidence,
            "superseded": list(self.superseded),
        }


@dataclass(frozen=True)
class TagSuggestion:
    """A finding about one column (``column=""``: the whole dataset): this tag, and why.

    ``evidence`` is words and counts ("973 of 1,000 sampled values pass Luhn"), never a value.
    """

    column: str
    tag: str
    source: str
    confidence: float
    evidence: str


@dataclass(frozen=True)
class ClassificationRecord:
    """What :func:`suggest_tags` records of a completed classification of one version."""

    version: int
    seed: int
    sample_rows: int
    evidence: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None


def _check(
    catalog: Catalog, principal: str, dataset: str, tags: Iterable[str], purpose: str
) -> None:
    from lakeward.policy._engine import engine_for, guard

    guard(catalog, principal, "tag.assign", f"dataset:{dataset}", {"purpose": purpose})
    vocabulary = engine_for(catalog).bundle.tags
    for tag in tags:
        if tag not in vocabulary:
            raise InputError(
                f"Tag {tag!r} is not in the policy bundle's vocabulary (tags.yaml): "
                f"{', '.join(sorted(vocabulary))}. Add it there (`lakeward policy apply`) first."
            )


def _resource(dataset: str, column: str) -> str:
    return f"column:{dataset}/{column}" if column else f"dataset:{dataset}"


def _record(catalog: Catalog, principal: str, change: TagChange, purpose: str) -> None:
    AuditLog(catalog)._append(
        principal=principal,
        action=f"tag.{change.action}",
        resource=_resource(change.dataset, change.column),
        purpose=purpose,
        decision="allow",
        reasons=[
            f"tag {change.tag!r} {change.action}" + ("" if change.changed else " (no change)")
        ],
        request=change.to_dict(),
    )


def _record_batch(
    catalog: Catalog,
    principal: str,
    action: str,
    dataset: str,
    changes: Sequence[TagChange],
    purpose: str,
    extra: dict[str, Any] | None = None,
) -> None:
    changed = [c for c in changes if c.changed]
    AuditLog(catalog)._append(
        principal=principal,
        action=action,
        resource=f"dataset:{dataset}",
        purpose=purpose,
        decision="allow",
        reasons=[f"{len(changed)} tag change(s), {len(changes) - len(changed)} unchanged"],
        request={"dataset": dataset, **(extra or {}), "changes": [c.to_dict() for c in changed]},
    )


def _signatures(session: Any, dataset: Dataset, version: int | None = None) -> dict[str, str]:
    """Each column's signature in ``version`` (default: the current one)."""
    from lakeward.catalog import ColumnProfile, DatasetVersion

    number = dataset.current_version if version is None else version
    rows = session.scalars(
        select(ColumnProfile)
        .join(DatasetVersion, ColumnProfile.version_id == DatasetVersion.id)
        .where(DatasetVersion.dataset_id == dataset.id, DatasetVersion.version == number)
    )
    return {c.name: column_signature(c) for c in rows}


def _change(dataset: str, tag: Tag, action: str, changed: bool, **extra: Any) -> TagChange:
    return TagChange(
        dataset,
        tag.column_name,
        tag.name,
        action,
        changed,
        tag.source,
        tag.confidence,
        tag.status,
        tag.evidence,
        **extra,
    )


def _supersede_not_sensitive(session: Any, dataset: Dataset, columns: Iterable[str]) -> list[Tag]:
    """Drop the classifier's ``not_sensitive`` from columns that now carry an approved tag."""
    gone = []
    for column in set(columns) - {""}:
        tags = session.scalars(
            select(Tag).where(Tag.dataset_id == dataset.id, Tag.column_name == column)
        ).all()
        protected = any(
            t.name != NOT_SENSITIVE and t.status == TagStatus.APPROVED.value for t in tags
        )
        for t in tags:
            if protected and t.name == NOT_SENSITIVE and t.source != TagSource.MANUAL.value:
                session.delete(t)
                gone.append(t)
    session.flush()
    return gone


def assign_tag(
    catalog: Catalog,
    principal: str,
    dataset: str,
    tag: str,
    *,
    column: str = "",
    source: str = "manual",
    confidence: float = 1.0,
    evidence: str | None = None,
    purpose: str = GOVERNANCE_PURPOSE,
) -> TagChange:
    """Put ``tag`` on a dataset (or one of its columns), approved, decided as ``tag.assign``.

    ``principal`` is recorded as its reviewer: an assigned tag is a steward's decision.

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        InputError: the tag is not in the vocabulary, or the confidence is not in [0, 1].
        NotFound: no such dataset.
    """
    _check(catalog, principal, dataset, [tag], purpose)
    with catalog.session(immediate=True) as session, write_lock(session, "tags"):
        target = DatasetRepository(session).require(dataset)
        tags = TagRepository(session)
        before = tags.get(target, tag, column=column)
        was = None if before is None else (before.status, before.source)
        row = tags._add(
            target,
            tag,
            column=column,
            source=source,
            confidence=confidence,
            created_by=principal,
            evidence=evidence,
            reviewed_by=principal,
        )
        gone = _supersede_not_sensitive(session, target, [column]) if tag != NOT_SENSITIVE else []
        change = _change(
            dataset,
            row,
            "assigned",
            was != (TagStatus.APPROVED.value, source),
            superseded=tuple(t.name for t in gone),
        )
    _record(catalog, principal, change, purpose)
    return change


def remove_tag(
    catalog: Catalog,
    principal: str,
    dataset: str,
    tag: str,
    *,
    column: str = "",
    purpose: str = GOVERNANCE_PURPOSE,
) -> TagChange:
    """Take ``tag`` off a dataset (or column), decided as ``tag.assign``.

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        NotFound: no such dataset.
    """
    _check(catalog, principal, dataset, [tag], purpose)
    with catalog.session(immediate=True) as session:
        target = DatasetRepository(session).require(dataset)
        changed = TagRepository(session)._remove(target, tag, column=column)
    change = TagChange(dataset, column, tag, "removed", changed)
    _record(catalog, principal, change, purpose)
    return change


def _review(
    catalog: Catalog,
    principal: str,
    dataset: str,
    tag: str,
    column: str,
    purpose: str,
    status: TagStatus,
) -> TagChange:
    _check(catalog, principal, dataset, [tag], purpose)
    with catalog.session(immediate=True) as session, write_lock(session, "tags"):
        target = DatasetRepository(session).require(dataset)
        tags = TagRepository(session)
        row = tags.get(target, tag, column=column)
        where = f"{dataset}.{column}" if column else dataset
        if row is None and status is TagStatus.APPROVED:
            raise NotFound(
                f"No tag {tag!r} on {where} to approve. See its suggestions with `lakeward tag "
                f"ls --dataset {dataset} --status suggested`, or put the tag on with "
                f"`lakeward tag add {where} {tag}`."
            )
        if row is None:  # rejected before the classifier suggested it
            row = tags._add(
                target,
                tag,
                column=column,
                source=TagSource.MANUAL.value,
                created_by=principal,
                evidence=f"rejected by {principal} before it was suggested",
                status=TagStatus.REJECTED,
            )
            changed = True
        else:
            changed = row.status != status.value
        row.status = status.value
        row.reviewed_by = principal
        row.reviewed_at = utcnow()
        if column:
            row.column_signature = _signatures(session, target).get(column, row.column_signature)
        session.flush()
        superseded: list[str] = []
        if status is TagStatus.APPROVED and tag == NOT_SENSITIVE and column:
            for other in session.scalars(
                select(Tag).where(
                    Tag.dataset_id == target.id,
                    Tag.column_name == column,
                    Tag.status == TagStatus.SUGGESTED.value,
                )
            ):
                other.status = TagStatus.REJECTED.value
                other.reviewed_by = principal
                other.reviewed_at = row.reviewed_at
                other.column_signature = row.column_signature
                superseded.append(other.name)
        elif status is TagStatus.APPROVED:
            superseded = [t.name for t in _supersede_not_sensitive(session, target, [column])]
        change = _change(
            dataset, row, status.value, changed or bool(superseded), superseded=tuple(superseded)
        )
    _record(catalog, principal, change, purpose)
    return change


def approve_tag(
    catalog: Catalog,
    principal: str,
    dataset: str,
    tag: str,
    *,
    column: str = "",
    purpose: str = GOVERNANCE_PURPOSE,
) -> TagChange:
    """Approve a suggested (or rejected) tag: policies see it from now on.

    Approving ``not_sensitive`` on a column rejects the suggestions pending on it (the
    steward decided what the column holds); approving another tag drops a ``not_sensitive``
    the classifier put on the column.

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        InputError: the tag is not in the vocabulary.
        NotFound: no such dataset, or no such tag on it.
    """
    return _review(catalog, principal, dataset, tag, column, purpose, TagStatus.APPROVED)


def reject_tag(
    catalog: Catalog,
    principal: str,
    dataset: str,
    tag: str,
    *,
    column: str = "",
    purpose: str = GOVERNANCE_PURPOSE,
) -> TagChange:
    """Reject a tag: policies stop seeing it, and it is not suggested again for a while.

    The classifier does not suggest it again while the column keeps its current signature
    (its type and statistics).
    A tag not suggested yet can be rejected too (remembered the same way).

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        InputError: the tag is not in the vocabulary.
        NotFound: no such dataset.
    """
    return _review(catalog, principal, dataset, tag, column, purpose, TagStatus.REJECTED)


def _status_for(bundle_threshold: float | None, suggestion: TagSuggestion) -> TagStatus:
    if suggestion.source == TagSource.PROPAGATED.value:
        return TagStatus.APPROVED
    if bundle_threshold is not None and suggestion.confidence >= bundle_threshold:
        return TagStatus.APPROVED
    return TagStatus.SUGGESTED


def _strongest(suggestions: Iterable[TagSuggestion]) -> dict[tuple[str, str], TagSuggestion]:
    best: dict[tuple[str, str], TagSuggestion] = {}
    for s in suggestions:
        if not 0.0 <= s.confidence <= 1.0:
            raise InputError(f"Tag confidence must be in [0, 1], got {s.confidence}.")
        key = (s.column, s.tag)
        if key not in best or s.confidence > best[key].confidence:
            best[key] = s
    return best


def suggest_tags(
    catalog: Catalog,
    principal: str,
    dataset: str,
    suggestions: Sequence[TagSuggestion],
    *,
    columns: Sequence[str],
    classification: ClassificationRecord | None = None,
    purpose: str = GOVERNANCE_PURPOSE,
) -> list[TagChange]:
    """Write a classifier's findings on ``columns`` of ``dataset``, decided as ``tag.assign``.

    Per finding: approved at or above the tag's ``auto_approve`` (``tags.yaml``), else
    suggested; left as it is when a steward decided (a manual tag, an approval, or a
    rejection while the column keeps its signature). Tags the classifier wrote on
    ``columns`` and no longer finds are removed, unless a steward approved them; rejections
    whose column changed are forgotten. With ``classification``, the version's
    classification is recorded in the same transaction. One audit record lists the changes.

    Returns:
        A change per finding and per removal (``changed`` says which changed anything).

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        InputError: a tag is not in the vocabulary, or a confidence is not in [0, 1].
        NotFound: no such dataset.
    """
    from lakeward.policy._engine import engine_for

    best = _strongest(suggestions)
    _check(catalog, principal, dataset, sorted({tag for _, tag in best}), purpose)
    bundle = engine_for(catalog).bundle
    evaluated = set(columns) | {column for column, _ in best}
    changes: list[TagChange] = []
    with catalog.session(immediate=True) as session, write_lock(session, "tags"):
        target = DatasetRepository(session).require(dataset)
        tags = TagRepository(session)
        version = classification.version if classification else None
        signatures = _signatures(session, target, version)
        existing = {(t.column_name, t.name): t for t in tags.for_dataset(target)}
        for key, s in best.items():
            signature = signatures.get(s.column)
            status = _status_for(bundle.auto_approve(s.tag), s)
            row = existing.get(key)
            rejected = row is not None and row.status == TagStatus.REJECTED.value
            if row is not None and (
                (rejected and row.column_signature == signature)
                or (not rejected and row.source == TagSource.MANUAL.value)
            ):
                changes.append(_change(dataset, row, "kept", False))
                continue
            if row is not None and row.source == TagSource.PROPAGATED.value:
                changes.append(_change(dataset, row, "kept", False))  # propagation owns it
                continue
            if row is not None and row.status == TagStatus.APPROVED.value and row.reviewed_by:
                row.confidence, row.evidence = s.confidence, s.evidence
                row.column_signature = signature
                changes.append(_change(dataset, row, "kept", False))
                continue
            before = None if row is None else (row.status, row.source)
            row = tags._add(
                target,
                s.tag,
                column=s.column,
                source=s.source,
                confidence=s.confidence,
                created_by=principal,
                status=status,
                evidence=s.evidence,
                column_signature=signature,
            )
            changes.append(_change(dataset, row, status.value, before != (status.value, s.source)))
        for key, row in existing.items():
            if key in best or row.column_name not in evaluated:
                continue
            stale_finding = row.source in CLASSIFIER_SOURCES and (
                row.status == TagStatus.SUGGESTED.value
                or (row.status == TagStatus.APPROVED.value and not row.reviewed_by)
            )
            forgotten = row.status == TagStatus.REJECTED.value and row.column_signature != (
                signatures.get(row.column_name)
            )
            if stale_finding or forgotten:
                changes.append(_change(dataset, row, "removed", True))
                session.delete(row)
        session.flush()
        for gone in _supersede_not_sensitive(session, target, evaluated):
            changes.append(_change(dataset, gone, "removed", True))
        if classification is not None:
            recorded = session.scalar(
                select(Classification.id).where(
                    Classification.dataset_id == target.id,
                    Classification.version == classification.version,
                )
            )
            if recorded is None:
                session.add(
                    Classification(
                        dataset_id=target.id,
                        version=classification.version,
                        principal=principal,
                        purpose=purpose,
                        seed=classification.seed,
                        sample_rows=classification.sample_rows,
                        evidence=classification.evidence,
                        summary=classification.summary,
                        started_at=classification.started_at or utcnow(),
                        finished_at=utcnow(),
                    )
                )
    extra = {"version": classification.version} if classification else {}
    _record_batch(catalog, principal, "tag.classified", dataset, changes, purpose, extra)
    return changes


def propagate_tags(
    catalog: Catalog,
    principal: str,
    dataset: str,
    inherited: Sequence[TagSuggestion],
    *,
    purpose: str = GOVERNANCE_PURPOSE,
) -> list[TagChange]:
    """Make ``inherited`` the dataset's propagated tags (approved), decided as ``tag.assign``.

    A column already carrying the tag approved, or rejected while unchanged, keeps it as it
    is; propagated tags not in ``inherited`` any more are removed. Audited when anything
    changed.

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        InputError: a tag is not in the vocabulary.
        NotFound: no such dataset.
    """
    best = _strongest(
        TagSuggestion(s.column, s.tag, TagSource.PROPAGATED.value, s.confidence, s.evidence)
        for s in inherited
    )
    _check(catalog, principal, dataset, sorted({tag for _, tag in best}), purpose)
    changes: list[TagChange] = []
    with catalog.session(immediate=True) as session, write_lock(session, "tags"):
        target = DatasetRepository(session).require(dataset)
        tags = TagRepository(session)
        signatures = _signatures(session, target)
        existing = {(t.column_name, t.name): t for t in tags.for_dataset(target)}
        for key, s in best.items():
            row = existing.get(key)
            signature = signatures.get(s.column)
            if row is not None:
                if row.status == TagStatus.REJECTED.value and row.column_signature == signature:
                    continue  # a steward rejected it for this state of the column
                if row.status == TagStatus.APPROVED.value:
                    if row.source == TagSource.PROPAGATED.value:  # still inherited: refresh
                        row.confidence, row.evidence = s.confidence, s.evidence
                    continue
            row = tags._add(
                target,
                s.tag,
                column=s.column,
                source=TagSource.PROPAGATED.value,
                confidence=s.confidence,
                created_by=principal,
                evidence=s.evidence,
                column_signature=signature,
            )
            changes.append(_change(dataset, row, "approved", True))
        for key, row in existing.items():
            if row.source == TagSource.PROPAGATED.value and key not in best:
                changes.append(_change(dataset, row, "removed", True))
                session.delete(row)
        session.flush()
        for gone in _supersede_not_sensitive(session, target, {c for c, _ in best}):
            changes.append(_change(dataset, gone, "removed", True))
    if changes:
        _record_batch(catalog, principal, "tag.propagated", dataset, changes, purpose)
    return changes


def record_event(
    catalog: Catalog,
    principal: str,
    action: str,
    resource: str,
    *,
    details: dict[str, Any] | None = None,
    purpose: str | None = None,
) -> int:
    """Append an event to the audit log as ``principal`` (decided as ``audit.append``).

    Returns the new record's sequence number.

    Raises:
        PolicyDenied: ``principal`` may not append audit records.
        InputError: ``action`` or ``resource`` is empty.
    """
    from lakeward.policy._engine import guard

    if not action.strip() or not resource.strip():
        raise InputError("record_event needs a non-empty action and resource.")
    guard(catalog, principal, "audit.append", "platform")
    record = AuditLog(catalog)._append(
        principal=principal,
        action=f"event.{action}",
        resource=resource,
        purpose=purpose,
        decision="allow",
        reasons=["recorded by request"],
        request={"details": details or {}},
    )
    return record.seq
