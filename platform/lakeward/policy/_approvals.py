"""Two-person approvals: requested by one principal, decided by another, consumed once.

Used by dedup deletions and declassifications. The approver must differ from the requester
and be permitted the request's ``approve_action`` (default ``dedup.approve``) on its
resource by the policy layer. State moves only forward, in serialised transactions:
``pending`` → ``approved`` | ``rejected``; ``approved`` → ``consumed`` (exactly once).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from lakeward.catalog import Approval, AuditLog, Catalog
from lakeward.catalog._models import utcnow
from lakeward.errors import InputError, NotFound, PolicyDenied
from lakeward.policy._engine import PolicyEngine, on_behalf_refusal

__all__ = ["Approvals"]


class Approvals:
    """The approval records of one catalog, decided under one policy engine."""

    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = engine
        self.catalog: Catalog = engine.catalog

    def _audit(
        self, principal: str, action: str, approval: Approval, decision: str, reason: str
    ) -> None:
        AuditLog(self.catalog)._append(
            principal=principal,
            action=action,
            resource=f"approval:{approval.id}",
            purpose=approval.details.get("purpose"),
            decision=decision,
            reasons=[reason],
            request={"kind": approval.kind, "subject": approval.subject, "state": approval.state},
            bundle_hash=self.engine.bundle.revision,
        )

    def request(
        self, kind: str, subject: str, requested_by: str, details: dict[str, Any] | None = None
    ) -> Approval:
        """Open a pending approval for ``subject`` (a resource such as ``dataset:NAME``)."""
        if requested_by not in self.engine.bundle.users:
            raise InputError(f"Unknown principal {requested_by!r}.")
        with self.catalog.session(immediate=True) as session:
            approval = Approval(
                kind=kind,
                subject=subject,
                details=dict(details or {}),
                requested_by=requested_by,
                requested_at=utcnow(),
                state="pending",
            )
            session.add(approval)
            session.flush()
        self._audit(requested_by, "approval.request", approval, "allow", "approval requested")
        return approval

    def get(self, approval_id: int) -> Approval:
        """One approval.

        Raises:
            NotFound: no such approval.
        """
        with self.catalog.session() as session:
            approval = session.get(Approval, approval_id)
        if approval is None:
            raise NotFound(
                f"No approval #{approval_id}; list them with `lakeward policy approval list`."
            )
        return approval

    def list(self, state: str | None = None) -> list[Approval]:
        """Approvals, newest first, optionally in one state."""
        query = select(Approval).order_by(Approval.id.desc())
        if state:
            query = query.where(Approval.state == state)
        with self.catalog.session() as session:
            return list(session.scalars(query))

    def _decide(self, approval_id: int, by: str, state: str, reason: str | None) -> Approval:
        approval = self.get(approval_id)
        action = {"approved": "approval.approve", "rejected": "approval.reject"}[state]
        impostor = on_behalf_refusal(by)
        if impostor is not None:
            self._audit(by, action, approval, "deny", impostor)
            raise PolicyDenied(impostor, reasons=[impostor])
        if by == approval.requested_by:
            message = f"{by} requested approval #{approval_id} and cannot also decide it"
            self._audit(by, action, approval, "deny", message)
            raise PolicyDenied(message + "; a second person must.", reasons=[message])
        approve_action = str(approval.details.get("approve_action", "dedup.approve"))
        decision = self.engine.decide(
            by, approve_action, approval.subject, {"purpose": approval.details.get("purpose", "")}
        )
        if not decision.allowed:
            self._audit(by, action, approval, "deny", "; ".join(decision.reasons))
            raise PolicyDenied(decision.explain(), reasons=list(decision.reasons))
        with self.catalog.session(immediate=True) as session:
            changed = session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.state == "pending")
                .values(state=state, decided_by=by, decided_at=utcnow(), reason=reason)
            ).rowcount  # type: ignore[attr-defined]
        if not changed:
            current = self.get(approval_id)
            raise InputError(f"Approval #{approval_id} is {current.state}, not pending.")
        approval = self.get(approval_id)
        self._audit(by, action, approval, "allow", reason or state)
        return approval

    def approve(self, approval_id: int, by: str, reason: str | None = None) -> Approval:
        """Approve a pending request (a second, permitted principal)."""
        return self._decide(approval_id, by, "approved", reason)

    def reject(self, approval_id: int, by: str, reason: str | None = None) -> Approval:
        """Reject a pending request."""
        return self._decide(approval_id, by, "rejected", reason)

    def consume(self, approval_id: int, by: str) -> Approval:
        """Use an approved request, exactly once.

        Raises:
            PolicyDenied: the approval is not (or no longer) approved.
        """
        with self.catalog.session(immediate=True) as session:
            changed = session.execute(
                update(Approval)
                .where(Approval.id == approval_id, Approval.state == "approved")
                .values(state="consumed", consumed_at=utcnow())
            ).rowcount  # type: ignore[attr-defined]
        approval = self.get(approval_id)
        if not changed:
            message = (
                f"approval #{approval_id} is {approval.state}; only an approved request can be used"
            )
            self._audit(by, "approval.consume", approval, "deny", message)
            raise PolicyDenied(message, reasons=[message])
        self._audit(by, "approval.consume", approval, "allow", "approval consumed")
        return approval
