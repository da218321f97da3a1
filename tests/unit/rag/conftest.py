"""RAG stores without Spark: documents chunked and embedded in-process by a stand-in model.

The stand-in embeds a text as a unit vector seeded by the text's hash, so a chunk's vector is
a function of its text alone, as the real model's is of its document alone; queries go
through the same stand-in (patched into :func:`lakeward._embed.passage_embedder`). The Spark
tier runs the real job with the real model.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakeward.rag._chunk import chunk_text
from lakeward.rag._index import Quantizer
from lakeward.rag._store import ChunkRows, DocumentRecord, StoreSettings, build_version

USERS = ("alice", "bob", "carol", "erin", "grace")
READERS = (
    "user:alice",
    "user:bob",
    "user:carol",
    "user:erin",
    "user:grace",
    "group:analysts",
    "group:fraud_team",
    "group:stewards",
    "group:researchers",
)


class HashEmbedder:
    """Unit vectors seeded by each text's sha256 (384-d), with some shared direction per word."""

    name = "hash"

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[i] += np.random.default_rng(seed).normal(size=384).astype(np.float32)
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[i] += 0.3 * np.random.default_rng(seed).normal(size=384).astype(np.float32)
            out[i] /= np.linalg.norm(out[i])
        return out


EMBEDDER = HashEmbedder()


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    import lakeward._embed

    monkeypatch.setattr(lakeward._embed, "passage_embedder", lambda: EMBEDDER)


def doc(
    doc_id: str,
    text: str,
    readers: Sequence[str],
    licence: str = "permissive",
    dataset: str = "docs",
    title: str = "",
) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "text": text,
        "readers": tuple(sorted(set(readers))),
        "licence": licence,
        "dataset": dataset,
        "title": title,
    }


def write_store(
    root: Path, docs: Sequence[dict[str, Any]], settings: StoreSettings | None = None
) -> str:
    """Build a store version at ``root`` holding ``docs`` (as an ingest would)."""
    settings = settings or StoreSettings(chunk_chars=120, overlap=1)
    records, rows = [], ChunkRows()
    for d in docs:
        chunks = chunk_text(d["text"], max_chars=settings.chunk_chars, overlap=settings.overlap)
        vectors = EMBEDDER.encode_batch([c.text for c in chunks])
        for c, v in zip(chunks, vectors, strict=True):
            rows.add(d["doc_id"], c.ordinal, c.start, c.end, c.text, v)
        sha = hashlib.sha256(d["text"].encode()).hexdigest()
        records.append(
            DocumentRecord(d["doc_id"], d["dataset"], sha, d["readers"], d["licence"], d["title"])
        )
    return build_version(root, records, rows, settings, Quantizer.none(384))[0]


@contextlib.contextmanager
def rag_dir(path: Path) -> Iterator[Path]:
    """Point LAKEWARD_RAG_DIR at ``path`` for the block."""
    before = os.environ.get("LAKEWARD_RAG_DIR")
    os.environ["LAKEWARD_RAG_DIR"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("LAKEWARD_RAG_DIR", None)
        else:
            os.environ["LAKEWARD_RAG_DIR"] = before
