from __future__ import annotations

from pathlib import Path

import pytest

from lakeward.catalog import Catalog
from lakeward.policy import PolicyEngine, load_bundle
from lakeward.policy._tests import seed_datasets


def add_dataset(
    catalog: Catalog,
    name: str,
    tags: list[str],
    column_tags: dict[str, list[str]] | None = None,
    *,
    classified: bool = True,
) -> None:
    """A profiled dataset with approved tags; ``classified``: as a complete classification
    leaves it (untagged columns ``not_sensitive``), else as nobody classified it."""
    seed_datasets(
        catalog, {name: {"tags": tags, "columns": column_tags or {}, "classified": classified}}
    )


@pytest.fixture
def engine(catalog: Catalog, bundle_dir: Path) -> PolicyEngine:
    add_dataset(
        catalog, "sales.customers", ["pii", "financial"], {"email": ["pii_direct"], "city": []}
    )
    add_dataset(catalog, "eu.people", ["pii", "region_eu"])
    add_dataset(catalog, "ops.metrics", [])
    add_dataset(catalog, "health.visits", ["phi", "encryption_required"])
    return PolicyEngine(load_bundle(bundle_dir), catalog)
