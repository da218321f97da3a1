"""The privacy-budget ledger: rho-zCDP caps per (privacy unit, principal, purpose).

``reserve(unit, principal, purpose, rho)`` checks the cap and records a reservation in one
serialised transaction (``BEGIN IMMEDIATE`` on SQLite, an EXCLUSIVE table lock on
PostgreSQL), so concurrent reservations from threads and processes can never together exceed
the cap. The holder then ``commit()``s (spent for good) or ``release()``s. A reservation
whose holder dies is not leaked: it expires after its time-to-live and the next ledger
operation returns it (state ``expired``), audited. Caps come from the bundle's
``budgets.yaml`` and never refresh. Every charge, refusal and expiry is audited.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from numbers import Real
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakeward.catalog import AuditLog, BudgetEntry, Catalog, write_lock
from lakeward.catalog._models import utcnow
from lakeward.errors import BudgetExhausted, InputError, LakewardInternalError
from lakeward.policy._bundle import PolicyBundle

__all__ = ["BudgetLedger", "Reservation"]

_SLACK = 1e-12  # float rounding when summing many spends


@dataclass
class Reservation:
    """A reserved spend; settle it exactly once with :meth:`commit` or :meth:`release`."""

    ledger: BudgetLedger
    id: str
    unit: str
    principal: str
    purpose: str
    rho: float
    state: str = "reserved"

    def commit(self) -> None:
        """Spend the reserved budget for good.

        Raises:
            BudgetExhausted: the reservation expired (its time-to-live passed) or was settled.
        """
        self.ledger._settle(self, "committed")

    def release(self) -> None:
        """Return the reserved budget (idempotent for an already released reservation)."""
        self.ledger._settle(self, "released")


class BudgetLedger:
    """Reserve, commit and release rho-zCDP spends against the bundle's caps."""

    def __init__(self, catalog: Catalog, bundle: PolicyBundle, *, ttl_s: float = 900.0) -> None:
        self.catalog = catalog
        self.bundle = bundle
        self.ttl = timedelta(seconds=ttl_s)

    def _audit(self, decision: str, action: str, entry: dict[str, Any], reason: str) -> None:
        AuditLog(self.catalog)._append(
            principal=entry["principal"],
            action=action,
            resource=f"budget:{entry['unit']}",
            purpose=entry["purpose"],
            decision=decision,
            reasons=[reason],
            request=entry,
            bundle_hash=self.bundle.revision,
        )

    def _expire(self, session: Session) -> list[dict[str, Any]]:
        now = utcnow()
        expired = []
        stale = session.scalars(
            select(BudgetEntry).where(BudgetEntry.state == "reserved", BudgetEntry.expires_at < now)
        )
        for entry in stale:
            entry.state = "expired"
            entry.settled_at = now
            expired.append(self._describe(entry))
        return expired

    @staticmethod
    def _describe(entry: BudgetEntry) -> dict[str, Any]:
        return {
            "reservation": entry.reservation_id,
            "unit": entry.unit,
            "principal": entry.principal,
            "purpose": entry.purpose,
            "rho": entry.rho,
        }

    @staticmethod
    def _total(session: Session, unit: str, principal: str, purpose: str, *states: str) -> float:
        total = session.scalar(
            select(func.coalesce(func.sum(BudgetEntry.rho), 0.0)).where(
                BudgetEntry.unit == unit,
                BudgetEntry.principal == principal,
                BudgetEntry.purpose == purpose,
                BudgetEntry.state.in_(states),
            )
        )
        return float(total or 0.0)

    def reserve(
        self, unit: str, principal: str, purpose: str, rho: float, *, note: str | None = None
    ) -> Reservation:
        """Reserve ``rho`` under the cap, atomically.

        Raises:
            InputError: ``rho`` is not a finite number > 0.
            BudgetExhausted: no cap exists for the triple, or the spend would exceed it.
        """
        if (
            isinstance(rho, bool)
            or not isinstance(rho, Real)
            or not math.isfinite(float(rho))
            or rho <= 0
        ):
            raise InputError(f"A privacy spend must be a finite number > 0, got {rho!r}.")
        rho = float(rho)
        request = {"unit": unit, "principal": principal, "purpose": purpose, "rho": rho}
        cap = self.bundle.cap_for(unit, principal, purpose)
        if cap is None:
            reason = (
                f"no budget cap for unit {unit!r}, principal {principal!r}, purpose "
                f"{purpose!r}; add one to budgets.yaml"
            )
            self._audit("deny", "dp.budget.reserve", request, reason)
            raise BudgetExhausted(reason, reasons=[reason])
        with self.catalog.session(immediate=True) as session, write_lock(session, "budget_entries"):
            expired = self._expire(session)
            held = self._total(session, unit, principal, purpose, "reserved", "committed")
            refused = held + rho > cap.rho + _SLACK
            described: dict[str, Any] = {}
            if not refused:
                entry = BudgetEntry(
                    reservation_id=str(uuid.uuid4()),
                    unit=unit,
                    principal=principal,
                    purpose=purpose,
                    rho=rho,
                    state="reserved",
                    note=note,
                    created_at=utcnow(),
                    expires_at=utcnow() + self.ttl,
                )
                session.add(entry)
                session.flush()
                described = self._describe(entry)
        for item in expired:
            self._audit("allow", "dp.budget.expire", item, "reservation expired; budget returned")
        if refused:
            reason = (
                f"spending rho={rho:g} would exceed the cap {cap.rho:g} for "
                f"({unit}, {principal}, {purpose}): {held:g} already spent or reserved"
            )
            self._audit("deny", "dp.budget.reserve", request, reason)
            raise BudgetExhausted(reason, reasons=[reason])
        self._audit(
            "allow",
            "dp.budget.reserve",
            described,
            f"reserved; {cap.rho - held - rho:g} remains of {cap.rho:g}",
        )
        return Reservation(self, described["reservation"], unit, principal, purpose, rho)

    def _settle(self, reservation: Reservation, state: str) -> None:
        with self.catalog.session(immediate=True) as session, write_lock(session, "budget_entries"):
            expired = self._expire(session)
            entry = session.scalar(
                select(BudgetEntry).where(BudgetEntry.reservation_id == reservation.id)
            )
            if entry is None:
                raise LakewardInternalError(
                    f"reservation {reservation.id} vanished from the ledger"
                )
            previous = entry.state
            if previous == "reserved":
                entry.state = state
                entry.settled_at = utcnow()
        for item in expired:
            self._audit("allow", "dp.budget.expire", item, "reservation expired; budget returned")
        described = {**self._describe(entry), "from": previous}
        action = "dp.budget.commit" if state == "committed" else "dp.budget.release"
        if previous == "reserved":
            reservation.state = state
            self._audit("allow", action, described, f"reservation {state}")
            return
        if state == "released" and previous in ("released", "expired"):
            reservation.state = previous
            return
        reason = f"reservation {reservation.id} is {previous}; it cannot be {state}"
        self._audit("deny", action, described, reason)
        raise BudgetExhausted(reason + ". Reserve again.", reasons=[reason])

    def state_of(self, reservation_id: str) -> str | None:
        """``reserved``/``committed``/``released``/``expired`` (expiring it if due), or None."""
        with self.catalog.session(immediate=True) as session, write_lock(session, "budget_entries"):
            expired = self._expire(session)
            state = session.scalar(
                select(BudgetEntry.state).where(BudgetEntry.reservation_id == reservation_id)
            )
        for item in expired:
            self._audit("allow", "dp.budget.expire", item, "reservation expired; budget returned")
        return state

    def spent(self, unit: str, principal: str, purpose: str) -> float:
        """Committed rho for the triple."""
        with self.catalog.session() as session:
            return self._total(session, unit, principal, purpose, "committed")

    def summary(self) -> list[dict[str, Any]]:
        """Per (unit, principal, purpose) with any activity: cap, committed, reserved, remaining."""
        with self.catalog.session() as session:
            rows = session.execute(
                select(
                    BudgetEntry.unit,
                    BudgetEntry.principal,
                    BudgetEntry.purpose,
                    BudgetEntry.state,
                    func.sum(BudgetEntry.rho),
                ).group_by(
                    BudgetEntry.unit, BudgetEntry.principal, BudgetEntry.purpose, BudgetEntry.state
                )
            ).all()
        table: dict[tuple[str, str, str], dict[str, Any]] = {}
        for unit, principal, purpose, state, total in rows:
            row = table.setdefault(
                (unit, principal, purpose),
                {
                    "unit": unit,
                    "principal": principal,
                    "purpose": purpose,
                    "committed": 0.0,
                    "reserved": 0.0,
                },
            )
            if state in ("committed", "reserved"):
                row[state] += float(total)
        result = []
        for key, row in sorted(table.items()):
            cap = self.bundle.cap_for(*key)
            row["cap"] = cap.rho if cap else None
            row["remaining"] = (cap.rho - row["committed"] - row["reserved"]) if cap else None
            result.append(row)
        return result
