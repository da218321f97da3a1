"""The ``lakeward`` command: one module per command group.

``lake`` (generate, register, profile), ``catalog`` (ls, show, ddl), ``config`` (show),
``policy`` (validate, test, explain, diff, apply, log, audit, budget, purpose, approval),
``dp`` (stream, release, series, budget, plot, error), ``he`` (keygen, encrypt, einsum,
decrypt, explain), ``dedup`` (find, plan, propose, approve, apply, restore, reconstruct,
purge, status), ``demo``. Heavy modules (Spark,
Prefect, numpy) are imported inside commands so ``--help``
stays fast. :func:`main` is the error boundary that maps Lakeward errors to exit codes.
"""

from __future__ import annotations

import click

from lakeward.cli._output import err

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lakeward")
def cli() -> None:
    """Lakeward: a privacy-preserving data platform over a Spark data lake."""


def _register() -> None:
    from lakeward.cli import catalog, config, dedup, demo, dp, he, lake, policy

    cli.add_command(lake.lake)
    cli.add_command(catalog.catalog)
    cli.add_command(config.config)
    cli.add_command(demo.demo)
    cli.add_command(policy.policy)
    cli.add_command(dp.dp)
    cli.add_command(he.he)
    cli.add_command(dedup.dedup)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (the console script exits with it)."""
    from rich.markup import escape

    from lakeward.errors import LakewardError

    try:
        code = cli.main(args=argv, standalone_mode=False, prog_name="lakeward")
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except LakewardError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code if isinstance(code, int) else 0
