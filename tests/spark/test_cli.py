"""The `lakeward` command: public JSON contract, exit codes, stdout/stderr discipline."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from lakeward.cli import main

pytestmark = pytest.mark.spark


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_register_profile_ls_show_contract(
    spark: Any, catalog_url: str, small_lake: tuple[Path, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    root, expected = small_lake
    code, out, _ = run(capsys, "lake", "register", str(root), "--json")
    assert code == 0
    assert json.loads(out)["added"] == sorted(expected)
    code, out, _ = run(capsys, "lake", "profile", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["profiled"] == 3 and report["failed"] == 0
    code, out, _ = run(capsys, "catalog", "ls", "--json")
    assert code == 0
    listing = json.loads(out)
    assert [d["name"] for d in listing] == sorted(expected)
    for d in listing:
        assert {"name", "uri", "format", "rows", "bytes", "columns"} <= set(d)
        assert d["rows"] == expected[d["name"]]["rows"]
        for c in d["columns"]:
            assert {"name", "type", "min", "max", "nulls", "distinct"} <= set(c)
    code, out, _ = run(capsys, "catalog", "show", "hr.employees", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["name"] == "hr.employees" and shown["versions"][0]["rows"] == 50
    code, out, err = run(capsys, "catalog", "show", "nope")
    assert code == 2 and out == "" and "No dataset named 'nope'" in err


def test_profile_exit_code_2_lists_failures_and_still_prints_data(
    spark: Any, home: Path, small_lake: tuple[Path, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = small_lake
    (root / "hr" / "employees.csv").write_text("a,b\n1,2,3\n")
    code, out, err = run(capsys, "lake", "profile", str(root), "--json")
    assert code == 2
    data = json.loads(out)
    assert data["failed"] == 1 and data["profiled"] == 2
    assert "hr.employees" in err and "the record has 3 fields, the header has 2" in err


def test_nonexistent_root(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "lake", "profile", str(tmp_path / "nope"))
    assert code == 2 and out == ""
    assert "does not exist" in err


def test_unknown_spark_master_changes_nothing(
    home: Path,
    small_lake: tuple[Path, dict],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _ = small_lake
    monkeypatch.setenv("LAKEWARD_SPARK_MASTER", "spork://x")
    code, _, err = run(capsys, "lake", "profile", str(root))
    assert code == 2 and "LAKEWARD_SPARK_MASTER" in err
    monkeypatch.delenv("LAKEWARD_SPARK_MASTER")
    code, out, _ = run(capsys, "catalog", "ls", "--json")
    assert code == 0 and json.loads(out) == []


def test_unreachable_postgres(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LAKEWARD_CATALOG_URL", f"postgresql+psycopg://lw@127.0.0.1:{port}/lw")
    monkeypatch.setenv("LAKEWARD_CATALOG_CONNECT_TIMEOUT_S", "2")
    code, out, err = run(capsys, "catalog", "ls", "--json")
    assert code == 2 and out == ""
    assert "Cannot reach the catalog database" in err and "LAKEWARD_CATALOG_URL" in err


def test_config_show_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "show", "--json")
    rows = {r["setting"]: r for r in json.loads(out)}
    assert code == 0 and rows["home"]["value"] == str(home.resolve())
    assert rows["catalog.url"]["value"].startswith("sqlite:///")


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "lake", "profile", "--no-such-flag")
    assert code == 2 and "no such option" in err.lower()


def test_sample_lake_profiles_cleanly(
    spark: Any, home: Path, sample_lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakeward.lake import MANIFEST_NAME

    manifest = json.loads((sample_lake / MANIFEST_NAME).read_text())
    code, out, err = run(capsys, "lake", "profile", str(sample_lake), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["failed"] == 0 and report["profiled"] == len(manifest["datasets"]) >= 40
    code, out, _ = run(capsys, "catalog", "ls", "--json")
    listing = {d["name"]: d for d in json.loads(out)}
    for ds in manifest["datasets"]:
        got = listing[ds["name"]]
        assert got["rows"] == ds["rows"], ds["name"]
        assert [c["name"] for c in got["columns"]] == [c["name"] for c in ds["columns"]], ds["name"]
    # Exact copies in another format carry the same content fingerprint.
    copies = [d for d in manifest["derivations"] if d["kind"] in ("format_copy", "exact_copy")]
    assert copies
    for d in copies:
        assert listing[d["child"]]["fingerprint"] == listing[d["parent"]]["fingerprint"], d
