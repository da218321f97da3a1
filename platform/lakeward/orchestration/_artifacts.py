"""Render Lakeward results as Prefect artifacts.

Prefect's OSS server has no users: whoever reaches its UI reads every artifact. So an
artifact carries only what any catalog viewer may see (no column statistics), and error
texts pass :func:`withhold_values` first: Spark's parse errors quote the offending record or
value from the file (``Malformed records are detected in record parsing: [4711,
jane@example.com,...]``), which may be a value the policy masks.
"""

from __future__ import annotations

import re
from typing import Any

from lakeward._units import human_bytes

__all__ = ["profile_markdown", "profile_table", "withhold_values"]

WITHHELD = "<value withheld>"
# Spark error texts that quote data from the file: the record, the field value, a cast or
# parse input. Each pattern keeps the words around the value, so the cause stays readable.
# A record may hold anything (". ", ")"): it is withheld up to the end of the quoted cause
# (its last ".)"), else to the end of the message.
_VALUE_BEARING = [
    re.compile(r"(record parsing: )(?=.*\.\)).*(?=\.\))", re.S),
    re.compile(r"(record parsing: )(?!<value withheld>).*$", re.S),
    re.compile(r"(Cannot parse the value ).*?(?= of the field)", re.S),
    re.compile(r"(The value ).*?(?= of the type)", re.S),
    re.compile(r"(Text ).*?(?= could not be parsed)", re.S),
]


def withhold_values(message: str) -> str:
    """``message`` with the file data that Spark's parse errors quote replaced by a marker."""
    for pattern in _VALUE_BEARING:
        message = pattern.sub(lambda m: m.group(1) + WITHHELD, message)
    return message


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
            "error": withhold_values(o["error"] or ""),
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
        lines += [
            f"- `{name}`: {withhold_values(reason)}"
            for name, reason in sorted(summary["errors"].items())
        ]
    if summary["denials"]:
        lines += ["", "## Refused by the policy layer", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in sorted(summary["denials"].items())]
    return "\n".join(lines) + "\n"
