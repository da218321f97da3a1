"""The classification service with a fake sampler: tags with provenance and review, changed
datasets only, denied datasets, rejections remembered until the column changes, nested
leaves, propagation along containment edges, and policy following the approved tags.

Runs on SQLite and, with ``LAKEWARD_TEST_POSTGRES_URL``, PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakeward.catalog import (
    AuditLog,
    Catalog,
    ColumnStats,
    ContainmentEdge,
    ContainmentRun,
    DatasetRepository,
    TagRepository,
    describe_dataset,
)
from lakeward.errors import InputError, NotFound, PolicyDenied
from lakeward.policy import (
    acknowledge_purpose,
    approve_tag,
    assign_tag,
    engine_for,
    reject_tag,
    remove_tag,
)
from lakeward.tagging import (
    ClassifyStatus,
    ColumnSample,
    classify,
    explain_column,
    list_tags,
    propagate,
    resolve_target,
)

EMAILS = [f"person{i}@example.com" for i in range(200)]
CITIES = ["Austin", "Boston", "Chicago", "Denver", "El Paso"] * 40


def profile(
    catalog: Catalog, name: str, columns: dict[str, str], *, rows: int = 200, salt: str = ""
) -> None:
    """Register ``name`` (or add a version) with ``columns`` (name → type) as profiled."""
    nulls = int(salt or 0)  # another salt: other statistics, so other column signatures
    stats = [ColumnStats(c, t, True, None, None, nulls, rows) for c, t in columns.items()]
    with catalog.session() as session:
        repo = DatasetRepository(session)
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
            rows=rows,
            bytes=1024,
            file_count=1,
            fingerprint="f" * 64,
            file_signature=f"s{salt}",
            columns=stats,
            seconds=0.1,
            principal="lakeward-scheduler",
        )


class FakeSampler:
    """Samples from a dict: dataset → [(leaf, type, values)]; records every call."""

    def __init__(self, data: dict[str, list[tuple[str, str, list[object]]]]) -> None:
        self.data = data
        self.calls: list[str] = []

    def __call__(
        self, catalog: Catalog, name: str, *, rows: int = 1000, seed: int = 0
    ) -> list[ColumnSample]:
        self.calls.append(name)
        out = []
        for leaf, declared, values in self.data[name]:
            kept = [v for v in values if v is not None][:rows]
            out.append(ColumnSample(leaf, declared, kept, len(values), len(values) - len(kept)))
        return out


CUSTOMERS = {
    "customer_id": "bigint",
    "email": "string",
    "email_verified": "int",
    "city": "string",
}


def customers_sample() -> list[tuple[str, str, list[object]]]:
    return [
        ("customer_id", "bigint", list(range(1, 201))),
        ("email", "string", list(EMAILS)),
        ("email_verified", "int", [i % 2 for i in range(200)]),
        ("city", "string", list(CITIES)),
    ]


@pytest.fixture
def lake(catalog: Catalog, bundle_dir: Path) -> Catalog:
    profile(catalog, "sales.customers", CUSTOMERS)
    profile(catalog, "ops.metrics", {"host": "string", "requests": "bigint"})
    bundle = engine_for(catalog).bundle
    for principal in ("carol", "lakeward-scheduler"):
        acknowledge_purpose(catalog, bundle, principal, "data_governance")
    acknowledge_purpose(catalog, bundle, "alice", "analytics")
    return catalog


def sampler() -> FakeSampler:
    return FakeSampler(
        {
            "sales.customers": customers_sample(),
            "ops.metrics": [
                ("host", "string", [f"web-{i % 7}" for i in range(200)]),
                ("requests", "bigint", list(range(200))),
            ],
        }
    )


def tags(catalog: Catalog, dataset: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(column, tag) → (status, source)."""
    return {
        (t.column or "", t.tag): (t.status, t.source)
        for t in list_tags(catalog, "carol", datasets=[dataset])
    }


def test_classify_writes_tags_with_provenance_and_records_the_version(lake: Catalog) -> None:
    fake = sampler()
    report = classify(lake, "lakeward-scheduler", sampler=fake)
    assert {d.dataset: d.status for d in report.datasets} == {
        "ops.metrics": ClassifyStatus.CLASSIFIED,
        "sales.customers": ClassifyStatus.CLASSIFIED,
    }
    found = tags(lake, "sales.customers")
    assert found[("email", "type.email")] == ("approved", "values")
    assert found[("email_verified", "not_sensitive")] == ("approved", "values")
    assert found[("city", "not_sensitive")] == ("approved", "values")
    assert not any(tag.startswith("type.") for (col, tag) in found if col != "email")
    assert ("email", "not_sensitive") not in found
    records = list_tags(lake, "carol", datasets=["sales.customers"])
    email = next(r for r in records if r.tag == "type.email")
    assert email.confidence >= 0.9 and "of" in (email.evidence or "")
    assert set(email.to_dict()) == {"dataset", "column", "tag", "confidence", "source", "status"}
    # Evidence and audit hold counts, never a sampled value.
    audit = json.dumps([r.request for r in AuditLog(lake).tail(30)])
    shown = json.dumps([r.to_dict() | {"e": r.evidence} for r in records])
    assert not any(v in audit or v in shown for v in EMAILS[:20] + ["Austin", "Boston"])

    # Only changed datasets are classified again.
    again = classify(lake, "lakeward-scheduler", sampler=fake)
    assert {d.status for d in again.datasets} == {ClassifyStatus.UNCHANGED}
    assert fake.calls == ["ops.metrics", "sales.customers"]
    profile(lake, "ops.metrics", {"host": "string", "requests": "bigint"}, salt="2")
    third = classify(lake, "lakeward-scheduler", sampler=fake)
    assert [d.dataset for d in third.by_status(ClassifyStatus.CLASSIFIED)] == ["ops.metrics"]


def test_a_denied_dataset_gets_no_tags_and_the_rest_are_classified(lake: Catalog) -> None:
    with lake.session() as session:
        dataset = DatasetRepository(session).require("ops.metrics")
        TagRepository(session)._add(dataset, "restricted")
    report = classify(lake, "lakeward-scheduler", sampler=(fake := sampler()))
    outcome = {d.dataset: d for d in report.datasets}
    assert outcome["ops.metrics"].status is ClassifyStatus.DENIED
    assert "restricted-is-off-limits" in (outcome["ops.metrics"].error or "")
    assert outcome["sales.customers"].status is ClassifyStatus.CLASSIFIED
    assert fake.calls == ["sales.customers"]  # the denied one was never read
    assert set(tags(lake, "ops.metrics")) == {("", "restricted")}
    denied = [
        r
        for r in AuditLog(lake).tail(40)
        if r.action == "lake.read_content" and r.resource == "dataset:ops.metrics"
    ]
    assert denied and denied[-1].decision == "deny"


def test_analysts_read_only_completely_classified_data(lake: Catalog) -> None:
    engine = engine_for(lake)
    read = ("alice", "lake.read_content", "dataset:ops.metrics", {"purpose": "analytics"})
    before = engine.decide(*read)
    assert not before.allowed
    assert before.policy_ids == ("analysts-read-only-classified-data",)
    classify(lake, "lakeward-scheduler", sampler=sampler())
    after = engine.decide(*read)
    assert after.allowed and after.obligations == (), after
    # A column the classifier found an email in makes the dataset personal data.
    customers = engine.decide(
        "alice", "lake.read_content", "dataset:sales.customers", {"purpose": "analytics"}
    )
    assert not customers.allowed and customers.policy_ids == ()
    # A new version is not classified until the next run: analysts wait (fail closed).
    profile(lake, "ops.metrics", {"host": "string", "requests": "bigint"}, salt="2")
    assert not engine.decide(*read).allowed


def test_a_column_is_masked_once_type_email_is_approved_and_readable_when_removed(
    lake: Catalog,
) -> None:
    profile(lake, "crm.leads", {"lead_id": "bigint", "contact": "string"})
    leads = FakeSampler(
        {
            "crm.leads": [
                ("lead_id", "bigint", list(range(200))),
                ("contact", "string", [None] * 200),  # nothing to judge by values yet
            ]
        }
    )
    acknowledge_purpose(lake, engine_for(lake).bundle, "lakeward-scheduler", "catalog_maintenance")
    classify(lake, "lakeward-scheduler", datasets=["crm.leads"], sampler=leads)
    engine = engine_for(lake)

    def masked_for(principal: str) -> bool:
        shown = {c["name"]: c for c in describe_dataset(lake, principal, "crm.leads")["columns"]}
        return bool(shown["contact"].get("masked"))

    def read_column(principal: str) -> bool:
        return engine.decide(principal, "lake.read_column", "column:crm.leads/contact").allowed

    def he_encrypt_masks() -> bool:  # as the HE job decides it
        decision = engine.decide(
            "carol",
            "he.encrypt",
            "dataset:crm.leads",
            {"purpose": "data_governance", "encrypted": True},
            columns=["lead_id", "contact"],
        )
        return decision.allowed and "mask:contact" in decision.obligations

    def profiling_masks() -> bool:  # as lake profile decides it
        decision = engine.decide(
            "lakeward-scheduler",
            "lake.read_content",
            "dataset:crm.leads",
            {"purpose": "catalog_maintenance"},
            columns=["lead_id", "contact"],
        )
        return decision.allowed and "mask:contact" in decision.obligations

    assert not masked_for("alice") and read_column("alice")
    assert not he_encrypt_masks() and not profiling_masks()

    assign_tag(lake, "carol", "crm.leads", "type.email", column="contact")
    assert masked_for("alice") and masked_for("carol")
    assert not read_column("alice") and not read_column("bob")
    assert he_encrypt_masks() and profiling_masks()
    assert (
        "mask:contact"
        in engine.decide("alice", "catalog.read_metadata", "dataset:crm.leads").obligations
    )

    remove_tag(lake, "carol", "crm.leads", "type.email", column="contact")
    assert read_column("carol") and not he_encrypt_masks() and not profiling_masks()
    # Removing a tag says nothing about what the column holds: it stays masked for
    # analysts (unclassified) until a steward says it is not sensitive.
    assert not read_column("alice") and masked_for("alice")
    assign_tag(lake, "carol", "crm.leads", "not_sensitive", column="contact")
    assert read_column("alice") and not masked_for("alice")


def test_suggestions_wait_for_review_and_rejections_hold_until_the_column_changes(
    lake: Catalog,
) -> None:
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"})
    empty = FakeSampler(
        {"crm.leads": [("lead_id", "bigint", list(range(50))), ("email", "string", [None] * 50)]}
    )
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    found = tags(lake, "crm.leads")
    # A name alone is only a suggestion; with every type below 0.5 the column is not
    # sensitive (approved) and the suggestion waits for a steward.
    assert found[("email", "type.email")] == ("suggested", "name")
    assert found[("email", "not_sensitive")][0] == "approved"
    assert [t.tag for t in list_tags(lake, "carol", status="suggested")] == ["type.email"]

    reject_tag(lake, "carol", "crm.leads", "type.email", column="email")
    assert tags(lake, "crm.leads")[("email", "type.email")] == ("rejected", "name")
    # A new version with the same column: the rejection holds.
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"})  # same statistics
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    assert tags(lake, "crm.leads")[("email", "type.email")][0] == "rejected"
    # The column changed (other statistics): suggested again.
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"}, salt="9")
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    assert tags(lake, "crm.leads")[("email", "type.email")] == ("suggested", "name")

    # Approving the type replaces the classifier's not_sensitive; it is a steward's now.
    change = approve_tag(lake, "carol", "crm.leads", "type.email", column="email")
    assert change.superseded == ("not_sensitive",)
    assert set(tags(lake, "crm.leads")) >= {("email", "type.email")}
    assert ("email", "not_sensitive") not in tags(lake, "crm.leads")
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"}, salt="8")
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    assert tags(lake, "crm.leads")[("email", "type.email")] == ("approved", "name")
    assert [r.action for r in AuditLog(lake).tail(60) if r.action.startswith("tag.")].count(
        "tag.approved"
    ) == 1

    with pytest.raises(NotFound, match="tag add"):
        approve_tag(lake, "carol", "crm.leads", "type.phone", column="email")
    with pytest.raises(PolicyDenied):
        approve_tag(lake, "alice", "crm.leads", "type.email", column="email", purpose="analytics")


def test_a_rejection_made_before_any_suggestion_also_lasts_until_the_column_changes(
    lake: Catalog,
) -> None:
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"})
    empty = FakeSampler(
        {"crm.leads": [("lead_id", "bigint", list(range(50))), ("email", "string", [None] * 50)]}
    )
    reject_tag(lake, "carol", "crm.leads", "type.email", column="email")
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    assert tags(lake, "crm.leads")[("email", "type.email")] == ("rejected", "manual")
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"}, salt="5")
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    assert tags(lake, "crm.leads")[("email", "type.email")] == ("suggested", "name")


def test_approving_not_sensitive_rejects_pending_suggestions(lake: Catalog) -> None:
    profile(lake, "crm.leads", {"lead_id": "bigint", "email": "string"})
    empty = FakeSampler(
        {"crm.leads": [("lead_id", "bigint", list(range(50))), ("email", "string", [None] * 50)]}
    )
    classify(lake, "carol", datasets=["crm.leads"], sampler=empty)
    change = approve_tag(lake, "carol", "crm.leads", "not_sensitive", column="email")
    assert change.superseded == ("type.email",)
    assert tags(lake, "crm.leads")[("email", "type.email")][0] == "rejected"


def test_nested_leaves_tag_their_top_level_column(lake: Catalog) -> None:
    profile(lake, "crm.people", {"id": "bigint", "contact": "struct<mail:string,note:string>"})
    nested = FakeSampler(
        {
            "crm.people": [
                ("id", "bigint", list(range(200))),
                ("contact.mail", "string", list(EMAILS)),
                ("contact.note", "string", ["call back later"] * 200),
            ]
        }
    )
    classify(lake, "carol", datasets=["crm.people"], sampler=nested)
    found = tags(lake, "crm.people")
    assert found[("contact", "type.email")] == ("approved", "values")
    assert ("contact", "not_sensitive") not in found
    explained = explain_column(lake, "carol", "crm.people", "contact")
    assert any(e["leaf"] == "contact.mail" for e in explained.evidence)
    assert explained.sample["leaves"] == ["contact.mail", "contact.note"]


def test_explain_shows_every_detector_and_each_tags_provenance(lake: Catalog) -> None:
    classify(lake, "carol", sampler=sampler())
    explained = explain_column(lake, "carol", "sales.customers", "email")
    data = explained.to_dict()
    assert data["classified_version"] == data["version"] == 1
    assert {e["source"] for e in data["evidence"]} >= {"name", "values"}
    assert {t["tag"]: t["status"] for t in data["tags"]} == {"type.email": "approved"}
    assert data["sample"]["values"] == 200
    assert not any(v in json.dumps(data) for v in EMAILS[:20])
    with pytest.raises(NotFound, match="no column"):
        explain_column(lake, "carol", "sales.customers", "nope")


def test_resolve_target_takes_the_longest_dataset_prefix(lake: Catalog) -> None:
    profile(lake, "sales", {"customers": "string"})
    assert resolve_target(lake, "sales.customers.email", column_required=True) == (
        "sales.customers",
        "email",
    )
    assert resolve_target(lake, "sales.customers", column_required=False) == (
        "sales.customers",
        "",
    )
    assert resolve_target(lake, "sales.customers", column_required=True) == ("sales", "customers")
    with pytest.raises(InputError, match="catalog ls"):
        resolve_target(lake, "nowhere.email", column_required=True)


def _contained(catalog: Catalog, edges: list[tuple[str, str, dict[str, str]]]) -> None:
    """One finished containment run with ``(child, parent, child column → parent column)``."""
    with catalog.session() as session:
        repo = DatasetRepository(session)
        run = ContainmentRun(
            principal="carol",
            purpose="data_governance",
            state="done",
            near_threshold=0.9,
            key_id="k",
            params={},
            counts={},
        )
        session.add(run)
        session.flush()
        for child, parent, column_map in edges:
            c, p = repo.require(child), repo.require(parent)
            session.add(
                ContainmentEdge(
                    run_id=run.id,
                    child_id=c.id,
                    parent_id=p.id,
                    child_version=c.current_version,
                    parent_version=p.current_version,
                    column_map=column_map,
                    stage="content",
                    status="contained",
                    ratio=1.0,
                )
            )


def test_approved_tags_propagate_to_contained_children(lake: Catalog) -> None:
    profile(lake, "sales.customers_2024", {"id": "bigint", "mail": "string"})
    profile(lake, "sales.customers_2024_q1", {"id": "bigint", "mail": "string"})
    _contained(
        lake,
        [
            ("sales.customers_2024", "sales.customers", {"id": "customer_id", "mail": "email"}),
            ("sales.customers_2024_q1", "sales.customers_2024", {"id": "id", "mail": "mail"}),
        ],
    )
    assign_tag(lake, "carol", "sales.customers", "region_eu")
    assign_tag(lake, "carol", "sales.customers", "type.email", column="email")
    assign_tag(lake, "carol", "sales.customers", "not_sensitive", column="city")
    changes = propagate(lake, "carol")
    assert {(c.dataset, c.column, c.tag) for c in changes if c.action == "approved"} == {
        (child, column, tag)
        for child in ("sales.customers_2024", "sales.customers_2024_q1")
        for column, tag in (("id", "region_eu"), ("mail", "region_eu"), ("mail", "type.email"))
    }
    child = tags(lake, "sales.customers_2024_q1")
    assert child[("mail", "type.email")] == ("approved", "propagated")
    record = next(
        r for r in list_tags(lake, "carol") if r.dataset.endswith("q1") and r.tag == "type.email"
    )
    assert "contained in sales.customers_2024" in (record.evidence or "")
    engine = engine_for(lake)
    assert not engine.decide(
        "bob", "lake.read_column", "column:sales.customers_2024_q1/mail"
    ).allowed
    assert propagate(lake, "carol") == []  # nothing new
    reject_tag(lake, "carol", "sales.customers_2024_q1", "region_eu", column="id")
    _contained(  # a later containment run finds the same edges
        lake,
        [
            ("sales.customers_2024", "sales.customers", {"id": "customer_id", "mail": "email"}),
            ("sales.customers_2024_q1", "sales.customers_2024", {"id": "id", "mail": "mail"}),
        ],
    )
    assert [c.changed for c in propagate(lake, "carol")] == []
    assert tags(lake, "sales.customers_2024_q1")[("id", "region_eu")][0] == "rejected"

    remove_tag(lake, "carol", "sales.customers", "type.email", column="email")
    propagate(lake, "carol")
    assert ("mail", "type.email") not in tags(lake, "sales.customers_2024_q1")
    # A child whose version moved on is no longer described by the edge.
    profile(lake, "sales.customers_2024", {"id": "bigint", "mail": "string"}, salt="3")
    propagate(lake, "carol")
    assert tags(lake, "sales.customers_2024") == {}
    assert ("id", "region_eu") not in tags(lake, "sales.customers_2024_q1")


def test_a_principal_who_may_not_read_contents_classifies_nothing(lake: Catalog) -> None:
    report = classify(lake, "alice", purpose="analytics", sampler=(fake := sampler()))
    assert {d.status for d in report.datasets} == {ClassifyStatus.DENIED}
    assert fake.calls == [] and tags(lake, "sales.customers") == {}
