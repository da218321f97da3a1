"""Render Lakeward results as Prefect artifacts."""

from __future__ import annotations

from typing import Any

from lakeward._units import human_bytes

__all__ = ["profile_markdown", "profile_table"]


def profile_table(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per dataset for a Prefect table artifact."""
    return [
        {
            "dataset": o["name"],
            "status": o["status"],
            "version": o["version"],
            "rows": o["rows"],
            "size": human_bytes(o["bytes"]),
            "columns": o["columns"],
            "seconds": round(o["seconds"], 2),
            "error": o["error"] or "",
        }
        for o in outcomes
    ]


def profile_markdown(summary: dict[str, Any]) -> str:
    """A short Markdown summary of a profiling run."""
    lines = [
        f"# Lake profile: `{summary['lake_root']}`",
        "",
        f"Run by **{summary['principal']}** for purpose **{summary['purpose']}** in "
        f"{summary['seconds']:.1f} s.",
        "",
        "| profiled | unchanged | failed | denied | rows | size |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {summary['profiled']} | {summary['unchanged']} | {summary['failed']} | "
        f"{summary['denied']} | {summary['rows']:,} | {human_bytes(summary['bytes'])} |",
    ]
    if summary["errors"]:
        lines += ["", "## Failed datasets", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in sorted(summary["errors"].items())]
    if summary["denials"]:
        lines += ["", "## Refused by the policy layer", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in sorted(summary["denials"].items())]
    return "\n".join(lines) + "\n"
