"""Real-world text files before Spark: RFC 4180 dialects, long records, deep JSON, no values
in errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lakeward.errors import DatasetMalformed, LakeError, SchemaConflict
from lakeward.lake import discover
from lakeward.lake._schema import plan_read
from lakeward.lake._text import MAX_JSON_DEPTH

SECRET = "ceo.private@corp.example"

ROWS = [
    ["id", "name", "note"],
    ["1", "Zoë", 'said "hi"; then\nleft, a|b\tc'],
    ["2", "Jürgen €", "plain"],
]


def _csv_text(delimiter: str, newline: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(ROWS)
    return out.getvalue()


def _one(root: Path):  # type: ignore[no-untyped-def]
    (spec,) = discover(root)
    return spec


DIALECTS = {
    # file name: (bytes, delimiter, encoding, bom)
    "comma.csv": (_csv_text(",").encode(), ",", "UTF-8", False),
    "crlf_semicolon_bom.csv": (
        b"\xef\xbb\xbf" + _csv_text(";", "\r\n").encode(),
        ";",
        "UTF-8",
        True,
    ),
    "tab_utf16le.csv": (_csv_text("\t").encode("utf-16"), "\t", "UTF-16LE", True),
    "pipe_utf16be.csv": (
        b"\xfe\xff" + _csv_text("|").encode("utf-16-be"),
        "|",
        "UTF-16BE",
        True,
    ),
    "cp1252.csv": (_csv_text(";").encode("cp1252"), ";", "windows-1252", False),
}


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_csv_dialect_is_sniffed_and_recorded(tmp_path: Path, name: str) -> None:
    from pyspark.sql import types as T

    from lakeward.lake._schema import read_options

    data, delimiter, encoding, bom = DIALECTS[name]
    (tmp_path / name).write_bytes(data)
    spec = _one(tmp_path)
    plan = plan_read(spec)
    assert plan.columns == ["id", "name", "note"]  # no BOM in the first name, no split
    assert plan.schema is not None and plan.schema["id"].dataType == T.LongType()
    assert plan.dialect is not None
    assert plan.dialect.to_dict() == {
        "delimiter": delimiter,
        "encoding": encoding,
        "bom": bom,
        "quote": '"',
        "escape": '"',
        "header": True,
    }
    expected = {"sep": delimiter, "quote": '"', "escape": '"', "multiLine": "true"}
    assert expected.items() <= plan.options.items()
    assert plan.options["mode"] == "FAILFAST"
    assert expected.items() <= read_options(spec).items()  # the profiled-schema path too


def test_latin1_without_bom_reads_as_windows_1252(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_bytes("id,city\n1,Ångström\n".encode("latin-1"))
    plan = plan_read(_one(tmp_path))
    assert plan.dialect is not None and plan.dialect.encoding == "windows-1252"


def test_delimiter_inside_quotes_does_not_win(tmp_path: Path) -> None:
    # Many semicolons, all quoted: the comma is still the delimiter.
    rows = "".join(f'{i},"a;b;c;d;{i}"\n' for i in range(30))
    (tmp_path / "q.csv").write_text("id,text\n" + rows)
    plan = plan_read(_one(tmp_path))
    assert plan.dialect is not None and plan.dialect.delimiter == ","
    assert plan.columns == ["id", "text"]


def test_sniff_window_cut_inside_a_quoted_line_break(tmp_path: Path) -> None:
    # Every record spans two lines; the window ends in the middle of one of them.
    rows = "".join(f'{i},"first line {i}\nsecond, line",{i * 2}\n' for i in range(2000))
    (tmp_path / "m.csv").write_text("id,text,n\n" + rows)
    plan = plan_read(_one(tmp_path), sniff_bytes=4096 + 17)
    assert plan.columns == ["id", "text", "n"]
    assert plan.schema is not None and plan.schema["n"].dataType.simpleString() == "bigint"


def test_part_files_in_different_dialects_conflict(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "part-0.csv").write_text("a,b\n1,2\n")
    (d / "part-1.csv").write_text("a;b\n1;2\n")
    with pytest.raises(SchemaConflict, match="another CSV dialect"):
        plan_read(_one(tmp_path))


def test_ascii_part_and_windows_1252_part_share_a_dialect(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "part-0.csv").write_text("a,b\n1,x\n")
    (d / "part-1.csv").write_bytes("a,b\n2,€\n".encode("cp1252"))
    plan = plan_read(_one(tmp_path))
    assert plan.dialect is not None and plan.dialect.encoding == "windows-1252"


# ---------------------------------------------------------------- records cut by the window


def test_3_mb_json_record_is_not_judged_by_its_first_mebibyte(tmp_path: Path) -> None:
    big = {"id": 1, "blob": "x" * (3 << 20), "tags": ["a"]}
    (tmp_path / "big.jsonl").write_text(json.dumps(big) + "\n" + json.dumps({"id": 2}) + "\n")
    plan = plan_read(_one(tmp_path))  # default window: 1 MiB
    assert plan.columns == ["id", "blob", "tags"]


def test_3_mb_quoted_csv_field_in_the_first_record(tmp_path: Path) -> None:
    field = ("lorem;ipsum\n" * 270_000)[: 3 << 20]
    (tmp_path / "big.csv").write_text(f'id;text\n1;"{field}"\n2;short\n')
    plan = plan_read(_one(tmp_path))
    assert plan.dialect is not None and plan.dialect.delimiter == ";"
    assert plan.columns == ["id", "text"]


def test_record_longer_than_the_cap_is_refused_precisely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lakeward.lake._text.MAX_RECORD_BYTES", 256 << 10)
    (tmp_path / "huge.jsonl").write_text(json.dumps({"blob": "y" * (300 << 10)}) + "\n")
    with pytest.raises(DatasetMalformed) as info:
        plan_read(_one(tmp_path), sniff_bytes=4096)
    message = str(info.value)
    assert "huge.jsonl has a first record longer than" in message
    assert "no line end in its first 256 KiB" in message
    assert "yyyy" not in message


# ---------------------------------------------------------------- deep JSON


def _deep_line(levels: int) -> str:
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def test_100k_deep_json_is_refused_without_crashing(tmp_path: Path) -> None:
    # In a child process: before the depth check, pyarrow segfaulted on this (exit 139).
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": [1]}\n{"a": [2]}\n' + _deep_line(100_000) + "\n")
    script = textwrap.dedent(
        f"""
        from lakeward.errors import DatasetMalformed
        from lakeward.lake import discover
        from lakeward.lake._schema import plan_read
        try:
            plan_read(discover({str(tmp_path)!r})[0])
        except DatasetMalformed as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "deep.jsonl line 3 (byte 155)" in done.stdout  # the line starts at byte 22
    assert "nested deeper than 128 levels" in done.stdout


def test_10k_deep_json_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "deep.jsonl").write_text(_deep_line(10_000) + "\n")
    with pytest.raises(DatasetMalformed, match=r"deep.jsonl line 1 \(byte 133\)"):
        plan_read(_one(tmp_path))


def test_depth_limit_is_exact_and_strings_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text(
        _deep_line(MAX_JSON_DEPTH) + "\n" + json.dumps({"a": [[1]], "s": "[" * 5000}) + "\n"
    )
    plan_read(_one(tmp_path))
    (tmp_path / "ok.jsonl").rename(tmp_path / "bad.jsonl")
    with open(tmp_path / "bad.jsonl", "a") as fh:
        fh.write(_deep_line(MAX_JSON_DEPTH + 1) + "\n")
    with pytest.raises(DatasetMalformed, match="line 3"):
        plan_read(_one(tmp_path))


# ---------------------------------------------------------------- no values in errors


def _error(tmp_path: Path) -> LakeError:
    with pytest.raises(LakeError) as info:
        plan_read(_one(tmp_path))
    return info.value


def test_ragged_csv_error_names_line_not_values(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(f"id,email,salary\n1,a@x.org,5\n2,{SECRET},600,extra\n")
    err = _error(tmp_path)
    assert "r.csv is not valid CSV (line 3: the record has 4 fields, the header has 3" in str(err)
    assert SECRET not in str(err) and "extra" not in str(err)
    assert err.__cause__ is None


def test_bad_json_error_names_line_not_values(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a": "' + SECRET + '",}\n')
    err = _error(tmp_path)
    assert "e.jsonl is not valid JSON lines (line 3 (byte 18): not valid JSON" in str(err)
    assert SECRET not in str(err)


def test_header_mismatch_does_not_quote_a_headerless_first_row(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "part-0.csv").write_text("id,email\n1,a@x.org\n")
    (d / "part-1.csv").write_text(f"2,{SECRET}\n3,b@x.org\n")
    err = _error(tmp_path)
    assert isinstance(err, SchemaConflict)
    assert "d/part-1.csv (2 columns) differs from" in str(err) and "from column 1 on" in str(err)
    assert SECRET not in str(err)
