"""``lakeward tag``: classify, ls, approve, reject, add, remove, explain end to end on a real
catalog and bundle (a fake sampler stands in for Spark), and through the server's command
path. Runs on SQLite and, with ``LAKEWARD_TEST_POSTGRES_URL``, PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakeward.catalog import AuditLog, Catalog
from lakeward.cli import main
from lakeward.identity import Principal, acting_as
from lakeward.policy import acknowledge_purpose, engine_for
from tests.unit.tagging.test_service import (
    CUSTOMERS,
    EMAILS,
    FakeSampler,
    customers_sample,
    profile,
)

KEYS = {"dataset", "column", "tag", "confidence", "source", "status"}


def run(
    capsys: pytest.CaptureFixture[str], *args: str, as_: str | None = None
) -> tuple[int, str, str]:
    """Run the CLI as the OS user's principal (local-user), or as ``as_``."""
    if as_ is None:
        code = main(list(args))
    else:
        with acting_as(Principal(as_, authenticated_by="test")):
            code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def setup(catalog: Catalog, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:  # noqa: F811
    profile(catalog, "sales.customers", CUSTOMERS)
    profile(catalog, "crm.leads", {"lead_id": "bigint", "email": "string"})
    fake = FakeSampler(
        {
            "sales.customers": customers_sample(),
            "crm.leads": [
                ("lead_id", "bigint", list(range(50))),
                ("email", "string", [None] * 50),
            ],
        }
    )
    import lakeward.tagging._service as service

    monkeypatch.setattr(service, "_default_sampler", lambda: fake)
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "local-user", "data_governance")
    return catalog


def test_classify_and_ls_print_the_public_json(
    setup: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "tag", "classify", "--json")
    rows = json.loads(out)
    assert code == 0, err
    assert rows and all(set(r) == KEYS for r in rows)
    by_key = {(r["dataset"], r["column"], r["tag"]): r for r in rows}
    email = by_key[("sales.customers", "email", "type.email")]
    assert email["status"] == "approved" and email["source"] == "values"
    assert email["confidence"] >= 0.9
    assert by_key[("crm.leads", "email", "type.email")]["status"] == "suggested"
    assert not any(v in out for v in EMAILS)

    code, out, _ = run(capsys, "tag", "ls", "--status", "suggested", "--json")
    assert code == 0 and [(r["dataset"], r["column"], r["tag"]) for r in json.loads(out)] == [
        ("crm.leads", "email", "type.email")
    ]
    code, out, _ = run(capsys, "tag", "add", "sales.customers", "region_eu")
    assert code == 0 and "region_eu assigned" in out
    code, out, _ = run(capsys, "tag", "ls", "--dataset", "sales.customers", "--json")
    dataset_level = [r for r in json.loads(out) if r["tag"] == "region_eu"]
    assert dataset_level == [
        {
            "dataset": "sales.customers",
            "column": None,
            "tag": "region_eu",
            "confidence": 1.0,
            "source": "manual",
            "status": "approved",
        }
    ]
    code, out, _ = run(capsys, "tag", "ls")
    assert code == 0 and "crm.leads" in out and "type.email" in out

    # Again: nothing changed, nothing is read; the JSON still lists the tags.
    code, out, _ = run(capsys, "tag", "classify", "--dataset", "crm.leads", "--json")
    assert code == 0 and {r["dataset"] for r in json.loads(out)} == {"crm.leads"}
    code, out, _ = run(capsys, "tag", "classify")
    assert code == 0 and "unchanged" in out


def test_review_add_remove_and_explain(setup: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "tag", "classify")[0] == 0
    code, out, _ = run(capsys, "tag", "approve", "crm.leads.email", "type.email")
    assert code == 0 and "type.email approved" in out and "not_sensitive superseded" in out
    code, out, err = run(capsys, "tag", "reject", "crm.leads.email", "type.email", "--json")
    assert code == 0 and json.loads(out)["status"] == "rejected"
    assert "no approved tag now" in err and "tag add crm.leads.email not_sensitive" in err
    code, out, _ = run(capsys, "tag", "add", "crm.leads.email", "not_sensitive")
    assert code == 0
    code, out, _ = run(capsys, "tag", "remove", "crm.leads.email", "not_sensitive")
    assert code == 0 and "removed" in out

    code, out, _ = run(capsys, "tag", "explain", "sales.customers.email", "--json")
    explained = json.loads(out)
    assert code == 0 and explained["dataset"] == "sales.customers"
    assert {e["source"] for e in explained["evidence"]} >= {"name", "values"}
    assert not any(v in out for v in EMAILS)
    code, out, _ = run(capsys, "tag", "explain", "sales.customers.email")
    assert code == 0 and "detectors" in out and "type.email" in out

    last = [r for r in AuditLog(setup).tail(40) if r.action.startswith("tag.")]
    assert {r.principal for r in last} == {"local-user"}
    assert {"tag.approved", "tag.rejected", "tag.assigned", "tag.removed"} <= {
        r.action for r in last
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "nowhere.email", "type.email"], "catalog ls"),
        (["approve", "crm.leads", "type.email"], "name one of its columns"),
        (["reject", "crm.leads.nope", "type.email"], "has no column 'nope'"),
        (["add", "crm.leads.email", "not-a-tag"], "vocabulary"),
        (["approve", "crm.leads.email", "type.phone"], "tag add crm.leads.email type.phone"),
        (["remove", "crm.leads.email", "pii"], "tag ls --dataset crm.leads"),
        (["explain", "crm.leads.nope"], "no column 'nope'"),
        (["ls", "--dataset", "nowhere"], "catalog ls"),
    ],
)
def test_errors_exit_2_with_the_fix(
    setup: Catalog, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "tag", *args)
    assert code == 2 and message in " ".join(err.split()), err


def test_who_acts_is_authenticated_and_decided(
    setup: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "tag", "add", "crm.leads.email", "pii", as_="alice")
    assert code == 1 and "tag.assign" in err
    code, out, err = run(capsys, "tag", "classify", "--json", as_="alice")
    assert code == 1 and json.loads(out) == [] and "refused: crm.leads" in err


def test_the_server_runs_tag_commands(setup: Catalog, catalog_url: str) -> None:
    from fastapi.testclient import TestClient

    from lakeward.identity._tokens import TokenStore
    from lakeward.server import create_app
    from lakeward.server._commands import refused_remotely

    assert refused_remotely(["tag", "ls", "--json"]) is None
    assert refused_remotely(["tag", "approve", "a.b", "type.email"]) is None
    users = engine_for(setup).bundle.users
    acknowledge_purpose(setup, engine_for(setup).bundle, "carol", "data_governance")
    token = TokenStore.for_catalog(setup).issue("carol", created_by="dave", known_principals=users)
    headers = {"Authorization": f"Bearer {token.token}"}
    with TestClient(create_app()) as client:
        response = client.post(
            "/api/v1/commands",
            json={"argv": ["tag", "add", "crm.leads.email", "type.email", "--json"]},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert json.loads(response.json()["stdout"])["tag"] == "type.email"
        listed = client.post(
            "/api/v1/commands", json={"argv": ["tag", "ls", "--json"]}, headers=headers
        )
        assert listed.status_code == 200, listed.text
        assert json.loads(listed.json()["stdout"])[0]["tag"] == "type.email"
    assert AuditLog(setup).tail(1)[0].principal == "carol"
