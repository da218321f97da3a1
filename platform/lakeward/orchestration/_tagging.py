"""The ``tag_lake`` flow: classify the lake's changed datasets and publish what changed.

Thin: parameters → :func:`lakeward.tagging.classify` → artifacts. The run acts as its
authenticated principal (the worker's service credential, or the OS user in embedded mode)
for ``purpose`` (``data_governance``): each dataset's content read is decided as
``lake.read_content`` and each tag change as ``tag.assign`` (audited); a dataset the policy
refuses keeps its tags and is reported ``denied``. Re-running is idempotent: a dataset whose
current version was classified before is ``unchanged``, and the same findings change no tag.

Artifacts carry counts per dataset and per tag, never a value or a column statistic: a table
(one row per dataset) and a Markdown summary. The flow fails after publishing when a dataset
failed to classify, so a schedule surfaces unreadable files.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from lakeward.catalog import Catalog  # noqa: E402
from lakeward.errors import LakewardError  # noqa: E402
from lakeward.orchestration._artifacts import withhold_values  # noqa: E402

__all__ = [
    "TAG_ARTIFACT_KEY",
    "TagLakeFailed",
    "tag_lake",
    "tag_markdown",
    "tag_table",
    "tag_summary",
]

TAG_ARTIFACT_KEY = "lakeward-tag-lake"
_STATUSES = ("classified", "unchanged", "not_profiled", "denied", "failed")


class TagLakeFailed(LakewardError):
    """Some datasets failed to classify; the others were classified and published."""

    exit_code = 1

    def __init__(self, message: str, errors: dict[str, str], summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.errors = errors
        self.summary = summary


def _counts(changes: list[dict[str, Any]]) -> dict[str, int]:
    """Changed tags by what happened: new suggestions, approvals, removals, the rest."""
    actions = Counter(c["action"] for c in changes if c.get("changed", True))
    return {
        "suggested": actions.pop("suggested", 0),
        "approved": actions.pop("approved", 0),
        "removed": actions.pop("removed", 0),
        "other": sum(actions.values()),
    }


def tag_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Totals of a :class:`lakeward.tagging.ClassifyReport`'s ``to_dict()``: counts only.

    Per dataset: status, version, changed tags by action and by tag name, seconds, error.
    Overall: datasets per status, changes per action, and per tag name the new suggestions
    and approvals (propagated changes included).
    """
    datasets = []
    by_tag: dict[str, Counter[str]] = {}
    for d in report["datasets"]:
        changes = [c for c in d["changes"] if c.get("changed", True)]
        for c in changes:
            by_tag.setdefault(c["tag"], Counter())[c["action"]] += 1
        datasets.append(
            {
                "dataset": d["dataset"],
                "status": d["status"],
                "version": d["version"],
                **_counts(changes),
                "tags": dict(sorted(Counter(c["tag"] for c in changes).items())),
                "seconds": d["seconds"],
                "error": d["error"],
            }
        )
    propagated = [c for c in report["propagated"] if c.get("changed", True)]
    for c in propagated:
        by_tag.setdefault(c["tag"], Counter())[f"propagated_{c['action']}"] += 1
    totals = _counts([c for d in report["datasets"] for c in d["changes"]])
    return {
        **{s: sum(d["status"] == s for d in datasets) for s in _STATUSES},
        "new_suggestions": totals["suggested"],
        "approved": totals["approved"],
        "removed": totals["removed"],
        "other_changes": totals["other"],
        "propagated": len(propagated),
        "by_tag": {tag: dict(sorted(c.items())) for tag, c in sorted(by_tag.items())},
        "datasets": datasets,
        "errors": {d["dataset"]: d["error"] or "" for d in datasets if d["status"] == "failed"},
        "denials": {d["dataset"]: d["error"] or "" for d in datasets if d["status"] == "denied"},
    }


def tag_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per dataset for a Prefect table artifact (counts, never values)."""
    return [
        {
            "dataset": d["dataset"],
            "status": d["status"],
            "version": d["version"],
            "new suggestions": d["suggested"],
            "approved": d["approved"],
            "removed": d["removed"],
            "other changes": d["other"],
            "tags changed": ", ".join(f"{t} ×{n}" for t, n in d["tags"].items()),
            "seconds": round(d["seconds"], 2),
            "error": withhold_values(d["error"] or ""),
        }
        for d in summary["datasets"]
    ]


def tag_markdown(summary: dict[str, Any]) -> str:
    """A Markdown summary of a tagging run: datasets per status, changed tags per tag name."""
    lines = [
        "# Lake tagging",
        "",
        f"Run by **{summary['principal']}** for purpose **{summary['purpose']}** "
        f"(seed {summary['seed']}, up to {summary['sample_rows']:,} sampled rows per dataset) "
        f"in {summary['seconds']:.1f} s.",
        "",
        "| classified | unchanged | not profiled | denied | failed |",
        "|---:|---:|---:|---:|---:|",
        f"| {summary['classified']} | {summary['unchanged']} | {summary['not_profiled']} | "
        f"{summary['denied']} | {summary['failed']} |",
        "",
        f"**{summary['new_suggestions']}** new suggestions await a steward "
        "(`lakeward tag ls --status suggested`), "
        f"**{summary['approved']}** tags approved automatically, "
        f"**{summary['removed']}** removed, {summary['other_changes']} other changes, "
        f"{summary['propagated']} propagated along containment edges.",
    ]
    if summary["by_tag"]:
        lines += ["", "| tag | changes (columns) |", "|---|---|"]
        lines += [
            f"| `{tag}` | " + ", ".join(f"{action} {n}" for action, n in counts.items()) + " |"
            for tag, counts in summary["by_tag"].items()
        ]
    if summary["errors"]:
        lines += ["", "## Failed datasets", ""]
        lines += [
            f"- `{name}`: {withhold_values(reason)}"
            for name, reason in sorted(summary["errors"].items())
        ]
    if summary["denials"]:
        lines += ["", "## Refused by the policy layer (tags left as they were)", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in sorted(summary["denials"].items())]
    return "\n".join(lines) + "\n"


@task(name="classify-datasets", cache_policy=NO_CACHE)
def classify_task(
    principal: str, datasets: list[str] | None, purpose: str, seed: int, sample_rows: int
) -> dict[str, Any]:
    """Classify the changed datasets; returns the report's counts (no value, no evidence)."""
    from lakeward.tagging import classify

    started = time.perf_counter()
    report = classify(
        Catalog.shared(),
        principal,
        datasets=datasets,
        purpose=purpose,
        seed=seed,
        sample_rows=sample_rows,
    )
    summary = tag_summary(report.to_dict())
    for name, why in {**summary["errors"], **summary["denials"]}.items():
        get_run_logger().warning("%s: %s", name, withhold_values(why))
    return {**summary, "seconds": time.perf_counter() - started}


@task(name="publish-tag-report", cache_policy=NO_CACHE)
def publish_task(summary: dict[str, Any]) -> None:
    """Table artifact (one row per dataset) and Markdown summary."""
    create_table_artifact(
        key=TAG_ARTIFACT_KEY,
        table=tag_table(summary),
        description="Lakeward tagging: new suggestions and changed tags per dataset (counts)",
    )
    create_markdown_artifact(key=f"{TAG_ARTIFACT_KEY}-summary", markdown=tag_markdown(summary))


@flow(name="tag_lake")
def tag_lake(
    datasets: list[str] | None = None,
    sample_rows: int = 1000,
    seed: int = 0,
    purpose: str = "data_governance",
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Classify the changed datasets (default: every registered one) and publish the changes.

    Each dataset whose current version was not classified yet is sampled on Spark (at most
    ``sample_rows`` rows, seeded by ``seed``), its columns judged by name and values, and the
    findings written as suggested or auto-approved tags through the policy layer; approved
    tags then propagate along containment edges. Runs as the run's authenticated principal
    for ``purpose``, with ``requested_by`` recorded. Fails after publishing when a dataset
    failed.
    """
    from lakeward.orchestration._identity import run_as

    with run_as(requested_by) as me:
        summary = classify_task(me.name, datasets, purpose, seed, sample_rows)
        summary = {
            **summary,
            "principal": me.name,
            "purpose": purpose,
            "seed": seed,
            "sample_rows": sample_rows,
        }
        if requested_by:
            summary["requested_by"] = requested_by
        publish_task(summary)
        if summary["errors"]:
            raise TagLakeFailed(
                f"{len(summary['errors'])} datasets failed to classify: "
                + "; ".join(f"{k}: {withhold_values(v)}" for k, v in summary["errors"].items()),
                summary["errors"],
                summary,
            )
        return summary
