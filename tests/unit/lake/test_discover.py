import os
from pathlib import Path

import pytest

from lakeward.errors import LakeError
from lakeward.lake import discover, open_root


def _touch(path: Path, content: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def test_naming_layouts_and_hidden_files(tmp_path: Path) -> None:
    _touch(tmp_path / "sales" / "orders" / "part-00000.parquet")
    _touch(tmp_path / "sales" / "orders" / "part-00001.parquet")
    _touch(tmp_path / "sales" / "orders" / "_SUCCESS")
    _touch(tmp_path / "sales" / "orders" / ".part-00000.parquet.crc")
    _touch(tmp_path / "hr" / "employees.csv")
    _touch(tmp_path / "hr" / "departments.csv")  # a folder of single files, not part files
    _touch(tmp_path / "web" / "clicks" / "data-0001.jsonl.gz")
    _touch(tmp_path / "spark_out" / "a-file.csv")
    _touch(tmp_path / "spark_out" / "_SUCCESS")  # Spark output dir with free-form names
    _touch(tmp_path / "_staging" / "x.parquet")
    _touch(tmp_path / ".trash" / "y.csv")
    _touch(tmp_path / "notes.txt")
    specs = {s.name: s for s in discover(tmp_path)}
    assert sorted(specs) == [
        "hr.departments",
        "hr.employees",
        "sales.orders",
        "spark_out",
        "web.clicks",
    ]
    orders = specs["sales.orders"]
    assert (orders.format, orders.layout, len(orders.files)) == ("parquet", "directory", 2)
    assert orders.uri == (tmp_path / "sales" / "orders").resolve().as_uri()
    assert specs["hr.employees"].layout == "file" and specs["hr.employees"].format == "csv"
    assert specs["web.clicks"].format == "json"


def test_name_clash_gets_format_suffix(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "b.csv")
    _touch(tmp_path / "a" / "b.parquet")
    assert [s.name for s in discover(tmp_path)] == ["a.b.csv", "a.b.parquet"]


def test_signature_changes_with_size_or_mtime(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    _touch(f, b"a\n1\n")
    before = discover(tmp_path)[0].signature
    assert discover(tmp_path)[0].signature == before
    os.utime(f, ns=(1_000_000_000, 1_000_000_000))
    after_mtime = discover(tmp_path)[0].signature
    assert after_mtime != before
    _touch(f, b"a\n1\n2\n")
    os.utime(f, ns=(1_000_000_000, 1_000_000_000))
    assert discover(tmp_path)[0].signature != after_mtime


def test_dangling_link_is_listed_with_its_error(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    _touch(tmp_path / "d" / "part-0.csv", b"a\n1\n")
    os.symlink(tmp_path / "gone.csv", tmp_path / "d" / "part-1.csv")
    (spec,) = discover(tmp_path)
    errors = {f.relpath: f.error for f in spec.files}
    assert errors["d/part-0.csv"] is None
    assert "cannot stat" in (errors["d/part-1.csv"] or "")


def test_nonexistent_and_file_roots(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="does not exist") as info:
        open_root(tmp_path / "missing")
    assert "lakeward lake generate" in str(info.value)
    _touch(tmp_path / "f.csv")
    with pytest.raises(LakeError, match="is a file"):
        open_root(tmp_path / "f.csv")


def test_remote_listing_agrees_with_local(tmp_path: Path) -> None:
    """The pyarrow.fs path (used for s3://, gs://, hdfs://) finds the same datasets."""
    from lakeward.lake import LakeRoot

    _touch(tmp_path / "sales" / "orders" / "part-00000.parquet", b"abc")
    _touch(tmp_path / "sales" / "orders" / "part-00001.parquet", b"abcd")
    _touch(tmp_path / "sales" / "orders" / "_SUCCESS")
    _touch(tmp_path / "hr" / "employees.csv", b"a\n1\n")
    _touch(tmp_path / "_tmp" / "x.csv")
    local = open_root(tmp_path)
    remote = LakeRoot(uri=local.uri, path=local.path, local=False)

    def shape(root: LakeRoot) -> list[tuple[str, str, str, list[tuple[str, int]]]]:
        return [
            (s.name, s.format, s.layout, [(f.relpath, f.size) for f in s.files])
            for s in discover(root)
        ]

    assert shape(remote) == shape(local)
    assert [s.name for s in discover(remote)] == ["hr.employees", "sales.orders"]
