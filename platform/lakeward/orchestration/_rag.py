"""The ``rag_ingest`` and ``rag_rebuild`` flows: keep RAG stores in step with their sources.

Thin: parameters → :func:`lakeward.rag.ingest` / :func:`lakeward.rag.rebuild` → artifacts.
The run acts as its authenticated principal (the worker's service credential, or the OS
user in embedded mode) for ``purpose`` (``document_retrieval``); each source dataset is
decided as ``rag.ingest`` (audited).

``rag_ingest`` is incremental: unchanged documents are not embedded again, so a scheduled
run over an unchanged dataset reads its metadata and writes nothing. ``datasets`` unset
ingests every source the store already has.

Artifacts (for operators; no document id, text or reader name): a table of the store's label
classes (class id, dataset, licence, how many readers entries, documents, chunks) and a
Markdown summary of what changed (documents added, changed, relabelled, removed, unchanged,
skipped; chunks embedded) or why the run failed. A failed or refused ingest publishes its
summary, then fails the run.
"""

from __future__ import annotations

from typing import Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from lakeward.catalog import Catalog  # noqa: E402
from lakeward.orchestration._artifacts import withhold_values  # noqa: E402

__all__ = ["RAG_ARTIFACT_KEY", "rag_ingest", "rag_markdown", "rag_rebuild", "rag_table"]

RAG_ARTIFACT_KEY = "lakeward-rag"


def rag_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per label class (no reader names: how many entries its readers list has)."""
    return [
        {
            "class": c["id"],
            "dataset": c["dataset"],
            "licence": c["licence"],
            "readers_entries": len(c["readers"]),
            "documents": c["documents"],
            "chunks": c["chunks"],
        }
        for c in report.get("classes", [])
    ]


def rag_markdown(report: dict[str, Any]) -> str:
    """What an ingest or rebuild changed, or why it failed."""
    kind = report.get("kind", "ingest")
    store = report.get("store", "?")
    lines = [f"# RAG {kind}: `{store}`", ""]
    if report.get("error"):
        lines.append(f"**Failed**: {report['error']}")
        return "\n".join(lines) + "\n"
    changed = sum(report[k] for k in ("added", "changed", "relabelled", "removed"))
    head = (
        f"Datasets {', '.join(f'`{d}`' for d in report['datasets'])} by **{report['principal']}** "
        f"in {report['seconds']:.1f} s: "
    )
    if changed == 0 and report["embedded_chunks"] == 0:
        lines.append(head + "nothing changed; the store was not rewritten.")
    else:
        lines.append(head + f"version `{report['version']}`.")
    lines += [
        "",
        "| added | changed | relabelled | removed | unchanged | empty (skipped) | opted out "
        "(skipped) | chunks embedded |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {report['added']} | {report['changed']} | {report['relabelled']} | "
        f"{report['removed']} | {report['unchanged']} | {report['skipped_empty']} | "
        f"{report['skipped_opted_out']} | {report['embedded_chunks']} |",
        "",
        f"The store holds {report['documents']} documents in {report['chunks']} chunks, "
        f"{len(report['classes'])} label classes.",
    ]
    if report.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"


def _publish(report: dict[str, Any]) -> None:
    create_table_artifact(
        key=RAG_ARTIFACT_KEY,
        table=rag_table(report),
        description=f"Lakeward RAG store {report.get('store')}: label classes and sizes",
    )
    create_markdown_artifact(
        key=f"{RAG_ARTIFACT_KEY}-summary",
        markdown=rag_markdown(report),
        description=f"Lakeward RAG {report.get('kind', 'ingest')}: what changed",
    )


@task(name="rag-ingest", cache_policy=NO_CACHE)
def ingest_task(
    principal: str, store: str, datasets: list[str] | None, purpose: str, rebuild: bool
) -> dict[str, Any]:
    """Ingest each dataset (or rebuild the store); the report, or the error that stopped it."""
    from lakeward.errors import LakewardError
    from lakeward.rag import ingest
    from lakeward.rag import rebuild as rebuild_store
    from lakeward.rag._service import store_sources

    catalog = Catalog.shared()
    kind = "rebuild" if rebuild else "ingest"
    try:
        if rebuild:
            report = rebuild_store(catalog, principal, store, purpose=purpose).to_dict()
        else:
            names = datasets or store_sources(store)
            if not names:
                raise LakewardError(
                    f"store {store!r} has no sources yet: pass datasets=[...] for its first ingest"
                )
            for name in names:
                report = ingest(catalog, principal, store, name, purpose=purpose).to_dict()
                get_run_logger().info(
                    "%s ← %s: %d added, %d changed, %d removed, %d unchanged",
                    store,
                    name,
                    report["added"],
                    report["changed"],
                    report["removed"],
                    report["unchanged"],
                )
            report["datasets"] = names
    except LakewardError as exc:
        return {"store": store, "kind": kind, "error": withhold_values(str(exc))}
    return {**report, "kind": kind, "principal": principal}


def _run(
    store: str, datasets: list[str] | None, purpose: str, requested_by: str | None, rebuild: bool
) -> dict[str, Any]:
    from lakeward.errors import LakewardError
    from lakeward.orchestration._identity import run_as

    with run_as(requested_by) as me:
        report = ingest_task(me.name, store, datasets, purpose, rebuild)
        if requested_by:
            report["requested_by"] = requested_by
        _publish(report)
        if report.get("error"):
            raise LakewardError(f"RAG {report['kind']} of {store!r} failed: {report['error']}")
        return report


@flow(name="rag_ingest")
def rag_ingest(
    store: str,
    datasets: list[str] | None = None,
    purpose: str = "document_retrieval",
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Ingest document datasets into a RAG store, incrementally, and publish what changed.

    Args:
        store: The store's name (created on its first ingest).
        datasets: Document datasets to ingest (default: the store's sources).
        purpose: The purpose declared to the policy layer.
        requested_by: Who asked for the run (recorded, never decided on).

    Returns:
        The last ingest's report (counts, classes), with ``kind``, ``principal``.
    """
    return _run(store, datasets, purpose, requested_by, rebuild=False)


@flow(name="rag_rebuild")
def rag_rebuild(
    store: str,
    purpose: str = "document_retrieval",
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Rebuild a RAG store from its sources (every document embedded again) and publish it."""
    return _run(store, None, purpose, requested_by, rebuild=True)
