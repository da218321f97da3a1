"""The audit log resists someone who can write the catalog database but lacks the audit key
and the anchor: truncation, reordering and whole-chain rewrites are detected and named; the
budget ledger is sealed and reconciled against the audited transitions."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from lakeward.catalog import AuditLog, AuditRecord, BudgetEntry, Catalog
from lakeward.catalog._audit import _hashed_fields
from lakeward.errors import CheckFailed
from lakeward.policy import BudgetLedger, load_bundle
from lakeward.policy._budget import reconcile_ledger
from lakeward.settings import get_settings


def _fill(catalog: Catalog, n: int) -> AuditLog:
    log = AuditLog(catalog)
    for i in range(n):
        log._append(
            principal=f"user{i % 3}",
            action="lake.profile",
            resource=f"dataset:ds{i}",
            decision="allow",
            reasons=["ok"],
            request={"i": i},
            purpose="catalog_maintenance",
        )
    return log


def _anchor() -> Path:
    path = get_settings().audit.anchor
    assert path is not None
    return path


def _rechain(catalog: Catalog, mac: object) -> None:
    """Rewrite every record's hash chain with ``mac(payload)``, as an attacker would."""
    with catalog.session() as s:
        prev = "0" * 64
        for record in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
            record.prev_hash = prev
            payload = json.dumps(
                {**_hashed_fields(record), "prev_hash": prev}, sort_keys=True, separators=(",", ":")
            ).encode()
            record.record_hash = mac(payload)  # type: ignore[operator]
            prev = record.record_hash


def test_truncated_tail_is_detected_and_named(catalog: Catalog) -> None:
    log = _fill(catalog, 8)
    assert log.verify() is None
    with catalog.session() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq > 5))
    brk = log.verify()
    assert brk is not None and brk.seq == 6
    assert "records 6..8 are missing" in brk.reason and "truncated" in brk.reason


@pytest.mark.parametrize("scheme", ["sha256", "other-key"])
def test_whole_chain_rewritten_with_recomputed_hashes_is_detected(
    catalog: Catalog, scheme: str
) -> None:
    log = _fill(catalog, 6)
    with catalog.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 4).values(principal="mallory"))
    if scheme == "sha256":
        _rechain(catalog, lambda p: hashlib.sha256(p).hexdigest())
    else:
        _rechain(catalog, lambda p: hmac.new(b"k" * 32, p, hashlib.sha256).hexdigest())
    brk = log.verify()
    assert brk is not None and brk.seq == 1 and "MAC" in brk.reason


def test_rewritten_tail_and_reordered_records_are_detected(catalog: Catalog) -> None:
    log = _fill(catalog, 6)
    with catalog.session() as s:  # swap the content of 5 and 6
        five = s.scalar(select(AuditRecord).where(AuditRecord.seq == 5))
        six = s.scalar(select(AuditRecord).where(AuditRecord.seq == 6))
        assert five is not None and six is not None
        five.seq, six.seq = -5, -6
        s.flush()
        five.seq, six.seq = 6, 5
    brk = log.verify()
    assert brk is not None and brk.seq == 5


def test_lost_anchor_is_reported_and_never_silently_restarted(catalog: Catalog) -> None:
    log = _fill(catalog, 4)
    _anchor().unlink()
    brk = log.verify()
    assert brk is not None and "anchor" in brk.reason and "missing" in brk.reason
    _fill(catalog, 1)  # the next append starts a new anchor, marked as a restart
    brk = log.verify()
    assert brk is not None and brk.seq == 4 and "restarted" in brk.reason


def test_legacy_sha256_chain_is_sealed_then_protected(catalog: Catalog) -> None:
    log = _fill(catalog, 3)
    _rechain(catalog, lambda p: hashlib.sha256(p).hexdigest())  # a catalog from before MACs
    _anchor().unlink()
    _fill(catalog, 2)  # first keyed append seals the old head
    assert log.verify() is None
    first = json.loads(_anchor().read_text().splitlines()[0])
    assert first == {"seq": 3, "mac": first["mac"], "legacy": True}
    with catalog.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(resource="x"))
    brk = log.verify()
    assert brk is not None and brk.seq == 2


def test_a_failed_commit_withdraws_its_anchor_line(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fill(catalog, 2)
    from sqlalchemy.orm import Session

    real_commit = Session.commit

    def failing_commit(self: Session) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Session, "commit", failing_commit)
    with pytest.raises(RuntimeError):
        _fill(catalog, 1)
    monkeypatch.setattr(Session, "commit", real_commit)
    assert log.verify() is None
    _fill(catalog, 1)
    assert log.verify() is None


def test_key_and_anchor_are_private_from_creation(catalog: Catalog) -> None:
    old = os.umask(0)
    try:
        _fill(catalog, 1)
    finally:
        os.umask(old)
    key = get_settings().audit.key_file
    assert key is not None
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(_anchor().stat().st_mode) == 0o600
    assert key.read_bytes() not in b"".join(
        str(v).encode() for r in AuditLog(catalog).tail(5) for v in _hashed_fields(r).values()
    )


@pytest.fixture
def ledger(catalog: Catalog) -> BudgetLedger:
    root = Path(__file__).resolve().parents[3] / "policies"
    return BudgetLedger(catalog, load_bundle(root))


def _spend(ledger: BudgetLedger, rho: float) -> None:
    ledger.reserve("customer", "bob", "analytics", rho).commit()


def test_released_by_sql_is_detected_and_refuses_further_spends(
    catalog: Catalog, ledger: BudgetLedger
) -> None:
    _spend(ledger, 0.4)
    _spend(ledger, 0.4)
    assert [p for p in reconcile_ledger(catalog) if p.serious] == []
    with catalog.session() as s:
        s.execute(update(BudgetEntry).values(state="released"))
    problems = [p for p in reconcile_ledger(catalog) if p.serious]
    assert len(problems) == 2 and all("bad MAC" in p.reason for p in problems)
    with pytest.raises(CheckFailed, match="does not reconcile"):
        ledger.reserve("customer", "bob", "analytics", 0.5)


def test_deleted_or_unsealed_ledger_rows_are_detected(
    catalog: Catalog, ledger: BudgetLedger
) -> None:
    _spend(ledger, 0.6)
    with catalog.session() as s:
        s.execute(delete(BudgetEntry))
    problems = [p for p in reconcile_ledger(catalog) if p.serious]
    assert len(problems) == 1 and "missing from the ledger" in problems[0].reason
    with pytest.raises(CheckFailed):
        ledger.reserve("customer", "bob", "analytics", 0.6)


def test_ledger_mac_rewrite_with_state_and_mac_cleared_is_caught_by_the_audit_log(
    catalog: Catalog, ledger: BudgetLedger
) -> None:
    _spend(ledger, 0.7)
    with catalog.session() as s:  # pretend it is a pre-0006 row and hand the budget back
        s.execute(update(BudgetEntry).values(state="released", mac=None))
    problems = [p for p in reconcile_ledger(catalog) if p.serious]
    assert len(problems) == 1 and "audit log says committed" in problems[0].reason


def test_cli_audit_verify_reports_the_ledger(
    catalog: Catalog, ledger: BudgetLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakeward.cli import main

    _spend(ledger, 0.3)
    with catalog.session() as s:
        s.execute(update(BudgetEntry).values(rho=0.01))
    assert main(["policy", "audit", "verify", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] is True and out["ledger_reconciled"] is False
