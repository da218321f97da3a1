"""The label-class index: vector search whose answer depends only on the visible rows.

Every stored vector (a chunk) belongs to exactly one **label class**: the chunks of the
documents with the same readers, licence, tags and source (:mod:`lakeward.rag._labels`). The
policy layer decides a query's visible classes; the index answers from the rows of those
classes only, with three properties that make user-level non-interference hold by
construction (the output for a user is a function of the query and the visible rows):

1. **Nothing is fitted to the stored data.** The inverted lists come from a fixed
   :class:`Quantizer` (centroids from public data, or none: one list); a row's list depends
   on its own vector only. Row order, class numbering and file offsets depend on the whole
   store but never reach an output: ties are broken by the chunk's sort key, whose relative
   order is that of the chunk ids.
2. **Budgets count visible rows only.** A query scans the visible rows exactly when there are
   at most ``exact_threshold`` of them; otherwise it walks the lists nearest the query
   (centroid order: a function of the query alone) and stops after the first list at which
   it has scanned ``max(min_scan, ceil(scan_fraction × visible))`` visible rows (a budget
   that would cover every visible row is an exact scan). Invisible rows in a list are
   skipped, never counted.
3. **Scores are exact, whatever else is in memory.** Screening scores are integer dot
   products of integer codes (each component rounded to ``round(x × SCALE)``, clipped to
   ±``CODE_LIMIT``; int16 in memory) computed in float32: every partial sum is an integer
   below 2**24, so
   any BLAS kernel, block size or summation order gives the same bits. The best
   ``candidates`` visible rows by (code score, key) are re-scored from the original float32
   vectors one row at a time (a row-wise product and sum, which depends on that row only)
   and ranked by (score descending, key ascending).

A class of at least ``graph_min`` rows (a store setting) is searched instead through a graph
index of its own (HNSW built from that class's rows alone, in key order, on one thread), whose
candidates join the others before the re-scoring: a graph depends on one class, so it too
depends only on rows the asker may read. Its recall is below 1 (``ef`` sets it).

Timing is not covered: a scan skips invisible rows, so its duration depends on them.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lakeward.errors import InputError

__all__ = [
    "CODE_LIMIT",
    "SCALE",
    "LabelIndex",
    "Quantizer",
    "SearchParams",
    "code_scores",
    "encode_codes",
    "kmeans",
]

#: Code scale: a unit vector's component x becomes round(x × SCALE).
SCALE = 512.0
#: |code| ≤ CODE_LIMIT, so a 384-d dot product stays below 2**24 (exact in float32) with
#: room to spare: 384 × 181² = 12.6M < 16.7M.
CODE_LIMIT = 181
_EXACT_DIMS = (2**24 - 1) // (CODE_LIMIT * CODE_LIMIT)


def encode_codes(vectors: np.ndarray) -> np.ndarray:
    """Integer codes of unit ``vectors`` (rows), as int16 (|code| ≤ CODE_LIMIT)."""
    codes = np.rint(np.asarray(vectors, dtype=np.float32) * np.float32(SCALE))
    np.clip(codes, -CODE_LIMIT, CODE_LIMIT, out=codes)
    return codes.astype(np.int16)


def code_scores(codes: np.ndarray, qcode: np.ndarray) -> np.ndarray:
    """Exact integer dot products of int16 ``codes`` rows with ``qcode``, as float32.

    Computed in float32 (BLAS): every partial sum is an integer below 2**24, so the result
    is exact whatever the kernel, block or order.
    """
    return codes.astype(np.float32) @ qcode.astype(np.float32)


def kmeans(sample: np.ndarray, k: int, *, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """Spherical k-means centroids of ``sample`` (deterministic for a seed; unit rows)."""
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    n = sample.shape[0]
    if n == 0 or k < 1:
        raise InputError("k-means needs a non-empty sample and k ≥ 1")
    k = min(k, n)
    rng = np.random.default_rng(seed)
    centroids = sample[np.sort(rng.choice(n, size=k, replace=False))].copy()
    for _ in range(iterations):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        counts = np.bincount(assign, minlength=k)
        empty = counts == 0
        if empty.any():  # re-seed empty lists from the sample, deterministically
            sums[empty] = sample[rng.choice(n, size=int(empty.sum()), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return centroids


@dataclass(frozen=True)
class Quantizer:
    """Fixed centroids for the inverted lists, trained on public data or on nothing.

    ``source`` says where they came from (recorded in the store's manifest); a store's
    quantizer never depends on its own documents, so adding, removing or editing a document
    moves no other document between lists.
    """

    centroids: np.ndarray
    source: str

    @classmethod
    def none(cls, dims: int) -> Quantizer:
        """One list: every visible row is a candidate (exact search at any size)."""
        return cls(np.zeros((1, dims), dtype=np.float32), "none")

    @classmethod
    def from_public(
        cls, sample: np.ndarray, nlist: int, *, source: str, seed: int = 0
    ) -> Quantizer:
        """k-means centroids of a public ``sample`` (never the store's own documents)."""
        return cls(kmeans(sample, nlist, seed=seed), source)

    @property
    def nlist(self) -> int:
        return int(self.centroids.shape[0])

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """Each row's list: its nearest centroid (ties to the lowest list id)."""
        if self.nlist == 1 or len(vectors) == 0:
            return np.zeros(len(vectors), dtype=np.int32)
        out = np.empty(len(vectors), dtype=np.int32)
        for start in range(0, len(vectors), 65536):  # bounded memory
            block = vectors[start : start + 65536] @ self.centroids.T
            out[start : start + 65536] = np.argmax(block, axis=1)
        return out


@dataclass(frozen=True)
class SearchParams:
    """How much of the visible set a query scans (one setting for every store and user)."""

    exact_threshold: int = 20_000
    scan_fraction: float = 0.02
    min_scan: int = 8_192
    candidates: int = 256
    ef: int = 128

    def __post_init__(self) -> None:
        if self.exact_threshold < 0 or self.min_scan < 1 or self.candidates < 1 or self.ef < 1:
            raise InputError("search parameters must be positive")
        if not 0.0 < self.scan_fraction <= 1.0:
            raise InputError("scan_fraction must be in (0, 1]")


_ARRAYS = ("codes", "row_class", "row_key", "list_ptr", "class_ptr", "class_rows")


class LabelIndex:
    """Inverted lists over integer codes, rows tagged with their label class.

    Scanned rows are stored list by list, and within a list by key, with their codes; the
    rows of classes with a graph follow, without codes. ``vectors`` (the original float32
    rows, same order) are only read for the final re-scoring of a few candidates, so they
    may be a memory map.
    """

    def __init__(
        self,
        *,
        codes: np.ndarray,
        vectors: np.ndarray,
        row_class: np.ndarray,
        row_key: np.ndarray,
        list_ptr: np.ndarray,
        class_ptr: np.ndarray,
        class_rows: np.ndarray,
        centroids: np.ndarray,
        graphs: dict[int, Any] | None = None,
    ) -> None:
        self.codes = codes
        self.vectors = vectors
        self.row_class = row_class
        self.row_key = row_key
        self.list_ptr = list_ptr
        self.class_ptr = class_ptr
        self.class_rows = class_rows
        self.centroids = centroids
        self.class_sizes = np.diff(class_ptr)
        #: class → its own graph index (faiss HNSW over that class's rows, in key order)
        self.graphs: dict[int, Any] = graphs or {}
        self._graph_mask = np.zeros(self.class_sizes.size, dtype=bool)
        self._graph_mask[list(self.graphs)] = True

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        row_class: np.ndarray,
        row_key: np.ndarray,
        n_classes: int,
        quantizer: Quantizer,
        *,
        graph_min: int = 0,
        previous: LabelIndex | None = None,
    ) -> LabelIndex:
        """Index unit ``vectors`` whose class and (unique) sort key are given per row.

        A class of at least ``graph_min`` rows (0: none) also gets a graph index of its own
        (HNSW, built from that class's rows alone, in key order, on one thread: the same
        rows always give the same graph), when faiss is installed.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dims = vectors.shape if vectors.ndim == 2 else (0, quantizer.centroids.shape[1])
        if dims > _EXACT_DIMS:
            raise InputError(f"vectors of {dims} dimensions exceed the exact-code bound")
        row_class = np.asarray(row_class, dtype=np.int32)
        row_key = np.asarray(row_key, dtype=np.int64)
        sizes = np.bincount(row_class, minlength=n_classes)
        graphed = (sizes >= graph_min) if graph_min > 0 and _faiss() else np.zeros_like(sizes, bool)
        # Scanned rows first, list by list (then key); the rows of graphed classes after them,
        # with no scan codes: their graph proposes them, the float vectors re-score them.
        lists = np.where(graphed[row_class], quantizer.nlist, quantizer.assign(vectors))
        order = np.lexsort((row_key, lists))
        vectors = vectors[order].reshape(n, dims)
        row_class = row_class[order]
        row_key = row_key[order]
        lists = lists[order]
        list_ptr = np.zeros(quantizer.nlist + 1, dtype=np.int64)
        np.cumsum(np.bincount(lists, minlength=quantizer.nlist + 1)[:-1], out=list_ptr[1:])
        scanned = int(list_ptr[-1])
        by_class = np.lexsort((row_key, row_class)).astype(np.int64)
        class_ptr = np.zeros(n_classes + 1, dtype=np.int64)
        np.cumsum(sizes, out=class_ptr[1:])
        reusable = previous.graph_digests() if previous is not None else {}
        graphs: dict[int, Any] = {}
        for c in np.flatnonzero(graphed).tolist():
            rows = vectors[by_class[class_ptr[c] : class_ptr[c + 1]]]
            graphs[c] = reusable.get(_digest(rows)) or _build_graph(rows)
        return cls(
            codes=encode_codes(vectors[:scanned]).reshape(scanned, dims),
            vectors=vectors,
            row_class=row_class,
            row_key=row_key,
            list_ptr=list_ptr,
            class_ptr=class_ptr,
            class_rows=by_class,
            centroids=np.ascontiguousarray(quantizer.centroids, dtype=np.float32),
            graphs=graphs,
        )

    def save(self, directory: Path) -> None:
        """Write the index's files (byte-deterministic: the same index, the same bytes)."""
        for name in (*_ARRAYS, "vectors", "centroids"):
            path = directory / f"{name}.npy"
            array = getattr(self, name)
            with open(path, "wb", opener=_private) as fh:
                np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        faiss = _faiss() if self.graphs else None
        blobs = [faiss.serialize_index(self.graphs[c]).tobytes() for c in sorted(self.graphs)]
        table = np.zeros((len(blobs), 3), dtype=np.int64)
        offset = 0
        for i, (c, blob) in enumerate(zip(sorted(self.graphs), blobs, strict=True)):
            table[i] = (c, offset, len(blob))
            offset += len(blob)
        with open(directory / "graphs.npy", "wb", opener=_private) as fh:
            np.save(fh, table, allow_pickle=False)
        with open(directory / "graphs.bin", "wb", opener=_private) as fh:
            for blob in blobs:
                fh.write(blob)

    @classmethod
    def load(cls, directory: Path) -> LabelIndex:
        """Load an index written by :meth:`save` (``vectors`` memory-mapped)."""
        arrays: dict[str, Any] = {}
        for name in _ARRAYS:
            arrays[name] = np.load(directory / f"{name}.npy", allow_pickle=False)
        arrays["vectors"] = np.load(directory / "vectors.npy", mmap_mode="r", allow_pickle=False)
        arrays["centroids"] = np.load(directory / "centroids.npy", allow_pickle=False)
        graphs: dict[int, Any] = {}
        table_path = directory / "graphs.npy"
        table = np.load(table_path, allow_pickle=False) if table_path.exists() else np.zeros((0, 3))
        if len(table):
            faiss = _faiss()
            if faiss is None:
                raise InputError(
                    f"{directory} holds graph indexes and faiss is not installed: install the "
                    "ml extra (`pip install 'lakeward[ml]'`)"
                )
            data = (directory / "graphs.bin").read_bytes()
            for c, offset, length in table.tolist():
                blob = np.frombuffer(data[offset : offset + length], dtype=np.uint8)
                graphs[int(c)] = faiss.deserialize_index(blob.copy())
        return cls(**arrays, graphs=graphs)

    def graph_digests(self) -> dict[str, Any]:
        """Each graph by the digest of its class's rows (in key order)."""
        out: dict[str, Any] = {}
        for c, graph in self.graphs.items():
            rows = self.vectors[self.class_rows[self.class_ptr[c] : self.class_ptr[c + 1]]]
            out[_digest(np.asarray(rows, dtype=np.float32))] = graph
        return out

    # -- size -------------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return int(self.row_key.size)

    def memory_bytes(self) -> int:
        """Bytes a query touches in memory (codes, row tables, lists, centroids, graphs)."""
        graphs = 0
        if self.graphs:
            faiss = _faiss()
            graphs = sum(int(faiss.serialize_index(g).nbytes) for g in self.graphs.values())
        return int(sum(getattr(self, a).nbytes for a in _ARRAYS) + self.centroids.nbytes + graphs)

    # -- search -----------------------------------------------------------------------------
    def visible_count(self, visible: np.ndarray) -> int:
        """How many rows the visible classes hold."""
        return int(self.class_sizes[visible].sum())

    def search(
        self,
        query: np.ndarray,
        visible: np.ndarray,
        k: int,
        params: SearchParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` visible rows for a unit ``query``: (row positions, float32 scores).

        ``visible`` is a boolean array over classes. Scores descend; equal scores keep key
        order. Returns at most ``k`` rows (fewer when fewer are visible).
        """
        params = params or SearchParams()
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        visible = np.asarray(visible, dtype=bool)
        if k <= 0 or not visible.any():
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        keep = max(k, params.candidates)
        graphed = visible & self._graph_mask
        scanned = visible & ~self._graph_mask
        found: list[np.ndarray] = []
        total = self.visible_count(scanned)
        if 0 < total <= keep:  # few enough to re-score them all: no screening
            found.append(self._visible_rows(scanned))
        elif total:
            qcode = encode_codes(query[None, :])[0]
            budget = max(params.min_scan, math.ceil(params.scan_fraction * total))
            if total <= params.exact_threshold or budget >= total or self.list_ptr.size == 2:
                rows = self._visible_rows(scanned)
                scores = code_scores(self.codes[rows], qcode)
            else:
                rows, scores = self._probe(query, qcode, scanned, budget)
            found.append(_top(rows, scores, self.row_key, keep))
        for c in np.flatnonzero(graphed):  # each class's graph: a function of that class alone
            found.append(self._graph_search(int(c), query, k, params.ef))
        rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        if rows.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        exact = (np.asarray(self.vectors[rows], dtype=np.float32) * query).sum(axis=1)
        order = np.lexsort((self.row_key[rows], -exact))[:k]
        return rows[order], exact[order].astype(np.float32)

    def _graph_search(self, c: int, query: np.ndarray, keep: int, ef: int) -> np.ndarray:
        faiss = _faiss()
        graph = self.graphs[c]
        n = int(self.class_sizes[c])
        params = faiss.SearchParametersHNSW(efSearch=max(ef, min(keep, n)))
        _, ids = graph.search(query[None, :], min(keep, n), params=params)
        local = ids[0][ids[0] >= 0]
        return self.class_rows[self.class_ptr[c] + local]

    def _visible_rows(self, visible: np.ndarray) -> np.ndarray:
        classes = np.flatnonzero(visible & (self.class_sizes > 0))
        if classes.size > 256:  # many small classes: one pass over the row table
            return np.flatnonzero(visible[self.row_class])
        starts = self.class_ptr[classes]
        ends = self.class_ptr[classes + 1]
        return np.concatenate([self.class_rows[s:e] for s, e in zip(starts, ends, strict=True)])

    def _probe(
        self,
        query: np.ndarray,
        qcode: np.ndarray,
        visible: np.ndarray,
        budget: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        near = self.centroids @ query
        order = np.lexsort((np.arange(near.size), -near))  # nearest first, ties by list id
        found_rows: list[np.ndarray] = []
        found_scores: list[np.ndarray] = []
        seen = 0
        for lst in order:
            start, end = int(self.list_ptr[lst]), int(self.list_ptr[lst + 1])
            if start == end:
                continue
            mask = visible[self.row_class[start:end]]
            hits = int(mask.sum())
            if hits == 0:
                continue
            scores = code_scores(self.codes[start:end], qcode)
            idx = np.flatnonzero(mask)
            found_rows.append(idx + start)
            found_scores.append(scores[idx])
            seen += hits
            if seen >= budget:
                break
        return np.concatenate(found_rows), np.concatenate(found_scores)


def _faiss() -> Any:
    """faiss, or ``None`` when it is not installed (no graph indexes then)."""
    try:
        import faiss
    except ImportError:  # pragma: no cover - the ml extra installs it
        return None
    return faiss


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.float32).tobytes()).hexdigest()


def _build_graph(vectors: np.ndarray) -> Any:
    """An HNSW graph (inner product, 8-bit codes) over ``vectors`` in their order, one thread."""
    faiss = _faiss()
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # one thread: the same rows always give the same graph
    try:
        # 8-bit scalar-quantised storage (its ranges trained on this class alone): the graph
        # only proposes candidates, which are re-scored from the float vectors.
        graph = faiss.IndexHNSWSQ(
            vectors.shape[1], faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT
        )
        graph.hnsw.efConstruction = 80
        rows = np.ascontiguousarray(vectors, dtype=np.float32)
        graph.train(rows)
        graph.add(rows)
    finally:
        faiss.omp_set_num_threads(threads)
    return graph


def _top(rows: np.ndarray, scores: np.ndarray, keys: np.ndarray, keep: int) -> np.ndarray:
    """The ``keep`` rows with the highest score, ties by key (deterministic)."""
    if rows.size <= keep:
        return rows
    threshold = np.partition(scores, rows.size - keep)[rows.size - keep]
    above = scores > threshold
    tied = np.flatnonzero(scores == threshold)
    need = keep - int(above.sum())
    tied = tied[np.argsort(keys[rows[tied]], kind="stable")[:need]]
    return np.concatenate([rows[above], rows[tied]])


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
