"""Column statistics fail closed on unclassified columns, and bundles installed before
``Column.classified`` existed keep deciding (Cedar refuses undeclared attributes)."""

from __future__ import annotations

import re
from pathlib import Path

from lakeward.catalog import Catalog
from lakeward.policy import PolicyEngine, acknowledge_purpose, load_bundle

from .conftest import add_dataset


def test_unclassified_columns_are_masked_classified_ones_shown(
    catalog: Catalog, bundle_dir: Path
) -> None:
    add_dataset(catalog, "ops.metrics", [], {"requests": ["not_sensitive"]}, classified=False)
    engine = PolicyEngine(load_bundle(bundle_dir), catalog)
    shown = engine.decide("alice", "catalog.read_metadata", "column:ops.metrics/requests")
    hidden = engine.decide("alice", "catalog.read_metadata", "column:ops.metrics/id")
    assert shown.allowed and not hidden.allowed
    dataset = engine.decide("alice", "catalog.read_metadata", "dataset:ops.metrics")
    assert dataset.allowed and "mask:id" in dataset.obligations
    assert "mask:requests" not in dataset.obligations


def _without_classified(bundle_dir: Path) -> None:
    """Make ``bundle_dir`` a bundle from before ``classified``: no attribute, no rules on it."""
    schema = bundle_dir / "schema.cedarschema"
    text = re.sub(r'(\n\s*//[^\n]*)*\n\s*"classified": Bool,', "", schema.read_text())
    assert '"classified"' not in text
    schema.write_text(text)
    access = bundle_dir / "access.cedar"
    access.write_text(access.read_text().replace("resource.classified &&", ""))
    guards = bundle_dir / "guards.cedar"
    kept = [
        block for block in guards.read_text().split("\n\n") if "resource.classified" not in block
    ]
    guards.write_text("\n\n".join(kept))


def test_a_bundle_without_the_classified_attribute_still_decides(
    catalog: Catalog, bundle_dir: Path
) -> None:
    _without_classified(bundle_dir)
    add_dataset(catalog, "ops.metrics", [], classified=False)
    engine = PolicyEngine(load_bundle(bundle_dir), catalog)
    decision = engine.decide("alice", "catalog.read_metadata", "column:ops.metrics/id")
    assert decision.allowed, decision
    acknowledge_purpose(catalog, engine.bundle, "alice", "analytics")
    read = engine.decide("alice", "lake.read_content", "ops.metrics", {"purpose": "analytics"})
    assert read.allowed and read.obligations == (), read
