"""The audit log: records chained by a keyed MAC and anchored outside the catalog database.

Threat: someone who can write the catalog database (a shared PostgreSQL role, a copied or
restored SQLite file, a DBA) but not the Lakeward service's key file or anchor file.

- **Keyed chain.** ``record_hash`` of record *n* is HMAC-SHA256 under the audit key
  (``<home>/keys/audit.key``, 0600, never in the catalog) over the canonical JSON of the
  record's fields and record *n-1*'s ``record_hash``. Without the key nobody can rewrite a
  record, or the whole chain, so that it verifies.
- **Anchor.** Every append also writes ``{"seq", "mac"}`` of the new record to an
  append-only file outside the database (``LAKEWARD_AUDIT_ANCHOR``), while it still holds
  the chain's write lock, so anchor lines are in chain order. Deleting the tail of
  ``audit_records`` leaves the anchor ahead of the database: :meth:`AuditLog.verify` names
  the first missing record. If the commit fails after the anchor line was written, a
  ``void`` line withdraws it; a process killed in that instant leaves a line that
  :meth:`~AuditLog.verify` reports as a missing record (a false alarm an operator can
  explain from the service's logs).
- **A lost anchor** is never silently recreated as if nothing happened: the next append
  starts a new anchor with a ``restart`` line, and ``verify`` reports that truncation before
  that point cannot be ruled out. A catalog whose records predate the keyed chain (plain
  SHA-256 records) is sealed instead: a ``legacy`` line pins the old head, so the old
  records can still not be changed without detection.
- **Budget ledger.** :func:`ledger_mac` seals every ``budget_entries`` row the same way;
  :mod:`lakeward.policy._budget` reconciles the ledger with the audited reserve, commit,
  release and expiry records.

What this does not protect against: whoever can read the key file *and* write the catalog
and the anchor (in embedded mode that is the OS user who owns ``<home>``) can forge
anything; the anchor is a file on one host (an object store with retention would need an
adapter).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lakeward.catalog._engine import Catalog, write_lock
from lakeward.catalog._models import AuditRecord, BudgetEntry, utcnow

__all__ = [
    "GENESIS_HASH",
    "AuditLog",
    "ChainBreak",
    "audit_key",
    "ledger_mac",
]

GENESIS_HASH = "0" * 64
_KEY_BYTES = 32
_keys: dict[tuple[Path, int], bytes] = {}
_keys_lock = threading.Lock()


def _paths() -> tuple[Path, Path]:
    from lakeward.settings import get_settings

    audit = get_settings().audit
    assert audit.key_file is not None and audit.anchor is not None
    return audit.key_file, audit.anchor


def audit_key() -> bytes:
    """The audit HMAC key (``LAKEWARD_AUDIT_KEY_FILE``), created 0600 on first use.

    Raises:
        ConfigurationError: the key file is damaged, not a regular file, or readable by others.
    """
    from lakeward._secret_files import load_secret_file

    path, _ = _paths()
    try:
        ident = path.stat().st_ino
    except OSError:
        ident = -1
    with _keys_lock:
        key = _keys.get((path, ident))
        if key is None:
            key = load_secret_file(
                path,
                size=_KEY_BYTES,
                what="the audit key",
                lost="without it the existing audit chain and budget ledger can no longer be "
                "verified (start a new catalog).",
            )
            _keys[(path, path.stat().st_ino)] = key
        return key


def canonical_time(at: datetime) -> str:
    """UTC, naive, microseconds: the same text on SQLite and PostgreSQL."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def _payload(fields: dict[str, Any], prev_hash: str) -> bytes:
    return json.dumps(
        {**fields, "prev_hash": prev_hash}, sort_keys=True, separators=(",", ":")
    ).encode()


def _record_mac(key: bytes, fields: dict[str, Any], prev_hash: str) -> str:
    return hmac.new(key, _payload(fields, prev_hash), hashlib.sha256).hexdigest()


def _legacy_hash(fields: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(_payload(fields, prev_hash)).hexdigest()


def _hashed_fields(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "at": canonical_time(record.at),
        "principal": record.principal,
        "action": record.action,
        "resource": record.resource,
        "purpose": record.purpose,
        "decision": record.decision,
        "reasons": record.reasons,
        "request": record.request,
        "bundle_hash": record.bundle_hash,
    }


def ledger_mac(key: bytes, entry: BudgetEntry) -> str:
    """The MAC that seals one budget-ledger row (every field but the surrogate id)."""
    fields = {
        "reservation": entry.reservation_id,
        "unit": entry.unit,
        "principal": entry.principal,
        "purpose": entry.purpose,
        "rho": repr(float(entry.rho)),
        "state": entry.state,
        "note": entry.note,
        "created_at": canonical_time(entry.created_at),
        "expires_at": canonical_time(entry.expires_at),
        "settled_at": canonical_time(entry.settled_at) if entry.settled_at else None,
    }
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, b"lakeward budget entry\x00" + payload, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first audit record that does not verify, and why."""

    seq: int
    reason: str


@dataclass
class _Anchor:
    """What the anchor file says: anchored MACs by seq, and how the anchor began."""

    macs: dict[int, str]
    legacy_upto: int = 0
    restarted_at: int | None = None
    bad_line: int | None = None


def _read_anchor(path: Path) -> _Anchor | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        lines = handle.read().splitlines()
    anchor = _Anchor(macs={})
    for number, raw in enumerate(lines, start=1):
        try:
            line = json.loads(raw)
            seq = int(line["seq"])
            mac = str(line["mac"])
        except (ValueError, KeyError, TypeError):
            anchor.bad_line = number
            break
        if line.get("void"):
            if anchor.macs.get(seq) == mac:
                del anchor.macs[seq]
            continue
        if number == 1 and line.get("legacy"):
            anchor.legacy_upto = seq
        elif number == 1 and line.get("restart"):
            anchor.restarted_at = seq
        anchor.macs[seq] = mac
    return anchor


def _append_line(path: Path, line: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        # One write() of one short line: atomic under O_APPEND.
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
    finally:
        os.close(fd)


class AuditLog:
    """The append-only audit log, MAC-chained and anchored (see the module docstring).

    Appends serialise on the chain head: ``BEGIN IMMEDIATE`` on SQLite, an EXCLUSIVE lock on
    the table on PostgreSQL, so concurrent writers never fork the chain.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _append(
        self,
        *,
        principal: str,
        action: str,
        resource: str,
        decision: str,
        reasons: Iterable[str] = (),
        request: dict[str, Any] | None = None,
        purpose: str | None = None,
        bundle_hash: str | None = None,
    ) -> AuditRecord:
        """Append one record in its own transaction and return it.

        Library-internal: the policy layer and the capabilities record here what a guarded
        decision allowed or denied. Anyone else appends through
        :func:`lakeward.policy.record_event`, which decides ``audit.append`` first.
        """
        key = audit_key()
        _, anchor_path = _paths()
        line: dict[str, Any] | None = None
        try:
            with (
                self.catalog.session(immediate=True) as session,
                write_lock(session, "audit_records"),
            ):
                head = session.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
                record = AuditRecord(
                    seq=(head.seq + 1) if head else 1,
                    at=utcnow(),
                    principal=principal,
                    action=action,
                    resource=resource,
                    purpose=purpose,
                    decision=decision,
                    reasons=list(reasons),
                    request=json.loads(json.dumps(request or {}, default=str)),
                    bundle_hash=bundle_hash,
                    prev_hash=head.record_hash if head else GENESIS_HASH,
                    record_hash="",
                )
                record.record_hash = _record_mac(key, _hashed_fields(record), record.prev_hash)
                session.add(record)
                session.flush()
                if head is not None and not _anchor_exists(anchor_path):
                    _append_line(anchor_path, _anchor_start(key, head))
                line = {"seq": record.seq, "mac": record.record_hash}
                _append_line(anchor_path, line)
        except BaseException:
            if line is not None:  # anchored, then the commit failed: withdraw the line
                _append_line(anchor_path, {**line, "void": True})
            raise
        return record

    def verify(self) -> ChainBreak | None:
        """Walk the chain against the key and the anchor; the first bad record, or ``None``."""
        key = audit_key()
        _, anchor_path = _paths()
        anchor = _read_anchor(anchor_path)
        breaks: list[ChainBreak] = []
        prev_hash = GENESIS_HASH
        expected_seq = 1
        legacy_upto = anchor.legacy_upto if anchor else 0
        with self.catalog.session() as session:
            for record in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
                brk = _check_record(record, expected_seq, prev_hash, key, legacy_upto, anchor)
                if brk is not None:
                    breaks.append(brk)
                    break
                prev_hash = record.record_hash
                expected_seq += 1
        last = expected_seq - 1
        if anchor is None:
            if last > 0:
                breaks.append(
                    ChainBreak(
                        1,
                        f"the audit anchor {anchor_path} is missing, so truncation cannot be "
                        "ruled out; restore it (LAKEWARD_AUDIT_ANCHOR) from where it was kept",
                    )
                )
        else:
            if anchor.bad_line is not None:
                breaks.append(
                    ChainBreak(
                        last + 1,
                        f"line {anchor.bad_line} of the audit anchor {anchor_path} is damaged",
                    )
                )
            if not breaks and anchor.macs and max(anchor.macs) > last:
                top = max(anchor.macs)
                breaks.append(
                    ChainBreak(
                        last + 1,
                        f"records {last + 1}..{top} are missing: the log was truncated (the "
                        f"anchor {anchor_path} holds record {top})",
                    )
                )
            if anchor.restarted_at is not None:
                breaks.append(
                    ChainBreak(
                        anchor.restarted_at,
                        f"the audit anchor was lost and restarted at record "
                        f"{anchor.restarted_at}; truncation before it cannot be ruled out",
                    )
                )
        return min(breaks, key=lambda b: b.seq) if breaks else None

    def tail(self, limit: int = 20) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first."""
        with self.catalog.session() as session:
            rows = list(
                session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit))
            )
        return rows[::-1]


def _anchor_exists(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _anchor_start(key: bytes, head: AuditRecord) -> dict[str, Any]:
    """The first line of a new anchor over a non-empty log: a legacy seal, or a restart."""
    fields = _hashed_fields(head)
    if _record_mac(key, fields, head.prev_hash) == head.record_hash:
        kind = "restart"  # keyed records exist, so an anchor existed and was lost
    elif _legacy_hash(fields, head.prev_hash) == head.record_hash:
        kind = "legacy"  # records from before the keyed chain: pin their head
    else:
        kind = "restart"
    return {"seq": head.seq, "mac": head.record_hash, kind: True}


def _check_record(
    record: AuditRecord,
    expected_seq: int,
    prev_hash: str,
    key: bytes,
    legacy_upto: int,
    anchor: _Anchor | None,
) -> ChainBreak | None:
    if record.seq != expected_seq:
        return ChainBreak(expected_seq, f"record {expected_seq} is missing")
    if record.prev_hash != prev_hash:
        return ChainBreak(record.seq, "previous-hash link does not match")
    fields = _hashed_fields(record)
    if record.seq <= legacy_upto:
        expected = _legacy_hash(fields, prev_hash)
    else:
        expected = _record_mac(key, fields, prev_hash)
    if not hmac.compare_digest(expected, record.record_hash):
        return ChainBreak(
            record.seq, "record content does not match its MAC (changed outside Lakeward)"
        )
    if anchor is not None:
        anchored = anchor.macs.get(record.seq)
        if anchored is not None and not hmac.compare_digest(anchored, record.record_hash):
            return ChainBreak(record.seq, "record differs from the one anchored for its seq")
    return None
