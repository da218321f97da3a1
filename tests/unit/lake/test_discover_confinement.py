"""A lake root confines discovery and reading: symbolic links, loops, and names that clash."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from lakeward.catalog import Catalog, DatasetRepository
from lakeward.errors import DatasetUnreadable
from lakeward.lake import (
    LakeDiscovery,
    discover,
    discover_lake,
    open_root,
    profile_one,
    register_lake,
    spec_for,
)
from lakeward.lake._schema import plan_read
from tests.conftest import allow_profiling

PAYROLL = b"name,ssn\nAda,123-45-6789\nBob,987-65-4321\n"


def _touch(path: Path, content: bytes = b"a\n1\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A small lake (three datasets) beside a payroll file that is not part of it."""
    _touch(tmp_path / "private" / "payroll.csv", PAYROLL)
    root = tmp_path / "lake"
    _touch(root / "sales" / "orders.csv")
    _touch(root / "hr" / "teams.csv")
    _touch(root / "web" / "clicks" / "part-0.csv")
    return root


def _discover_within(root: Path, seconds: float = 30.0) -> LakeDiscovery:
    """Discovery in a thread, so that a walk that never ends fails the test instead of hanging."""
    found: list[LakeDiscovery] = []
    worker = threading.Thread(target=lambda: found.append(discover_lake(root)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert found, f"discovery did not finish within {seconds} s"
    return found[0]


def test_a_file_link_leading_outside_the_root_is_skipped_and_never_read(lake: Path) -> None:
    os.symlink(lake.parent / "private" / "payroll.csv", lake / "hr" / "pay.csv")
    found = discover_lake(lake)
    assert [s.name for s in found.datasets] == ["hr.teams", "sales.orders", "web.clicks"]
    (skip,) = found.skipped
    assert skip.relpath == "hr/pay.csv" and "outside the lake root" in skip.reason
    assert any("hr/pay.csv" in w and "outside the lake root" in w for w in found.warnings)


def test_a_part_file_link_leading_outside_fails_its_dataset_naming_the_file(lake: Path) -> None:
    os.symlink(lake.parent / "private" / "payroll.csv", lake / "web" / "clicks" / "part-1.csv")
    found = discover_lake(lake)
    (clicks,) = [s for s in found.datasets if s.name == "web.clicks"]
    errors = {f.relpath: f.error for f in clicks.files}
    assert errors["web/clicks/part-0.csv"] is None
    assert "outside the lake root" in (errors["web/clicks/part-1.csv"] or "")
    sizes = {f.relpath: f.size for f in clicks.files}
    assert sizes["web/clicks/part-1.csv"] == -1  # the target is not even stat'ed
    with pytest.raises(DatasetUnreadable, match=r"part-1\.csv cannot be read .*outside"):
        plan_read(clicks)


def test_a_directory_link_to_a_parent_neither_multiplies_datasets_nor_hangs(lake: Path) -> None:
    os.symlink("..", lake / "web" / "up")
    os.symlink("../..", lake / "hr" / "up")
    found = _discover_within(lake)
    assert [s.name for s in found.datasets] == ["hr.teams", "sales.orders", "web.clicks"]
    assert sorted(s.relpath for s in found.skipped) == ["hr/up", "web/up"]
    reasons = {s.relpath: s.reason for s in found.skipped}
    assert "inside the lake" in reasons["web/up"]  # web/up → the root itself
    assert "outside the lake root" in reasons["hr/up"]  # hr/up → the lake's parent


def test_a_directory_link_leading_outside_is_not_followed(lake: Path) -> None:
    os.symlink(lake.parent / "private", lake / "hr" / "private")
    found = discover_lake(lake)
    assert [s.name for s in found.datasets] == ["hr.teams", "sales.orders", "web.clicks"]
    assert [(s.relpath, "outside" in s.reason) for s in found.skipped] == [("hr/private", True)]


def test_a_file_link_inside_the_root_is_read_but_not_into_hidden_paths(lake: Path) -> None:
    os.symlink("orders.csv", lake / "sales" / "latest.csv")
    _touch(lake / "_trash" / "old.csv")
    os.symlink("../_trash/old.csv", lake / "sales" / "old.csv")
    found = discover_lake(lake)
    names = [s.name for s in found.datasets]
    assert names == ["hr.teams", "sales.latest", "sales.orders", "web.clicks"]
    latest = next(s for s in found.datasets if s.name == "sales.latest")
    assert latest.files[0].error is None and latest.files[0].size == 4
    assert [s.relpath for s in found.skipped] == ["sales/old.csv"]
    assert "hidden" in found.skipped[0].reason


def test_a_link_swapped_in_after_registration_is_refused_when_listed_again(lake: Path) -> None:
    specs = {s.name: s for s in discover(lake)}
    root = open_root(lake)
    (lake / "sales" / "orders.csv").unlink()
    os.symlink(lake.parent / "private" / "payroll.csv", lake / "sales" / "orders.csv")
    shutil.rmtree(lake / "web" / "clicks")
    os.symlink(lake.parent / "private", lake / "web" / "clicks")
    from lakeward.lake._discover import list_files

    for name in ("sales.orders", "web.clicks"):
        spec = specs[name]
        (listed,) = list_files(root, spec.relpath, spec.layout)
        assert listed.error and "outside the lake root" in listed.error, name
        assert listed.size == -1


def test_profiling_refuses_a_file_swapped_for_a_link_outside_the_root(
    catalog: Catalog, lake: Path
) -> None:
    """End to end: registered, then swapped; profiling fails the dataset before any read."""
    allow_profiling(catalog)
    register_lake(catalog, lake)
    (lake / "sales" / "orders.csv").unlink()
    os.symlink(lake.parent / "private" / "payroll.csv", lake / "sales" / "orders.csv")
    with catalog.session() as session:
        dataset = DatasetRepository(session).require("sales.orders")
        session.expunge(dataset)
    assert "outside the lake root" in (spec_for(dataset).files[0].error or "")
    outcome = profile_one(catalog, "sales.orders")
    assert outcome.status == "failed" and "outside the lake root" in (outcome.error or "")
    assert "123-45" not in (outcome.error or "")


def test_a_dotted_file_beside_a_directory_of_the_same_path_gets_a_distinct_name(
    tmp_path: Path,
) -> None:
    _touch(tmp_path / "a.b.csv")
    _touch(tmp_path / "a" / "b.csv")
    _touch(tmp_path / "c.csv")
    found = discover_lake(tmp_path)
    names = {s.relpath: s.name for s in found.datasets}
    assert names == {"a.b.csv": "a_b.csv", "a/b.csv": "a.b.csv", "c.csv": "c"}
    (note,) = found.notes
    assert "a.b.csv and a/b.csv" in note and "a.b.csv → a_b.csv" in note and "Fix" in note


def test_a_format_suffix_that_meets_a_directory_dataset_is_made_unique(tmp_path: Path) -> None:
    _touch(tmp_path / "a.b.csv")
    _touch(tmp_path / "a.b.parquet")
    _touch(tmp_path / "a" / "b.csv" / "part-0.csv")  # a directory dataset named a.b.csv
    names = {s.relpath: s.name for s in discover(tmp_path)}
    assert len(set(names.values())) == 3
    assert names["a/b.csv"] == "a.b.csv" and names["a.b.parquet"] == "a.b.parquet"
    assert names["a.b.csv"] == "a_b.csv"


def test_names_that_still_clash_get_a_path_hash(tmp_path: Path) -> None:
    _touch(tmp_path / "a.b.csv")
    _touch(tmp_path / "a" / "b.csv")
    _touch(tmp_path / "a_b.csv")  # takes the dotless name too: a_b.csv after the suffix step
    _touch(tmp_path / "a_b.parquet")
    names = [s.name for s in discover(tmp_path)]
    assert len(names) == len(set(names)) == 4
    assert any("~" in n for n in names)


def test_registration_of_a_lake_with_clashing_paths_registers_every_dataset(
    catalog: Catalog, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    _touch(root / "a.b.csv")
    _touch(root / "a" / "b.csv")
    _touch(root / "sales" / "orders.csv")
    allow_profiling(catalog)
    report = register_lake(catalog, root)
    assert report.datasets == ["a.b.csv", "a_b.csv", "sales.orders"]
    assert any("a.b.csv and a/b.csv" in w for w in report.warnings)
    assert register_lake(catalog, root).known == report.datasets  # stable on re-run
