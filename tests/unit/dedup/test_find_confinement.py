"""Dedup never reads a dataset whose current files include one that cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

from lakeward.catalog import Catalog
from lakeward.dedup._find import _current_specs
from lakeward.lake import register_lake
from tests.conftest import allow_profiling


def test_a_part_file_swapped_for_a_link_outside_the_root_makes_the_dataset_unreadable(
    catalog: Catalog, tmp_path: Path
) -> None:
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "payroll.csv").write_text("name,ssn\nAda,123-45-6789\n")
    clicks = tmp_path / "lake" / "web" / "clicks"
    clicks.mkdir(parents=True)
    (clicks / "part-0.csv").write_text("a\n1\n")
    (clicks / "part-1.csv").write_text("a\n2\n")
    allow_profiling(catalog)
    register_lake(catalog, tmp_path / "lake")
    assert _current_specs(catalog, ["web.clicks"])["web.clicks"] is not None
    (clicks / "part-1.csv").unlink()
    os.symlink(tmp_path / "private" / "payroll.csv", clicks / "part-1.csv")
    assert _current_specs(catalog, ["web.clicks"]) == {"web.clicks": None}
