"""Profiling real-world lakes on Spark: RFC 4180 dialects, late values that widen a column,
JSON nested too deep, and failures that never quote a value."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from lakeward.catalog import Catalog, DatasetRepository, dataset_summary
from lakeward.cli import main
from lakeward.errors import LakeError
from lakeward.lake import discover, profile_datasets
from lakeward.lake._profile import profile_dataset
from lakeward.lake._text import MAX_JSON_DEPTH

pytestmark = pytest.mark.spark

SECRET = "ceo.private@corp.example"
NOTE = 'said "hi"; then\nleft, a|b\tc'
ROWS = [["id", "name", "note"], ["1", "Zoë", NOTE], ["2", "Jürgen €", "plain"]]


def _csv_text(delimiter: str, newline: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(ROWS)
    return out.getvalue()


def _columns(name: str) -> dict[str, dict[str, Any]]:
    catalog = Catalog.open()
    try:
        with catalog.session() as s:
            repo = DatasetRepository(s)
            summary = dataset_summary(repo, repo.require(name))
    finally:
        catalog.dispose()
    return {c["name"]: c for c in summary["columns"]}


def test_rfc4180_files_in_every_dialect_profile_and_say_their_dialect(
    spark: Any, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    files = {
        "comma": (_csv_text(",").encode(), ",", "UTF-8", False),
        "semicolon_bom": (b"\xef\xbb\xbf" + _csv_text(";", "\r\n").encode(), ";", "UTF-8", True),
        "tab_utf16le": (_csv_text("\t").encode("utf-16"), "\t", "UTF-16LE", True),
        "pipe_utf16be": (b"\xfe\xff" + _csv_text("|").encode("utf-16-be"), "|", "UTF-16BE", True),
        "cp1252": (_csv_text(";").encode("cp1252"), ";", "windows-1252", False),
    }
    for name, (data, *_) in files.items():
        (root / f"{name}.csv").write_bytes(data)
    code = main(["lake", "profile", str(root), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)
    assert report["profiled"] == len(files) and report["failed"] == 0
    outcomes = {d["name"]: d for d in report["datasets"]}
    for name, (_, delimiter, encoding, bom) in files.items():
        assert outcomes[name]["rows"] == 2, name
        assert outcomes[name]["dialect"] == {
            "delimiter": delimiter,
            "encoding": encoding,
            "bom": bom,
            "quote": '"',
            "escape": '"',
            "header": True,
        }
        assert outcomes[name]["widened"] == []
        cols = _columns(name)
        assert list(cols) == ["id", "name", "note"]
        assert (cols["id"]["type"], cols["id"]["min"], cols["id"]["max"]) == ("bigint", 1, 2)
        assert (cols["name"]["min"], cols["name"]["max"]) == ("Jürgen €", "Zoë"), name
        assert (cols["note"]["min"], cols["note"]["max"]) == ("plain", NOTE), name


def test_values_that_do_not_fit_the_head_widen_the_column(
    spark: Any, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWARD_LAKE_SNIFF_BYTES", "4096")
    root = tmp_path / "lake"
    root.mkdir()
    n = 3000
    with open(root / "late.csv", "w") as fh:
        fh.write("a,b,d,e,s\n")
        fh.writelines(f"{i},{i},2024-01-0{1 + i % 9},{i},text {i}\n" for i in range(n))
        fh.write(f"99999999999999999999,1.5,2024-01-01,{SECRET},last\n")
    with open(root / "late.jsonl", "w") as fh:
        fh.writelines(json.dumps({"a": i, "c": i, "n": {"k": i}}) + "\n" for i in range(n))
        fh.write(json.dumps({"a": SECRET, "c": 2.5, "n": [1]}) + "\n")
    report = profile_datasets(catalog, root=root)
    assert report.errors == {}
    widened = {
        o.name: [(w["column"], w["from"], w["to"]) for w in o.widened] for o in report.outcomes
    }
    assert widened == {
        "late.csv": [
            ("a", "bigint", "double"),
            ("b", "bigint", "double"),
            ("e", "bigint", "string"),
        ],
        "late.json": [
            ("a", "bigint", "string"),
            ("c", "bigint", "double"),
            ("n", "struct<k:bigint>", "string"),
        ],
    }
    for outcome in report.outcomes:
        assert outcome.rows == n + 1
    with catalog.session() as s:
        repo = DatasetRepository(s)
        cols = {c["name"]: c for c in dataset_summary(repo, repo.require("late.csv"))["columns"]}
        jcols = {c["name"]: c for c in dataset_summary(repo, repo.require("late.json"))["columns"]}
    assert {c: cols[c]["type"] for c in cols} == {
        "a": "double",
        "b": "double",
        "d": "date",
        "e": "string",
        "s": "string",
    }
    assert (cols["b"]["min"], cols["b"]["max"]) == (0.0, float(n - 1))
    assert cols["a"]["max"] == 1e20 and cols["e"]["nulls"] == 0
    assert {c: jcols[c]["type"] for c in jcols} == {"a": "string", "c": "double", "n": "string"}
    assert jcols["c"]["max"] == float(n - 1) and jcols["n"]["nulls"] == 0


def test_json_nested_too_deep_fails_that_dataset_only(home: Path, tmp_path: Path) -> None:
    # A real process: before the depth check this crashed the whole command (exit 139).
    root = tmp_path / "lake"
    root.mkdir()
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (root / "deep.jsonl").write_text('{"a": [1]}\n{"a": [2]}\n' + deep + "\n")
    (root / "deep10k.jsonl").write_text('{"a": ' + "[" * 10_000 + "]" * 10_000 + "}\n")
    (root / "ok.csv").write_text("k,v\n1,2\n")
    # Exactly as deep as allowed: read and profiled end to end (PySpark included).
    limit = MAX_JSON_DEPTH - 1
    (root / "limit.jsonl").write_text('{"a": ' + "[" * limit + "1" + "]" * limit + "}\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lakeward"), "lake", "profile", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert done.returncode == 2, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["profiled"], report["failed"]) == (2, 2)
    assert {d["name"] for d in report["datasets"] if d["status"] == "profiled"} == {"ok", "limit"}
    assert "deep.jsonl line 3 (byte 155)" in report["errors"]["deep"]
    assert "deep10k.jsonl line 1 (byte 133)" in report["errors"]["deep10k"]
    for reason in report["errors"].values():
        assert "nested deeper than 128 levels" in reason
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr


def _failure(spark: Any, root: Path, name: str) -> LakeError:
    (spec,) = [s for s in discover(root) if s.name == name]
    with pytest.raises(LakeError) as info:
        profile_dataset(spark, spec, sniff_bytes=4096)
    return info.value


def test_spark_failures_name_file_and_line_never_a_value(spark: Any, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    good = "".join(f"{i},{i}@example.org,{i * 10}\n" for i in range(2000))
    # A ragged record far beyond the sniffed head.
    (root / "ragged.csv").write_text(f"id,email,salary\n{good}600,{SECRET},null,x\n")
    # A late value that widens a column, then a ragged record: the second pass fails too.
    (root / "both.csv").write_text(f"id,email,salary\n{good}1.5,a@b.c,1\n601,{SECRET}\n")
    # A line that is not JSON far beyond the head.
    lines = "".join(json.dumps({"id": i, "email": f"{i}@example.org"}) + "\n" for i in range(2000))
    (root / "broken.jsonl").write_text(lines + '{"id": 600, "email": "' + SECRET + '"\n')
    expected = {
        "ragged": "ragged.csv, line 2002: the record has 4 fields, the header has 3",
        "both": "both.csv, line 2003: the record has 2 fields, the header has 3",
        "broken": "broken.jsonl, line 2001 (byte ",
    }
    for name, where in expected.items():
        err = _failure(spark, root, name)
        text = "".join(traceback.format_exception(err))
        assert where in str(err), str(err)
        assert SECRET not in text and "600," not in text, name
        assert err.__cause__ is None and err.__suppress_context__
