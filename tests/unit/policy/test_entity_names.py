"""Entity names reach Cedar as data, errors never pass for policy denials, and a deny that a
purpose acknowledgement lifts says how."""

from __future__ import annotations

import pytest

from lakeward.catalog import Catalog
from lakeward.cli import main
from lakeward.errors import PolicyDenied
from lakeward.policy import PolicyEngine, acknowledge_purpose
from tests.unit.policy.conftest import add_dataset

ODD_NAMES = ['ops."quoted"', "ops.back\\slash", "ops.with space", "ops.ünïcødé€", 'ops.\\"both']


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_dataset_name_is_decided_by_the_policies(
    engine: PolicyEngine, catalog: Catalog, name: str
) -> None:
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    add_dataset(catalog, name, [])
    allowed = engine.decide("alice", "lake.read_content", name, {"purpose": "analytics"})
    assert allowed.allowed and allowed.policy_ids == ("analysts-read-non-pii",)
    assert not allowed.errors
    pii = name + ".pii"
    add_dataset(catalog, pii, ["pii"])
    denied = engine.decide("alice", "lake.read_content", pii, {"purpose": "analytics"})
    assert not denied.allowed and not denied.errors
    assert "default deny" in denied.reasons[0]
    nearest = {n.policy: n.failed for n in denied.nearest}  # the entity's tags were seen
    assert nearest["analysts-read-non-pii"] == (
        '!(resource.tags.containsAny(["pii", "pii_direct", "phi", "dp_required"]))',
    )


@pytest.mark.parametrize("name", ODD_NAMES)
def test_column_masks_apply_to_any_dataset_name(
    engine: PolicyEngine, catalog: Catalog, name: str
) -> None:
    acknowledge_purpose(catalog, engine.bundle, "bob", "fraud_detection")
    add_dataset(catalog, name, ["pii", "financial"], {"email": ["pii_direct"], "city": []})
    d = engine.decide("bob", "lake.read_content", name, {"purpose": "fraud_detection"})
    assert d.allowed and d.obligations == ("mask:email",) and not d.errors


def test_an_evaluation_error_is_not_reported_as_a_policy_deny(engine: PolicyEngine) -> None:
    d = engine.decide("alice", "lake.teleport", "ops.metrics")
    assert not d.allowed and d.errors
    assert "could not evaluate" in d.reasons[0] and "not a policy decision" in d.reasons[0]
    assert not any("no permit policy matched" in r for r in d.reasons)


def test_a_deny_lifted_by_acknowledging_the_purpose_names_the_command_once(
    engine: PolicyEngine, catalog: Catalog
) -> None:
    request = ("alice", "lake.read_content", "ops.metrics", {"purpose": "analytics"})
    d = engine.decide(*request)
    assert d.policy_ids == ("purpose-must-be-acknowledged",)
    text = d.explain()
    assert text.count("lakeward policy purpose ack analytics") == 1
    assert "as alice" in text and "lifts this denial" in text
    with pytest.raises(PolicyDenied, match="lakeward policy purpose ack analytics"):
        engine.enforce(*request)
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    assert engine.decide(*request).allowed


def test_a_deny_acknowledgement_alone_would_not_lift_says_so(engine: PolicyEngine) -> None:
    d = engine.decide("alice", "lake.read_content", "sales.customers", {"purpose": "analytics"})
    assert d.policy_ids == ("purpose-must-be-acknowledged",)
    hint = d.reasons[-1]
    assert "lakeward policy purpose ack analytics" in hint
    assert "alone would not allow" in hint and "lifts" not in hint


def test_policy_explain_prints_the_acknowledgement_command(
    engine: PolicyEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["policy", "explain", "alice", "lake.read_content", "ops.metrics", "--purpose", "analytics"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("`lakeward policy purpose ack analytics`") == 1
