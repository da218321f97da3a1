"""The ``glossary_match`` flow: match new and changed columns to the glossary, publish them.

Thin: parameters → :func:`lakeward.glossary.match` → artifacts. The run acts as its
authenticated principal (the worker's service credential, or the OS user in embedded mode)
for ``purpose`` (``data_governance``): each dataset is decided as ``glossary.match``
(audited) and read as **metadata only** (names, types, descriptions); a dataset the policy
refuses is skipped and reported ``denied`` with the reason. By default only columns that are
new or whose metadata changed since the last match with the glossary are ranked, so a
nightly re-run is cheap and idempotent: nothing changed, nothing new.

``glossary`` unset matches every glossary that has active terms, one after the other; a
catalog without any glossary is a run with nothing to do (so ``lakeward_pipeline`` works
before a steward imports one). The optional LLM reranker is used when the settings turn it
on (``LAKEWARD_GLOSSARY_RERANKER_URL``).

Artifacts: a table of the **new** suggestions (glossary, dataset, column, term, label,
score, tags; metadata only, never a value) and a Markdown summary (datasets per status, the
denied ones with the policy's reason, or "nothing new"). Stewards review with ``lakeward
glossary review`` and ``accept``/``reject``. Like ``tag_lake``, the flow fails after
publishing when a dataset failed.
"""

from __future__ import annotations

import time
from typing import Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from lakeward.catalog import Catalog  # noqa: E402
from lakeward.orchestration._artifacts import withhold_values  # noqa: E402

__all__ = [
    "GLOSSARY_ARTIFACT_KEY",
    "MAX_TABLE_ROWS",
    "glossary_markdown",
    "glossary_match",
    "glossary_summary",
    "glossary_table",
]

GLOSSARY_ARTIFACT_KEY = "lakeward-glossary-match"
#: New suggestions listed in the table artifact and the flow's result at most (the first run
#: over a big catalog suggests many; ``lakeward glossary review`` lists them all).
MAX_TABLE_ROWS = 1000
#: Dataset outcomes in the order the summary shows them (others follow as they appear).
_STATUSES = ("matched", "unchanged", "not_profiled", "no_columns", "denied")


def _suggestion_row(glossary: str, s: dict[str, Any]) -> dict[str, Any]:
    return {
        "glossary": glossary,
        "dataset": s["dataset"],
        "column": s["column"],
        "term": s["term"],
        "label": s["label"],
        "score": round(float(s["score"]), 3),
        "tags": list(s["tags"]),
    }


def glossary_summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of match reports (:class:`lakeward.glossary.MatchReport` ``to_dict()``s).

    The rankings are dropped (they can be big); the new suggestions are kept up to
    :data:`MAX_TABLE_ROWS`, each with its glossary, dataset, column, term, label, score and
    tags.

    Returns:
        ``glossaries``, ``engine``, a count per dataset status (top level and ``counts``),
        ``columns`` (ranked), ``new_suggestions`` (all) and ``new`` (listed), ``datasets``
        (one row per glossary and dataset) and ``denials`` (dataset → reason).
    """
    datasets: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    total_new = 0
    for report in reports:
        for d in report["datasets"]:
            datasets.append({"glossary": report["glossary"], **d})
        total_new += len(report["new"])
        new += [_suggestion_row(report["glossary"], s) for s in report["new"]]
    statuses = list(_STATUSES) + sorted({d["status"] for d in datasets} - set(_STATUSES))
    counts = {s: sum(d["status"] == s for d in datasets) for s in statuses}
    return {
        "glossaries": [r["glossary"] for r in reports],
        "engine": ", ".join(sorted({r["engine"] for r in reports})) or "none",
        **counts,
        "counts": counts,
        "columns": sum(d["columns"] for d in datasets if d["status"] == "matched"),
        "new_suggestions": total_new,
        "new": new[:MAX_TABLE_ROWS],
        "datasets": datasets,
        "denials": {d["dataset"]: d["error"] or "" for d in datasets if d["status"] == "denied"},
    }


def glossary_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per new suggestion for a Prefect table artifact (metadata only)."""
    return [{**row, "tags": ", ".join(row["tags"])} for row in summary["new"]]


def glossary_markdown(summary: dict[str, Any]) -> str:
    """A Markdown summary of a match run: datasets per status, denials, or nothing new."""
    scope = "new and changed columns" if summary["changed_only"] else "every column"
    glossaries = ", ".join(f"`{g}`" for g in summary["glossaries"])
    lines = ["# Glossary matching", ""]
    if not summary["glossaries"]:
        lines += [
            "No glossary with active terms in the catalog: nothing to match. Import one with "
            "`lakeward glossary import FILE --name G`.",
        ]
        return "\n".join(lines) + "\n"
    lines += [
        f"Glossary {glossaries} matched on {scope} by **{summary['principal']}** for purpose "
        f"**{summary['purpose']}** (top {summary['top_k']}"
        + (", one-to-one per table" if summary["one_to_one"] else "")
        + f", engine {summary['engine']}) in {summary['seconds']:.1f} s.",
        "",
        "| " + " | ".join(s.replace("_", " ") for s in summary["counts"]) + " |",
        "|" + "---:|" * len(summary["counts"]),
        "| " + " | ".join(str(n) for n in summary["counts"].values()) + " |",
        "",
    ]
    if summary["new_suggestions"]:
        lines.append(
            f"**{summary['new_suggestions']}** new suggestions over {summary['columns']} ranked "
            "columns await a steward (`lakeward glossary review`, then `accept` or `reject`)."
        )
        if summary["new_suggestions"] > len(summary["new"]):
            lines.append(f"The table lists the first {len(summary['new'])}.")
    elif summary["columns"]:
        lines.append(
            f"Nothing new: {summary['columns']} columns ranked, none with a new suggestion "
            "above the threshold."
        )
    else:
        lines.append("Nothing new: no column is new or changed since the last match.")
    if summary["denials"]:
        lines += ["", "## Refused by the policy layer (not matched)", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in sorted(summary["denials"].items())]
    return "\n".join(lines) + "\n"


def _glossaries(catalog: Catalog, glossary: str | None) -> list[str | None]:
    """The glossary named, or every glossary with an active term (by name)."""
    if glossary is not None:
        return [glossary]
    from sqlalchemy import select

    from lakeward.catalog import Glossary, GlossaryTerm

    with catalog.session() as session:
        names = session.scalars(
            select(Glossary.name)
            .join(GlossaryTerm, GlossaryTerm.glossary_id == Glossary.id)
            .where(GlossaryTerm.status == "active")
            .distinct()
            .order_by(Glossary.name)
        )
        return list(names)


@task(name="match-glossary", cache_policy=NO_CACHE)
def match_task(
    principal: str,
    glossary: str | None,
    datasets: list[str] | None,
    top_k: int,
    changed_only: bool,
    one_to_one: bool,
    purpose: str,
) -> dict[str, Any]:
    """Match the columns to each glossary; returns the summary (no rankings, no values)."""
    from lakeward.glossary import match
    from lakeward.glossary._rerank import reranker_from_settings

    started = time.perf_counter()
    catalog = Catalog.shared()
    reranker = reranker_from_settings()
    reports = [
        match(
            catalog,
            principal,
            glossary=name,
            datasets=datasets,
            top_k=top_k,
            one_to_one=one_to_one,
            changed_only=changed_only,
            purpose=purpose,
            reranker=reranker,
        ).to_dict()
        for name in _glossaries(catalog, glossary)
    ]
    summary = glossary_summary(reports)
    for name, why in summary["denials"].items():
        get_run_logger().warning("%s: %s", name, withhold_values(why))
    return {**summary, "seconds": time.perf_counter() - started}


@task(name="publish-glossary-report", cache_policy=NO_CACHE)
def publish_task(summary: dict[str, Any]) -> None:
    """Table artifact (one row per new suggestion) and Markdown summary."""
    create_table_artifact(
        key=GLOSSARY_ARTIFACT_KEY,
        table=glossary_table(summary),
        description="Lakeward glossary matching: new suggestions awaiting a steward",
    )
    create_markdown_artifact(
        key=f"{GLOSSARY_ARTIFACT_KEY}-summary", markdown=glossary_markdown(summary)
    )


@flow(name="glossary_match")
def glossary_match(
    glossary: str | None = None,
    datasets: list[str] | None = None,
    top_k: int = 5,
    changed_only: bool = True,
    one_to_one: bool = False,
    purpose: str = "data_governance",
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Match columns to glossary terms from metadata only and publish the new suggestions.

    Args:
        glossary: The glossary's name (default: every glossary with active terms).
        datasets: Dataset names (default: every registered dataset, metadata-only ones
            included).
        top_k: Candidates ranked per column (suggested when above the threshold).
        changed_only: Only columns that are new or whose metadata changed since the last
            match with the glossary.
        one_to_one: Per table, give no two columns the same first term.
        purpose: The purpose declared to the policy layer.
        requested_by: Who asked for the run (recorded in the audit log, never decided on).

    Returns:
        The summary: counts per dataset status, the new suggestions (up to
        :data:`MAX_TABLE_ROWS`), denials, principal, purpose and parameters. A refused
        dataset is reported, not raised (matching reads metadata only; nothing fails per
        dataset).
    """
    from lakeward.orchestration._identity import run_as

    with run_as(requested_by) as me:
        summary = match_task(me.name, glossary, datasets, top_k, changed_only, one_to_one, purpose)
        summary = {
            **summary,
            "principal": me.name,
            "purpose": purpose,
            "top_k": top_k,
            "changed_only": changed_only,
            "one_to_one": one_to_one,
        }
        if requested_by:
            summary["requested_by"] = requested_by
        publish_task(summary)
        return summary
