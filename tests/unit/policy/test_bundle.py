from __future__ import annotations

from pathlib import Path

import pytest

from lakeward.policy import PolicyBundleError, load_bundle


def test_default_bundle_loads_with_stable_ids_and_revision(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert "eu-pii-needs-encryption-or-dp" in bundle.policies
    info = bundle.policies["stewards-delete-with-approval"]
    assert info.effect == "permit" and info.file == "access.cedar" and info.line > 1
    assert info.obligations == ("approval_required",)
    assert load_bundle(bundle_dir).revision == bundle.revision
    (bundle_dir / "access.cedar").write_text((bundle_dir / "access.cedar").read_text() + "\n")
    assert load_bundle(bundle_dir).revision != bundle.revision


def _add(bundle_dir: Path, text: str, name: str = "extra.cedar") -> None:
    (bundle_dir / name).write_text(text)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            '@id("t1")\npermit(principal, action == Lakeward::Action::"lake.read_content", '
            'resource is Lakeward::Dataset) when { resource.tagz.contains("pii") };',
            "extra.cedar:1: policy 't1' fails schema validation: attribute `tagz`",
        ),
        (
            '@id("t2")\npermit(principal, action == Lakeward::Action::"lake.nope", resource);',
            "unrecognized action",
        ),
        (
            '@id("t3")\npermit(principal, action == Lakeward::Action::"lake.read_content", '
            'resource is Lakeward::Dataset) when { resource.tags.contains("pi") };',
            "extra.cedar:1: policy 't3' names unknown tag 'pi'",
        ),
        ("permit(principal, action, resource);", "has no @id annotation"),
        (
            '@id("t5")\npermit(principal, action, resource) '
            'when { context.purpose == "analytcs" };',
            "extra.cedar:1: policy 't5' names unknown purpose 'analytcs'",
        ),
        (
            '@id("t6")\npermit(principal, action, resource) when '
            '{ ["analytics", "marketing"].contains(context.purpose) };',
            "names unknown purpose 'marketing'",
        ),
        (
            '@id("admins-administer")\npermit(principal, action, resource);',
            "duplicate @id 'admins-administer'",
        ),
        (
            '@id("t4")\npermit(principal, action, resource) when { ( };',
            "extra.cedar: Cedar syntax error",
        ),
    ],
)
def test_invalid_policies_are_rejected_with_file_and_line(
    bundle_dir: Path, policy: str, expected: str
) -> None:
    _add(bundle_dir, policy)
    with pytest.raises(PolicyBundleError) as info:
        load_bundle(bundle_dir)
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_bad_yaml_parts(bundle_dir: Path) -> None:
    (bundle_dir / "budgets.yaml").write_text(
        "caps:\n  - {unit: u, principal: '*', purpose: nope, rho: -1}\n"
    )
    (bundle_dir / "principals.yaml").write_text("groups: [a]\nusers:\n  x: {groups: [b]}\n")
    with pytest.raises(PolicyBundleError) as info:
        load_bundle(bundle_dir)
    text = "\n".join(info.value.problems)
    assert "rho -1.0; it must be finite and > 0" in text
    assert "unknown purpose 'nope'" in text
    assert "user 'x' is in unknown group 'b'" in text


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyBundleError, match="LAKEWARD_POLICY_DIR"):
        load_bundle(tmp_path / "nowhere")


def test_cap_lookup_most_specific_wins(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert bundle.cap_for("customer", "alice", "analytics").rho == 0.5  # type: ignore[union-attr]
    assert bundle.cap_for("customer", "bob", "analytics").rho == 1.0  # type: ignore[union-attr]
    assert bundle.cap_for("customer", "bob", "fraud_detection") is None
