"""Shared keys for the HE tests: one simulated and two real key sets per session.

Real keys use the smallest ring degree that holds the depth (N=8192 for depth 2, N=16384
for depth 3) and the default power-of-two Galois keys, so any expression can run; tests of
plan-specific keys make their own.
"""

from __future__ import annotations

import numpy as np
import pytest

from lakeward import he


@pytest.fixture(scope="session")
def sim_keys() -> he.Keys:
    return he.keygen(depth=6, simulated=True)


@pytest.fixture(scope="session")
def keys() -> he.Keys:
    return he.keygen(depth=2)


@pytest.fixture(scope="session")
def deep_keys() -> he.Keys:
    return he.keygen(depth=3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20250707)
