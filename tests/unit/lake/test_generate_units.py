"""Big lakes for benchmarks: the generator's business units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakeward.errors import InputError
from lakeward.lake import MANIFEST_NAME, discover, generate_lake


def test_units_multiply_the_lake_with_their_own_names_and_rows(tmp_path: Path) -> None:
    one = generate_lake(tmp_path / "one", seed=3, size_mb=1)
    lake = generate_lake(tmp_path / "three", seed=3, size_mb=3, units=3)
    manifest = json.loads((lake.root / MANIFEST_NAME).read_text())
    assert lake.datasets == 3 * one.datasets and lake.derivations == 3 * one.derivations
    assert manifest["units"] == 3
    names = {d["name"] for d in manifest["datasets"]}
    assert {d.name for d in discover(lake.root)} == names
    assert "u001.sales.customers" in names and "u002.sales.customers" in names
    by_name = {d["name"]: d for d in manifest["datasets"]}
    base = [c["name"] for c in by_name["sales.customers"]["columns"]]
    assert [c["name"] for c in by_name["u001.sales.customers"]["columns"]] == [
        f"{c}_1" for c in base
    ]
    renamed = next(
        d for d in manifest["derivations"] if d["child"] == "u002.marketing.crm_customers"
    )
    assert renamed["parent"] == "u002.sales.customers"
    assert renamed["column_map"]["cust_id_2"] == "customer_id_2"
    # Unit 0 is exactly the lake a single-unit generation writes (at its share of the size).
    first = (one.root / "sales" / "customers.parquet").read_bytes()
    assert (lake.root / "sales" / "customers.parquet").read_bytes() == first
    assert (lake.root / "u001" / "sales" / "customers.parquet").read_bytes() != first


@pytest.mark.parametrize("units", [0, -1, 1.5, True])
def test_bad_units_are_refused(tmp_path: Path, units: object) -> None:
    with pytest.raises(InputError, match="units"):
        generate_lake(tmp_path / "x", size_mb=1, units=units)  # type: ignore[arg-type]
