"""The tagging sampling job: bounded, seeded, leaves of nested columns, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import Catalog
from lakeward.errors import InputError
from lakeward.lake import profile_datasets, register_lake
from lakeward.tagging._sample import ELEMENTS_PER_ROW, ColumnSample, sample_dataset

pytestmark = pytest.mark.spark


def _by_column(samples: list[ColumnSample]) -> dict[str, ColumnSample]:
    return {s.column: s for s in samples}


def _people(lo: int, hi: int) -> pa.Table:
    ids = list(range(lo, hi))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "email": pa.array([f"user{i}@example.com" for i in ids]),
            "note": pa.array([None if i % 4 == 0 else f"n{i}" for i in ids]),
        }
    )


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    (root / "big").mkdir(parents=True)
    for part in range(4):  # 20,000 rows in 4 files
        pq.write_table(
            _people(part * 5000, (part + 1) * 5000), root / "big" / f"part-{part:05d}.parquet"
        )
    pq.write_table(_people(0, 50), root / "small.parquet")
    return root


def test_sample_is_seeded_bounded_and_spread(spark: Any, catalog: Catalog, lake: Path) -> None:
    assert not profile_datasets(catalog, root=lake).errors
    first = _by_column(sample_dataset(catalog, "big", rows=300, seed=1, spark=spark))
    again = _by_column(sample_dataset(catalog, "big", rows=300, seed=1, spark=spark))
    other = _by_column(sample_dataset(catalog, "big", rows=300, seed=2, spark=spark))
    assert list(first) == ["id", "email", "note"]
    assert first["id"].declared_type == "bigint" and first["email"].declared_type == "string"
    ids = first["id"].values
    assert first["id"].rows_sampled == 300 and len(ids) == 300 and first["id"].nulls == 0
    assert ids == again["id"].values and first["email"].values == again["email"].values
    assert ids != other["id"].values
    assert len(set(ids)) == 300 and all(isinstance(i, int) and 0 <= i < 20_000 for i in ids)
    assert max(ids) > 10_000  # a sample across the files, not the head of the first
    emails = first["email"].values
    assert emails == [f"user{i}@example.com" for i in ids]  # rows stay aligned
    note = first["note"]
    assert note.nulls == sum(1 for i in ids if i % 4 == 0) and len(note.values) == 300 - note.nulls
    assert "values" not in repr(note) and "user" not in repr(first["email"])


def test_small_dataset_is_taken_whole_and_rows_zero_reads_nothing(
    spark: Any, catalog: Catalog, lake: Path
) -> None:
    assert not profile_datasets(catalog, root=lake).errors
    small = _by_column(sample_dataset(catalog, "small", rows=1000, spark=spark))
    assert small["id"].rows_sampled == 50 and sorted(small["id"].values) == list(range(50))  # type: ignore[type-var]
    none = sample_dataset(catalog, "small", rows=0, spark=spark)
    assert [(s.column, s.rows_sampled, s.values) for s in none] == [
        ("id", 0, []),
        ("email", 0, []),
        ("note", 0, []),
    ]
    with pytest.raises(InputError, match="rows"):
        sample_dataset(catalog, "small", rows=-1, spark=spark)
    with pytest.raises(InputError, match="max_value_bytes"):
        sample_dataset(catalog, "small", max_value_bytes=0, spark=spark)


def test_registered_but_never_profiled_dataset_is_counted_then_sampled(
    spark: Any, catalog: Catalog, lake: Path
) -> None:
    register_lake(catalog, lake)
    got = _by_column(sample_dataset(catalog, "big", rows=100, seed=3, spark=spark))
    assert got["id"].rows_sampled == 100 and len(set(got["id"].values)) == 100


def _nested_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "address": {
                "street name": f"{i} Elm St",
                "no`te": i % 7,
                "geo": {"lat": 52.0 + i / 100},
            },
            "tags": None if i == 3 else [f"t{i}", None, f"u{i}"],
            "items": [{"sku": f"S{i}-{k}", "qty": k} for k in range(i % 3)],
            "matrix": [[i, i + 1], [i + 2]],
            "many": list(range(40)),
            "attrs": [("colour", f"c{i}")],
            "blob": None if i % 2 else b"\x00\x01",
        }
        for i in range(10)
    ]


def test_nested_structs_arrays_maps_and_binary_become_leaves(
    spark: Any, catalog: Catalog, tmp_path: Path
) -> None:
    root = tmp_path / "nested"
    root.mkdir()
    schema = pa.schema(
        [
            ("id", pa.int64()),
            (
                "address",
                pa.struct(
                    [
                        ("street name", pa.string()),
                        ("no`te", pa.int64()),
                        ("geo", pa.struct([("lat", pa.float64())])),
                    ]
                ),
            ),
            ("tags", pa.list_(pa.string())),
            ("items", pa.list_(pa.struct([("sku", pa.string()), ("qty", pa.int64())]))),
            ("matrix", pa.list_(pa.list_(pa.int64()))),
            ("many", pa.list_(pa.int64())),
            ("attrs", pa.map_(pa.string(), pa.string())),
            ("blob", pa.binary()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(_nested_rows(10), schema=schema), root / "people.parquet")
    (root / "people_j.jsonl").write_text(
        "\n".join(
            json.dumps({"id": i, "address": {"street name": f"{i} Oak Rd", "a:b": [f"x{i}"]}})
            for i in range(5)
        )
        + "\n"
    )
    assert not profile_datasets(catalog, root=root).errors
    got = _by_column(sample_dataset(catalog, "people", spark=spark))
    assert list(got) == [
        "id",
        "address.street name",
        "address.no`te",
        "address.geo.lat",
        "tags[]",
        "items[].sku",
        "items[].qty",
        "matrix[][]",
        "many[]",
        "attrs{}",
        "blob",
    ]
    assert {s.rows_sampled for s in got.values()} == {10}
    assert got["address.street name"].values == [f"{i} Elm St" for i in range(10)]
    assert got["address.no`te"].declared_type == "bigint"
    assert got["address.geo.lat"].values[0] == 52.0
    tags = got["tags[]"]
    assert tags.declared_type == "string" and tags.nulls == 1
    assert tags.values == [v for i in range(10) if i != 3 for v in (f"t{i}", f"u{i}")]
    assert got["items[].sku"].values == [f"S{i}-{k}" for i in range(10) for k in range(i % 3)]
    assert got["items[].qty"].declared_type == "bigint"
    assert got["matrix[][]"].values[:3] == [0, 1, 2]
    assert len(got["many[]"].values) == 10 * ELEMENTS_PER_ROW
    assert got["attrs{}"].values == [f"c{i}" for i in range(10)]
    blob = got["blob"]
    assert blob.declared_type == "binary" and blob.values == [] and blob.nulls == 5
    json_leaves = _by_column(sample_dataset(catalog, "people_j", spark=spark))
    assert json_leaves["address.a:b[]"].values == [f"x{i}" for i in range(5)]
    assert json_leaves["address.street name"].values == [f"{i} Oak Rd" for i in range(5)]


def test_all_null_and_empty_columns_and_an_empty_dataset(
    spark: Any, catalog: Catalog, tmp_path: Path
) -> None:
    root = tmp_path / "nulls"
    root.mkdir()
    table = pa.table(
        {
            "id": pa.array(range(20), pa.int64()),
            "gone": pa.array([None] * 20, pa.string()),
            "blank": pa.array([""] * 20, pa.string()),
            "nothing": pa.array([[] for _ in range(20)], pa.list_(pa.string())),
        }
    )
    pq.write_table(table, root / "sparse.parquet")
    pq.write_table(table.slice(0, 0), root / "empty.parquet")
    (root / "sparse_csv.csv").write_text("id,gone\n" + "".join(f"{i},\n" for i in range(20)))
    assert not profile_datasets(catalog, root=root).errors
    got = _by_column(sample_dataset(catalog, "sparse", spark=spark))
    assert (got["gone"].values, got["gone"].nulls, got["gone"].rows_sampled) == ([], 20, 20)
    assert got["blank"].values == [""] * 20 and got["blank"].nulls == 0
    assert got["nothing[]"].values == [] and got["nothing[]"].nulls == 0
    empty = sample_dataset(catalog, "empty", spark=spark)
    assert [(s.column, s.rows_sampled, s.nulls, s.values) for s in empty] == [
        ("id", 0, 0, []),
        ("gone", 0, 0, []),
        ("blank", 0, 0, []),
        ("nothing[]", 0, 0, []),
    ]
    csv = _by_column(sample_dataset(catalog, "sparse_csv", spark=spark))
    assert csv["gone"].values == [] and csv["gone"].nulls == 20


def test_a_10_mb_value_is_cut_in_spark(spark: Any, catalog: Catalog, tmp_path: Path) -> None:
    root = tmp_path / "huge"
    root.mkdir()
    huge = "é" * (5 * 1024 * 1024)  # 10 MiB of two-byte characters
    pq.write_table(
        pa.table({"id": [1, 2], "body": [huge, "short"], "tags": [[huge], ["x"]]}),
        root / "docs.parquet",
    )
    (root / "docs_csv.csv").write_text("id,body\n1," + "a" * (10 * 1024 * 1024) + "\n2,b\n")
    assert not profile_datasets(catalog, root=root).errors
    got = _by_column(sample_dataset(catalog, "docs", max_value_bytes=1001, spark=spark))
    body = got["body"].values
    assert body == ["é" * 500, "short"]  # 1,001 bytes cut inside a character: it is dropped
    assert got["tags[]"].values == ["é" * 500, "x"]
    csv = _by_column(sample_dataset(catalog, "docs_csv", spark=spark))
    assert [len(str(v)) for v in csv["body"].values] == [65536, 1]


def test_mixed_type_csv_column(
    spark: Any, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWARD_LAKE_SNIFF_BYTES", "4096")
    root = tmp_path / "mixed"
    root.mkdir()
    lines = ["id,code,amount"]
    lines += [f"{i},{i * 7},{i}.5" for i in range(2000)]  # the 4 KiB head sees integers only
    lines += [f"{i},X-{i},{i}.5" for i in range(2000, 2100)]
    (root / "codes.csv").write_text("\n".join(lines) + "\n")
    (root / "codes_late.csv").write_text("\n".join(lines) + "\n")

    register_lake(catalog, root)  # never profiled: the failing read is retried as text
    unprofiled = _by_column(sample_dataset(catalog, "codes_late", rows=5000, spark=spark))
    assert unprofiled["code"].declared_type == "string"
    assert unprofiled["code"].rows_sampled == 2100
    assert "X-2050" in unprofiled["code"].values and "14" in unprofiled["code"].values

    assert not profile_datasets(catalog, ["codes"]).errors  # widens code to string
    got = _by_column(sample_dataset(catalog, "codes", rows=5000, spark=spark))
    assert got["code"].declared_type == "string" and got["id"].declared_type == "bigint"
    assert got["amount"].declared_type == "double"
    assert len(got["code"].values) == 2100 and "X-2099" in got["code"].values
