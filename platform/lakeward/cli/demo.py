"""``lakeward demo``: the main job on embedded defaults, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lakeward.cli._output import emit_json, err, table


def _manifest_matches(root: Path, seed: int, size_mb: float) -> bool:
    from lakeward.lake import MANIFEST_NAME

    manifest = root / MANIFEST_NAME
    if not manifest.exists():
        return False
    data = json.loads(manifest.read_text())
    return bool(data.get("seed") == seed and float(data.get("size_mb", -1)) == float(size_mb))


@click.command()
@click.option("--size-mb", default=50.0, show_default=True, type=float, help="Sample lake size.")
@click.option("--seed", default=7, show_default=True, type=int, help="Sample lake seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the flow's summary as JSON.")
def demo(size_mb: float, seed: int, as_json: bool) -> None:
    """Generate and profile a sample lake, match its glossary, classify it, index documents.

    The columns are matched to a sample business glossary and classified; sample help-desk
    documents are indexed into an access-controlled RAG store and asked a question.

    Runs on embedded defaults: local Spark, the SQLite catalog under LAKEWARD_HOME and
    Prefect's own temporary API (its home under LAKEWARD_HOME/prefect). Re-running reuses
    the lake and skips unchanged datasets.
    """
    from lakeward.lake import generate_lake
    from lakeward.settings import get_settings

    settings = get_settings()
    root = settings.home / "sample-lake"
    if _manifest_matches(root, seed, size_mb):
        err.print(f"[1/6] sample lake already at {root}", highlight=False)
    else:
        err.print(f"[1/6] generating a {size_mb:g} MB sample lake at {root} ...", highlight=False)
        generate_lake(root, seed=seed, size_mb=size_mb, overwrite=root.exists())
    from lakeward.catalog import Catalog
    from lakeward.cli._identity import me
    from lakeward.policy import acknowledge_purpose, engine_for

    catalog = Catalog.shared()
    bundle = engine_for(catalog).bundle
    principal = me(catalog).name  # the OS user's principal (local-user in the default bundle)
    for purpose in ("catalog_maintenance", "data_governance", "document_retrieval"):
        err.print(
            f"      {principal} acknowledges purpose {purpose}: "
            f"{bundle.purposes[purpose]!r} (recorded in the audit log)",
            highlight=False,
        )
        acknowledge_purpose(catalog, bundle, principal, purpose)
    err.print(
        "[2/6] profiling it on Spark through the profile_lake flow "
        "(Prefect starts a temporary API first) ...",
        highlight=False,
    )
    from lakeward.orchestration._flows import profile_lake
    from lakeward.orchestration._tagging import tag_lake

    summary = profile_lake(str(root), purpose="catalog_maintenance")
    summary["glossary"] = _match_glossary(catalog, principal)
    err.print(
        "[4/6] classifying every column (names and a seeded sample of values) through the "
        "tag_lake flow ...",
        highlight=False,
    )
    tags = tag_lake()
    summary["tagging"] = {
        k: tags[k] for k in ("classified", "new_suggestions", "approved", "seconds") if k in tags
    }
    summary["rag"] = _index_documents(catalog, settings.home)
    err.print("[6/6] done", highlight=False)
    if as_json:
        emit_json(summary)
        return
    table(
        ["dataset", "status", "version", "rows", "columns", "seconds"],
        [
            [d["name"], d["status"], d["version"], d["rows"], d["columns"], f"{d['seconds']:.2f}"]
            for d in summary["datasets"]
        ],
    )
    click.echo(
        f"\n{summary['profiled']} profiled, {summary['unchanged']} unchanged, "
        f"{summary['failed']} failed: {summary['rows']:,} rows, "
        f"{summary['bytes'] / 1e6:.1f} MB in {summary['seconds']:.1f} s.\n"
        f"Glossary: {_glossary_line(summary['glossary'])}\n"
        f"Tagging: {_tagging_line(summary['tagging'])}\n"
        f"RAG: {_rag_line(summary['rag'])}\n"
        f"Catalog: {settings.catalog_url}\n"
        f"Next: `lakeward catalog show sales.customers` (min/max of personal columns masked), "
        f"`lakeward glossary review` (accept a term: its tags reach the policies), "
        f"`lakeward tag ls --status suggested`, `lakeward tag explain sales.customers.email`, "
        f"`lakeward rag query helpdesk 'who approves travel hotels?'` (answers from what you may "
        f"read, cited), `lakeward lake profile` (re-profiles only changed datasets)."
    )


def _tagging_line(tagging: dict[str, object]) -> str:
    parts = [f"{tagging[k]} {k.replace('_', ' ')}" for k in tagging if k != "seconds"]
    seconds = tagging.get("seconds")
    return ", ".join(parts) + (f" in {seconds:.1f} s" if isinstance(seconds, float) else "")


def _match_glossary(catalog: object, principal: str) -> dict[str, object]:
    """Import the sample business glossary and match every column to it (metadata only)."""
    from importlib.resources import as_file, files

    from lakeward.catalog import Catalog
    from lakeward.glossary import import_glossary
    from lakeward.orchestration._glossary import glossary_match

    assert isinstance(catalog, Catalog)
    resource = files("lakeward") / "_resources" / "glossary" / "business.yaml"
    with as_file(resource) as path:
        imported = import_glossary(catalog, principal, path, name="business")
    err.print(
        f"[3/6] matching every column to the sample business glossary (version "
        f"{imported.version}; names, types and descriptions only) through the glossary_match "
        "flow ...",
        highlight=False,
    )
    result = glossary_match(glossary="business")
    return {k: result[k] for k in ("columns", "new_suggestions", "seconds") if k in result}


def _glossary_line(glossary: dict[str, object]) -> str:
    parts = [f"{glossary[k]} {k.replace('_', ' ')}" for k in glossary if k != "seconds"]
    seconds = glossary.get("seconds")
    return ", ".join(parts) + (f" in {seconds:.1f} s" if isinstance(seconds, float) else "")


QUESTION = "How do I fix the VPN after an update?"


def _index_documents(catalog: object, home: Path) -> dict[str, object]:
    """Ingest the sample help-desk documents into the RAG store ``helpdesk`` and ask it."""
    from importlib.resources import files

    from lakeward.catalog import Catalog
    from lakeward.cli._identity import me
    from lakeward.lake import register_lake
    from lakeward.orchestration._rag import rag_ingest
    from lakeward.rag import query

    assert isinstance(catalog, Catalog)
    root = home / "sample-docs"
    root.mkdir(parents=True, exist_ok=True)
    data = (files("lakeward") / "_resources" / "rag" / "helpdesk.jsonl").read_bytes()
    target = root / "helpdesk.jsonl"
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)
    register_lake(catalog, root)
    err.print(
        "[5/6] indexing sample help-desk documents (readers and licences per document) into "
        "the RAG store helpdesk through the rag_ingest flow ...",
        highlight=False,
    )
    report = rag_ingest(store="helpdesk", datasets=["helpdesk"])
    principal = me(catalog).name
    answer = query(catalog, principal, "helpdesk", QUESTION, k=3).to_dict()
    return {
        **{k: report[k] for k in ("added", "unchanged", "documents", "chunks", "seconds")},
        "classes": len(report["classes"]),
        "question": QUESTION,
        "asked_by": principal,
        "answer": answer["answer"],
        "citations": answer["citations"],
    }


def _rag_line(rag: dict[str, object]) -> str:
    return (
        f"{rag['added']} documents added, {rag['unchanged']} unchanged ({rag['documents']} in "
        f"{rag['classes']} label classes); asked as {rag['asked_by']}: {rag['question']!r} → "
        f"{rag['answer']!r} {rag['citations']}"
    )
