"""The ``dedup`` flow: find contained datasets → plan deletions → propose (never delete).

Thin: parameters → :mod:`lakeward.dedup` calls → artifacts. Deletion itself happens only
after a second steward approves (``lakeward dedup approve`` / ``apply``), outside the flow.
Re-running is idempotent: a new containment run is recorded, and an identical pending
proposal is returned instead of a new one.
"""

from __future__ import annotations

from typing import Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from lakeward._units import human_bytes  # noqa: E402
from lakeward.catalog import Catalog  # noqa: E402

__all__ = ["DEDUP_ARTIFACT_KEY", "dedup", "dedup_markdown", "edge_table"]

DEDUP_ARTIFACT_KEY = "lakeward-dedup"


def edge_table(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Contained and near edges, one row each, for a Prefect table artifact."""
    return [
        {
            "child": e["child"],
            "parent": e["parent"],
            "status": e["status"],
            "ratio": round(e["ratio"], 6) if e["ratio"] is not None else None,
            "stage": e["stage"],
        }
        for e in edges
        if e["status"] in ("contained", "near")
    ]


def dedup_markdown(summary: dict[str, Any]) -> str:
    """Markdown: stage funnel, then the plan (or proposal) with its cost beside the optimum."""
    c = summary["counts"]
    lines = [
        f"# Containment run #{summary['run']}",
        "",
        f"Run by **{summary['principal']}** for purpose **{summary['purpose']}**; "
        f"near threshold τ = {summary['near_threshold']}.",
        "",
        "| datasets | schema | after min-max | after sample | contained | near |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {c['datasets']} | {c['schema']} | {c['minmax']} | {c['sample']} | "
        f"{c['contained']} | {c['near']} |",
    ]
    plan = summary["plan"]
    lines += ["", "## Deletion plan", ""]
    if not plan["datasets"]:
        lines.append("Nothing to delete.")
    else:
        lines += [
            "| dataset | rebuilt from | size | reads/month | rebuild s |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| `{d['dataset']}` | `{d['parent']}` | {human_bytes(d['bytes'])} | "
            f"{d['access_per_month']:.1f} | {d['rebuild_s']:.1f} |"
            for d in plan["datasets"]
        ]
        bound = "optimum" if plan["optimum_proven"] else "bound on the optimum"
        lines += [
            "",
            f"Reclaims **{human_bytes(plan['bytes_reclaimed'])}** (at most "
            f"{human_bytes(plan['max_reclaimable_bytes'])} under the latency bound); saves "
            f"${plan['savings_usd_month']:.6f}/month, {bound} ${plan['optimum_usd_month']:.6f} "
            f"({plan['solver']}).",
        ]
        if plan.get("plan") is not None:
            lines += [
                "",
                f"Proposed as plan #{plan['plan']} (approval #{plan['approval']}); a steward other "
                f"than the proposer runs `lakeward dedup approve {plan['plan']}`, then "
                f"`lakeward dedup apply {plan['plan']} --yes`.",
            ]
    for title, key in (
        ("Refused (stale)", "stale"),
        ("Denied", "denied"),
        ("Unreadable", "failed"),
    ):
        if summary.get(key):
            lines += ["", f"## {title}", ""]
            lines += [f"- `{n}`: {r}" for n, r in sorted(summary[key].items())]
    return "\n".join(lines) + "\n"


@task(name="dedup-find", cache_policy=NO_CACHE)
def find_task(
    principal: str, purpose: str, threshold: float | None, reprofile: bool
) -> dict[str, Any]:
    """Stages 1–3 over the catalog; returns the run's counts and its non-pruned edges."""
    from lakeward.dedup import find_containment

    report = find_containment(
        Catalog.shared(),
        principal=principal,
        purpose=purpose,
        near_threshold=threshold,
        reprofile=reprofile,
    )
    for name, why in {**report.stale, **report.denied, **report.failed}.items():
        get_run_logger().warning("%s: %s", name, why)
    data = report.to_dict()
    data["edges"] = [e for e in data["edges"] if e["status"] != "pruned"]
    return data


@task(name="dedup-plan", cache_policy=NO_CACHE)
def plan_task(run_id: int, principal: str, purpose: str, propose: bool) -> dict[str, Any]:
    """Plan deletions from the run; store them as a proposal when ``propose``."""
    from lakeward.dedup import compute_plan, propose_plan

    catalog = Catalog.shared()
    if propose:
        return propose_plan(catalog, principal=principal, purpose=purpose, run_id=run_id).to_dict()
    return compute_plan(catalog, run_id=run_id).to_dict()


@task(name="publish-dedup-report", cache_policy=NO_CACHE)
def publish_task(summary: dict[str, Any]) -> None:
    """Table artifact of edges, markdown artifact of the funnel and the plan."""
    create_table_artifact(
        key=DEDUP_ARTIFACT_KEY,
        table=edge_table(summary["edges"]),
        description=f"Contained and near-contained datasets (run #{summary['run']})",
    )
    create_markdown_artifact(key=f"{DEDUP_ARTIFACT_KEY}-plan", markdown=dedup_markdown(summary))


@flow(name="dedup")
def dedup(
    purpose: str = "data_governance",
    threshold: float | None = None,
    propose: bool = True,
    reprofile: bool = False,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Find contained datasets, plan their deletion and propose it for two-person approval.

    Runs as the run's authenticated principal (the worker's service credential, or the OS
    user in embedded mode) for ``purpose``; every content read and the proposal are
    policy-checked and audited, with ``requested_by`` recorded. ``threshold``:
    near-containment τ (default
    ``LAKEWARD_DEDUP_NEAR_THRESHOLD``). Nothing is deleted here.
    """
    from lakeward.orchestration._identity import run_as

    with run_as(requested_by) as me:
        found = find_task(me.name, purpose, threshold, reprofile)
        plan = plan_task(found["run"], me.name, purpose, propose)
        summary = {**found, "principal": me.name, "purpose": purpose, "plan": plan}
        if requested_by:
            summary["requested_by"] = requested_by
        publish_task(summary)
        return summary
