"""Purpose acknowledgements: a principal must accept a purpose's text before using it."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from lakeward.catalog import AuditLog, Catalog, PurposeAcknowledgement
from lakeward.catalog._models import utcnow
from lakeward.errors import InputError
from lakeward.policy._bundle import PolicyBundle

__all__ = ["acknowledge_purpose", "record_acknowledgement"]


def acknowledge_purpose(
    catalog: Catalog, bundle: PolicyBundle, principal: str, purpose: str
) -> PurposeAcknowledgement:
    """Record (and audit) that ``principal`` acknowledged ``purpose``'s current text.

    Decided as ``purpose.acknowledge`` through the guard, so a principal acknowledges only
    for itself: while an authenticated principal is bound, naming another is denied.
    A changed purpose text invalidates earlier acknowledgements (they store its SHA-256).

    Raises:
        InputError: unknown principal or purpose.
        PolicyDenied: acknowledging is not permitted (or is for someone else).
    """
    from lakeward.policy._engine import guard

    if principal not in bundle.users:
        raise InputError(f"Unknown principal {principal!r}: add it to principals.yaml first.")
    if purpose not in bundle.purposes:
        raise InputError(
            f"Unknown purpose {purpose!r}; known purposes: {', '.join(sorted(bundle.purposes))}."
        )
    guard(catalog, principal, "purpose.acknowledge", "platform")
    return record_acknowledgement(catalog, bundle, principal, purpose)


def record_acknowledgement(
    catalog: Catalog, bundle: PolicyBundle, principal: str, purpose: str
) -> PurposeAcknowledgement:
    """Write an acknowledgement (library-internal; policy tests use it on a scratch catalog)."""
    text_hash = hashlib.sha256(bundle.purposes[purpose].encode()).hexdigest()
    with catalog.session(immediate=True) as session:
        ack = session.scalar(
            select(PurposeAcknowledgement).where(
                PurposeAcknowledgement.principal == principal,
                PurposeAcknowledgement.purpose == purpose,
            )
        )
        if ack is None:
            ack = PurposeAcknowledgement(principal=principal, purpose=purpose)
            session.add(ack)
        ack.text_sha256 = text_hash
        ack.acknowledged_at = utcnow()
    AuditLog(catalog)._append(
        principal=principal,
        action="policy.purpose_ack",
        resource=f"purpose:{purpose}",
        purpose=purpose,
        decision="allow",
        reasons=["purpose acknowledged"],
        request={"text": bundle.purposes[purpose], "text_sha256": text_hash},
        bundle_hash=bundle.revision,
    )
    return ack
