"""Noise sources for released DP values.

Released noise comes from OpenDP's exact samplers (:class:`OpenDPGaussian`,
:class:`OpenDPLaplace`), never from numpy's floating-point RNG. :class:`SeededGaussian` exists
for reproducible statistical tests and simulations of the mechanisms' linear algebra; nothing
that releases values to users may use it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "NoiseSource",
    "OpenDPGaussian",
    "OpenDPLaplace",
    "SeededGaussian",
    "SeededLaplace",
    "release_source",
]


class NoiseSource(Protocol):
    """Draws ``n`` independent noise values of a fixed scale."""

    scale: float

    def sample(self, n: int) -> npt.NDArray[np.float64]:
        """``n`` i.i.d. draws."""
        ...


class OpenDPGaussian:
    """N(0, scale²) draws from OpenDP's exact Gaussian sampler (on a zero input)."""

    def __init__(self, scale: float) -> None:
        import opendp.prelude as dp

        dp.enable_features("contrib")
        self.scale = float(scale)
        self._measurement = dp.m.make_gaussian(
            dp.vector_domain(dp.atom_domain(T=float, nan=False)),
            dp.l2_distance(T=float),
            scale=self.scale,
        )

    def sample(self, n: int) -> npt.NDArray[np.float64]:
        """``n`` i.i.d. draws: the mechanism applied to a zero vector, independent of data."""
        return np.asarray(self._measurement([0.0] * n), dtype=np.float64)


class OpenDPLaplace:
    """Laplace(0, scale) draws from OpenDP's exact Laplace sampler (on a zero input)."""

    def __init__(self, scale: float) -> None:
        import opendp.prelude as dp

        dp.enable_features("contrib")
        self.scale = float(scale)
        self._measurement = dp.m.make_laplace(
            dp.vector_domain(dp.atom_domain(T=float, nan=False)),
            dp.l1_distance(T=float),
            scale=self.scale,
        )

    def sample(self, n: int) -> npt.NDArray[np.float64]:
        """``n`` i.i.d. draws."""
        return np.asarray(self._measurement([0.0] * n), dtype=np.float64)


class SeededGaussian:
    """Seeded N(0, scale²) draws for tests and simulations only (never for releases)."""

    def __init__(self, scale: float, seed: int) -> None:
        self.scale = float(scale)
        self._rng = np.random.default_rng(seed)

    def sample(self, n: int) -> npt.NDArray[np.float64]:
        """``n`` i.i.d. draws."""
        return self._rng.normal(0.0, self.scale, size=n)


class SeededLaplace(SeededGaussian):
    """Seeded Laplace(0, scale) draws for tests and simulations only (never for releases)."""

    def sample(self, n: int) -> npt.NDArray[np.float64]:
        """``n`` i.i.d. draws."""
        return self._rng.laplace(0.0, self.scale, size=n)


def release_source(distribution: str, scale: float) -> NoiseSource:
    """The exact OpenDP sampler for released noise of ``distribution`` at ``scale``."""
    if distribution == "laplace":
        return OpenDPLaplace(scale)
    return OpenDPGaussian(scale)
