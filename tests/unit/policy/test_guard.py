"""The one guard: each public privileged function refuses without a permit and audits.

Each test here failed before the guard existed: the library skipped checks the CLI made.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lakeward.catalog import AuditLog, Catalog, DatasetRepository, TagRepository
from lakeward.errors import CheckFailed, InputError, NotAuthenticated, PolicyDenied
from lakeward.identity import Principal, acting_as, embedded_principal, os_user
from lakeward.lake import register_lake
from lakeward.policy import (
    PolicyBundleError,
    acknowledge_purpose,
    apply_bundle,
    assign_tag,
    engine_for,
    guard,
    load_bundle,
    record_event,
    remove_tag,
)
from tests.unit.policy.conftest import add_dataset


def _last(catalog: Catalog, n: int = 1) -> list[tuple[str, str, str]]:
    return [(r.principal, r.action, r.decision) for r in AuditLog(catalog).tail(n)]


def _candidate(bundle_dir: Path, tmp_path: Path) -> Path:
    candidate = tmp_path / "candidate"
    shutil.copytree(bundle_dir, candidate)
    (candidate / "access.cedar").write_text(
        (candidate / "access.cedar").read_text() + "\n// a harmless change\n"
    )
    return candidate


def test_apply_bundle_decides_policy_admin(
    catalog: Catalog, bundle_dir: Path, tmp_path: Path
) -> None:
    candidate = _candidate(bundle_dir, tmp_path)
    with pytest.raises(PolicyDenied):
        apply_bundle(catalog, candidate, applied_by="alice", expected_parent=None, home=tmp_path)
    assert _last(catalog) == [("alice", "policy.admin", "deny")]
    result = apply_bundle(
        catalog, candidate, applied_by="dave", expected_parent=None, home=tmp_path
    )
    assert result["revision"] == load_bundle(candidate).revision
    assert ("dave", "policy.admin", "allow") in _last(catalog, 3)


def test_candidate_without_policy_tests_is_refused(
    catalog: Catalog, bundle_dir: Path, tmp_path: Path
) -> None:
    candidate = _candidate(bundle_dir, tmp_path)
    shutil.rmtree(candidate / "tests")
    with pytest.raises(CheckFailed, match="no policy tests"):
        apply_bundle(catalog, candidate, applied_by="dave", expected_parent=None, home=tmp_path)


def test_tags_change_only_through_tag_assign(catalog: Catalog, bundle_dir: Path) -> None:
    add_dataset(catalog, "ops.metrics", [], classified=False)
    assert not hasattr(TagRepository, "add") and not hasattr(TagRepository, "remove")
    with pytest.raises(PolicyDenied):
        assign_tag(catalog, "alice", "ops.metrics", "pii", purpose="analytics")
    assert _last(catalog) == [("alice", "tag.assign", "deny")]
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "carol", "data_governance")
    change = assign_tag(catalog, "carol", "ops.metrics", "pii", column="email")
    assert change.changed and change.to_dict()["column"] == "email"
    assert _last(catalog, 2) == [
        ("carol", "tag.assign", "allow"),
        ("carol", "tag.assigned", "allow"),
    ]
    with pytest.raises(InputError, match="vocabulary"):
        assign_tag(catalog, "carol", "ops.metrics", "not-a-tag")
    assert remove_tag(catalog, "carol", "ops.metrics", "pii", column="email").changed
    with catalog.session() as s:
        assert TagRepository(s).for_dataset(DatasetRepository(s).require("ops.metrics")) == []


def test_register_lake_decides_lake_register(
    catalog: Catalog, bundle_dir: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake" / "t"
    lake.mkdir(parents=True)
    (lake / "a.csv").write_text("x\n1\n")
    with pytest.raises(PolicyDenied):
        register_lake(catalog, tmp_path / "lake", principal="alice", purpose="analytics")
    assert _last(catalog) == [("alice", "lake.register", "deny")]
    with catalog.session() as s:
        assert DatasetRepository(s).list() == []


def test_record_event_needs_audit_append(catalog: Catalog, bundle_dir: Path) -> None:
    with pytest.raises(PolicyDenied):
        record_event(catalog, "alice", "note", "platform", details={"x": 1})
    assert _last(catalog) == [("alice", "audit.append", "deny")]
    seq = record_event(catalog, "lakeward-scheduler", "run.requested", "platform")
    assert _last(catalog, 1) == [("lakeward-scheduler", "event.run.requested", "allow")]
    assert AuditLog(catalog).tail(1)[0].seq == seq
    assert not hasattr(AuditLog, "append")


def test_nobody_acts_on_another_principals_behalf(catalog: Catalog, bundle_dir: Path) -> None:
    bundle = engine_for(catalog).bundle
    with acting_as(Principal("alice", ("analysts",), "server", "token:t1")):
        with pytest.raises(PolicyDenied, match="may not act on behalf of bob"):
            acknowledge_purpose(catalog, bundle, "bob", "fraud_detection")
        record = AuditLog(catalog).tail(1)[0]
        assert (record.principal, record.decision) == ("bob", "deny")
        assert record.request["identity"]["principal"] == "alice"
        acknowledge_purpose(catalog, bundle, "alice", "analytics")
        allowed = AuditLog(catalog).tail(2)[0]
        assert allowed.request["identity"]["authenticated_by"] == "token:t1"


def test_edited_installed_revision_denies_everything(
    catalog: Catalog, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LAKEWARD_HOME", str(home))
    candidate = _candidate(bundle_dir, tmp_path)
    result = apply_bundle(catalog, candidate, applied_by="dave", expected_parent=None, home=home)
    installed = Path(result["path"])
    assert guard(catalog, "dave", "policy.admin", "platform").allowed
    # The attack from the issue: make alice an admin by editing the installed copy.
    principals = installed / "principals.yaml"
    principals.write_text(
        principals.read_text().replace(
            "alice: {groups: [analysts]}", "alice: {groups: [analysts, admins]}"
        )
    )
    for who in ("alice", "dave"):
        with pytest.raises(PolicyDenied, match="was modified after"):
            guard(catalog, who, "policy.admin", "platform")
    last = AuditLog(catalog).tail(1)[0]
    assert last.decision == "deny" and "was modified after" in last.reasons[0]
    # The working bundle no longer matters once a revision is installed.
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(PolicyBundleError):
        engine_for(catalog)
    shutil.rmtree(installed)  # restored from the catalog's recorded copy
    assert guard(catalog, "dave", "policy.admin", "platform").allowed
    with pytest.raises(PolicyDenied):
        guard(catalog, "alice", "policy.admin", "platform")


def test_broken_bundle_denies_through_the_guard_audited(catalog: Catalog, bundle_dir: Path) -> None:
    (bundle_dir / "broken.cedar").write_text("permit(")
    with pytest.raises(PolicyDenied, match="policy bundle unavailable"):
        register_lake(catalog, bundle_dir, principal="carol")
    last = AuditLog(catalog).tail(1)[0]
    assert (last.action, last.decision) == ("lake.register", "deny")


def _principals(bundle_dir: Path, text: str) -> None:
    (bundle_dir / "principals.yaml").write_text(text)


def test_os_users_map_to_principals(
    catalog: Catalog, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = os_user()
    assert embedded_principal(catalog).name == "local-user"  # the default "*" mapping
    base = (bundle_dir / "principals.yaml").read_text()
    _principals(
        bundle_dir,
        base.replace(
            "carol: {groups: [stewards]}", f"carol: {{groups: [stewards], os_users: [{me}]}}"
        ),
    )
    assert embedded_principal(catalog).name == "carol"  # an explicit name wins over "*"
    _principals(
        bundle_dir,
        base.replace(
            "carol: {groups: [stewards]}", f"carol: {{groups: [stewards], os_users: [{me}]}}"
        ).replace(
            "dave: {groups: [stewards, admins]}",
            f"dave: {{groups: [stewards, admins], os_users: [{me}]}}",
        ),
    )
    with pytest.raises(PolicyBundleError, match="listed under both"):
        load_bundle(bundle_dir)
    _principals(bundle_dir, base.replace('os_users: ["*"]', "os_users: [somebody-else]"))
    with pytest.raises(NotAuthenticated, match="os_users"):
        embedded_principal(catalog)


def test_tokens_are_issued_and_revoked_by_admins_only(catalog: Catalog, bundle_dir: Path) -> None:
    from lakeward.identity._tokens import TokenStore

    store = TokenStore(catalog, b"p" * 32)
    users = engine_for(catalog).bundle.users
    with pytest.raises(PolicyDenied):
        store.issue("carol", created_by="carol", known_principals=users)
    assert store.list() == [] and _last(catalog) == [("carol", "policy.admin", "deny")]
    issued = store.issue("carol", created_by="dave", known_principals=users)
    record = AuditLog(catalog).tail(1)[0]
    assert (record.action, record.request["token_id"]) == ("token.issue", issued.token_id)
    assert issued.token.split("_", 2)[2] not in json.dumps(record.request)  # never the secret
    with pytest.raises(PolicyDenied):
        store.revoke(issued.token_id, by="alice")
    assert store.authenticate(issued.token) == "carol"
    store.revoke(issued.token_id, by="dave")
    assert AuditLog(catalog).tail(1)[0].action == "token.revoke"


def test_missing_bundle_denies_audited(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", str(tmp_path / "no-such-bundle"))
    with pytest.raises(PolicyDenied, match="not a directory"):
        record_event(catalog, "lakeward-scheduler", "note", "platform")
    last = AuditLog(catalog).tail(1)[0]
    assert (last.action, last.decision) == ("audit.append", "deny")
    with pytest.raises(NotAuthenticated):  # nobody can even be identified
        embedded_principal(catalog)
