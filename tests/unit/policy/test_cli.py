"""`lakeward policy`: the admin CLI end to end on a real catalog and bundle."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from lakeward.catalog import AuditRecord, Catalog
from lakeward.cli import main
from lakeward.errors import CheckFailed, PolicyDenied
from lakeward.identity import Principal, acting_as
from lakeward.policy import apply_bundle, load_bundle, revisions
from tests.unit.policy.conftest import add_dataset


def run(
    capsys: pytest.CaptureFixture[str], *args: str, as_: str | None = None
) -> tuple[int, str, str]:
    """Run the CLI as the OS user's principal, or as ``as_`` (standing in for authentication)."""
    if as_ is None:
        code = main(list(args))
    else:
        with acting_as(Principal(as_, authenticated_by="test")):
            code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def setup(catalog: Catalog, bundle_dir: Path) -> Catalog:
    add_dataset(catalog, "sales.customers", ["pii", "financial"], {"email": ["pii_direct"]})
    add_dataset(catalog, "ops.metrics", [])
    return catalog


def test_validate_and_test(
    setup: Catalog, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "policy", "validate", "--json")
    ids = sum(p.read_text().count("@id(") for p in bundle_dir.glob("*.cedar"))
    assert code == 0 and json.loads(out)["policies"] == ids >= 14
    code, out, _ = run(capsys, "policy", "test", "--json")
    report = json.loads(out)
    assert code == 0 and report["failed"] == 0 and report["uncovered"] == []
    (bundle_dir / "oops.cedar").write_text(
        '@id("x")\npermit(principal, action == Lakeward::Action::"nope", resource);'
    )
    code, _, err = run(capsys, "policy", "validate")
    assert code == 1 and "oops.cedar:1" in err and "unrecognized action" in err


def test_explain_exit_codes_and_json(setup: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "explain", "dave", "policy.admin", "platform")
    assert code == 0 and "admins-administer" in out
    code, out, _ = run(capsys, "policy", "purpose", "ack", "analytics", "--yes", as_="alice")
    assert code == 0
    code, out, _ = run(
        capsys,
        "policy",
        "explain",
        "alice",
        "lake.read_content",
        "sales.customers",
        "--purpose",
        "analytics",
        "--json",
    )
    decision = json.loads(out)
    assert code == 1 and decision["decision"] == "deny"
    assert decision["nearest"][0]["policy"] == "analysts-read-non-pii"
    code, _, err = run(capsys, "policy", "explain", "alice", "x", "y", "--context", "dp=maybe")
    assert code == 2 and "KEY=true|false" in err


def test_audit_verify_names_an_edited_record(
    setup: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    for user in ("alice", "bob"):
        assert run(capsys, "policy", "purpose", "ack", "analytics", "--yes", as_=user)[0] == 0
    assert run(capsys, "policy", "audit", "verify")[0] == 0
    with setup.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 1).values(principal="mallory"))
    code, out, _ = run(capsys, "policy", "audit", "verify", "--json")
    assert code == 1 and json.loads(out) == {
        "intact": False,
        "first_bad_seq": 1,
        "reason": "record content does not match its MAC (changed outside Lakeward)",
        "ledger_reconciled": True,
        "ledger": [],
    }
    code, out, _ = run(capsys, "policy", "audit", "tail", "--json")
    assert [r["seq"] for r in json.loads(out)] == [
        1,
        2,
        3,
        4,
    ]  # each acknowledgement: its decision, then the record


def test_apply_dry_run_then_yes_then_log_and_diff(
    setup: Catalog, bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "policy", "purpose", "ack", "analytics", "--yes", as_="alice")
    with pytest.raises(PolicyDenied):  # a recorded request for the diff to replay
        from lakeward.policy import default_engine

        default_engine().enforce(
            "alice", "lake.read_content", "sales.customers", {"purpose": "analytics"}
        )
    candidate = tmp_path / "candidate"
    shutil.copytree(bundle_dir, candidate)
    text = (
        (candidate / "access.cedar")
        .read_text()
        .replace(
            '  context.purpose == "analytics" &&\n'
            '  !resource.tags.containsAny(["pii", "pii_direct", "phi", "dp_required"])\n',
            '  context.purpose == "analytics"\n',
        )
    )
    (candidate / "access.cedar").write_text(text)
    shutil.rmtree(candidate / "tests")  # the old tests would (rightly) fail this change
    (candidate / "tests").mkdir()
    code, out, err = run(capsys, "policy", "apply", str(candidate), "--yes", "--json", as_="dave")
    assert code == 1 and "has no policy tests" in err  # nothing checks it: refused
    (candidate / "tests" / "new.yaml").write_text(
        "datasets:\n  sales.customers: {tags: [pii], classified: true}\n"
        "acknowledged: [[alice, analytics]]\n"
        "cases:\n  - name: analysts now read personal data\n"
        "    request: {principal: alice, action: lake.read_content, resource: sales.customers,"
        " context: {purpose: analytics}}\n"
        "    expect: {decision: allow, policies: [analysts-read-non-pii]}\n"
    )
    code, out, _ = run(capsys, "policy", "diff", str(candidate), "--json")
    changes = json.loads(out)
    assert code == 0 and len(changes) == 1
    assert changes[0]["before"] == "deny" and changes[0]["after"] == "allow"
    assert changes[0]["after_policies"] == ["analysts-read-non-pii"]
    code, out, _ = run(capsys, "policy", "apply", str(candidate), "--json", as_="dave")
    assert code == 0 and json.loads(out)["applied"] is False and revisions(setup) == []
    code, out, _ = run(capsys, "policy", "apply", str(candidate), "--yes", as_="alice")
    assert code == 1  # alice may not administer
    code, out, _ = run(capsys, "policy", "apply", str(candidate), "--yes", "--json", as_="dave")
    assert code == 0 and json.loads(out)["applied"] is True
    code, out, _ = run(capsys, "policy", "log", "--json")
    log = json.loads(out)
    assert code == 0 and len(log) == 1 and log[0]["applied_by"] == "dave"
    code, _, _ = run(
        capsys,
        "policy",
        "explain",
        "alice",
        "lake.read_content",
        "sales.customers",
        "--purpose",
        "analytics",
    )
    assert code == 0  # the new revision is active


def test_failing_tests_block_apply(
    setup: Catalog, bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = tmp_path / "candidate"
    shutil.copytree(bundle_dir, candidate)
    (candidate / "guards.cedar").write_text("")
    code, out, _ = run(capsys, "policy", "apply", str(candidate), "--yes", "--json", as_="dave")
    assert code == 1 and json.loads(out)["tests_failed"] > 0 and revisions(setup) == []


def test_two_admins_applying_at_once(setup: Catalog, bundle_dir: Path, tmp_path: Path) -> None:
    candidates = []
    for i in range(2):
        c = tmp_path / f"c{i}"
        shutil.copytree(bundle_dir, c)
        (c / "note.txt").write_text(f"candidate {i}\n")  # distinct revisions
        candidates.append(c)
    outcomes: list[str] = []

    def admin(c: Path) -> None:
        try:
            apply_bundle(setup, c, applied_by="dave", expected_parent=None, home=tmp_path / "home")
            outcomes.append("applied")
        except CheckFailed as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=admin, args=(c,)) for c in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("applied") == 1
    assert any("was applied after you read" in o for o in outcomes)
    assert len(revisions(setup)) == 1
    assert (
        load_bundle(Path(revisions(setup)[0]["path"])).revision == revisions(setup)[0]["revision"]
    )


def test_budget_grant_and_show(setup: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "policy",
        "budget",
        "grant",
        "customer",
        "bob",
        "analytics",
        "0.3",
        "--yes",
        "--json",
        as_="dave",
    )
    assert code == 0 and json.loads(out)["applied"] is True
    code, out, _ = run(capsys, "policy", "budget", "show", "--json")
    rows = {(r["unit"], r["principal"], r["purpose"]): r for r in json.loads(out)}
    assert rows[("customer", "bob", "analytics")]["cap"] == 0.3


def test_approval_commands(setup: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    from lakeward.policy import Approvals, default_engine

    for user in ("carol", "dave"):
        run(capsys, "policy", "purpose", "ack", "data_governance", "--yes", as_=user)
    a = Approvals(default_engine()).request(
        "dedup.delete", "dataset:ops.metrics", "carol", {"purpose": "data_governance"}
    )
    code, _, err = run(capsys, "policy", "approval", "approve", str(a.id), as_="carol")
    assert code == 1 and "cannot also decide" in err
    code, _, _ = run(capsys, "policy", "approval", "approve", str(a.id), as_="dave")
    assert code == 0
    code, out, _ = run(capsys, "policy", "approval", "list", "--json")
    assert json.loads(out)[0]["state"] == "approved"
    code, _, err = run(capsys, "policy", "approval", "reject", "999", as_="dave")
    assert code == 2 and "No approval #999" in err


def test_another_host_materialises_the_active_bundle_from_the_catalog(
    setup: Catalog, bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward.policy import active_bundle_dir

    result = apply_bundle(
        setup, bundle_dir, applied_by="dave", expected_parent=None, home=tmp_path / "host-a"
    )
    monkeypatch.setenv("LAKEWARD_HOME", str(tmp_path / "host-b"))  # same catalog, other host
    directory = active_bundle_dir(setup)
    assert directory == tmp_path / "host-b" / "policy" / "revisions" / result["revision"]
    assert load_bundle(directory).revision == result["revision"]
