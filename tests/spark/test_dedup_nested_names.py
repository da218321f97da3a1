"""Containment over datasets whose nested field names need quoting (spaces, backticks, colons)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import Catalog
from lakeward.dedup import find_containment
from lakeward.lake import profile_datasets

pytestmark = pytest.mark.spark


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "address": {"street name": f"{i} Elm St", "no`te": i % 7, "a:b": f"x{i}"}}
        for i in range(n)
    ]


def test_nested_field_names_with_spaces_and_backticks_are_compared(
    spark: Any, catalog: Catalog, tmp_path: Path
) -> None:
    from lakeward.policy import acknowledge_purpose, engine_for

    acknowledge_purpose(catalog, engine_for(catalog).bundle, "local-user", "data_governance")
    root = tmp_path / "lake"
    root.mkdir()
    pq.write_table(pa.Table.from_pylist(_rows(40)), root / "parent.parquet")
    pq.write_table(pa.Table.from_pylist(_rows(40)[5:25]), root / "child.parquet")
    (root / "parent_j.jsonl").write_text("\n".join(json.dumps(r) for r in _rows(30)) + "\n")
    (root / "child_j.jsonl").write_text("\n".join(json.dumps(r) for r in _rows(30)[:12]) + "\n")
    profiled = profile_datasets(catalog, root=root)
    assert not profiled.errors and len(profiled.by_status("profiled")) == 4
    report = find_containment(catalog)
    assert report.failed == {}
    status = {(e["child"], e["parent"]): e["status"] for e in report.edges}
    assert status[("child", "parent")] == "contained"
    assert status[("child_j", "parent_j")] == "contained"
    assert status.get(("parent", "child")) != "contained"
