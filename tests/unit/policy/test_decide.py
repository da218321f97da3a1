from __future__ import annotations

from pathlib import Path

import pytest

from lakeward.catalog import AuditLog, Catalog
from lakeward.errors import PolicyDenied
from lakeward.policy import PolicyEngine, acknowledge_purpose, load_bundle
from tests.unit.policy.conftest import add_dataset


def test_allow_with_determining_policy_and_column_masks(
    engine: PolicyEngine, catalog: Catalog
) -> None:
    acknowledge_purpose(catalog, engine.bundle, "bob", "fraud_detection")
    d = engine.decide("bob", "lake.read_content", "sales.customers", {"purpose": "fraud_detection"})
    assert d.allowed and d.policy_ids == ("fraud-reads-payments",)
    assert d.obligations == ("mask:email",)
    assert d.bundle_revision == engine.bundle.revision


def test_any_forbid_wins_and_needs_all_tags(engine: PolicyEngine, catalog: Catalog) -> None:
    acknowledge_purpose(catalog, engine.bundle, "bob", "fraud_detection")
    add_dataset(catalog, "eu.payments", ["pii", "region_eu", "financial"])
    d = engine.decide("bob", "lake.read_content", "eu.payments", {"purpose": "fraud_detection"})
    assert not d.allowed and d.policy_ids == ("eu-pii-needs-encryption-or-dp",)
    add_dataset(catalog, "us.payments", ["pii", "financial"])  # only one of the two tags
    assert engine.decide(
        "bob", "lake.read_content", "us.payments", {"purpose": "fraud_detection"}
    ).allowed


def test_purpose_must_be_acknowledged_and_text_changes_invalidate(
    engine: PolicyEngine, catalog: Catalog, bundle_dir: Path
) -> None:
    request = ("alice", "lake.read_content", "ops.metrics", {"purpose": "analytics"})
    d = engine.decide(*request)
    assert not d.allowed and d.policy_ids == ("purpose-must-be-acknowledged",)
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    assert engine.decide(*request).allowed
    text = (bundle_dir / "purposes.yaml").read_text().replace("internal reporting", "any reporting")
    (bundle_dir / "purposes.yaml").write_text(text)
    changed = PolicyEngine(load_bundle(bundle_dir), catalog)
    assert not changed.decide(*request).allowed


def test_default_deny_explains_nearest_permit_and_failed_condition(
    engine: PolicyEngine, catalog: Catalog
) -> None:
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    d = engine.decide("alice", "lake.read_content", "sales.customers", {"purpose": "analytics"})
    assert not d.allowed and d.policy_ids == ()
    assert "default deny" in d.reasons[0]
    nearest = {n.policy: n.failed for n in d.nearest}
    assert nearest["analysts-read-non-pii"] == (
        '!(resource.tags.containsAny(["pii", "pii_direct", "phi", "dp_required"]))',
    )
    assert 'principal in Lakeward::Group::"fraud_team"' in nearest["fraud-reads-payments"]
    assert "analysts-read-non-pii" == d.nearest[0].policy


@pytest.mark.parametrize(
    ("principal", "resource", "context", "reason"),
    [
        ("mallory", "ops.metrics", {}, "unknown principal 'mallory'"),
        ("alice", "ops.nothing", {}, "not in the catalog"),
        ("alice", "ops.metrics", {"purpose": "marketing"}, "unknown purpose 'marketing'"),
        ("alice", "bogus:thing", {}, "could not evaluate"),
    ],
)
def test_fail_closed(
    engine: PolicyEngine, principal: str, resource: str, context: dict, reason: str
) -> None:
    d = engine.decide(principal, "lake.read_content", resource, context)
    assert not d.allowed and reason in " ".join(d.reasons)


def test_unknown_action_and_unknown_tag_deny(engine: PolicyEngine, catalog: Catalog) -> None:
    d = engine.decide("dave", "lake.teleport", "ops.metrics")
    assert not d.allowed and d.errors
    add_dataset(catalog, "odd.tagged", ["secret_sauce"])
    d = engine.decide("dave", "catalog.read_metadata", "odd.tagged")
    assert not d.allowed and "secret_sauce" in d.reasons[0]


def test_obligations_from_annotations(engine: PolicyEngine, catalog: Catalog) -> None:
    acknowledge_purpose(catalog, engine.bundle, "erin", "clinical_research")
    ctx = {"purpose": "clinical_research", "encrypted": True}
    d = engine.decide("erin", "he.compute", "health.visits", ctx)
    assert d.allowed and "encryption_required" in d.obligations
    plain = engine.decide("erin", "he.compute", "health.visits", {"purpose": "clinical_research"})
    assert not plain.allowed and "encryption-required-means-ciphertexts" in plain.policy_ids


def test_enforce_audits_and_raises(engine: PolicyEngine, catalog: Catalog) -> None:
    with pytest.raises(PolicyDenied) as info:
        engine.enforce("alice", "lake.read_content", "eu.people", {"purpose": "analytics"})
    assert "eu-pii-needs-encryption-or-dp" in str(info.value)
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    engine.enforce("alice", "lake.read_content", "ops.metrics", {"purpose": "analytics"})
    records = AuditLog(catalog).tail(4)
    assert [r.decision for r in records] == ["deny", "allow", "allow", "allow"]
    assert (
        records[0].bundle_hash == engine.bundle.revision
        and records[0].action == "lake.read_content"
    )
    assert [r.action for r in records[1:3]] == ["purpose.acknowledge", "policy.purpose_ack"]
    assert AuditLog(catalog).verify() is None


def test_module_level_decide_fails_closed_on_broken_bundle(
    catalog: Catalog, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward import policy

    (bundle_dir / "broken.cedar").write_text("permit(")
    d = policy.decide("alice", "catalog.read_metadata", "ops.metrics")
    assert not d.allowed and "policy bundle unavailable" in d.reasons[0]
    with pytest.raises(PolicyDenied):
        policy.enforce("alice", "catalog.read_metadata", "ops.metrics")
    last = AuditLog(catalog).tail(1)[0]
    assert last.decision == "deny" and "bundle unavailable" in last.reasons[0]
