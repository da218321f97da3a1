"""Encoded plaintexts are reused across calls on one context: same results, same counts."""

from __future__ import annotations

import numpy as np

from lakeward import he
from lakeward.he._backend import PlaintextCache


def test_repeated_einsum_reuses_encodings(keys: he.Keys, rng: np.random.Generator) -> None:
    """The second call encodes nothing new yet decrypts to the same answer with equal counts."""
    a, w = rng.standard_normal((5, 17)), rng.standard_normal(17)
    ct = he.encrypt(keys, a)  # row-major: the plaintext side needs a layout change
    cache = keys.public()._plaintexts
    before = cache.misses + cache.hits
    first = he.einsum("ik,k->i", ct, w)
    misses, lookups = cache.misses, cache.misses + cache.hits - before
    assert lookups > 0
    second = he.einsum("ik,k->i", ct, w)
    assert cache.misses == misses  # every product of the second call is a hit
    assert cache.misses + cache.hits - before == 2 * lookups
    assert isinstance(first, he.CipherTensor) and isinstance(second, he.CipherTensor)
    assert first.counts == second.counts
    np.testing.assert_allclose(he.decrypt(keys, second), he.decrypt(keys, first), atol=1e-9)
    np.testing.assert_allclose(he.decrypt(keys, second), a @ w, atol=1e-6)

    other = he.einsum("ik,k->i", ct, -w)  # other content: a miss, never a stale plaintext
    assert cache.misses > misses
    np.testing.assert_allclose(he.decrypt(keys, other), -(a @ w), atol=1e-6)


def test_cache_stays_within_its_byte_budget() -> None:
    cache = PlaintextCache(max_bytes=100)
    for n in range(5):
        cache.put(("level", n), object(), 40)
    assert cache.bytes <= 100 and len(cache._entries) == 2
    assert cache.get(("level", 4)) is not None and cache.get(("level", 0)) is None
    cache.put(("level", "huge"), object(), 101)  # larger than the budget: not kept
    assert cache.get(("level", "huge")) is None and cache.bytes <= 100
