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

import hmac
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from numbers import Real
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakeward.catalog import AuditLog, AuditRecord, BudgetEntry, Catalog, write_lock
from lakeward.catalog._audit import audit_key, ledger_mac
from lakeward.catalog._models import utcnow
from lakeward.errors import BudgetExhausted, CheckFailed, InputError, LakewardInternalError
from lakeward.policy._bundle import PolicyBundle

__all__ = ["BudgetLedger", "LedgerProblem", "Reservation", "reconcile_ledger"]

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
            _seal(entry)
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
            problems = _spend_check(session, str(self.catalog.engine.url), unit, principal, purpose)
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
                _seal(entry)
                session.add(entry)
                session.flush()
                described = self._describe(entry)
        for item in expired:
            self._audit("allow", "dp.budget.expire", item, "reservation expired; budget returned")
        if problems:
            reason = (
                f"the budget ledger for ({unit}, {principal}, {purpose}) does not reconcile "
                f"with the audit log: {problems[0].reason}"
            )
            self._audit("deny", "dp.budget.reserve", request, reason)
            raise CheckFailed(
                reason + ". Nothing is spent until it does; run `lakeward policy audit verify` "
                "and restore the ledger from the audited records or a backup."
            )
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
                _seal(entry)
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


def _seal(entry: BudgetEntry) -> None:
    entry.mac = ledger_mac(audit_key(), entry)


@dataclass(frozen=True)
class LedgerProblem:
    """A ledger row that disagrees with its MAC or with the audit log."""

    reservation: str
    reason: str
    # True when the ledger shows *less* spent than the audit log (budget handed back).
    serious: bool = True


_AUDITED = ("dp.budget.reserve", "dp.budget.commit", "dp.budget.release", "dp.budget.expire")
_FINAL = {
    "dp.budget.reserve": "reserved",
    "dp.budget.commit": "committed",
    "dp.budget.release": "released",
    "dp.budget.expire": "expired",
}
_HELD = ("reserved", "committed")


@dataclass
class _Tally:
    """What the audit log says about one triple's reservations, read incrementally."""

    seq: int = 0  # the last audit record read
    states: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (state, rho)


_tallies: dict[tuple[str, str, str, str], _Tally] = {}
_tallies_lock = threading.Lock()


def _spend_check(
    session: Session, catalog_key: str, unit: str, principal: str, purpose: str
) -> list[LedgerProblem]:
    """The reserve path's check: the ledger never shows less committed than the audit log.

    The audited transitions of the triple are read incrementally (each process remembers
    how far it read), so a reservation costs one indexed read of the new audit records and
    one aggregate over the ledger, whatever the history. Deleting committed rows or moving
    them to ``released``/``expired`` by SQL lowers the ledger's sum below the audited one and
    stops spending. Field-level tampering that keeps the sums (and everything else) is found
    by :func:`reconcile_ledger` (``lakeward policy audit verify``), which checks every row's
    MAC and every audited reservation.
    """
    key = (catalog_key, unit, principal, purpose)
    with _tallies_lock:
        tally = _tallies.setdefault(key, _Tally())
        records = (
            select(AuditRecord.seq, AuditRecord.action, AuditRecord.request)
            .where(
                AuditRecord.principal == principal,
                AuditRecord.resource == f"budget:{unit}",
                AuditRecord.purpose == purpose,
                AuditRecord.action.in_(_AUDITED),
                AuditRecord.decision == "allow",
                AuditRecord.seq > tally.seq,
            )
            .order_by(AuditRecord.seq)
        )
        for seq, action, request in session.execute(records):
            tally.seq = seq
            rid = (request or {}).get("reservation")
            if isinstance(rid, str):
                rho = tally.states.get(rid, ("", float((request or {}).get("rho") or 0.0)))[1]
                tally.states[rid] = (_FINAL[action], rho)
        audited = sum(rho for state, rho in tally.states.values() if state == "committed")
    ledger = BudgetLedger._total(session, unit, principal, purpose, "committed")
    if ledger + _SLACK * (1 + len(tally.states)) < audited:
        return [
            LedgerProblem(
                "*",
                f"the ledger shows rho {ledger:g} committed, the audit log {audited:g} "
                "(rows deleted or moved out of committed outside Lakeward)",
            )
        ]
    return []


def reconcile_ledger(catalog: Catalog) -> list[LedgerProblem]:
    """Every ledger problem, serious or not (``lakeward policy audit verify``)."""
    with catalog.session() as session:
        return _reconcile(session, None, None, None)


def _reconcile(
    session: Session, unit: str | None, principal: str | None, purpose: str | None
) -> list[LedgerProblem]:
    key = audit_key()
    rows = select(BudgetEntry)
    records = select(AuditRecord.action, AuditRecord.request).where(
        AuditRecord.action.in_(_AUDITED), AuditRecord.decision == "allow"
    )
    if principal is not None:
        rows = rows.where(BudgetEntry.principal == principal)
        records = records.where(AuditRecord.principal == principal)
    if unit is not None:
        rows = rows.where(BudgetEntry.unit == unit)
        records = records.where(AuditRecord.resource == f"budget:{unit}")
    if purpose is not None:
        rows = rows.where(BudgetEntry.purpose == purpose)
        records = records.where(AuditRecord.purpose == purpose)
    audited: dict[str, dict[str, Any]] = {}
    for action, request in session.execute(records.order_by(AuditRecord.seq)):
        rid = (request or {}).get("reservation")
        if not isinstance(rid, str):
            continue
        seen = audited.setdefault(rid, dict(request))
        seen["state"] = _FINAL[action]
    problems: list[LedgerProblem] = []
    now = utcnow()
    ledger: dict[str, BudgetEntry] = {}
    for entry in session.scalars(rows.order_by(BudgetEntry.id)):
        ledger[entry.reservation_id] = entry
        rid = entry.reservation_id
        if entry.mac is not None and not hmac.compare_digest(entry.mac, ledger_mac(key, entry)):
            problems.append(
                LedgerProblem(rid, f"ledger entry {rid} was changed outside Lakeward (bad MAC)")
            )
            continue
        found = audited.get(rid)
        if found is None:
            problems.append(
                LedgerProblem(
                    rid,
                    f"ledger entry {rid} has no audited reservation"
                    + (" and no MAC" if entry.mac is None else ""),
                    serious=entry.mac is None,
                )
            )
            continue
        seen = found
        same = (
            seen.get("unit") == entry.unit
            and seen.get("principal") == entry.principal
            and seen.get("purpose") == entry.purpose
            and abs(float(seen.get("rho", -1.0)) - float(entry.rho)) <= _SLACK
        )
        if not same:
            problems.append(
                LedgerProblem(rid, f"ledger entry {rid} differs from its audited reservation")
            )
            continue
        audited_state, state = seen["state"], entry.state
        if audited_state == state:
            continue
        # The ledger commits before its audit record is written: a state one step ahead of
        # the audit log is a pending (or lost) audit record, not a refund.
        ahead = (audited_state == "reserved" and state == "committed") or (
            audited_state == "reserved"
            and state in ("released", "expired")
            and (state == "released" or _aware(entry.expires_at) <= now)
            and entry.mac is not None
        )
        problems.append(
            LedgerProblem(
                rid,
                f"ledger entry {rid} is {state} but the audit log says {audited_state}",
                serious=not ahead,
            )
        )
    for rid, seen in audited.items():
        if rid not in ledger:
            problems.append(
                LedgerProblem(
                    rid,
                    f"audited reservation {rid} (rho {seen.get('rho')}, "
                    f"{seen.get('state')}) is missing from the ledger",
                )
            )
    return problems


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
