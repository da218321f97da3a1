"""File checks before Spark: each bad input is named with its dataset, file and fix."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.errors import DatasetMalformed, DatasetUnreadable, SchemaConflict
from lakeward.lake import discover
from lakeward.lake._schema import plan_read


def _one(root: Path):  # type: ignore[no-untyped-def]
    (spec,) = discover(root)
    return spec


def test_truncated_parquet_is_named(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    pq.write_table(pa.table({"a": [1, 2, 3]}), d / "part-0.parquet")
    pq.write_table(pa.table({"a": [4, 5, 6]}), d / "part-1.parquet")
    data = (d / "part-1.parquet").read_bytes()
    (d / "part-1.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetMalformed) as info:
        plan_read(_one(tmp_path))
    assert info.value.dataset == "t" and info.value.path == "t/part-1.parquet"
    assert "truncated" in str(info.value) and "Fix" in str(info.value)


def test_parquet_type_change_between_parts(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    pq.write_table(pa.table({"a": pa.array([1], pa.int64()), "b": ["x"]}), d / "part-0.parquet")
    pq.write_table(pa.table({"a": pa.array(["1"]), "b": ["y"]}), d / "part-1.parquet")
    with pytest.raises(
        SchemaConflict, match="'a' is int64 in t/part-0.parquet but string in t/part-1.parquet"
    ):
        plan_read(_one(tmp_path))


def test_parquet_column_sets_differ_uses_merge_schema(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    pq.write_table(pa.table({"a": [1]}), d / "part-0.parquet")
    pq.write_table(pa.table({"a": [2], "b": ["new"]}), d / "part-1.parquet")
    plan = plan_read(_one(tmp_path))
    assert plan.options == {"mergeSchema": "true"}


def test_ragged_csv_row_in_head(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DatasetMalformed, match="r.csv is not valid CSV") as info:
        plan_read(_one(tmp_path))
    assert "line 3: the record has 2 fields, the header has 3" in str(info.value)


def test_csv_header_mismatch_between_parts(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    (d / "part-0.csv").write_text("a,b\n1,2\n")
    (d / "part-1.csv").write_text("a,c\n1,2\n")
    with pytest.raises(SchemaConflict, match="header"):
        plan_read(_one(tmp_path))


def test_csv_types_widen_across_part_files(tmp_path: Path) -> None:
    from pyspark.sql import types as T

    d = tmp_path / "c"
    d.mkdir()
    (d / "part-0.csv").write_text("n,d,e\n1,2024-01-01,\n2,2024-01-02,\n")
    (d / "part-1.csv").write_text("n,d,e\n1.5,2024-01-03 10:00:00,x\n")
    plan = plan_read(_one(tmp_path))
    assert plan.schema is not None
    types = {f.name: f.dataType for f in plan.schema.fields}
    assert types == {"n": T.DoubleType(), "d": T.TimestampNTZType(), "e": T.StringType()}
    assert plan.options["mode"] == "FAILFAST"
    assert plan.widened == []
    # Text in a later part file: the column is read as a string, and the plan says so.
    (d / "part-2.csv").write_text("n,d,e\nabc,2024-01-01,x\n")
    plan = plan_read(_one(tmp_path))
    assert plan.schema is not None
    assert plan.schema["n"].dataType == T.StringType()
    (widening,) = plan.widened
    assert widening.to_dict() == {
        "column": "n",
        "from": "double",
        "to": "string",
        "reason": "c/part-2.csv has string values",
    }


def test_json_dates_and_nested(tmp_path: Path) -> None:
    from pyspark.sql import types as T

    rows = [
        {"id": i, "day": f"2024-01-0{1 + i}", "at": f"2024-01-01 00:00:0{i}", "x": {"k": i}}
        for i in range(3)
    ]
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = plan_read(_one(tmp_path))
    assert plan.schema is not None
    types = {f.name: f.dataType for f in plan.schema.fields}
    assert types["day"] == T.DateType()
    assert types["at"] == T.TimestampNTZType()
    assert types["x"] == T.StructType([T.StructField("k", T.LongType(), True)])


def test_garbage_json_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text('{"a": 1}\nnot json at all\n')
    with pytest.raises(DatasetMalformed, match="e.jsonl is not valid JSON"):
        plan_read(_one(tmp_path))


def test_dangling_part_file_is_unreadable(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "part-0.csv").write_text("a\n1\n")
    (d / "part-1.csv").symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(DatasetUnreadable, match="d/part-1.csv cannot be read") as info:
        plan_read(_one(tmp_path))
    assert "Fix" in str(info.value)
