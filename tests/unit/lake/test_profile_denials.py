"""First contact: a principal who has not acknowledged profiling's purpose is told, once, how."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeward.catalog import Catalog
from lakeward.cli import main
from lakeward.policy._tests import seed_datasets

ACK = "`lakeward policy purpose ack catalog_maintenance`"


def test_identical_denials_are_summarised_with_the_command_that_lifts_them(
    catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [f"lake.table_{i:02d}" for i in range(48)]
    seed_datasets(catalog, {name: {} for name in names})
    args = ["lake", "profile"] + [a for n in names for a in ("--dataset", n)]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 1
    assert "48 dataset(s) refused by the policy layer" in err
    assert err.count(ACK) == 1
    assert "denied for 48 datasets:" in err
    assert "(first: lake.table_00, lake.table_01, lake.table_02, …)" in err
    assert err.count("purpose-must-be-acknowledged") == 1


def test_registering_before_acknowledging_names_the_command(
    catalog: Catalog, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "t.csv").write_text("a\n1\n")
    code = main(["lake", "register", str(tmp_path / "lake")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count(ACK) == 1 and "lifts this denial" in err
