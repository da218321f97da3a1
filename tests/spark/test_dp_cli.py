"""`lakeward dp` end to end on local Spark: create, release, series, budget, plot, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakeward.identity import Principal, acting_as
from tests.spark.test_dp_streams import START, _definition, _events, _setup, _write

pytestmark = pytest.mark.spark


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI as alice, the analyst who owns the streams (stands in for her token)."""
    from lakeward.cli import main

    with acting_as(Principal("alice", ("analysts",), "server", "test")):
        code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dp_cli_round_trip_and_bad_input(
    tmp_path: Path, home: Path, spark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakeward.catalog import Catalog

    catalog = Catalog.open()
    root = tmp_path / "lake"
    _write(root, "part-00000.parquet", _events(7, 300, 6))
    _setup(root, catalog)
    spec = tmp_path / "stream.yaml"
    definition = _definition(name="clicks", horizon=30) | {"principal": "bob"}
    spec.write_text(yaml.safe_dump(definition))
    code, _, err = _run(capsys, "dp", "stream", "create", "-f", str(spec), "--json")
    assert code == 2 and "name no spender" in err  # alice's definition may not charge bob
    del definition["principal"]
    spec.write_text(yaml.safe_dump(definition))
    code, out, err = _run(capsys, "dp", "stream", "create", "-f", str(spec), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["counter"] == "sqrt_scaled" and info["keys"] == ["region=north", "region=south"]
    assert info["sensitivity"] == 200.0  # 2 events per visitor per day, clipped to [0, 100]

    now = (START + 6 * dt.timedelta(days=1)).isoformat()
    code, out, err = _run(capsys, "dp", "release", "--now", now, "--period", "4")
    assert code == 0 and "clicks: would release periods 1–4" in out, err  # a dry run
    code, out, err = _run(capsys, "dp", "release", "--now", now, "--period", "4", "--yes")
    assert code == 0, err
    assert "clicks: released periods 1–4" in out
    code, out, _ = _run(capsys, "dp", "release", "--now", now, "--json", "--yes")
    released = json.loads(out)["clicks"]
    assert [r["period"] for r in released] == [5, 6]

    code, out, _ = _run(capsys, "dp", "series", "clicks", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["period"]) for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    code, out, _ = _run(capsys, "dp", "series", "clicks", "--json")
    series = json.loads(out)
    assert series["periods"][0]["ci95"] == pytest.approx(1.959964 * series["periods"][0]["sd"])
    assert float(rows[0]["value"]) == pytest.approx(
        series["periods"][0]["values"]["region=north"], abs=1e-3
    )

    code, out, _ = _run(capsys, "dp", "budget", "clicks", "--json")
    budget = json.loads(out)
    assert budget["ledger"]["unit"] == "visitor/period"
    assert budget["stream_spent"] == pytest.approx(budget["ledger_committed"])
    assert 0 < budget["stream_spent"] < budget["stream_rho"]

    png = tmp_path / "clicks.png"
    code, _, err = _run(capsys, "dp", "plot", "clicks", "-o", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    code, _, err = _run(capsys, "dp", "plot", "clicks", "-o", str(png), "--key", "region=east")
    assert code == 2 and "has no key(s) region=east" in err

    code, out, _ = _run(capsys, "dp", "stream", "list", "--json")
    assert json.loads(out)[0]["released"] == 6
    code, out, _ = _run(capsys, "dp", "stream", "show", "clicks")
    assert "sensitivity 200" in out and "6 released; next period 7" in out

    # Bad input: clear messages, exit 2, nothing written.
    bad = [
        ({"rho": 0}, "rho: rho must be a finite number > 0"),
        ({"clip": None}, "a sum stream needs clipping bounds"),
        ({"period": "fortnight"}, "Duration 'fortnight' is not valid"),
        ({"name": "clicks"}, "A DP stream named 'clicks' exists"),
        ({"datasets": ["web.nope"]}, "web.nope are not in the catalog"),
        ({"datasets": ["web.clicks", "web.clicks"]}, "web.clicks listed more than once"),
        ({"unit": "customer"}, "identifies privacy unit 'visitor' (units.yaml), not 'customer'"),
        ({"time_column": "region"}, "time column 'region' is string, not a timestamp"),
    ]
    for i, (over, message) in enumerate(bad):
        spec.write_text(yaml.safe_dump(_definition(**{"name": f"bad-{i}", **over})))
        code, _, err = _run(capsys, "dp", "stream", "create", "-f", str(spec))
        assert code == 2 and message in err, (over, err)
    code, _, err = _run(capsys, "dp", "series", "nope")
    assert code == 2 and "No DP stream named 'nope'" in err
    code, out, _ = _run(capsys, "dp", "stream", "list", "--json")
    assert [s["name"] for s in json.loads(out)] == ["clicks"]
    # Over the cap (visitor/period: 4.0; "clicks" spent part of its 0.5 and is promised the rest).
    spec.write_text(yaml.safe_dump(_definition(name="greedy", rho=3.6)))
    code, _, err = _run(capsys, "dp", "stream", "create", "-f", str(spec))
    assert code == 1 and "exceeds what remains of the cap" in err
    catalog.dispose()
