"""The ``lakeward`` command: one module per command group.

``lake`` (generate, register, profile), ``catalog`` (ls, show, ddl, import-schema),
``glossary`` (import, export, ls, terms, match, review, accept, reject), ``rag`` (ingest,
query, delete, rebuild, ls, show), ``config`` (show),
``policy`` (validate, test, explain, diff, apply, log, audit, budget, purpose, approval),
``dp`` (stream, release, series, budget, plot, error), ``he`` (keygen, encrypt, einsum,
decrypt, explain), ``dedup`` (find, plan, propose, approve, apply, restore, reconstruct,
purge, status), ``tag`` (classify, ls, approve, reject, add, remove, explain), ``whoami``,
``token`` (issue, list, revoke), ``server``, ``demo``.

Who acts is authenticated, never a flag: the OS user (embedded mode) or, with
``LAKEWARD_SERVER_URL`` set, the token's principal at ``lakeward server``; then every
command except ``server`` runs there and prints what it prints here. Heavy modules (Spark,
Prefect, numpy) are imported inside commands so ``--help``
stays fast. :func:`main` is the error boundary that maps Lakeward errors to exit codes.
"""

from __future__ import annotations

import contextvars
from typing import Any

import click

from lakeward.cli._output import err

__all__ = ["cli", "last_error", "main"]

#: the Lakeward error that ended the current context's command (the server maps it to a
#: status: PolicyDenied → 403, ServiceUnavailable → 503, InputError → 400).
last_error: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "lakeward_last_error", default=None
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lakeward")
def cli() -> None:
    """Lakeward: a privacy-preserving data platform over a Spark data lake."""


def _register() -> None:
    from lakeward.cli import (
        catalog,
        config,
        dedup,
        demo,
        dp,
        glossary,
        he,
        identity,
        lake,
        policy,
        rag,
        server,
        tag,
    )

    cli.add_command(lake.lake)
    cli.add_command(catalog.catalog)
    cli.add_command(config.config)
    cli.add_command(demo.demo)
    cli.add_command(policy.policy)
    cli.add_command(dp.dp)
    cli.add_command(he.he)
    cli.add_command(dedup.dedup)
    cli.add_command(tag.tag)
    cli.add_command(glossary.glossary)
    cli.add_command(rag.rag)
    cli.add_command(identity.whoami)
    cli.add_command(identity.token)
    cli.add_command(server.server)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (the console script exits with it).

    With ``LAKEWARD_SERVER_URL`` set, the command runs at the server as the token's
    principal (``lakeward server`` itself always runs here). Each command runs in its own
    context, so the principal it authenticates is bound for that command only.
    """
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    from lakeward.cli._client import forwards

    if forwards(args):
        from lakeward.cli._client import run_remote

        return run_remote(args)
    return contextvars.copy_context().run(_main_local, args)


def _main_local(argv: list[str]) -> int:
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
        last_error.set(exc)
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code if isinstance(code, int) else 0
