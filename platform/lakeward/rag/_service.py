"""RAG stores as a service: ingest, query, delete (opt-out), rebuild, list and show.

Every entry point takes the catalog and the acting principal and asks the policy layer
itself:

- :func:`ingest` / :func:`rebuild`: ``rag.ingest`` on each source dataset (audited);
- :func:`query`, :func:`list_stores`, :func:`show`: ``rag.query`` on the store's label
  classes, all in one Cedar batch, one audit record (:func:`lakeward.policy.guard_documents`).
  What a principal gets back is computed from the classes they may read and nothing else —
  results, scores, answer, citations, counts, and the error for a store they cannot read,
  which is the error for a store that does not exist;
- :func:`delete`: ``rag.delete`` on each affected source dataset (audited).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeward._embed import DIMENSIONS
from lakeward.errors import InputError, NotFound
from lakeward.policy._labels import DEFAULT_LICENCE, LICENCES, split_readers
from lakeward.rag._answer import Answer, compose_answer
from lakeward.rag._generate import generator_from_settings
from lakeward.rag._index import Quantizer, SearchParams
from lakeward.rag._store import (
    ChunkRows,
    DocumentRecord,
    LabelClass,
    StoreSettings,
    StoreVersion,
    add_optouts,
    append_history,
    build_version,
    load_current,
    opted_out,
    optout_key,
    optout_marker,
    read_current,
    read_json,
    store_lock,
    valid_store_name,
    write_json,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeward.catalog import Catalog
    from lakeward.policy import DocumentFacts

__all__ = [
    "PURPOSE",
    "QUANTIZERS",
    "DeleteReport",
    "IngestReport",
    "QueryResult",
    "StoreSummary",
    "delete",
    "ingest",
    "list_stores",
    "query",
    "query_many",
    "rebuild",
    "show",
    "store_sources",
]

PURPOSE = "document_retrieval"
#: ``none``: one list, every query scans its visible chunks exactly; ``vocabulary``: lists
#: around centroids of the embedding model's own vocabulary (public, fixed), for stores whose
#: visible sets exceed the exact threshold.
QUANTIZERS = ("none", "vocabulary")
MAX_K = 100
_PROBLEMS_SHOWN = 20


def _settings() -> Any:
    from lakeward.settings import get_settings

    return get_settings().rag


def _root(store: str) -> Path:
    return Path(_settings().dir) / valid_store_name(store)


_valid = valid_store_name


def _no_store(store: str) -> NotFound:
    # One message for a store that does not exist and one whose documents the caller may
    # not read: the error must not tell them apart.
    return NotFound(
        f"no RAG store {store!r} with documents you may read; `lakeward rag ls` lists yours"
    )


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestReport:
    """What an ingest or rebuild changed (counts; document ids never leave the store)."""

    store: str
    datasets: tuple[str, ...]
    added: int = 0
    changed: int = 0
    relabelled: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped_empty: int = 0
    skipped_opted_out: int = 0
    embedded_chunks: int = 0
    documents: int = 0
    chunks: int = 0
    classes: tuple[LabelClass, ...] = ()
    warnings: tuple[str, ...] = ()
    version: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "datasets": list(self.datasets),
            "added": self.added,
            "changed": self.changed,
            "relabelled": self.relabelled,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped_empty": self.skipped_empty,
            "skipped_opted_out": self.skipped_opted_out,
            "embedded_chunks": self.embedded_chunks,
            "documents": self.documents,
            "chunks": self.chunks,
            "classes": [c.to_dict() for c in self.classes],
            "warnings": list(self.warnings),
            "version": self.version,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class StoreSummary:
    """A store as one principal sees it: only the classes they may read are counted."""

    store: str
    documents: int
    chunks: int
    classes: tuple[LabelClass, ...]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "documents": self.documents,
            "chunks": self.chunks,
            "classes": [c.to_dict() for c in self.classes],
            "settings": self.settings,
        }


@dataclass(frozen=True)
class QueryResult:
    """One query's answer for one principal."""

    results: tuple[dict[str, Any], ...]
    answer: Answer

    def to_dict(self) -> dict[str, Any]:
        return {"results": list(self.results), **self.answer.to_dict()}


# --------------------------------------------------------------------------------------------
# Ingest and rebuild
# --------------------------------------------------------------------------------------------


@dataclass
class _Checked:
    records: list[DocumentRecord] = field(default_factory=list)
    skipped_empty: int = 0
    skipped_opted_out: int = 0
    warnings: list[str] = field(default_factory=list)


def _check(
    dataset: str,
    metas: Sequence[Any],
    users: set[str],
    groups: set[str],
    optouts: set[str],
    root: Path,
) -> _Checked:
    """Validate a dataset's documents; raise on any error, collect warnings."""
    max_bytes = _settings().max_document_bytes
    key = optout_key(root) if optouts else None  # read once, and only if anything opted out
    problems: list[str] = []
    seen: dict[str, int] = {}
    out = _Checked()
    no_readers = 0
    unknown: set[str] = set()
    for meta in metas:
        if meta.doc_id is None or not str(meta.doc_id).strip():
            problems.append("a document has no doc_id: every document needs a non-empty id")
            continue
        seen[meta.doc_id] = seen.get(meta.doc_id, 0) + 1
    dupes = sorted(d for d, n in seen.items() if n > 1)
    if dupes:
        problems.append(
            f"{len(dupes)} doc_id(s) occur more than once (first: {', '.join(dupes[:5])}); "
            "doc_id must be unique within the dataset"
        )
    for meta in metas:
        if meta.doc_id is None or not str(meta.doc_id).strip() or seen[meta.doc_id] > 1:
            continue
        where = f"document {meta.doc_id!r}"
        if meta.bytes > max_bytes:
            problems.append(
                f"{where}: its text is {meta.bytes:,} bytes, over the {max_bytes:,}-byte limit "
                "(LAKEWARD_RAG_MAX_DOCUMENT_BYTES); split it into several documents"
            )
            continue
        if meta.not_utf8:
            problems.append(
                f"{where}: its text is not valid UTF-8 (it decodes with replacement "
                "characters); re-encode the source as UTF-8"
            )
            continue
        licence = (meta.licence or "").strip() or DEFAULT_LICENCE
        if licence not in LICENCES:
            problems.append(
                f"{where}: unknown licence {meta.licence!r}; use one of {', '.join(LICENCES)}"
            )
            continue
        readers = meta.readers or ()
        u, g, bad = split_readers(readers)
        if bad:
            problems.append(
                f"{where}: readers entries {bad[:3]} are not user:<name> or group:<name>"
            )
            continue
        if not u and not g:
            no_readers += 1
        unknown |= {f"user:{x}" for x in u - users} | {f"group:{x}" for x in g - groups}
        if key is not None and optout_marker(key, meta.doc_id) in optouts:
            out.skipped_opted_out += 1
            continue
        if meta.sha256 is None or not meta.chars:
            out.skipped_empty += 1
            continue
        normalised = tuple(sorted({f"user:{x}" for x in u} | {f"group:{x}" for x in g}))
        out.records.append(
            DocumentRecord(meta.doc_id, dataset, meta.sha256, normalised, licence, meta.title)
        )
    if problems:
        shown = problems[:_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        raise InputError(
            f"dataset {dataset!r} has {len(problems)} document problem(s); nothing was "
            "ingested:\n  " + "\n  ".join(shown) + (f"\n  … and {more} more" if more else "")
        )
    if no_readers:
        out.warnings.append(
            f"{no_readers} document(s) have no readers: nobody can retrieve them until their "
            "readers column names user:<name> or group:<name>"
        )
    if out.skipped_empty:
        out.warnings.append(f"{out.skipped_empty} document(s) have empty text and were skipped")
    if unknown:
        names = sorted(unknown)
        out.warnings.append(
            f"readers name {len(names)} principal(s) or group(s) the policy bundle does not "
            f"know ({', '.join(names[:8])}{', …' if len(names) > 8 else ''}); they can "
            "retrieve nothing until principals.yaml lists them"
        )
    return out


def _quantizer(settings: StoreSettings) -> Quantizer:
    if settings.quantizer == "none":
        return Quantizer.none(DIMENSIONS)
    if settings.quantizer == "vocabulary":
        from lakeward.rag._quantizer import vocabulary_quantizer

        return vocabulary_quantizer()
    raise InputError(
        f"unknown quantizer {settings.quantizer!r}: use 'none' (exact) or 'vocabulary'"
    )


def _read_source(catalog: Catalog, spark: SparkSession | None, dataset: str) -> Any:
    from lakeward.catalog import DatasetRepository
    from lakeward.lake import read_dataset, spec_for
    from lakeward.rag._ingest import normalise_documents

    with catalog.session() as session:
        repo = DatasetRepository(session)
        record = repo.require(dataset)
        session.expunge(record)
    if record.format == "schema":
        raise InputError(
            f"dataset {dataset!r} is metadata only (imported schema): it has no documents"
        )
    if spark is None:
        from lakeward import spark as lakeward_spark

        spark = lakeward_spark.session()
    from lakeward.settings import get_settings

    spec = spec_for(record)
    frame = read_dataset(spark, spec, sniff_bytes=get_settings().lake.sniff_bytes)
    return spark, normalise_documents(frame, dataset), record, spec


def _spark_job(spec: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``job(*args, **kwargs)``, a Spark job over ``spec``.

    A read failure names the file and record, never a value.
    """
    from lakeward.errors import LakewardError
    from lakeward.lake import read_failure

    try:
        return job(*args, **kwargs)
    except LakewardError:
        raise
    except Exception as exc:
        raise read_failure(spec, exc) from None


def _ingest(
    catalog: Catalog,
    principal: str,
    store: str,
    datasets: Sequence[str],
    *,
    purpose: str,
    spark: SparkSession | None,
    reuse: bool,
    settings: StoreSettings | None,
) -> IngestReport:
    from lakeward.policy import engine_for, guard
    from lakeward.rag._ingest import embed_documents, scan_documents

    started = time.perf_counter()
    root = _root(store)
    for dataset in datasets:
        guard(catalog, principal, "rag.ingest", f"dataset:{dataset}", {"purpose": purpose})
    bundle = engine_for(catalog).bundle
    users, groups = set(bundle.users), set(bundle.groups)
    with store_lock(root):
        current = load_current(root) if read_current(root) else None
        settings = settings or (current.settings if current else _new_settings())
        if current is not None and settings != current.settings:
            reuse = False  # new chunking or quantizer: every document is embedded again
        quantizer = (
            Quantizer(current.index.centroids, settings.quantizer)
            if current is not None and reuse
            else _quantizer(settings)
        )  # a store's lists never move while it lives
        old = current.records() if current else {}
        optouts = opted_out(root)
        keep = {d: r for d, r in old.items() if r.dataset not in datasets}
        report: dict[str, int] = dict.fromkeys(
            (
                "added",
                "changed",
                "relabelled",
                "removed",
                "unchanged",
                "skipped_empty",
                "skipped_opted_out",
                "embedded_chunks",
            ),
            0,
        )
        warnings: list[str] = []
        new_chunks: list[tuple[str, int, int, int, str, np.ndarray]] = []
        records = dict(keep)
        sources = read_json(root / "sources.json", {})
        for dataset in datasets:
            spark, frame, source, spec = _read_source(catalog, spark, dataset)
            frame = frame.cache()
            try:
                metas = _spark_job(spec, scan_documents, frame)
                checked = _check(dataset, metas, users, groups, optouts, root)
                clash = sorted(r.doc_id for r in checked.records if r.doc_id in keep)
                if clash:
                    raise InputError(
                        f"dataset {dataset!r} has {len(clash)} doc_id(s) that another source of "
                        f"store {store!r} already holds (first: {', '.join(clash[:5])}); doc_id "
                        "must be unique across a store's datasets"
                    )
                embed: list[str] = []
                for rec in checked.records:
                    before = old.get(rec.doc_id)
                    if before is None or before.dataset != dataset:
                        report["added"] += 1
                        embed.append(rec.doc_id)
                    elif before.sha256 != rec.sha256 or not reuse:
                        report["changed" if before.sha256 != rec.sha256 else "unchanged"] += 1
                        embed.append(rec.doc_id)
                    else:
                        report["relabelled" if before.label != rec.label else "unchanged"] += 1
                    records[rec.doc_id] = rec
                present = {r.doc_id for r in checked.records}
                report["removed"] += sum(
                    1 for d, r in old.items() if r.dataset == dataset and d not in present
                )
                report["skipped_empty"] += checked.skipped_empty
                report["skipped_opted_out"] += checked.skipped_opted_out
                warnings += [f"{dataset}: {w}" for w in checked.warnings]
                new_chunks += _spark_job(
                    spec,
                    embed_documents,
                    spark,
                    frame,
                    sorted(embed),
                    chunk_chars=settings.chunk_chars,
                    overlap=settings.overlap,
                )
            finally:
                frame.unpersist()
            sources[dataset] = {
                "version": source.current_version,
                "fingerprint": source.fingerprint,
            }
        report["embedded_chunks"] = len(new_chunks)
        embedded = {c[0] for c in new_chunks}
        unchanged_set = {d for d in records if d not in embedded}
        changed_anything = (
            current is None
            or embedded
            or set(records) != set(old)
            or any(records[d] != old.get(d) for d in records)
        )
        version = current.name if current else None
        classes = tuple(current.classes) if current else ()
        if changed_anything:
            rows = current.chunk_rows(unchanged_set) if current else ChunkRows()
            for doc_id, ordinal, start, end, text, vector in new_chunks:
                rows.add(doc_id, ordinal, start, end, text, vector)
            version, classes = build_version(
                root,
                list(records.values()),
                rows,
                settings,
                quantizer,
                current.index if current is not None and reuse else None,
            )
            _forget(root)
        write_json(root / "sources.json", sources)
        append_history(
            root,
            {
                "event": "ingest" if reuse else "rebuild",
                "principal": principal,
                "datasets": list(datasets),
                **report,
                "version": version,
            },
        )
    return IngestReport(
        store=store,
        datasets=tuple(datasets),
        **report,
        documents=len(records),
        chunks=sum(c.chunks for c in classes),
        classes=classes,
        warnings=tuple(warnings),
        version=version,
        seconds=time.perf_counter() - started,
    )


def _new_settings(
    chunk_chars: int | None = None, overlap: int | None = None, quantizer: str | None = None
) -> StoreSettings:
    from lakeward.rag._chunk import check_chunking

    cfg = _settings()
    settings = StoreSettings(
        chunk_chars=chunk_chars if chunk_chars is not None else cfg.chunk_chars,
        overlap=overlap if overlap is not None else cfg.chunk_overlap,
        quantizer=quantizer or "none",
        graph_min=cfg.graph_min,
    )
    check_chunking(settings.chunk_chars, settings.overlap)
    if settings.quantizer not in QUANTIZERS:
        raise InputError(
            f"unknown quantizer {settings.quantizer!r}: use one of {', '.join(QUANTIZERS)}"
        )
    return settings


def ingest(
    catalog: Catalog,
    principal: str,
    store: str,
    dataset: str,
    *,
    purpose: str = PURPOSE,
    spark: SparkSession | None = None,
    chunk_chars: int | None = None,
    overlap: int | None = None,
    quantizer: str | None = None,
) -> IngestReport:
    """Ingest (or refresh) ``dataset``'s documents into ``store``, creating it if needed.

    Incremental: documents whose text is unchanged (sha256) keep their chunks and vectors;
    new and changed ones are chunked and embedded on Spark; documents gone from the dataset
    leave the store; documents deleted from the store (opt-out) are never added back.
    ``chunk_chars``, ``overlap`` and ``quantizer`` apply to a new store (an existing store
    keeps its own: change them with :func:`rebuild`).

    Raises:
        PolicyDenied: ``rag.ingest`` on the dataset was denied.
        NotFound: no such dataset.
        InputError: the dataset is not a document dataset, or a document is bad (duplicate
            id, too large, not UTF-8, unknown licence, malformed readers): nothing changes.
    """
    root = _root(store)
    settings = None
    if read_current(root) is None:
        settings = _new_settings(chunk_chars, overlap, quantizer)
    return _ingest(
        catalog,
        principal,
        store,
        [dataset],
        purpose=purpose,
        spark=spark,
        reuse=True,
        settings=settings,
    )


def store_sources(store: str) -> list[str]:
    """The datasets ``store`` was built from (sorted; empty for a store not made yet).

    Operators' information (the flows use it); a query never reveals it.
    """
    return sorted(read_json(_root(store) / "sources.json", {}))


def rebuild(
    catalog: Catalog,
    principal: str,
    store: str,
    *,
    purpose: str = PURPOSE,
    spark: SparkSession | None = None,
    chunk_chars: int | None = None,
    overlap: int | None = None,
    quantizer: str | None = None,
) -> IngestReport:
    """Rebuild ``store`` from its source datasets: every document read and embedded again.

    Opted-out documents stay out. New chunking or quantizer settings take effect here.

    Raises:
        NotFound: the store does not exist (or the caller may not see it).
        PolicyDenied: ``rag.ingest`` on a source dataset was denied.
    """
    root = _root(store)
    current = read_current(root)
    if current is None:
        raise _no_store(store)
    sources = store_sources(store)
    if not sources:
        raise InputError(f"store {store!r} has no source datasets to rebuild from")
    old = load_current(root).settings
    settings = StoreSettings(
        model=old.model,
        chunk_chars=chunk_chars if chunk_chars is not None else old.chunk_chars,
        overlap=overlap if overlap is not None else old.overlap,
        quantizer=quantizer or old.quantizer,
        graph_min=_settings().graph_min,
    )
    return _ingest(
        catalog,
        principal,
        store,
        sources,
        purpose=purpose,
        spark=spark,
        reuse=False,
        settings=settings,
    )


# --------------------------------------------------------------------------------------------
# Delete (opt-out)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeleteReport:
    """What a deletion removed."""

    store: str
    deleted: int
    chunks_removed: int
    version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "deleted": self.deleted,
            "chunks_removed": self.chunks_removed,
            "version": self.version,
        }


def delete(
    catalog: Catalog,
    principal: str,
    store: str,
    doc_ids: Sequence[str],
    *,
    purpose: str = PURPOSE,
) -> DeleteReport:
    """Remove documents from ``store`` as if it had been built without them.

    A new version is written without them (its files equal a fresh build's) and the old one
    is removed; a keyed marker per document keeps later ingests and rebuilds from adding it
    back. Decided as ``rag.delete`` on each affected source dataset (audited).

    Raises:
        InputError: no ids, or ids the store does not hold (nothing is deleted).
        NotFound: the store does not exist.
        PolicyDenied: ``rag.delete`` was denied for a source.
    """
    from lakeward.policy import guard

    ids = sorted({str(d) for d in doc_ids})
    if not ids:
        raise InputError("name at least one DOC_ID to delete")
    root = _root(store)
    if read_current(root) is None:
        raise _no_store(store)
    with store_lock(root):
        current = load_current(root)
        records = current.records()
        unknown = [d for d in ids if d not in records]
        if unknown:
            raise InputError(
                f"store {store!r} holds no document {', '.join(repr(u) for u in unknown[:5])}"
                f"{' …' if len(unknown) > 5 else ''}; nothing was deleted"
            )
        for dataset in sorted({records[d].dataset for d in ids}):
            guard(catalog, principal, "rag.delete", f"dataset:{dataset}", {"purpose": purpose})
        add_optouts(root, ids)
        gone = set(ids)
        keep = {d: r for d, r in records.items() if d not in gone}
        rows = current.chunk_rows(set(keep))
        removed = current.index.rows - len(rows.doc_ids)
        quantizer = Quantizer(current.index.centroids, current.settings.quantizer)
        version, _ = build_version(
            root, list(keep.values()), rows, current.settings, quantizer, current.index
        )
        _forget(root)
        append_history(
            root,
            {"event": "delete", "principal": principal, "deleted": len(ids), "version": version},
        )
    return DeleteReport(store, len(ids), removed, version)


# --------------------------------------------------------------------------------------------
# Query, list, show
# --------------------------------------------------------------------------------------------

_loaded: dict[Path, StoreVersion] = {}
_loaded_lock = threading.Lock()


def _forget(root: Path) -> None:
    with _loaded_lock:
        _loaded.pop(root, None)


def _open(root: Path) -> StoreVersion | None:
    name = read_current(root)
    if name is None:
        return None
    with _loaded_lock:
        cached = _loaded.get(root)
        if cached is not None and cached.name == name:
            return cached
    version = StoreVersion(root / name)
    with _loaded_lock:
        _loaded[root] = version
    return version


def _dataset_tags(catalog: Catalog, datasets: set[str]) -> dict[str, frozenset[str]]:
    """Each source dataset's approved tags, as the policy layer sees a dataset's."""
    from sqlalchemy import select

    from lakeward.catalog import Dataset, Tag, TagStatus

    tags: dict[str, set[str]] = {d: set() for d in datasets}
    if not datasets:
        return {}
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            select(Dataset.name, Tag.name, Tag.column_name)
            .join(Tag, Tag.dataset_id == Dataset.id)
            .where(Dataset.name.in_(sorted(datasets)), Tag.status == TagStatus.APPROVED.value)
        ).all()
    for dataset, tag, column in rows:
        if column and tag in ("not_sensitive", "public"):
            continue  # a column's loosening tags say nothing about the rest of the dataset
        tags[dataset].add(tag)
    return {d: frozenset(t) for d, t in tags.items()}


def _facts(catalog: Catalog, store: str, classes: Sequence[LabelClass]) -> list[DocumentFacts]:
    from lakeward.policy import DocumentFacts

    tags = _dataset_tags(catalog, {c.dataset for c in classes})
    return [
        DocumentFacts.of(c.uid, store, c.dataset, c.readers, c.licence, tags.get(c.dataset, ()))
        for c in classes
    ]


def _visible(
    catalog: Catalog, principal: str, store: str, version: StoreVersion, purpose: str
) -> np.ndarray:
    from lakeward.policy import guard_documents

    facts = _facts(catalog, store, version.classes)
    allowed = guard_documents(
        catalog, principal, "rag.query", f"rag:{store}", facts, {"purpose": purpose}
    )
    return np.array(allowed, dtype=bool).reshape(len(version.classes))


def _check_query(text: Any, k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k > MAX_K:
        raise InputError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    if not isinstance(text, str) or not text.strip():
        raise InputError("the query text is empty: ask something")
    limit = _settings().max_query_chars
    if len(text) > limit:
        raise InputError(
            f"the query is {len(text):,} characters, over the {limit:,}-character limit "
            "(LAKEWARD_RAG_MAX_QUERY_CHARS); the model reads only its first 256 word pieces "
            "anyway: shorten it"
        )


def _search_params() -> SearchParams:
    cfg = _settings()
    return SearchParams(exact_threshold=cfg.exact_threshold, scan_fraction=cfg.scan_fraction)


def _answer_one(
    catalog: Catalog,
    principal: str,
    store: str,
    version: StoreVersion,
    visible: np.ndarray,
    text: str,
    k: int,
    purpose: str,
    generator: Any = None,
) -> QueryResult:
    from lakeward._embed import passage_embedder

    vector = passage_embedder().encode_batch([text])[0]
    rows, scores = version.index.search(vector, visible, max(8 * k, 64), _search_params())
    keys = version.index.row_key[rows]
    records = version.records()
    by_doc: dict[str, dict[str, Any]] = {}
    top_chunks: list[tuple[str, dict[str, Any], float]] = []
    for key, score in zip(keys.tolist(), scores.tolist(), strict=True):
        doc = version.doc_of(key)
        if doc not in by_doc:
            if len(by_doc) == k:
                continue
            rec = records[doc]
            by_doc[doc] = {
                "doc_id": doc,
                "score": score,
                "title": rec.title,
                "licence": rec.licence,
                "dataset": rec.dataset,
                "chunks": [],
            }
        entry = by_doc[doc]
        if len(entry["chunks"]) < 3:
            chunk = version.chunk(key)
            entry["chunks"].append(
                {"chunk": chunk["ordinal"], "offset": chunk["start"], "score": score}
            )
            top_chunks.append((doc, chunk, score))
    results = tuple(by_doc.values())
    answer = compose_answer(
        catalog,
        principal,
        store,
        text,
        [
            (doc, chunk)
            for doc, chunk, score in top_chunks
            if doc in by_doc and score >= _settings().min_answer_score
        ],
        {d: records[d] for d in by_doc},
        purpose=purpose,
        sentences=_settings().answer_sentences,
        generator=generator,
    )
    return QueryResult(results, answer)


def query(
    catalog: Catalog,
    principal: str,
    store: str,
    text: str,
    *,
    k: int = 5,
    purpose: str = PURPOSE,
) -> QueryResult:
    """Answer ``text`` from the documents of ``store`` that ``principal`` may read.

    Raises:
        InputError: bad ``k`` (1–100) or query text (empty, too long).
        NotFound: no such store, or none of its documents is readable by ``principal``
            (the same error).
    """
    return query_many(catalog, principal, store, [text], k=k, purpose=purpose)[0]


def query_many(
    catalog: Catalog,
    principal: str,
    store: str,
    texts: Sequence[str],
    *,
    k: int = 5,
    purpose: str = PURPOSE,
) -> list[QueryResult]:
    """:func:`query` for each text, with one policy decision (and audit record) for all.

    Raises:
        InputError: bad ``k`` or a bad query text (which one is named).
        NotFound: as :func:`query`.
    """
    for i, text in enumerate(texts):
        try:
            _check_query(text, k)
        except InputError as exc:
            raise InputError(f"query {i + 1}: {exc}" if len(texts) > 1 else str(exc)) from None
    root = _root(store)
    version = _open(root)
    if version is None:
        _audit_missing(catalog, principal, store, purpose)
        raise _no_store(store)
    visible = _visible(catalog, principal, store, version, purpose)
    if not visible.any():
        raise _no_store(store)
    generator = generator_from_settings()  # one client for the whole batch
    return [
        _answer_one(catalog, principal, store, version, visible, t, k, purpose, generator)
        for t in texts
    ]


def _audit_missing(catalog: Catalog, principal: str, store: str, purpose: str) -> None:
    from lakeward.policy import guard_documents

    guard_documents(catalog, principal, "rag.query", f"rag:{store}", [], {"purpose": purpose})


def _summary(
    catalog: Catalog, principal: str, store: str, version: StoreVersion, purpose: str
) -> StoreSummary | None:
    visible = _visible(catalog, principal, store, version, purpose)
    if not visible.any():
        return None
    classes = tuple(c for c, v in zip(version.classes, visible.tolist(), strict=True) if v)
    return StoreSummary(
        store=store,
        documents=sum(c.documents for c in classes),
        chunks=sum(c.chunks for c in classes),
        classes=classes,
        settings=version.settings.to_dict(),
    )


def list_stores(catalog: Catalog, principal: str, *, purpose: str = PURPOSE) -> list[StoreSummary]:
    """The stores holding documents ``principal`` may read, with what they may read of each."""
    base = _settings().dir
    out: list[StoreSummary] = []
    if not base.is_dir():
        return out
    for root in sorted(p for p in base.iterdir() if p.is_dir()):
        try:
            _valid(root.name)
        except InputError:
            continue
        version = _open(root)
        if version is None:
            continue
        summary = _summary(catalog, principal, root.name, version, purpose)
        if summary is not None:
            out.append(summary)
    return out


def show(catalog: Catalog, principal: str, store: str, *, purpose: str = PURPOSE) -> StoreSummary:
    """``store`` as ``principal`` sees it: the classes they may read, and their sizes.

    Raises:
        NotFound: no such store, or nothing in it is readable by ``principal``.
    """
    version = _open(_root(store))
    summary = None if version is None else _summary(catalog, principal, store, version, purpose)
    if summary is None:
        raise _no_store(store)
    return summary
