"""Privileged catalog changes that steer decisions: tags, and audit records from outside.

Tags decide what policies match (``pii``, ``restricted``, ``mask:`` on ``pii_direct``
columns), so a tag changes only through :func:`assign_tag` / :func:`remove_tag`, which decide
``tag.assign`` through the guard and audit the change with its old and new state.
:func:`record_event` lets a permitted principal (services, admins) append to the audit log;
the decision to let it is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakeward.catalog import AuditLog, Catalog, DatasetRepository, TagRepository
from lakeward.errors import InputError

__all__ = ["TagChange", "assign_tag", "record_event", "remove_tag"]

GOVERNANCE_PURPOSE = "data_governance"


@dataclass(frozen=True)
class TagChange:
    """One tag change: what it is on, and whether anything changed."""

    dataset: str
    column: str
    tag: str
    action: str  # "assigned" | "removed"
    changed: bool
    source: str = "manual"
    confidence: float = 1.0

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
        }


def _check(catalog: Catalog, principal: str, dataset: str, tag: str, purpose: str) -> None:
    from lakeward.policy._engine import engine_for, guard

    guard(catalog, principal, "tag.assign", f"dataset:{dataset}", {"purpose": purpose})
    vocabulary = engine_for(catalog).bundle.tags
    if tag not in vocabulary:
        raise InputError(
            f"Tag {tag!r} is not in the policy bundle's vocabulary (tags.yaml): "
            f"{', '.join(sorted(vocabulary))}. Add it there (`lakeward policy apply`) first."
        )


def _record(catalog: Catalog, principal: str, change: TagChange, purpose: str) -> None:
    AuditLog(catalog)._append(
        principal=principal,
        action=f"tag.{change.action}",
        resource=f"column:{change.dataset}/{change.column}"
        if change.column
        else f"dataset:{change.dataset}",
        purpose=purpose,
        decision="allow",
        reasons=[
            f"tag {change.tag!r} {change.action}" + ("" if change.changed else " (no change)")
        ],
        request=change.to_dict(),
    )


def assign_tag(
    catalog: Catalog,
    principal: str,
    dataset: str,
    tag: str,
    *,
    column: str = "",
    source: str = "manual",
    confidence: float = 1.0,
    purpose: str = GOVERNANCE_PURPOSE,
) -> TagChange:
    """Put ``tag`` on a dataset (or one of its columns), decided as ``tag.assign``.

    Raises:
        PolicyDenied: ``principal`` may not tag this dataset.
        InputError: the tag is not in the vocabulary, or the confidence is not in [0, 1].
        NotFound: no such dataset.
    """
    _check(catalog, principal, dataset, tag, purpose)
    with catalog.session(immediate=True) as session:
        target = DatasetRepository(session).require(dataset)
        tags = TagRepository(session)
        before = {(t.name, t.column_name) for t in tags.for_dataset(target)}
        tags._add(
            target, tag, column=column, source=source, confidence=confidence, created_by=principal
        )
    change = TagChange(
        dataset, column, tag, "assigned", (tag, column) not in before, source, confidence
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
    _check(catalog, principal, dataset, tag, purpose)
    with catalog.session(immediate=True) as session:
        target = DatasetRepository(session).require(dataset)
        changed = TagRepository(session)._remove(target, tag, column=column)
    change = TagChange(dataset, column, tag, "removed", changed)
    _record(catalog, principal, change, purpose)
    return change


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
