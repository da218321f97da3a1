"""Catalog metadata is decided per viewer, and masked columns show no values.

``lakeward catalog show sales.customers`` printed real emails, phones, addresses and dates
of birth as min/max to anyone, with no decision. Now ``catalog.read_metadata`` is decided
for the viewer (audited) and the min/max of the columns it masks are withheld in every
output: the library, ``catalog show``/``ls`` (text and ``--json``) and the server's dataset
endpoint. Masks follow the tags at read time, so a column tagged after it was profiled is
masked from then on. Runs on SQLite and, with ``LAKEWARD_TEST_POSTGRES_URL``, PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakeward.catalog import (
    AuditLog,
    Catalog,
    ColumnStats,
    DatasetRepository,
    TagRepository,
    describe_dataset,
    describe_datasets,
)
from lakeward.cli import main
from lakeward.errors import PolicyDenied
from lakeward.policy import acknowledge_purpose, assign_tag, engine_for

EMAIL_MIN, EMAIL_MAX = "aaron.abbott@example.com", "zoe.zimmer@example.org"
PHONE_MIN, PHONE_MAX = "+1-202-555-0100", "+1-989-555-0199"
STREET_MIN, STREET_MAX = "1 Acacia Avenue", "99 Zephyr Road"
DOB_MIN, DOB_MAX = "1931-02-03", "2006-11-30"
SECRETS = [EMAIL_MIN, EMAIL_MAX, PHONE_MIN, PHONE_MAX, STREET_MIN, STREET_MAX, DOB_MIN, DOB_MAX]
PERSONAL = ["email", "phone", "street_address", "date_of_birth"]


@pytest.fixture
def customers(catalog: Catalog, bundle_dir: Path) -> Iterator[Catalog]:
    """``sales.customers`` profiled before anyone tagged it (as the profiler would store it)."""
    stats = [
        ColumnStats("customer_id", "bigint", False, "1", "26000", 0, 26000),
        ColumnStats("email", "string", True, EMAIL_MIN, EMAIL_MAX, 0, 25900),
        ColumnStats("phone", "string", True, PHONE_MIN, PHONE_MAX, 780, 25000),
        ColumnStats("street_address", "string", True, STREET_MIN, STREET_MAX, 0, 24000),
        ColumnStats("city", "string", True, "Austin", "Yonkers", 0, 40),
        ColumnStats("date_of_birth", "date", True, DOB_MIN, DOB_MAX, 520, 18000),
    ]
    with catalog.session() as session:
        repo = DatasetRepository(session)
        for name, columns in (("sales.customers", stats), ("ops.metrics", stats[:1])):
            dataset, _ = repo.register(
                name=name,
                uri=f"file:///lake/{name}",
                lake_root="file:///lake",
                format="parquet",
                layout="directory",
                file_count=1,
                bytes=1024,
            )
            repo.record_profile(
                dataset,
                rows=26000,
                bytes=1024,
                file_count=1,
                fingerprint="f" * 64,
                file_signature="s1",
                columns=columns,
                seconds=1.0,
                principal="lakeward-scheduler",
            )
    acknowledge_purpose(catalog, engine_for(catalog).bundle, "carol", "data_governance")
    yield catalog


def _classify(catalog: Catalog, dataset: str = "sales.customers") -> None:
    """A steward classifies the columns without personal data as not sensitive."""
    for column in ("customer_id", "city") if dataset == "sales.customers" else ("customer_id",):
        assign_tag(catalog, "carol", dataset, "not_sensitive", column=column)


def _tag_personal_columns(catalog: Catalog) -> None:
    """What a steward does after profiling: direct identifiers and quasi-identifiers."""
    _classify(catalog)
    for column in ("email", "phone"):
        assign_tag(catalog, "carol", "sales.customers", "pii_direct", column=column)
    for column in ("street_address", "date_of_birth"):
        assign_tag(catalog, "carol", "sales.customers", "pii", column=column)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _columns(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in summary["columns"]}


def test_a_column_tagged_after_profiling_is_masked_from_then_on(customers: Catalog) -> None:
    # Nobody classified anything yet: every column's min/max is withheld (fail closed).
    before = describe_dataset(customers, "alice", "sales.customers")
    assert all(c["masked"] and c["min"] is None for c in before["columns"])
    assert not any(s in json.dumps(before) for s in SECRETS)

    _classify(customers)
    classified = _columns(describe_dataset(customers, "alice", "sales.customers"))
    assert classified["city"]["min"] == "Austin" and classified["email"]["masked"] is True

    _tag_personal_columns(customers)

    for viewer in ("alice", "carol", "bob"):  # analysts, stewards, the fraud team alike
        summary = describe_dataset(customers, viewer, "sales.customers")
        cols = _columns(summary)
        for name in PERSONAL:
            assert cols[name]["min"] is None and cols[name]["max"] is None, (viewer, name)
            assert cols[name]["masked"] is True
            assert f"column:sales.customers/{name}" in cols[name]["masked_reason"]
            assert viewer in cols[name]["masked_reason"]
        assert cols["email"]["nulls"] == 0 and cols["email"]["distinct"] == 25900
        assert cols["city"]["min"] == "Austin" and "masked" not in cols["city"]
        assert cols["customer_id"]["max"] == 26000
        assert not any(s in json.dumps(summary) for s in SECRETS)
    last = AuditLog(customers).tail(1)[0]
    assert (last.principal, last.action, last.resource) == (
        "bob",
        "catalog.read_metadata",
        "dataset:sales.customers",
    )
    assert "mask:email" in last.request["obligations"]


def test_a_dataset_tagged_pii_masks_all_its_columns(customers: Catalog) -> None:
    _classify(customers)
    _classify(customers, "ops.metrics")
    assign_tag(customers, "carol", "sales.customers", "pii")
    cols = _columns(describe_dataset(customers, "alice", "sales.customers"))
    assert all(c["masked"] and c["min"] is None for c in cols.values())
    untagged = _columns(describe_dataset(customers, "alice", "ops.metrics"))
    assert untagged["customer_id"]["min"] == 1 and "masked" not in untagged["customer_id"]


def test_reading_metadata_is_decided_per_viewer(customers: Catalog) -> None:
    with pytest.raises(PolicyDenied):
        describe_dataset(customers, "mallory", "sales.customers")
    assert AuditLog(customers).tail(1)[0].decision == "deny"
    # A tag unknown to the bundle denies every action on the dataset (fail closed).
    with customers.session() as session:
        dataset = DatasetRepository(session).require("ops.metrics")
        TagRepository(session)._add(dataset, "not_in_vocabulary")
    listing = describe_datasets(customers, "alice")
    assert [d["name"] for d in listing.datasets] == ["sales.customers"] and listing.hidden == 1


def test_cli_show_and_ls_mask_in_text_and_json(
    customers: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    _tag_personal_columns(customers)
    code, out, _ = _run(capsys, "catalog", "show", "sales.customers")
    assert code == 0 and "(masked)" in out and "Austin" in out
    assert not any(s in out for s in SECRETS)
    code, out, _ = _run(capsys, "catalog", "show", "sales.customers", "--json")
    shown = json.loads(out)
    assert code == 0 and _columns(shown)["date_of_birth"]["masked"] is True
    assert not any(s in out for s in SECRETS) and shown["versions"][0]["rows"] == 26000
    code, out, _ = _run(capsys, "catalog", "ls", "--json")
    listed = {d["name"]: d for d in json.loads(out)}
    assert code == 0 and _columns(listed["sales.customers"])["phone"]["masked"] is True
    assert not any(s in out for s in SECRETS)
    code, out, _ = _run(capsys, "catalog", "ls")
    assert code == 0 and "sales.customers" in out
    last = AuditLog(customers).tail(1)[0]
    assert last.action == "catalog.read_metadata" and last.principal == "local-user"


def test_server_dataset_endpoint_and_commands_mask(customers: Catalog, catalog_url: str) -> None:
    from fastapi.testclient import TestClient

    from lakeward.identity._tokens import TokenStore
    from lakeward.server import create_app

    _tag_personal_columns(customers)
    users = engine_for(customers).bundle.users
    token = TokenStore.for_catalog(customers).issue(
        "alice", created_by="dave", known_principals=users
    )
    headers = {"Authorization": f"Bearer {token.token}"}
    with TestClient(create_app()) as client:
        response = client.get("/api/v1/datasets/sales.customers", headers=headers)
        assert response.status_code == 200, response.text
        assert _columns(response.json())["email"]["masked"] is True
        assert not any(s in response.text for s in SECRETS)
        command = client.post(
            "/api/v1/commands",
            json={"argv": ["catalog", "ls", "--json"]},
            headers=headers,
        )
        assert command.status_code == 200, command.text
        assert not any(s in command.text for s in SECRETS)
        assert "sales.customers" in command.text
    last = AuditLog(customers).tail(1)[0]
    assert (last.principal, last.action) == ("alice", "catalog.read_metadata")
