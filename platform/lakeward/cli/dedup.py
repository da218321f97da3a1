"""``lakeward dedup``: find contained datasets, plan and apply reversible deletions.

Public contract: ``lakeward dedup find [--threshold T] --json`` prints the edges, each with
``child`` and ``parent`` (dataset names as in ``lakeward catalog ls``), ``ratio``, ``stage``
(where it was decided: ``minmax``, ``sample``, ``content`` or ``policy``) and ``status``
(``contained``, ``near`` or ``pruned``). Exit codes: 0 ok, 1 denied or a failed check, 2
usage or input error. ``apply`` and ``purge`` are dry runs unless ``--yes``.
"""

from __future__ import annotations

from typing import Any

import click

from lakeward._units import human_bytes
from lakeward.cli._output import emit_json, err, table, wait_option

purpose_option = click.option(
    "--purpose",
    default="data_governance",
    show_default=True,
    help="Declared purpose (you must have acknowledged it).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _me() -> str:
    from lakeward.cli._identity import me

    return me().name


def _catalog() -> Any:
    from lakeward.catalog import Catalog

    return Catalog.shared()


@click.group()
def dedup() -> None:
    """Containment deduplication: find, plan, propose, approve, apply, purge, restore."""


@dedup.command()
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="Near-containment threshold τ (default LAKEWARD_DEDUP_NEAR_THRESHOLD; 1.0: only "
    "fully contained).",
)
@click.option(
    "--multiset/--set",
    "multiset",
    default=None,
    help="Count duplicate rows (multiset) or distinct rows (set, the default).",
)
@click.option("--dataset", "names", multiple=True, help="Only these datasets (repeatable).")
@click.option(
    "--reprofile", is_flag=True, help="Re-profile changed datasets instead of refusing them."
)
@purpose_option
@json_option
@wait_option
def find(
    threshold: float | None,
    multiset: bool | None,
    names: tuple[str, ...],
    reprofile: bool,
    purpose: str,
    as_json: bool,
    wait: bool,
) -> None:
    """Find contained and near-contained datasets (stages: schema, min-max, content).

    Prints every candidate edge. Datasets whose files changed since profiling are refused
    (listed on stderr) unless --reprofile. Exits 1 when a dataset's contents were refused by
    the policy layer, 2 when one could not be read.
    """
    from lakeward.dedup import find_containment

    quiet = as_json or not err.is_terminal
    report = find_containment(
        _catalog(),
        principal=_me(),
        purpose=purpose,
        near_threshold=threshold,
        multiset=multiset,
        names=list(names) or None,
        reprofile=reprofile,
        progress=None if quiet else (lambda m: err.print(f"  {m}", highlight=False)),
    )
    if as_json:
        emit_json(report.edges)
    else:
        shown = [e for e in report.edges if e["status"] != "pruned"]
        table(
            ["child", "parent", "status", "ratio", "stage"],
            [
                [e["child"], e["parent"], e["status"], f"{e['ratio']:.4f}", e["stage"]]
                for e in shown
            ],
        )
        click.echo(
            f"{report.counts['contained']} contained, {report.counts['near']} near "
            f"(τ={report.near_threshold}), {report.counts['pruned']} pruned; run #{report.run_id}"
        )
    c = report.counts
    err.print(
        f"run #{report.run_id}: {c['datasets']} datasets → {c['schema']} schema candidates → "
        f"{c['minmax']} after min-max → {c['sample']} after the sample check → "
        f"{c['contained']} contained, {c['near']} near ({report.seconds['total']:.1f} s)",
        highlight=False,
        markup=False,
    )
    for title, problems in (
        ("refused (stale)", report.stale),
        ("denied by the policy layer", report.denied),
        ("could not be read", report.failed),
        ("skipped (metadata only)", report.skipped),
    ):
        if problems:
            err.print(
                f"{len(problems)} dataset(s) {title}:\n"
                + "\n".join(f"  {n}: {r}" for n, r in sorted(problems.items())),
                highlight=False,
                markup=False,
            )
    if report.failed:
        raise click.exceptions.Exit(2)
    if report.denied:
        raise click.exceptions.Exit(1)


def _print_plan(data: dict[str, Any]) -> None:
    table(
        ["dataset", "rebuilt from", "size", "reads/month", "rebuild s", "saves $/month"],
        [
            [
                d["dataset"],
                d["parent"],
                human_bytes(d["bytes"]),
                f"{d['access_per_month']:.1f}",
                f"{d['rebuild_s']:.1f}",
                f"{d['storage_usd_month'] - d['access_usd_month']:.6f}",
            ]
            for d in data["datasets"]
        ],
    )
    bound = "optimum" if data["optimum_proven"] else "bound on the optimum"
    click.echo(
        f"{len(data['datasets'])} dataset(s), {human_bytes(data['bytes_reclaimed'])} reclaimed "
        f"(at most {human_bytes(data['max_reclaimable_bytes'])} under the latency bound); "
        f"saves ${data['savings_usd_month']:.6f}/month, {bound} ${data['optimum_usd_month']:.6f}"
        f" ({data['solver']})"
    )
    for name, why in sorted({**data["stale"], **data["excluded"]}.items()):
        err.print(f"  not planned: {name}: {why}", highlight=False, markup=False)


@dedup.command()
@click.option("--run", "run_id", type=int, default=None, help="Containment run (default: latest).")
@json_option
def plan(run_id: int | None, as_json: bool) -> None:
    """Show which contained datasets would be deleted, and the cost beside the optimum."""
    from lakeward.dedup import compute_plan

    data = compute_plan(_catalog(), run_id=run_id).to_dict()
    if as_json:
        emit_json(data)
    else:
        _print_plan(data)


@dedup.command()
@click.option("--run", "run_id", type=int, default=None, help="Containment run (default: latest).")
@purpose_option
@json_option
def propose(run_id: int | None, purpose: str, as_json: bool) -> None:
    """Store the deletion plan as a proposal and request a second steward's approval."""
    from lakeward.dedup import propose_plan

    proposal = propose_plan(_catalog(), principal=_me(), purpose=purpose, run_id=run_id)
    data = proposal.to_dict()
    if as_json:
        emit_json(data)
        return
    _print_plan(data)
    if proposal.plan_id is None:
        click.echo("nothing to propose")
        return
    verb = "already proposed as" if proposal.reused else "proposed as"
    click.echo(
        f"{verb} plan #{proposal.plan_id} (approval #{proposal.approval_id}); another steward "
        f"approves with `lakeward dedup approve {proposal.plan_id}`"
    )


@dedup.command()
@click.argument("plan_id", type=int)
@click.option("--reject", is_flag=True, help="Reject the plan instead.")
@click.option("--reason", default=None, help="Recorded with the decision.")
@purpose_option
@json_option
def approve(plan_id: int, reject: bool, reason: str | None, purpose: str, as_json: bool) -> None:
    """Approve (or --reject) a proposed plan; the approver must not be the proposer."""
    from lakeward.dedup import approve_plan

    data = approve_plan(
        _catalog(), plan_id, principal=_me(), purpose=purpose, reason=reason, reject=reject
    )
    if as_json:
        emit_json(data)
    else:
        note = " (an earlier decision, checked and now recorded on the plan)"
        click.echo(
            f"plan #{plan_id} {data['state']} by {data['by'] or 'unknown'}"
            + (note if data.get("recorded") else "")
        )


@dedup.command()
@click.argument("plan_id", type=int)
@click.option("--yes", is_flag=True, help="Really move the datasets to quarantine.")
@purpose_option
@json_option
def apply(plan_id: int, yes: bool, purpose: str, as_json: bool) -> None:
    """Apply an approved plan: verify each recipe, then quarantine (dry run unless --yes).

    Resumes an interrupted apply; an applied plan is never applied twice.
    """
    from lakeward.dedup import apply_plan

    report = apply_plan(_catalog(), plan_id, principal=_me(), purpose=purpose, dry_run=not yes)
    data = report.to_dict()
    if as_json:
        emit_json(data)
    else:
        table(
            ["dataset", "state", "note"],
            [
                [d["dataset"], d["state"], d.get("error") or d.get("parent", "")]
                for d in data["datasets"]
            ],
        )
        if report.dry_run:
            click.echo("dry run: nothing moved; pass --yes to apply")
        elif report.already_applied:
            click.echo(f"plan #{plan_id} was already applied; nothing done")
    if any(d["state"] == "skipped" for d in data["datasets"]) and not report.already_applied:
        raise click.exceptions.Exit(1)


@dedup.command()
@click.argument("dataset")
@purpose_option
@json_option
def restore(dataset: str, purpose: str, as_json: bool) -> None:
    """Put a deleted DATASET back where it was (from quarantine, or rebuilt from its recipe)."""
    from lakeward.dedup import restore_dataset

    data = restore_dataset(_catalog(), dataset, principal=_me(), purpose=purpose)
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{dataset}: {data['how']} ({data['path']})")


@dedup.command()
@click.argument("dataset")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Directory to rebuild into."
)
@purpose_option
@json_option
def reconstruct(dataset: str, out: str, purpose: str, as_json: bool) -> None:
    """Rebuild a deleted DATASET from its recipe into --out and verify its content."""
    from pathlib import Path

    from lakeward.dedup import reconstruct_dataset

    data = reconstruct_dataset(_catalog(), dataset, Path(out), principal=_me(), purpose=purpose)
    if as_json:
        emit_json(data)
    else:
        click.echo(
            f"{dataset}: {data['rows']} rows rebuilt from {data['parent']} ({data['recipe']}: "
            f"{data['predicate']}) at {data['path']}; content verified"
        )


@dedup.command()
@click.option("--yes", is_flag=True, help="Really delete the quarantined copies.")
@click.option("--hold", "hold", multiple=True, help="Put this dataset on hold (repeatable).")
@click.option("--release", multiple=True, help="Release this dataset's hold (repeatable).")
@purpose_option
@json_option
def purge(
    yes: bool,
    hold: tuple[str, ...],
    release: tuple[str, ...],
    purpose: str,
    as_json: bool,
) -> None:
    """Delete quarantined copies past their retention window (dry run unless --yes).

    Datasets on hold are kept; so is any whose recipe parent changed or is gone.
    """
    from lakeward.dedup import purge_quarantine, set_hold

    catalog = _catalog()
    for name in hold:
        set_hold(catalog, name, True, principal=_me(), purpose=purpose)
    for name in release:
        set_hold(catalog, name, False, principal=_me(), purpose=purpose)
    data = purge_quarantine(catalog, principal=_me(), purpose=purpose, dry_run=not yes)
    if as_json:
        emit_json(data)
        return
    verb = "would purge" if not yes else "purged"
    click.echo(f"{verb}: {', '.join(data['purged']) or 'nothing'}")
    for name, why in sorted({**data["waiting"], **data["refused"]}.items()):
        err.print(f"  kept {name}: {why}", highlight=False, markup=False)


@dedup.command()
@json_option
def status(as_json: bool) -> None:
    """The latest containment run, every deletion plan and every quarantined dataset."""
    from lakeward.dedup import dedup_status

    data = dedup_status(_catalog())
    if as_json:
        emit_json(data)
        return
    run = data["run"]
    if run is None:
        click.echo("no containment run yet: `lakeward dedup find`")
    else:
        c = run["counts"]
        click.echo(
            f"run #{run['run']}: {c.get('datasets')} datasets, {c.get('schema')} schema "
            f"candidates, {c.get('minmax')} after min-max, {c.get('sample')} after the sample "
            f"check, {c.get('contained')} contained, {c.get('near')} near"
        )
    rows = [
        [
            p["plan"],
            p["state"],
            p["proposed_by"],
            d["dataset"],
            d["state"],
            d["recipe"] or "",
            "hold" if d["hold"] else (d["purge_after"] or ""),
        ]
        for p in data["plans"]
        for d in p["datasets"]
    ]
    if rows:
        table(
            ["plan", "plan state", "proposed by", "dataset", "state", "recipe", "purge after"], rows
        )
