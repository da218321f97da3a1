"""The hierarchical tag vocabulary: loading and validation, and what Cedar sees of tags
(approved ones only, with everything they imply; a column's protective tags are its
dataset's too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeward.catalog import Catalog, DatasetRepository, TagRepository, TagStatus
from lakeward.policy import PolicyBundleError, PolicyEngine, acknowledge_purpose, load_bundle

from .conftest import add_dataset


def _tags(bundle_dir: Path, text: str) -> None:
    (bundle_dir / "tags.yaml").write_text(
        (bundle_dir / "tags.yaml").read_text().replace("tags:\n", "tags:\n" + text, 1)
    )


def test_semantic_types_imply_policy_tags_and_carry_thresholds(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert bundle.vocabulary["type.credit_card"].implies == {"pii", "pii_direct", "financial"}
    assert bundle.expand_tags(["type.date_of_birth", "public"]) == {
        "type.date_of_birth",
        "pii",
        "public",
    }
    assert bundle.auto_approve("type.email") == 0.9
    assert bundle.auto_approve("not_sensitive") == 0.5
    assert bundle.auto_approve("pii") is None  # plain `name: description`: a steward decides
    assert bundle.tags["pii"].startswith("Personally identifiable")
    types = [t for t in bundle.tags if t.startswith("type.")]
    assert len(types) >= 12 and all(bundle.vocabulary[t].implies for t in types)


def test_implications_are_transitive(bundle_dir: Path) -> None:
    _tags(bundle_dir, "  type.badge:\n    description: A badge.\n    implies: [type.email]\n")
    assert load_bundle(bundle_dir).vocabulary["type.badge"].implies == {
        "type.email",
        "pii",
        "pii_direct",
    }


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("  type.x:\n    description: X.\n    implies: [nope]\n", "implies unknown tag 'nope'"),
        ("  type.x:\n    description: X.\n    auto_approve: 1.5\n", "auto_approve"),
        ("  type.x:\n    description: X.\n    auto_approve: yes\n", "auto_approve"),
        ("  type.x:\n    implies: [pii]\n", "needs a non-empty `description`"),
        ("  type.x:\n    description: X.\n    imply: [pii]\n", "unknown keys ['imply']"),
        ("  type.x: [pii]\n", "must be a description, or a mapping"),
    ],
)
def test_invalid_vocabulary_entries_are_refused(bundle_dir: Path, entry: str, problem: str) -> None:
    _tags(bundle_dir, entry)
    with pytest.raises(PolicyBundleError, match="tags.yaml") as info:
        load_bundle(bundle_dir)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_cedar_sees_approved_tags_only_expanded_and_lifted_to_the_dataset(
    catalog: Catalog, bundle_dir: Path
) -> None:
    add_dataset(catalog, "shop.orders", [], {"buyer": ["not_sensitive"], "total": []})
    engine = PolicyEngine(load_bundle(bundle_dir), catalog)
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    read = ("alice", "lake.read_content", "dataset:shop.orders", {"purpose": "analytics"})
    assert engine.decide(*read).allowed
    with catalog.session() as session:
        dataset = DatasetRepository(session).require("shop.orders")
        TagRepository(session)._add(
            dataset, "type.email", column="buyer", status=TagStatus.SUGGESTED, source="values"
        )
        TagRepository(session)._add(dataset, "odd_unknown", status=TagStatus.REJECTED)
    # A suggestion (or a rejected tag, even one the bundle does not know) steers nothing.
    assert engine.decide(*read).allowed
    assert engine.decide("bob", "lake.read_column", "column:shop.orders/buyer").allowed
    with catalog.session() as session:
        dataset = DatasetRepository(session).require("shop.orders")
        TagRepository(session).get(dataset, "type.email", column="buyer").status = "approved"  # type: ignore[union-attr]
    denied = engine.decide(*read)
    assert not denied.allowed  # the column's pii is the dataset's
    column = engine.decide("bob", "lake.read_column", "column:shop.orders/buyer")
    assert not column.allowed  # type.email implies pii_direct
    assert engine.decide("bob", "lake.read_column", "column:shop.orders/total").allowed
    metadata = engine.decide("alice", "catalog.read_metadata", "dataset:shop.orders")
    assert "mask:buyer" in metadata.obligations and "mask:total" not in metadata.obligations


def test_a_column_awaiting_review_leaves_the_dataset_unclassified(
    catalog: Catalog, bundle_dir: Path
) -> None:
    add_dataset(catalog, "shop.orders", [], {"total": []})
    engine = PolicyEngine(load_bundle(bundle_dir), catalog)
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    read = ("alice", "lake.read_content", "dataset:shop.orders", {"purpose": "analytics"})
    assert engine.decide(*read).allowed
    with catalog.session() as session:
        dataset = DatasetRepository(session).require("shop.orders")
        TagRepository(session)._remove(dataset, "not_sensitive", column="total")
        TagRepository(session)._add(
            dataset, "type.phone", column="total", status=TagStatus.SUGGESTED, source="name"
        )
    decision = engine.decide(*read)
    assert not decision.allowed
    assert decision.policy_ids == ("analysts-read-only-classified-data",)
