"""The glossary service: match from metadata only, store suggestions, review them, and the
accepted terms' tags reaching the policy layer at once.

Uses the real all-MiniLM-L6-v2 model (from its PyPI package). Runs on SQLite and, with
``LAKEWARD_TEST_POSTGRES_URL``, PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from lakeward.catalog import (
    AuditRecord,
    Catalog,
    ColumnStats,
    DatasetRepository,
    Glossary,
    GlossaryMatch,
    GlossaryTerm,
    TagRepository,
    describe_dataset,
)
from lakeward.errors import InputError, NotFound, PolicyDenied
from lakeward.glossary import (
    MatchOutcome,
    accept,
    default_embedder,
    match,
    reject,
    review,
)
from lakeward.glossary import _service as service
from lakeward.policy import acknowledge_purpose, engine_for

SENTINEL = "zz-sentinel-value-9431"

TERMS = [
    (
        "cust.email",
        "Customer Email",
        "The email address at which a customer is contacted.",
        ["e-mail"],
        ["pii_direct"],
    ),
    ("cust.dob", "Date of Birth", "The date on which the customer was born.", [], ["pii"]),
    (
        "acct.balance",
        "Account Balance",
        "The amount of money held in an account.",
        [],
        ["financial"],
    ),
    ("order.quantity", "Order Quantity", "How many units of a product an order asks for.", [], []),
    (
        "ops.host",
        "Host Name",
        "The network name of the server that handled a request.",
        [],
        ["not_sensitive"],
    ),
]


def profile(catalog: Catalog, name: str, columns: dict[str, str], *, salt: str = "") -> None:
    """Register ``name`` (or a new version) as profiled, statistics holding a sentinel."""
    stats = [
        ColumnStats(c, t, True, *([SENTINEL] * 2 if t == "string" else [None] * 2), 0, 10)
        for c, t in columns.items()
    ]
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
            rows=10,
            bytes=1024,
            file_count=1,
            fingerprint=SENTINEL.ljust(64, "0")[:64],
            file_signature=f"s{salt}",
            columns=stats,
            seconds=0.1,
            principal="lakeward-scheduler",
        )


def add_glossary(catalog: Catalog, name: str = "business", terms: Sequence[tuple] = TERMS) -> None:
    with catalog.session() as session:
        glossary = Glossary(name=name, version=1, created_by="carol")
        session.add(glossary)
        session.flush()
        for term_id, label, description, synonyms, tags in terms:
            session.add(
                GlossaryTerm(
                    glossary_id=glossary.id,
                    term_id=term_id,
                    label=label,
                    description=description,
                    synonyms=synonyms,
                    tags=tags,
                    status="active",
                )
            )


@pytest.fixture
def lake(catalog: Catalog, bundle_dir: Path) -> Catalog:
    profile(
        catalog,
        "sales.customers",
        {
            "custEmailAddr": "string",
            "cust_dob": "date",
            "acct_bal": "decimal(12,2)",
            "_c3": "string",
        },
    )
    profile(catalog, "ops.requests", {"hostname": "string", "qty": "int"})
    add_glossary(catalog)
    bundle = engine_for(catalog).bundle
    for principal in ("carol", "dave", "lakeward-scheduler"):
        acknowledge_purpose(catalog, bundle, principal, "data_governance")
    acknowledge_purpose(catalog, bundle, "alice", "analytics")
    return catalog


def firsts(report) -> dict[tuple[str, str], str | None]:
    return {
        (r.dataset, r.column): (None if r.abstained else r.candidates[0].term)
        for r in report.rankings
    }


def test_match_ranks_from_metadata_and_stores_suggestions(lake: Catalog) -> None:
    report = match(lake, "carol", top_k=3)
    got = firsts(report)
    assert got[("sales.customers", "custEmailAddr")] == "cust.email"
    assert got[("sales.customers", "cust_dob")] == "cust.dob"
    assert got[("sales.customers", "acct_bal")] == "acct.balance"
    assert got[("ops.requests", "hostname")] == "ops.host"
    assert got[("sales.customers", "_c3")] is None  # a positional name: the matcher abstains
    assert {d.status for d in report.datasets} == {MatchOutcome.MATCHED}
    one = next(r for r in report.rankings if r.column == "custEmailAddr").to_dict()
    assert set(one) >= {"dataset", "column", "candidates"}
    assert set(one["candidates"][0]) >= {"term", "label", "score"}
    scores = [c["score"] for c in one["candidates"]]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
    assert "name" in one["candidates"][0]["evidence"]["agreed"]
    pending = review(lake, "carol")
    assert {(s.column, s.term) for s in pending} >= {
        ("custEmailAddr", "cust.email"),
        ("cust_dob", "cust.dob"),
    }
    assert all(s.status == "suggested" for s in pending)
    assert {s.term for s in report.new} >= {"cust.email", "cust.dob"}


def test_match_reads_metadata_only(lake: Catalog, bundle_dir: Path, monkeypatch) -> None:
    # Forbid every content read: matching must still succeed, and nothing it embeds or
    # stores may carry a statistic (the sentinel sits in min/max and the fingerprint).
    (bundle_dir / "zz_no_content.cedar").write_text(
        '@id("no-content-reads")\n@description("test: no content reads")\n'
        'forbid(principal, action in [Lakeward::Action::"lake.read_content", '
        'Lakeward::Action::"lake.read_column"], resource);\n'
    )
    seen: list[str] = []
    real = default_embedder()

    class Recording:
        name = real.name

        def encode(self, texts):
            seen.extend(texts)
            return real.encode(texts)

    monkeypatch.setattr(service, "_MATCHERS", {})
    monkeypatch.setattr("lakeward.glossary._match.default_embedder", lambda: Recording())
    before = count_records(lake)
    report = match(lake, "carol")
    assert len(report.rankings) == 6
    assert seen and not any(SENTINEL in t for t in seen)
    with lake.session() as session:
        actions = [
            r.action for r in session.scalars(select(AuditRecord).where(AuditRecord.seq > before))
        ]
        stored = list(session.scalars(select(GlossaryMatch)))
    assert actions.count("glossary.match") == 2
    assert "lake.read_content" not in actions and "lake.read_column" not in actions
    assert not any(SENTINEL in str(m.evidence) for m in stored)


def count_records(catalog: Catalog) -> int:
    with catalog.session() as session:
        return max((r.seq for r in session.scalars(select(AuditRecord))), default=0)


def test_analysts_may_not_match_and_are_audited(lake: Catalog) -> None:
    report = match(lake, "alice")
    assert {d.status for d in report.datasets} == {MatchOutcome.DENIED}
    assert report.rankings == ()
    with lake.session() as session:
        denied = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "glossary.match", AuditRecord.principal == "alice"
            )
        ).all()
    assert len(denied) == 2 and all(r.decision == "deny" for r in denied)


def test_accepted_term_tags_mask_the_column_for_analysts(lake: Catalog) -> None:
    match(lake, "carol")

    def masked(principal: str) -> bool:
        shown = describe_dataset(lake, principal, "sales.customers")["columns"]
        return bool({c["name"]: c for c in shown}["custEmailAddr"].get("masked"))

    engine = engine_for(lake)
    assert not engine.decide(
        "alice", "lake.read_column", "column:sales.customers/custEmailAddr"
    ).allowed  # unclassified: fail closed for analysts
    stored, changes = accept(lake, "carol", "sales.customers", "custEmailAddr", "cust.email")
    assert stored.status == "accepted" and stored.reviewed_by == "carol"
    assert [c.tag for c in changes] == ["pii_direct"]
    with lake.session() as session:
        dataset = DatasetRepository(session).require("sales.customers")
        tag = TagRepository(session).get(dataset, "pii_direct", column="custEmailAddr")
        assert tag is not None and tag.source == "glossary" and tag.status == "approved"
        assert tag.evidence.startswith("glossary:cust.email (Customer Email)")
    assert masked("alice")
    assert not engine.decide(
        "alice", "lake.read_column", "column:sales.customers/custEmailAddr"
    ).allowed
    # Rejecting the accepted term takes its tags off again.
    _, removed = reject(lake, "carol", "sales.customers", "custEmailAddr", "cust.email")
    assert [c.tag for c in removed] == ["pii_direct"] and removed[0].changed


def test_analysts_may_not_accept(lake: Catalog) -> None:
    match(lake, "carol")
    with pytest.raises(PolicyDenied):
        accept(lake, "alice", "sales.customers", "custEmailAddr", "cust.email")


def test_rejections_hold_until_the_metadata_changes(lake: Catalog) -> None:
    match(lake, "carol")
    reject(lake, "carol", "sales.customers", "cust_dob", "cust.dob")
    again = match(lake, "carol")
    assert "cust.dob" not in {s.term for s in again.new}
    assert not [s for s in review(lake, "carol") if s.column == "cust_dob" and s.term == "cust.dob"]
    # Nothing changed: the nightly run (changed columns only) has nothing to do.
    quiet = match(lake, "lakeward-scheduler", changed_only=True)
    assert {d.status for d in quiet.datasets} == {MatchOutcome.UNCHANGED}
    # A new version whose column has another type: matched again, suggested again.
    profile(
        lake,
        "sales.customers",
        {
            "custEmailAddr": "string",
            "cust_dob": "timestamp",
            "acct_bal": "decimal(12,2)",
            "_c3": "string",
        },
        salt="2",
    )
    changed = match(lake, "lakeward-scheduler", changed_only=True)
    assert [r.column for r in changed.rankings] == ["cust_dob"]
    assert ("cust_dob", "cust.dob") in {(s.column, s.term) for s in changed.new}


def test_two_person_rule_for_configured_tags(lake: Catalog, monkeypatch) -> None:
    monkeypatch.setattr(service, "_two_person_tags", lambda: frozenset({"not_sensitive"}))
    match(lake, "carol")
    first, changes = accept(lake, "carol", "ops.requests", "hostname", "ops.host")
    assert first.status == "pending" and changes == []
    with pytest.raises(PolicyDenied, match="second steward"):
        accept(lake, "carol", "ops.requests", "hostname", "ops.host")
    second, changes = accept(lake, "dave", "ops.requests", "hostname", "ops.host")
    assert second.status == "accepted" and second.reviewed_by == "carol,dave"
    assert [c.tag for c in changes] == ["not_sensitive"]


def test_errors_name_the_fix(lake: Catalog, catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="glossary ls"):
        match(lake, "carol", glossary="nope")
    with pytest.raises(NotFound, match="catalog ls"):
        match(lake, "carol", datasets=["nope"])
    with pytest.raises(InputError, match="top-k"):
        match(lake, "carol", top_k=0)
    with pytest.raises(NotFound, match="no term"):
        accept(lake, "carol", "sales.customers", "custEmailAddr", "nope")
    with pytest.raises(NotFound, match="no column"):
        accept(lake, "carol", "sales.customers", "nope", "cust.email")
    add_glossary(lake, "other")
    with pytest.raises(InputError, match="several glossaries"):
        match(lake, "carol")


def test_one_to_one_gives_each_term_to_one_column_per_table(lake: Catalog) -> None:
    profile(lake, "crm.contacts", {"email": "string", "email_address": "string"})
    plain = match(lake, "carol", datasets=["crm.contacts"])
    assigned = match(lake, "carol", datasets=["crm.contacts"], one_to_one=True)
    assert [r.candidates[0].term for r in plain.rankings] == ["cust.email", "cust.email"]
    tops = [r.candidates[0].term for r in assigned.rankings]
    assert len(set(tops)) == 2 and "cust.email" in tops


def test_5000_columns_and_odd_names(lake: Catalog) -> None:
    wide = {f"measure_{i}": "double" for i in range(5000)}
    wide.update({"名前": "string", "📧 email": "string", "_c0": "string"})
    profile(lake, "wide.table", wide)
    report = match(lake, "carol", datasets=["wide.table"], top_k=1)
    assert len(report.rankings) == 5003
    got = firsts(report)
    assert got[("wide.table", "📧 email")] == "cust.email"
    assert got[("wide.table", "_c0")] is None
    assert np.isfinite([r.candidates[0].score for r in report.rankings]).all()


def test_classifier_keeps_accepted_terms_as_glossary_evidence(lake: Catalog) -> None:
    from lakeward.tagging import ColumnSample, classify, explain_column

    match(lake, "carol")
    accept(lake, "carol", "sales.customers", "custEmailAddr", "cust.email")

    def sampler(catalog, name, *, rows=1000, seed=0):
        return [ColumnSample("custEmailAddr", "string", [], 10, 10)]

    classify(lake, "carol", datasets=["sales.customers"], sampler=sampler)
    with lake.session() as session:
        dataset = DatasetRepository(session).require("sales.customers")
        tag = TagRepository(session).get(dataset, "pii_direct", column="custEmailAddr")
        assert tag is not None and tag.status == "approved"
    explained = explain_column(lake, "carol", "sales.customers", "custEmailAddr")
    assert "glossary:cust.email" in str(explained.to_dict())
