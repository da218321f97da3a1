"""MaxSum and SumSelect under continual observation: the largest of d running sums, and which.

Records x_t ∈ {0,1}^d arrive one per step (event level: neighbours differ in one record,
which moves every running sum by at most 1). Two mechanisms, both ρ-zCDP:

- :class:`CounterMaxSum` — one continual counter per attribute, all d in one vector-valued
  Gaussian counter with L2 sensitivity √d; output max_j and argmax_j of the noisy sums.
  Error ≈ √d · (counter sd) · √(2 ln(2dT)): grows as √d, only polylog in T.
- :class:`SparseVectorMaxSum` — Jain–Raskhodnikova–Sivakumar–Smith's T^{1/3} branch: keep
  the last released answer and, every step, run AboveThreshold on "has max_j s_j moved by
  α since the last refresh?"; only on *yes* release a fresh Gaussian noisy max and a
  report-noisy-max index. MaxSum grows by ≤ 1 per step, so at most ``c ≈ T/α`` refreshes
  (plus false positives) happen; the budget is split in thirds (tests, values, indices) and
  over c rounds by zCDP composition (ε-DP rounds cost ε²/2 each), so each round's noise
  scales as √c. Error ≈ α + O(√(T/α)·log T/√ρ), minimised at α ~ T^{1/3}: independent of d.
  After c refreshes it stops updating (answers frozen; :attr:`exhausted` says so).

:func:`choose_maxsum` compares the two predicted errors for (T, d, ρ): the counters win for
small d, the sparse vector for d ≳ T^{2/3} (≈ 1.6·10^3 at T = 2^16), the crossover JRSS
prove unavoidable. ``bench/dp.py`` measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lakeward.dp._counters import ContinualCounter, default_counter, make_counter
from lakeward.dp._noise import NoiseSource, OpenDPGaussian, OpenDPLaplace, SeededGaussian
from lakeward.errors import InputError

__all__ = [
    "CounterMaxSum",
    "SparseVectorMaxSum",
    "choose_maxsum",
    "predicted_counter_error",
    "predicted_svt_error",
    "simulate_svt_error",
]

F64 = npt.NDArray[np.float64]


class _SeededLaplace:
    def __init__(self, scale: float, rng: np.random.Generator) -> None:
        self.scale = scale
        self._rng = rng

    def sample(self, n: int) -> F64:
        return self._rng.laplace(0.0, self.scale, size=n)


class _SeededNormal(_SeededLaplace):
    def sample(self, n: int) -> F64:
        return self._rng.normal(0.0, self.scale, size=n)


def _check(horizon: int, d: int, rho: float) -> None:
    if not isinstance(horizon, int) or horizon < 1:
        raise InputError(f"horizon must be a positive integer, got {horizon!r}")
    if not isinstance(d, int) or d < 1:
        raise InputError(f"d (number of sums) must be a positive integer, got {d!r}")
    if not (math.isfinite(rho) and rho > 0):
        raise InputError(f"rho must be a finite number > 0, got {rho!r}")


def predicted_counter_error(horizon: int, d: int, rho: float) -> float:
    """Typical max-over-time MaxSum error of the per-attribute counters.

    Max sd · √(2 ln(2d·log2 T)): the noisy max over d sums, with about log2 T effectively
    independent noise values per sum over time (checked against simulation: within 1.3×).
    """
    counter = default_counter(horizon, rho, sensitivity=math.sqrt(d))
    return counter.max_sd() * math.sqrt(2 * math.log(2 * d * max(2.0, math.log2(horizon))))


def _svt_scales(horizon: int, rho: float, alpha: float) -> dict[str, float]:
    rounds = max(1, math.ceil(1.25 * horizon / alpha) + 1)
    part = rho / 3
    eps_round = math.sqrt(2 * part / rounds)  # ε-DP round costs ε²/2 zCDP
    return {
        "rounds": rounds,
        "threshold": 2.0 / eps_round,
        "query": 4.0 / eps_round,
        "value": math.sqrt(rounds / (2 * part)),
        "index": 2.0 / eps_round,
    }


def simulate_svt_error(horizon: int, rho: float, alpha: float, seed: int) -> float:
    """Max-over-time MaxSum error of the sparse vector on the fastest-growing stream (+1/step).

    Event-driven: between refreshes the true max is linear, so each round needs only its first
    threshold crossing (found a block of steps at a time) and the error at its two ends.
    """
    rng = np.random.default_rng(seed)
    sc = _svt_scales(horizon, rho, alpha)
    rounds, value, t, worst = int(sc["rounds"]), 0.0, 0, 0.0
    threshold = alpha + rng.laplace(0, sc["threshold"])
    used = 0
    while t < horizon:
        if used >= rounds:  # frozen until the horizon
            return max(worst, abs(horizon - value))
        block = int(min(horizon - t, max(64.0, 4 * alpha)))
        steps = np.arange(t + 1, t + block + 1, dtype=np.float64)
        fire = steps - value + rng.laplace(0, sc["query"], size=block) >= threshold
        hit = int(np.argmax(fire)) if fire.any() else -1
        end = steps[hit] if hit >= 0 else steps[-1]
        worst = max(worst, abs(steps[0] - value), abs(end - 1 - value) if hit >= 0 else 0.0)
        if hit < 0:
            worst = max(worst, abs(end - value))
            t += block
            continue
        used += 1
        value = end + rng.normal(0, sc["value"])
        worst = max(worst, abs(end - value))
        threshold = alpha + rng.laplace(0, sc["threshold"])
        t = int(end)
    return worst


def _best_alpha(horizon: int, rho: float, seeds: int = 3) -> tuple[float, float]:
    """The threshold with the smallest simulated error, and that error (mean over seeds)."""
    grid = np.unique(np.geomspace(2.0, max(4.0, horizon / 2), 16).round(1))
    scored = [
        (float(np.mean([simulate_svt_error(horizon, rho, float(a), s) for s in range(seeds)])), a)
        for a in grid
    ]
    error, alpha = min(scored)
    return float(alpha), error


def predicted_svt_error(horizon: int, rho: float, alpha: float | None = None) -> float:
    """Simulated max-over-time MaxSum error of the sparse vector (best α if not given)."""
    if alpha is None:
        return _best_alpha(horizon, rho)[1]
    return float(np.mean([simulate_svt_error(horizon, rho, alpha, s) for s in range(3)]))


def choose_maxsum(horizon: int, d: int, rho: float) -> dict[str, Any]:
    """Which mechanism has the smaller predicted error for (T, d, ρ), and both predictions."""
    _check(horizon, d, rho)
    alpha, svt = _best_alpha(horizon, rho)
    counter = predicted_counter_error(horizon, d, rho)
    return {
        "mechanism": "counters" if counter <= svt else "sparse_vector",
        "counter_error": counter,
        "svt_error": svt,
        "alpha": alpha,
    }


@dataclass
class CounterMaxSum:
    """Per-attribute continual counters (one vector counter, L2 sensitivity √d)."""

    horizon: int
    d: int
    rho: float
    kind: str | None = None
    seed: int | None = None  # seeded NumPy noise for simulations; None = OpenDP (releases)
    counter: ContinualCounter = field(init=False)

    def __post_init__(self) -> None:
        _check(self.horizon, self.d, self.rho)
        sens = math.sqrt(self.d)
        self.counter = (
            make_counter(self.kind, self.horizon, self.rho, sensitivity=sens, width=self.d)
            if self.kind
            else default_counter(self.horizon, self.rho, sensitivity=sens, width=self.d)
        )
        self._source: NoiseSource = (
            OpenDPGaussian(self.counter.node_scale)
            if self.seed is None
            else SeededGaussian(self.counter.node_scale, self.seed)
        )

    def step(self, sums: npt.ArrayLike) -> tuple[float, int]:
        """Given the true running sums after this step, the released (max, argmax)."""
        noisy = np.asarray(sums, dtype=np.float64) + self.counter.next_noise(self._source)
        j = int(np.argmax(noisy))
        return float(noisy[j]), j


@dataclass
class SparseVectorMaxSum:
    """The sparse-vector MaxSum/SumSelect mechanism (see the module docstring)."""

    horizon: int
    d: int
    rho: float
    alpha: float | None = None
    seed: int | None = None  # seeded NumPy noise for simulations; None = OpenDP (releases)
    refreshes: int = field(default=0, init=False)
    value: float = field(default=0.0, init=False)
    index: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        _check(self.horizon, self.d, self.rho)
        if self.alpha is None:
            self.alpha = _best_alpha(self.horizon, self.rho)[0]
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise InputError(f"alpha must be a finite number > 0, got {self.alpha!r}")
        self.scales = _svt_scales(self.horizon, self.rho, self.alpha)
        self.rounds = int(self.scales["rounds"])
        if self.seed is None:
            self._lap_t: Any = OpenDPLaplace(self.scales["threshold"])
            self._lap_q: Any = OpenDPLaplace(self.scales["query"])
            self._gauss_v: Any = OpenDPGaussian(self.scales["value"])
            self._lap_i: Any = OpenDPLaplace(self.scales["index"])
        else:
            rng = np.random.default_rng(self.seed)
            self._lap_t = _SeededLaplace(self.scales["threshold"], rng)
            self._lap_q = _SeededLaplace(self.scales["query"], rng)
            self._gauss_v = _SeededNormal(self.scales["value"], rng)
            self._lap_i = _SeededLaplace(self.scales["index"], rng)
        self._noisy_threshold = self.alpha + float(self._lap_t.sample(1)[0])

    @property
    def exhausted(self) -> bool:
        """All refresh rounds are spent: answers no longer update."""
        return self.refreshes >= self.rounds

    def step(self, sums: npt.ArrayLike) -> tuple[float, int]:
        """Given the true running sums after this step, the released (max, argmax)."""
        s = np.asarray(sums, dtype=np.float64)
        if self.exhausted:
            return self.value, self.index
        query = float(s.max()) - self.value + float(self._lap_q.sample(1)[0])
        if query >= self._noisy_threshold:
            self.refreshes += 1
            self.value = float(s.max()) + float(self._gauss_v.sample(1)[0])
            self.index = int(np.argmax(s + self._lap_i.sample(self.d)))
            self._noisy_threshold = self.alpha + float(self._lap_t.sample(1)[0])  # type: ignore[operator]
        return self.value, self.index
