from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakeward.catalog import Catalog, ColumnStats, DatasetRepository, TagRepository
from lakeward.policy import PolicyEngine, load_bundle

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def bundle_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the default bundle, configured as LAKEWARD_POLICY_DIR."""
    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target)
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", str(target))
    return target


def add_dataset(
    catalog: Catalog, name: str, tags: list[str], column_tags: dict[str, list[str]] | None = None
) -> None:
    column_tags = column_tags or {}
    columns = ["id", *column_tags]
    with catalog.session() as s:
        repo = DatasetRepository(s)
        d, _ = repo.register(
            name=name,
            uri=f"file:///lake/{name}",
            lake_root="file:///lake",
            format="parquet",
            layout="file",
            file_count=1,
            bytes=1,
        )
        repo.record_profile(
            d,
            rows=1,
            bytes=1,
            file_count=1,
            fingerprint="f" * 64,
            file_signature="s",
            columns=[ColumnStats(c, "string", True, "a", "b", 0, 1) for c in columns],
            seconds=0.0,
            principal=None,
        )
        t = TagRepository(s)
        for tag in tags:
            t.add(d, tag)
        for column, ctags in column_tags.items():
            for tag in ctags:
                t.add(d, tag, column=column)


@pytest.fixture
def engine(catalog: Catalog, bundle_dir: Path) -> PolicyEngine:
    add_dataset(
        catalog, "sales.customers", ["pii", "financial"], {"email": ["pii_direct"], "city": []}
    )
    add_dataset(catalog, "eu.people", ["pii", "region_eu"])
    add_dataset(catalog, "ops.metrics", [])
    add_dataset(catalog, "health.visits", ["phi", "encryption_required"])
    return PolicyEngine(load_bundle(bundle_dir), catalog)
