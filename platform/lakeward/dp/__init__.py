"""Continual-release differential privacy.

- ``_counters``: continual counters (square-root factorization, Honaker, binary tree, Laplace
  tree), each with its exact per-step variance and the ρ spent after t releases;
  :func:`make_counter`, :func:`default_counter`.
- ``_noise``: OpenDP's exact samplers for released noise; a seeded source for tests only.
"""

from lakeward.dp._counters import (
    COUNTER_KINDS,
    BinaryTreeCounter,
    ContinualCounter,
    HonakerCounter,
    LaplaceTreeCounter,
    SqrtFactorizationCounter,
    default_counter,
    make_counter,
    sqrt_coefficients,
)
from lakeward.dp._noise import (
    NoiseSource,
    OpenDPGaussian,
    OpenDPLaplace,
    SeededGaussian,
    SeededLaplace,
    release_source,
)

__all__ = [
    "COUNTER_KINDS",
    "BinaryTreeCounter",
    "ContinualCounter",
    "HonakerCounter",
    "LaplaceTreeCounter",
    "NoiseSource",
    "OpenDPGaussian",
    "OpenDPLaplace",
    "SeededGaussian",
    "SeededLaplace",
    "SqrtFactorizationCounter",
    "default_counter",
    "make_counter",
    "release_source",
    "sqrt_coefficients",
]
