from __future__ import annotations

import pytest

from lakeward.catalog import AuditLog, Catalog
from lakeward.errors import InputError, PolicyDenied
from lakeward.policy import Approvals, PolicyEngine, acknowledge_purpose


@pytest.fixture
def approvals(engine: PolicyEngine, catalog: Catalog) -> Approvals:
    for user in ("carol", "dave"):
        acknowledge_purpose(catalog, engine.bundle, user, "data_governance")
    return Approvals(engine)


def test_two_person_rule_and_single_use(approvals: Approvals, catalog: Catalog) -> None:
    a = approvals.request(
        "dedup.delete", "dataset:ops.metrics", "carol", {"purpose": "data_governance"}
    )
    assert a.state == "pending"
    with pytest.raises(PolicyDenied, match="cannot also decide"):
        approvals.approve(a.id, "carol")
    with pytest.raises(PolicyDenied):  # alice is no steward: not permitted dedup.approve
        approvals.approve(a.id, "alice")
    with pytest.raises(PolicyDenied, match="only an approved request"):
        approvals.consume(a.id, "carol")
    approved = approvals.approve(a.id, "dave", "copy of sales.orders")
    assert (approved.state, approved.decided_by) == ("approved", "dave")
    with pytest.raises(InputError, match="not pending"):
        approvals.reject(a.id, "dave")
    assert approvals.consume(a.id, "carol").state == "consumed"
    with pytest.raises(PolicyDenied, match="is consumed"):
        approvals.consume(a.id, "carol")
    actions = [r.action for r in AuditLog(catalog).tail(10)]
    assert "approval.approve" in actions and actions.count("approval.consume") == 3


def test_reject(approvals: Approvals) -> None:
    a = approvals.request(
        "dedup.delete", "dataset:ops.metrics", "dave", {"purpose": "data_governance"}
    )
    assert approvals.reject(a.id, "carol", "still in use").state == "rejected"
    assert [x.id for x in approvals.list("rejected")] == [a.id]
