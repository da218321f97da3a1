"""Continual-release differential privacy.

In progress: the counters are here; streams, releases, scheduling and the CLI arrive with
the rest of the continual-release issue.

- ``_counters``: binary tree, Honaker and square-root factorization counters under ρ-zCDP,
  each with its exact per-step variance; :func:`best_counter` picks by horizon.
- ``_noise``: OpenDP's exact samplers for released noise; a seeded source for tests only.
"""

from lakeward.dp._counters import (
    BinaryTreeCounter,
    ContinualCounter,
    HonakerCounter,
    SqrtFactorizationCounter,
    best_counter,
    sqrt_coefficients,
)
from lakeward.dp._noise import NoiseSource, OpenDPGaussian, OpenDPLaplace, SeededGaussian

__all__ = [
    "BinaryTreeCounter",
    "ContinualCounter",
    "HonakerCounter",
    "NoiseSource",
    "OpenDPGaussian",
    "OpenDPLaplace",
    "SeededGaussian",
    "SqrtFactorizationCounter",
    "best_counter",
    "sqrt_coefficients",
]
