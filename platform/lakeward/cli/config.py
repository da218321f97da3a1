"""``lakeward config``: show the effective settings."""

from __future__ import annotations

import click

from lakeward.cli._output import emit_json, table


@click.group()
def config() -> None:
    """Settings (environment variables LAKEWARD_*)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(as_json: bool) -> None:
    """Print every setting, its value, its environment variable and what it does."""
    from lakeward.settings import get_settings

    rows = get_settings().describe()
    if as_json:
        emit_json(rows)
        return
    table(
        ["setting", "value", "env", "description"],
        [[r["setting"], r["value"], r["env"], r["description"]] for r in rows],
    )
