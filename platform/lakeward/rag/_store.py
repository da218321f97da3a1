"""A RAG store on disk: documents, chunks, label classes and the index, one version at a time.

Layout under ``<LAKEWARD_HOME>/rag/<store>/`` (directories 0700, files 0600)::

    CURRENT           the current version's directory name (switched atomically)
    vNNNNNN/          one complete version: the files below; the previous one is removed
      documents.parquet   doc_id, dataset, text sha256, readers, licence, title, chunks
      chunks.parquet      key (row key), doc_id, ordinal, start, end, text
      classes.json        label classes: dataset, readers, licence, size
      settings.json       model, chunking, quantizer (no timestamps: byte-deterministic)
      *.npy               the label-class index (:class:`~lakeward.rag._index.LabelIndex`)
    sources.json      the datasets ingested (name, version, fingerprint)
    secret.key        the store's key for opt-out markers
    optout.json       HMAC-SHA256(secret, doc_id) of each deleted document, so that a later
                      ingest or rebuild never adds it back (the only trace a deletion leaves)
    history.jsonl     what each change did (counts only)

Every file of a version is a function of the store's documents, its settings and its
quantizer: building the same documents twice, or deleting a document and building without
it, gives the same bytes (tests compare them).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lakeward._embed import DIMENSIONS
from lakeward.errors import InputError, NotFound
from lakeward.rag._index import LabelIndex, Quantizer

__all__ = [
    "ChunkRows",
    "DocumentRecord",
    "LabelClass",
    "StoreSettings",
    "StoreVersion",
    "build_version",
    "store_lock",
    "valid_store_name",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def valid_store_name(name: str) -> str:
    """``name`` if it is a valid store name.

    Raises:
        InputError: not 1–128 letters, digits, ``_ . -`` starting with a letter or digit.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"invalid RAG store name {name!r}: use 1–128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class StoreSettings:
    """How a store chunks and embeds (fixed when it is created; ``rebuild`` may change it)."""

    model: str = "all-MiniLM-L6-v2"
    chunk_chars: int = 800
    overlap: int = 1
    quantizer: str = "none"
    graph_min: int = 10_000

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "chunk_chars": self.chunk_chars,
            "overlap": self.overlap,
            "quantizer": self.quantizer,
            "graph_min": self.graph_min,
        }


@dataclass(frozen=True)
class DocumentRecord:
    """What a store keeps about a document besides its chunks."""

    doc_id: str
    dataset: str
    sha256: str
    readers: tuple[str, ...]
    licence: str
    title: str = ""

    @property
    def label(self) -> tuple[str, tuple[str, ...], str]:
        """The document's label class key: (dataset, readers, licence)."""
        return (self.dataset, self.readers, self.licence)


@dataclass(frozen=True)
class LabelClass:
    """Documents with the same source, readers and licence: decided together."""

    dataset: str
    readers: tuple[str, ...]
    licence: str
    documents: int
    chunks: int

    @property
    def uid(self) -> str:
        """A stable id for the class (the policy layer's Document uid)."""
        text = json.dumps([self.dataset, list(self.readers), self.licence])
        return "class-" + hashlib.sha256(text.encode()).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.uid,
            "dataset": self.dataset,
            "readers": list(self.readers),
            "licence": self.licence,
            "documents": self.documents,
            "chunks": self.chunks,
        }


@dataclass
class ChunkRows:
    """Chunks with their vectors, in any order (``build_version`` sorts them)."""

    doc_ids: list[str] = field(default_factory=list)
    ordinals: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def add(self, doc_id: str, ordinal: int, start: int, end: int, text: str, vector: Any) -> None:
        self.doc_ids.append(doc_id)
        self.ordinals.append(ordinal)
        self.starts.append(start)
        self.ends.append(end)
        self.texts.append(text)
        self.vectors.append(np.asarray(vector, dtype=np.float32))


class StoreVersion:
    """One loaded version of a store (read-only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.settings = StoreSettings(**json.loads((directory / "settings.json").read_text()))
        self.classes = [
            LabelClass(c["dataset"], tuple(c["readers"]), c["licence"], c["documents"], c["chunks"])
            for c in json.loads((directory / "classes.json").read_text())
        ]
        self.documents = pq.read_table(directory / "documents.parquet")
        self.chunks = pq.read_table(directory / "chunks.parquet", memory_map=True)
        self.index = LabelIndex.load(directory)
        self._doc_ids = self.chunks.column("doc_id").to_numpy(zero_copy_only=False)
        self._records: dict[str, DocumentRecord] | None = None

    @property
    def name(self) -> str:
        return self.directory.name

    def records(self) -> dict[str, DocumentRecord]:
        """Every document's record, by id (read once per loaded version; do not modify)."""
        if self._records is None:
            self._records = self._read_records()
        return self._records

    def _read_records(self) -> dict[str, DocumentRecord]:
        cols = self.documents.to_pydict()
        return {
            doc: DocumentRecord(doc, ds, sha, tuple(readers), lic, title)
            for doc, ds, sha, readers, lic, title in zip(
                cols["doc_id"],
                cols["dataset"],
                cols["sha256"],
                cols["readers"],
                cols["licence"],
                cols["title"],
                strict=True,
            )
        }

    def chunk(self, key: int) -> dict[str, Any]:
        """Chunk ``key`` (its row in ``chunks.parquet``)."""
        row = self.chunks.slice(int(key), 1).to_pylist()[0]
        return row  # type: ignore[no-any-return]

    def doc_of(self, key: int) -> str:
        return str(self._doc_ids[int(key)])

    def chunk_rows(self, keep: set[str] | None = None) -> ChunkRows:
        """This version's chunks and vectors (of the documents in ``keep``, or all)."""
        rows = ChunkRows()
        key_to_row = np.empty(self.index.rows, dtype=np.int64)
        key_to_row[self.index.row_key] = np.arange(self.index.rows)
        data = self.chunks.to_pydict()
        for key, doc in enumerate(data["doc_id"]):
            if keep is not None and doc not in keep:
                continue
            rows.add(
                doc,
                data["ordinal"][key],
                data["start"][key],
                data["end"][key],
                data["text"][key],
                self.index.vectors[key_to_row[key]],
            )
        return rows


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    with open(path, "wb", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
        fh.write(data)


def build_version(
    root: Path,
    records: Sequence[DocumentRecord],
    rows: ChunkRows,
    settings: StoreSettings,
    quantizer: Quantizer,
    previous: LabelIndex | None = None,
) -> tuple[str, tuple[LabelClass, ...]]:
    """Write a new version of the store at ``root`` holding exactly ``records`` and ``rows``.

    Returns the version's name and its label classes (what a caller reports, without
    reading the version back).

    The directory is complete before ``CURRENT`` is switched to it (atomically); then the
    previous version is removed, so nothing of a deleted document stays behind.
    """
    _private_dir(root)
    records = sorted(records, key=lambda r: r.doc_id)
    known = {r.doc_id for r in records}
    order = sorted(
        (i for i, d in enumerate(rows.doc_ids) if d in known),
        key=lambda i: (rows.doc_ids[i], rows.ordinals[i]),
    )
    labels = sorted({r.label for r in records})
    class_of_label = {label: i for i, label in enumerate(labels)}
    doc_class = {r.doc_id: class_of_label[r.label] for r in records}
    n = len(order)
    vectors = (
        np.stack([rows.vectors[i] for i in order]).astype(np.float32)
        if n
        else np.zeros((0, DIMENSIONS), dtype=np.float32)
    )
    row_class = np.array([doc_class[rows.doc_ids[i]] for i in order], dtype=np.int32)
    index = LabelIndex.build(
        vectors,
        row_class,
        np.arange(n, dtype=np.int64),
        len(labels),
        quantizer,
        graph_min=settings.graph_min,
        previous=previous,
    )
    chunk_count: dict[str, int] = {}
    for i in order:
        chunk_count[rows.doc_ids[i]] = chunk_count.get(rows.doc_ids[i], 0) + 1
    docs_per_class = np.bincount([doc_class[r.doc_id] for r in records], minlength=len(labels))
    classes = [
        LabelClass(ds, readers, lic, int(docs_per_class[i]), int(index.class_sizes[i]))
        for i, (ds, readers, lic) in enumerate(labels)
    ]

    current = read_current(root)
    number = int(current[1:]) + 1 if current else 1
    final = root / f"v{number:06d}"
    staging = root / f".staging-{number:06d}-{secrets.token_hex(4)}"
    _private_dir(staging)
    try:
        documents = pa.table(
            {
                "doc_id": pa.array([r.doc_id for r in records], pa.string()),
                "dataset": pa.array([r.dataset for r in records], pa.string()),
                "sha256": pa.array([r.sha256 for r in records], pa.string()),
                "readers": pa.array([list(r.readers) for r in records], pa.list_(pa.string())),
                "licence": pa.array([r.licence for r in records], pa.string()),
                "title": pa.array([r.title for r in records], pa.string()),
                "chunks": pa.array([chunk_count.get(r.doc_id, 0) for r in records], pa.int32()),
            }
        )
        chunks = pa.table(
            {
                "doc_id": pa.array([rows.doc_ids[i] for i in order], pa.string()),
                "ordinal": pa.array([rows.ordinals[i] for i in order], pa.int32()),
                "start": pa.array([rows.starts[i] for i in order], pa.int64()),
                "end": pa.array([rows.ends[i] for i in order], pa.int64()),
                "text": pa.array([rows.texts[i] for i in order], pa.string()),
            }
        )
        for name, table in (("documents", documents), ("chunks", chunks)):
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            _write_private(staging / f"{name}.parquet", sink.getvalue().to_pybytes())
        _write_private(
            staging / "classes.json",
            json.dumps([c.to_dict() for c in classes], indent=1).encode(),
        )
        _write_private(
            staging / "settings.json",
            json.dumps({**settings.to_dict()}, indent=1, sort_keys=True).encode(),
        )
        index.save(staging)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch(root, final.name)
    for old in root.glob("v[0-9]*"):
        if old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return final.name, tuple(classes)


def read_current(root: Path) -> str | None:
    """The current version's directory name, if the store has one."""
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name if re.fullmatch(r"v\d{6}", name) and (root / name).is_dir() else None


def _switch(root: Path, name: str) -> None:
    tmp = root / f".CURRENT-{secrets.token_hex(4)}"
    _write_private(tmp, name.encode())
    os.replace(tmp, root / "CURRENT")


def load_current(root: Path) -> StoreVersion:
    """The store's current version.

    Raises:
        NotFound: the store has no version (it does not exist).
    """
    name = read_current(root)
    if name is None:
        raise NotFound(f"no RAG store at {root}")
    return StoreVersion(root / name)


@contextlib.contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """Hold the store's write lock (one writer at a time; readers never wait)."""
    _private_dir(root)
    with open(root / ".lock", "a+", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- sources, opt-outs, history ----------------------------------------------------------
def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}-{secrets.token_hex(4)}")
    _write_private(tmp, json.dumps(data, indent=1, sort_keys=True).encode())
    os.replace(tmp, path)


def optout_key(root: Path) -> bytes:
    """The store's key for opt-out markers (made on first use); read it once per run."""
    path = root / "secret.key"
    if not path.exists():
        _write_private(path, secrets.token_bytes(32))
    return path.read_bytes()


def optout_marker(key: bytes, doc_id: str) -> str:
    """The keyed hash a deletion leaves for ``doc_id`` (not reversible without the key)."""
    return hmac.new(key, doc_id.encode(), hashlib.sha256).hexdigest()


def opted_out(root: Path) -> set[str]:
    return set(read_json(root / "optout.json", []))


def add_optouts(root: Path, doc_ids: Sequence[str]) -> None:
    key = optout_key(root)
    markers = opted_out(root) | {optout_marker(key, d) for d in doc_ids}
    write_json(root / "optout.json", sorted(markers))


def append_history(root: Path, event: dict[str, Any]) -> None:
    line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event})
    with open(
        root / "history.jsonl", "a", opener=lambda p, f: os.open(p, f, 0o600), encoding="utf-8"
    ) as fh:
        fh.write(line + "\n")


def index_files(version: Path) -> dict[str, str]:
    """sha256 of every file of a version (the bytes a rebuild must reproduce)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(version.iterdir())}
