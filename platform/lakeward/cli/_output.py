"""Output conventions of the ``lakeward`` command.

Data goes to stdout (JSON with ``--json``, a table otherwise); diagnostics, progress and
errors go to stderr. Exit codes: 0 ok, 1 denied or a failed check, 2 usage or input error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table

__all__ = ["emit_json", "err", "out", "progress", "table", "wait_option"]

out = Console(soft_wrap=True)
if not out.is_terminal:  # piped: never truncate table cells to a guessed width
    out = Console(soft_wrap=True, width=400)
err = Console(stderr=True, soft_wrap=True)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> None:
    """Print a plain table to stdout."""
    t = Table(*columns, title=title, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    out.print(t)


@contextmanager
def progress(total: int, description: str) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; silent when piped."""
    if not err.is_terminal:
        yield lambda *_a, **_k: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task_id = bar.add_task(description, total=total)

        def advance(label: str = "") -> None:
            bar.update(task_id, advance=1, description=f"{description} {label}".strip())

        yield advance


#: ``--wait`` of the commands a server may run as deployment runs (lake profile, dedup find,
#: dp release); the client acts on it, embedded mode ignores it (the work runs here).
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="At a server that runs long work as deployment runs: wait for the run, showing its "
    "state (default: print the run id). Embedded mode always runs it here.",
)
