"""``lakeward rag``: IFC RAG datastores over the lake's document datasets.

``ingest`` chunks and embeds a dataset's documents into a store (Spark; incremental);
``query`` answers from the documents you may read, with citations and the answer's label;
``delete`` removes documents as if the store had been built without them (opt-out);
``rebuild`` rebuilds a store from its sources; ``ls`` and ``show`` list stores and their
label classes as you may see them. Who asks is authenticated, never a flag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from lakeward.cli._identity import catalog_and_me
from lakeward.cli._output import emit_json, table

_PURPOSE_HELP = "Purpose declared for the request (default document_retrieval)."


@click.group()
def rag() -> None:
    """IFC RAG stores: ingest, query, delete, rebuild, ls, show."""


def _print_ingest(report: Any, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    d = report.to_dict()
    for warning in d["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{d['store']} {d['version']}: {d['added']} added, {d['changed']} changed, "
        f"{d['relabelled']} relabelled, {d['removed']} removed, {d['unchanged']} unchanged "
        f"({d['embedded_chunks']} chunks embedded); {d['documents']} documents, "
        f"{d['chunks']} chunks in {len(d['classes'])} label classes, {d['seconds']:.1f} s"
    )


def _store_options(f: Any) -> Any:
    f = click.option(
        "--quantizer",
        type=click.Choice(["none", "vocabulary"]),
        default=None,
        help="Inverted lists: none (exact scans; the default) or vocabulary (fixed lists from "
        "the model's vocabulary, for stores whose readers see more than "
        "LAKEWARD_RAG_EXACT_THRESHOLD chunks).",
    )(f)
    f = click.option(
        "--overlap", type=int, default=None, help="Sentences a chunk repeats from the previous one."
    )(f)
    f = click.option(
        "--chunk-chars", type=int, default=None, help="Largest chunk in characters (≥ 50)."
    )(f)
    return f


@rag.command("ingest")
@click.argument("store")
@click.option("--dataset", "dataset", required=True, metavar="D", help="The document dataset.")
@_store_options
@click.option("--purpose", default="document_retrieval", show_default=False, help=_PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ingest_command(
    store: str,
    dataset: str,
    chunk_chars: int | None,
    overlap: int | None,
    quantizer: str | None,
    purpose: str,
    as_json: bool,
) -> None:
    """Ingest dataset D's documents into STORE (created if new), incrementally.

    D has doc_id, text, readers (user:<name>/group:<name>: a list, or a comma-separated
    cell in CSV) and optionally licence (public_domain, permissive, attribution,
    restricted; default permissive) and title. New and changed documents (by text hash) are
    chunked and embedded on Spark, unchanged ones never again; documents gone from D leave
    the store. Decided as rag.ingest on D. Any bad document (duplicate id, too large, not
    UTF-8, unknown licence) stops the ingest with every problem listed; nothing changes.
    """
    from lakeward.rag import ingest

    catalog, principal = catalog_and_me()
    report = ingest(
        catalog,
        principal,
        store,
        dataset,
        purpose=purpose,
        chunk_chars=chunk_chars,
        overlap=overlap,
        quantizer=quantizer,
    )
    _print_ingest(report, as_json)


@rag.command("rebuild")
@click.argument("store")
@_store_options
@click.option("--purpose", default="document_retrieval", help=_PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rebuild_command(
    store: str,
    chunk_chars: int | None,
    overlap: int | None,
    quantizer: str | None,
    purpose: str,
    as_json: bool,
) -> None:
    """Rebuild STORE from its source datasets (every document read and embedded again).

    New --chunk-chars, --overlap or --quantizer take effect here. Deleted (opted-out)
    documents stay out.
    """
    from lakeward.rag import rebuild

    catalog, principal = catalog_and_me()
    report = rebuild(
        catalog,
        principal,
        store,
        purpose=purpose,
        chunk_chars=chunk_chars,
        overlap=overlap,
        quantizer=quantizer,
    )
    _print_ingest(report, as_json)


def _read_queries(path: str) -> list[str]:
    from lakeward.errors import InputError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    queries: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise InputError(f'{path}: line {number} is not an object with a "text" string')
        queries.append(record["text"])
    if not queries:
        raise InputError(f'{path}: no queries (one JSON object per line: {{"text": "..."}})')
    return queries


def _print_answer(result: dict[str, Any]) -> None:
    from rich.markup import escape

    rows = [
        [str(i), escape(r["doc_id"]), f"{r['score']:.4f}", r["licence"], escape(r["title"][:40])]
        for i, r in enumerate(result["results"], 1)
    ]
    table(["#", "doc_id", "score", "licence", "title"], rows)
    if result["answer"]:
        click.echo("")
        for s in result["sentences"]:
            click.echo(f"{s['text']} [{s['doc_id']}@{s['offset']}]")
        label = result["label"]
        click.echo(f"label: licence {label['licence']}, readers {', '.join(label['readers'])}")


@rag.command("query")
@click.argument("store")
@click.argument("text", required=False)
@click.option(
    "--queries",
    "queries_file",
    metavar="FILE",
    default=None,
    help='JSON Lines of {"text": ...}: answer each, in order (one JSON object per line).',
)
@click.option("--k", "k", type=int, default=5, show_default=True, help="Documents to return.")
@click.option("--purpose", default="document_retrieval", help=_PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per query).")
def query_command(
    store: str, text: str | None, queries_file: str | None, k: int, purpose: str, as_json: bool
) -> None:
    """Answer TEXT (or every query in --queries FILE) from the documents of STORE you may read.

    Results are documents (best chunk first) with scores; the answer is sentences of the top
    chunks, each citing its document and offset; its label is the join of the cited
    documents' labels. A store you may read nothing of answers as one that does not exist.
    """
    from lakeward.errors import InputError
    from lakeward.rag import query_many

    if (text is None) == (queries_file is None):
        raise InputError("give the query TEXT or --queries FILE (one of them)")
    texts = [text] if text is not None else _read_queries(str(queries_file))
    catalog, principal = catalog_and_me()
    results = query_many(catalog, principal, store, texts, k=k, purpose=purpose)
    for result in results:
        data = result.to_dict()
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            _print_answer(data)


@rag.command("delete")
@click.argument("store")
@click.argument("doc_ids", metavar="DOC_ID...", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Confirm: the documents leave the store for good.")
@click.option("--purpose", default="document_retrieval", help=_PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def delete_command(
    store: str, doc_ids: tuple[str, ...], yes: bool, purpose: str, as_json: bool
) -> None:
    """Delete documents from STORE as if it had been built without them (opt-out).

    The store is rewritten without them and its previous version removed; later ingests
    and rebuilds never add them back. Decided as rag.delete on their source datasets.
    """
    from lakeward.errors import InputError
    from lakeward.rag import delete

    if not yes:
        raise InputError("deleting documents cannot be undone: pass --yes to confirm")
    catalog, principal = catalog_and_me()
    report = delete(catalog, principal, store, list(doc_ids), purpose=purpose)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(
            f"{report.store} {report.version}: {report.deleted} document(s) deleted "
            f"({report.chunks_removed} chunks)"
        )


@rag.command("ls")
@click.option("--purpose", default="document_retrieval", help=_PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls_command(purpose: str, as_json: bool) -> None:
    """The stores holding documents you may read (counts are of what you may read)."""
    from lakeward.rag import list_stores

    catalog, principal = catalog_and_me()
    stores = list_stores(catalog, principal, purpose=purpose)
    if as_json:
        emit_json([s.to_dict() for s in stores])
        return
    table(
        ["store", "documents", "chunks", "classes", "quantizer"],
        [
            [s.store, str(s.documents), str(s.chunks), str(len(s.classes)), s.settings["quantizer"]]
            for s in stores
        ],
    )


@rag.command("show")
@click.argument("store")
@click.option("--purpose", default="document_retrieval", help=_PURPOSE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(store: str, purpose: str, as_json: bool) -> None:
    """STORE's settings and the label classes you may read, with their sizes."""
    from lakeward.rag import show

    catalog, principal = catalog_and_me()
    summary = show(catalog, principal, store, purpose=purpose)
    if as_json:
        emit_json(summary.to_dict())
        return
    s = summary.settings
    click.echo(
        f"{summary.store}: {summary.documents} documents, {summary.chunks} chunks you may read; "
        f"model {s['model']}, chunks ≤ {s['chunk_chars']} chars (overlap {s['overlap']}), "
        f"quantizer {s['quantizer']}"
    )
    table(
        ["class", "dataset", "licence", "readers", "documents", "chunks"],
        [
            [
                c.uid,
                c.dataset,
                c.licence,
                ", ".join(c.readers) or "(nobody)",
                str(c.documents),
                str(c.chunks),
            ]
            for c in summary.classes
        ],
    )
