"""A fixed quantizer from public data: centroids of the embedding model's own vocabulary.

Stores created with ``--quantizer vocabulary`` group their chunks into inverted lists around
256 centroids computed once from the all-MiniLM-L6-v2 vocabulary (whole words only), which
holds nothing of any lake. A store keeps the centroids it was built with (in its
``centroids.npy``), so its lists never move while it lives; the computed centroids are
cached under ``<rag dir>/_quantizers``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from lakeward.rag._index import Quantizer, kmeans

__all__ = ["vocabulary_quantizer"]

NLIST = 256
WORDS = 8192
_lock = threading.Lock()


def _words(vocab: Path) -> list[str]:
    words = [
        w
        for w in vocab.read_text(encoding="utf-8").split("\n")
        if len(w) >= 3 and w.isascii() and w.isalpha()
    ]
    return words[:WORDS]


def vocabulary_quantizer(cache: Path | None = None) -> Quantizer:
    """The vocabulary quantizer (computed on first use, then read from the cache)."""
    from lakeward._embed import MODEL_NAME, model_path, passage_embedder
    from lakeward.settings import get_settings

    cache = cache or Path(get_settings().rag.dir) / "_quantizers"
    path = cache / f"vocabulary-{MODEL_NAME}-{NLIST}.npy"
    source = f"vocabulary:{MODEL_NAME}:{NLIST}"
    with _lock:
        if path.exists():
            return Quantizer(np.load(path, allow_pickle=False), source)
        words = _words(model_path() / "vocab.txt")
        embedder = passage_embedder()
        sample = np.concatenate(
            [embedder.encode_batch(words[i : i + 256]) for i in range(0, len(words), 256)]
        )
        centroids = kmeans(sample, NLIST, seed=0)
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, centroids, allow_pickle=False)
        tmp.replace(path)
        return Quantizer(centroids, source)
