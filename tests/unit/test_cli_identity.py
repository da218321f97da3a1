"""The CLI authenticates once per command and leaves nothing bound behind it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakeward.cli import cli, main
from lakeward.identity import Principal, acting_as, bound_principal


def test_whoami_binds_for_the_command_only(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "principal": "local-user",
        "groups": ["stewards"],
        "mode": "embedded",
    }
    assert bound_principal() is None
    result = CliRunner().invoke(cli, ["whoami", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["principal"] == "local-user"
    assert bound_principal() is None  # a direct click invocation does not leak it either


def test_a_bound_principal_is_who_the_command_acts_as(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with acting_as(Principal("carol", ("stewards",), "server", "token:t")):
        assert main(["whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["principal"] == "carol"


def test_acting_flags_are_gone(home: Path) -> None:
    runner = CliRunner()
    for args in (
        ["policy", "purpose", "ack", "analytics", "--principal", "dave", "--yes"],
        ["policy", "apply", ".", "--principal", "dave"],
        ["policy", "approval", "approve", "1", "--by", "dave"],
        ["lake", "profile", "--principal", "dave"],
        ["dedup", "propose", "--principal", "dave"],
        ["dp", "release", "--actor", "dave"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2 and "No such option" in result.output, args
