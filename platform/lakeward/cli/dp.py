"""``lakeward dp``: continual-release DP streams.

``stream create|list|show``, ``release [--period N] [--now ISO] [--yes]``, ``series STREAM
[--json|--csv]``, ``budget STREAM``, ``plot STREAM -o file.png``, ``error`` (each counter's
error vs horizon). ``release`` is a dry run unless ``--yes``: it shows what would be released
and spent. Releases are policy-checked and charged to the budget ledger; a re-run of a
released period prints the persisted values and spends nothing. Exit codes: 0 ok, 1 refused
(policy, budget), 2 bad input.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from lakeward.cli._output import emit_json, err, out, table, wait_option

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _catalog() -> Any:
    from lakeward.catalog import Catalog

    return Catalog.shared()


@click.group()
def dp() -> None:
    """Continual-release differential privacy: streams, releases, series, budgets, plots."""


@dp.group()
def stream() -> None:
    """Create, list and show streams."""


def _load_definition(path: str) -> dict[str, Any]:
    import yaml

    from lakeward.errors import InputError

    try:
        data = (
            yaml.safe_load(Path(path).read_text())
            if path != "-"
            else yaml.safe_load(sys.stdin.read())
        )
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"Cannot read the stream definition {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a stream definition is a mapping of fields (YAML or JSON).")
    return data


@stream.command("create")
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    help="Stream definition (YAML/JSON; '-' for stdin): the fields of lakeward.dp.StreamSpec.",
)
@json_option
def stream_create(path: str, as_json: bool) -> None:
    """Register a stream as yourself: you are charged (checks sources, policy, budget cap)."""
    from lakeward.cli._identity import me
    from lakeward.dp import create_stream, stream_info

    row = create_stream(_catalog(), _load_definition(path), actor=me().name)
    info = stream_info(_catalog(), row.name)
    if as_json:
        emit_json(info)
        return
    out.print(
        f"stream {info['name']}: {len(info['keys'])} keys, counter {info['counter']}, horizon "
        f"{info['definition']['horizon']}, rho {info['rho']:g} on {info['ledger_unit']}, "
        f"max sd {info['max_sd']:.4g}",
        highlight=False,
    )


@stream.command("list")
@json_option
def stream_list(as_json: bool) -> None:
    """Every stream and its progress."""
    from lakeward.dp import list_streams

    rows = list_streams(_catalog())
    if as_json:
        emit_json(rows)
        return
    table(
        ["name", "state", "counter", "released", "horizon", "rho", "ledger unit", "principal"],
        [
            [
                r["name"],
                r["state"],
                r["counter"],
                r["released"],
                r["horizon"],
                f"{r['rho']:g}",
                r["unit"],
                r["principal"],
            ]
            for r in rows
        ],
    )


@stream.command("show")
@click.argument("name")
@json_option
def stream_show(name: str, as_json: bool) -> None:
    """A stream's definition, mechanism, error and progress."""
    from lakeward.dp import stream_info

    info = stream_info(_catalog(), name)
    if as_json:
        emit_json(info)
        return
    d = info["definition"]
    lines = [
        f"stream      {info['name']} ({info['state']})"
        + (f": {info['halt_reason']}" if info["halt_reason"] else ""),
        f"sources     {', '.join(d['datasets'])} by {d['time_column']}, period {d['period']} "
        f"from {d['start']}",
        f"measure     {d['measure']}"
        + (f" of {d['value_column']} clipped to {d['clip']}" if d.get("clip") else ""),
        f"keys        {len(info['keys'])}: {', '.join(info['keys'][:6])}"
        + (" …" if len(info["keys"]) > 6 else ""),
        (
            f"bounds      {d['max_per_period']} per {d['unit_column']} per period"
            + (f", {d['max_periods']} periods per unit" if d.get("max_periods") else "")
            if d.get("unit_column")
            else "bounds      event level (each event is its own unit)"
        )
        + f" → sensitivity {info['sensitivity']:g}",
        f"mechanism   {info['counter']} ({info['distribution']}), horizon {d['horizon']}, "
        f"max sd {info['max_sd']:.4g}",
        f"budget      rho {info['rho']:g} on ({info['ledger_unit']}, {d['principal']}, "
        f"{d['purpose']}); spent {info['rho_spent']:.4g}",
        f"progress    {info['released']} released; next period {info['next_period']}",
    ]
    out.print("\n".join(lines), highlight=False, markup=False)


@dp.command("release")
@click.argument("streams", nargs=-1)
@click.option("--period", type=int, default=None, help="Release up to this (ended) period only.")
@click.option(
    "--now",
    default=None,
    help="Treat this ISO time (not later than the clock) as now when deciding which periods "
    "are due (default: now).",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Really release and spend budget (default: dry run, spends nothing).",
)
@json_option
@wait_option
def release(
    streams: tuple[str, ...],
    period: int | None,
    now: str | None,
    yes: bool,
    as_json: bool,
    wait: bool,
) -> None:
    """Release every due period of the named streams (default: all active ones).

    Without --yes, a dry run: shows the periods each stream would release and the rho they
    would charge, and spends nothing. Each stream's creator is decided and charged; you are
    recorded as who ran the release. One failing stream does not stop the others; the exit
    code is non-zero if any failed.
    """
    from lakeward.cli._identity import me
    from lakeward.dp import ReleaseIncomplete, plan_releases, release_streams
    from lakeward.errors import InputError, PolicyDenied

    when = None
    if now:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            raise InputError(
                f"--now {now!r} is not an ISO time such as 2026-01-31T00:00Z"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    names = list(streams) or None
    if not yes:
        plans = plan_releases(_catalog(), names, now=when, through=period)
        refused = [p for p in plans if p.error]
        if as_json:
            emit_json({"dry_run": True, "streams": [p.as_dict() for p in plans]})
        for plan in [] if as_json else plans:
            unit, principal, purpose = plan.ledger
            if plan.error:
                text = f"would release nothing: {plan.error.splitlines()[0]}"
            elif plan.periods:
                text = (
                    f"would release periods {plan.periods[0]}–{plan.periods[-1]}, charging rho "
                    f"{plan.rho:.4g} to ({unit}, {principal}, {purpose})"
                )
            else:
                text = "nothing due"
            out.print(f"{plan.stream}: {text}", highlight=False)
        err.print("dry run: nothing released or spent; pass --yes to release", highlight=False)
        if refused:  # exit as the release would: 2 for input errors, 1 for refusals
            message = "; ".join(f"{p.stream}: {(p.error or '').splitlines()[0]}" for p in refused)
            if all(p.refused_by == "input" for p in refused):
                raise InputError(message)
            raise PolicyDenied(message)
        return
    failed: ReleaseIncomplete | None = None
    try:
        results = release_streams(_catalog(), names, actor=me().name, now=when, through=period)
    except ReleaseIncomplete as exc:
        failed, results = exc, exc.released
    if as_json:
        emit_json({k: [r.as_dict() for r in v] for k, v in results.items()})
    else:
        for name, released in results.items():
            fresh = [r.period for r in released if r.fresh]
            out.print(
                f"{name}: "
                + (f"released periods {fresh[0]}–{fresh[-1]}" if fresh else "nothing new")
                + (
                    f" ({len(released) - len(fresh)} already released)"
                    if len(released) > len(fresh)
                    else ""
                ),
                highlight=False,
            )
    if failed is not None:
        raise failed


@dp.command("series")
@click.argument("name")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (period, start, key, value, sd).")
def series(name: str, as_json: bool, as_csv: bool) -> None:
    """The released series with 95% intervals."""
    from lakeward.dp import stream_series

    s = stream_series(_catalog(), name)
    if as_json:
        emit_json(s.as_dict())
        return
    rows = [
        [p, start.isoformat(), key, f"{v:.3f}", f"{sd:.4f}", f"{1.959964 * sd:.3f}"]
        for p, start, values, sd in zip(s.periods, s.starts, s.values, s.sd, strict=True)
        for key, v in zip(s.keys, values, strict=True)
    ]
    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["period", "start", "key", "value", "sd", "ci95"])
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
        return
    table(["period", "start", "key", "value", "sd", "±95%"], rows)


@dp.command("budget")
@click.argument("name")
@json_option
def budget(name: str, as_json: bool) -> None:
    """What the stream spent and what remains of its ledger cap."""
    from lakeward.dp import stream_budget

    b = stream_budget(_catalog(), name)
    if as_json:
        emit_json(b)
        return
    led = b["ledger"]
    cap = "none" if b["cap"] is None else f"{b['cap']:g}"
    remaining = "-" if b["ledger_remaining"] is None else f"{b['ledger_remaining']:.4g}"
    out.print(
        f"stream {b['stream']}: spent {b['stream_spent']:.4g} of its rho {b['stream_rho']:g}\n"
        f"ledger ({led['unit']}, {led['principal']}, {led['purpose']}): cap {cap}, committed "
        f"{b['ledger_committed']:.4g}, remaining {remaining}"
        + ("  [OVER CAP: the cap was lowered below what is spent]" if b["over_cap"] else ""),
        highlight=False,
        markup=False,
    )


@dp.command("plot")
@click.argument("name")
@click.option("-o", "--output", required=True, help="PNG file to write.")
@click.option("--key", "keys", multiple=True, help="Keys to draw (default: up to 6).")
def plot(name: str, output: str, keys: tuple[str, ...]) -> None:
    """Released series with 95% bands, and each counter's error vs horizon."""
    from lakeward.dp._plot import plot_stream

    path = plot_stream(_catalog(), name, Path(output), keys=list(keys) or None)
    err.print(f"wrote {path}", highlight=False)


@dp.command("error")
@click.option("--rho", type=float, default=0.5, show_default=True)
@click.option("--max-log2", type=int, default=20, show_default=True, help="Largest T = 2^n.")
@json_option
def error(rho: float, max_log2: int, as_json: bool) -> None:
    """Exact max/mean per-step error of every counter for T = 2^10 … 2^n."""
    from lakeward.dp._plot import error_table

    rows = error_table(rho, range(10, max_log2 + 1))
    if as_json:
        emit_json(rows)
        return
    table(
        ["T", "counter", "max sd", "rmse", "max sd / tree", "max sd / lower bound"],
        [
            [
                f"2^{r['log2_T']}",
                r["counter"],
                f"{r['max_sd']:.3f}",
                f"{r['rmse']:.3f}",
                f"{r['vs_tree']:.3f}",
                f"{r['vs_lower_bound']:.3f}",
            ]
            for r in rows
        ],
    )
