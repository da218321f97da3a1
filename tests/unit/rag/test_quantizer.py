"""The vocabulary quantizer: centroids from the model's own vocabulary (no lake data), cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lakeward.rag import _quantizer


def test_vocabulary_centroids_are_unit_cached_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakeward._embed import MiniLMEmbedder

    monkeypatch.setattr(_quantizer, "WORDS", 400)  # a slice of the vocabulary, for speed
    monkeypatch.setattr("lakeward._embed.passage_embedder", lambda: MiniLMEmbedder(cache_size=0))
    first = _quantizer.vocabulary_quantizer(tmp_path)
    assert first.source == "vocabulary:all-MiniLM-L6-v2:256"
    assert first.centroids.shape == (256, 384)
    assert np.allclose(np.linalg.norm(first.centroids, axis=1), 1.0, atol=1e-5)
    (cached,) = tmp_path.glob("vocabulary-*.npy")
    again = _quantizer.vocabulary_quantizer(tmp_path)  # read from the cache, not recomputed
    assert again.centroids.tobytes() == first.centroids.tobytes()
    cached.write_bytes(b"")  # a damaged cache is not silently used as centroids
    with pytest.raises((ValueError, EOFError, OSError)):
        _quantizer.vocabulary_quantizer(tmp_path)
