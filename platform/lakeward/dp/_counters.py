"""Continual counters: the noise each step's released prefix sum carries, and its variance.

A counter over a horizon of ``T`` steps releases, after step ``t``, the prefix sums
``s_t + noise_t`` of ``width`` parallel streams (one per key) whose per-step contributions
have sensitivity ``Δ`` (``sensitivity``). Each class generates ``noise_t`` online from fresh
draws of a :class:`~lakeward.dp._noise.NoiseSource` and states its exact variance in closed
form. All Gaussian counters are calibrated to ρ-zCDP (σ ∝ Δ/√(2ρ)); the Laplace tree gives
pure ε-DP with ε = √(2ρ), which implies ρ-zCDP, so one ledger in ρ serves every kind.

==========================  ==============================================  =================
kind                        ``Var_t`` (× Δ²)                                state per key
==========================  ==============================================  =================
``tree``                    popcount(t)·(L+1)/(2ρ)                          ≤ L+1 node noises
``honaker``                 Σ_{h∈bits(t)} (L+1)/(2ρ)·2^h/(2^{h+1}−1)        ≤ 2(L+1) values
``sqrt_scaled`` (default)   σ'²·Σ_{j≤t} f_{t−j}²/d_j²                       the t draws so far
``sqrt``                    (Σ_{k<T} f_k²)(Σ_{k<t} f_k²)/(2ρ)               the t draws so far
``tree_laplace`` (ε-DP)     popcount(t)·2((L+1)/ε)²                         ≤ L+1 node noises
==========================  ==============================================  =================

- ``tree``: the binary tree mechanism (Dwork–Naor–Pitassi–Rothblum 2010, Chan–Shi–Song 2010),
  one Gaussian per dyadic node, L+1 levels, L2 sensitivity √(L+1). O(1) amortised draws and
  O(log T) time per step.
- ``honaker``: the tree with Honaker's (2015) online inverse-variance combination of each node
  with its children's estimate: about half the tree's variance at the same cost.
- ``sqrt``: the square-root Toeplitz factorization A = B·C, B = C = A^{1/2}, coefficients
  f_k = C(2k,k)/4^k of (1−z)^{−1/2} (Fichtenberger–Henzinger–Upadhyay 2023). One draw and
  O(t) time per step; the mechanism needs every past draw, so state grows as O(t).
- ``sqrt_scaled``: the same factorization with the rows of C rescaled by an increasing d
  (C' = D·A^{1/2}, B' = A^{1/2}·D^{−1}); same cost, 4% less max error (4.398/√(2ρ) at
  T = 2^16, within 4% of the factorization lower bound 4.23).

Privacy spent so far. Releasing steps 1..t of a Gaussian linear mechanism is itself a Gaussian
mechanism whose loss is set by the heaviest column of C restricted to rows ≤ t, so
:meth:`ContinualCounter.rho_through` is what the first t releases cost: tree/Honaker
``ρ·(⌊log2 t⌋+1)/(L+1)`` (levels with a completed node over step 1), sqrt
``ρ·Σ_{k<t} f_k² / Σ_{k<T} f_k²``, sqrt_scaled an upper bound of the same kind. The
ledger is charged the difference at every release and the charges sum to ρ at the horizon.

:func:`make_counter` builds a counter by kind; :func:`default_counter` picks the smallest
maximum per-step variance for the horizon (the scaled square root for every horizon ≥ 4:
at T = 2^16 its max standard deviation is 4.40/√(2ρ), the plain square root 4.60, Honaker
12.2, the tree 16.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lakeward.dp._noise import NoiseSource
from lakeward.errors import InputError

__all__ = [
    "COUNTER_KINDS",
    "BinaryTreeCounter",
    "ContinualCounter",
    "HonakerCounter",
    "LaplaceTreeCounter",
    "ScaledSqrtCounter",
    "SqrtFactorizationCounter",
    "default_counter",
    "make_counter",
    "sqrt_coefficients",
]

F64 = npt.NDArray[np.float64]


def _check(horizon: object, rho: object, sensitivity: object, width: object) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise InputError(f"A counter's horizon must be a positive integer, got {horizon!r}.")
    if isinstance(rho, bool) or not (
        isinstance(rho, int | float) and math.isfinite(rho) and rho > 0
    ):
        raise InputError(f"rho must be a finite number > 0, got {rho!r}.")
    if isinstance(sensitivity, bool) or not (
        isinstance(sensitivity, int | float) and math.isfinite(sensitivity) and sensitivity > 0
    ):
        raise InputError(f"sensitivity must be a finite number > 0, got {sensitivity!r}.")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise InputError(f"width (number of keys) must be a positive integer, got {width!r}.")


def sqrt_coefficients(n: int) -> F64:
    """f_0..f_{n−1}: the coefficients of (1−z)^{−1/2}, f_k = f_{k−1}(1 − 1/(2k))."""
    k = np.arange(1, n, dtype=np.float64)
    return np.concatenate([[1.0], np.cumprod(1.0 - 1.0 / (2.0 * k))])


def _levels(horizon: int) -> int:
    """L + 1: dyadic levels needed so every prefix of [1, horizon] is a union of nodes."""
    return max(1, math.ceil(math.log2(horizon))) + 1 if horizon > 1 else 1


def _trailing_zeros(t: int) -> int:
    return (t & -t).bit_length() - 1


@dataclass
class ContinualCounter:
    """Common interface of the counters.

    Online use (releases): ``draws_at(t)`` fresh draws of scale :attr:`node_scale` per key,
    then ``advance(draws)`` returns ``noise_t`` for every key. ``snapshot()``/``restore()``
    carry the state between processes. Offline use (tests, benchmarks): ``run(increments,
    seed)`` returns noisy prefix sums for a whole stream with seeded (non-release) noise.
    """

    horizon: int
    rho: float
    sensitivity: float = 1.0
    width: int = 1
    step: int = field(default=0, init=False)
    kind: ClassVar[str] = "counter"
    distribution: ClassVar[str] = "gaussian"
    needs_history: ClassVar[bool] = False  # restore() needs every past step's draws

    def __post_init__(self) -> None:
        _check(self.horizon, self.rho, self.sensitivity, self.width)

    # -- closed forms ---------------------------------------------------------------------
    @property
    def node_scale(self) -> float:
        """Scale of each fresh draw (σ for Gaussian, b for Laplace)."""
        raise NotImplementedError

    def variance(self, t: int) -> float:
        """Exact variance of ``noise_t`` for one key (1 ≤ t ≤ horizon)."""
        raise NotImplementedError

    def variances(self) -> F64:
        """``variance(t)`` for t = 1..horizon."""
        return np.array([self.variance(t) for t in range(1, self.horizon + 1)])

    def max_sd(self) -> float:
        """Largest per-step standard deviation over the horizon."""
        return float(math.sqrt(self.variances().max()))

    def rho_through(self, t: int) -> float:
        """ρ-zCDP spent by releasing steps 1..t (0 ≤ t ≤ horizon); equals ρ at the horizon."""
        raise NotImplementedError

    def _check_t(self, t: int) -> None:
        if not 1 <= t <= self.horizon:
            raise InputError(f"Step {t} is outside the horizon 1..{self.horizon}.")

    # -- online ---------------------------------------------------------------------------
    def draws_at(self, t: int) -> int:
        """How many fresh draws per key step ``t`` needs."""
        return 1

    def _advance_step(self) -> int:
        if self.step >= self.horizon:
            raise InputError(
                f"The {self.kind} counter's horizon of {self.horizon} steps is used up; start a "
                "new stream (its budget is separate) or plan a longer horizon."
            )
        return self.step + 1

    def _as_draws(self, draws: npt.ArrayLike, t: int) -> F64:
        arr = np.asarray(draws, dtype=np.float64).reshape(-1, self.width)
        if arr.shape[0] != self.draws_at(t):
            raise InputError(
                f"Step {t} of the {self.kind} counter needs {self.draws_at(t)} draws per key, "
                f"got {arr.shape[0]}."
            )
        return arr

    def advance(self, draws: npt.ArrayLike) -> F64:
        """Consume this step's draws (shape ``(draws_at(t), width)``); return ``noise_t``."""
        raise NotImplementedError

    def next_noise(self, source: NoiseSource) -> F64:
        """Draw from ``source`` and advance one step."""
        t = self._advance_step()
        n = self.draws_at(t)
        return self.advance(source.sample(n * self.width).reshape(n, self.width))

    def snapshot(self) -> dict[str, Any]:
        """JSON-friendly state; see :meth:`restore`."""
        raise NotImplementedError

    def restore(self, snapshot: dict[str, Any], history: list[F64] | None = None) -> None:
        """Resume from ``snapshot``; ``history`` = every step's draws (only ``sqrt`` needs it)."""
        raise NotImplementedError

    # -- offline --------------------------------------------------------------------------
    def _seeded(self, rng: np.random.Generator, shape: tuple[int, ...]) -> F64:
        if self.distribution == "laplace":
            return rng.laplace(0.0, self.node_scale, size=shape)
        return rng.normal(0.0, self.node_scale, size=shape)

    def noise_matrix(self, seed: int) -> F64:
        """Seeded ``noise_t`` for t = 1..horizon, shape ``(horizon, width)`` (not for release)."""
        raise NotImplementedError

    def run(self, increments: npt.ArrayLike, seed: int) -> F64:
        """Noisy prefix sums of ``increments`` (length ≤ horizon, optionally × width).

        Seeded NumPy noise: for tests and benchmarks only, never for released values.
        """
        x = np.asarray(increments, dtype=np.float64)
        flat = x.ndim == 1
        x2 = x.reshape(len(x), -1)
        if len(x2) > self.horizon or x2.shape[1] != self.width:
            raise InputError(
                f"run() takes at most {self.horizon} steps × {self.width} keys, got shape "
                f"{x.shape}."
            )
        noisy = np.cumsum(x2, axis=0) + self.noise_matrix(seed)[: len(x2)]
        return noisy[:, 0] if flat else noisy


def _prefix_from_levels(nodes: list[F64], horizon: int) -> F64:
    """noise_t = Σ over set bits h of t of node value (level h, block t >> h)."""
    t = np.arange(1, horizon + 1)
    out = np.zeros((horizon, nodes[0].shape[1]))
    for h, level in enumerate(nodes):
        bit = ((t >> h) & 1).astype(bool)
        out[bit] += level[(t[bit] >> h) - 1]
    return out


@dataclass
class BinaryTreeCounter(ContinualCounter):
    """The binary tree mechanism (Gaussian, ρ-zCDP)."""

    kind: ClassVar[str] = "tree"
    _nodes: dict[int, F64] = field(default_factory=dict, init=False, repr=False)

    @property
    def levels(self) -> int:
        """L + 1 dyadic levels (each a disjoint partition of the stream)."""
        return _levels(self.horizon)

    @property
    def node_scale(self) -> float:
        """σ = Δ·√(L+1)/√(2ρ): L2 sensitivity √(L+1) over the levels."""
        return self.sensitivity * math.sqrt(self.levels / (2 * self.rho))

    def node_variance(self, height: int) -> float:
        """Variance of one node's noise."""
        return self.node_scale**2

    def variance(self, t: int) -> float:
        """popcount(t)·σ²."""
        self._check_t(t)
        return bin(t).count("1") * self.node_variance(0)

    def variances(self) -> F64:
        """Vectorised closed form: Σ over set bits h of t of the node variance at height h."""
        t = np.arange(1, self.horizon + 1)
        out = np.zeros(self.horizon)
        for h in range(self.levels):
            out += ((t >> h) & 1) * self.node_variance(h)
        return out

    def rho_through(self, t: int) -> float:
        """ρ·(levels with a completed node covering step 1)/(L+1)."""
        if t <= 0:
            return 0.0
        t = min(t, self.horizon)
        return self.rho * min(t.bit_length(), self.levels) / self.levels

    def advance(self, draws: npt.ArrayLike) -> F64:
        """The node completed at step t (height = trailing zeros) replaces those below it."""
        t = self._advance_step()
        arr = self._as_draws(draws, t)
        height = _trailing_zeros(t)
        for h in range(height):
            self._nodes.pop(h, None)
        self._nodes[height] = arr[0]
        self.step = t
        return self._sum_nodes(t, self._nodes)

    def _sum_nodes(self, t: int, nodes: dict[int, F64]) -> F64:
        out = np.zeros(self.width)
        for h in range(self.levels):
            if (t >> h) & 1:
                out = out + nodes[h]
        return out

    def snapshot(self) -> dict[str, Any]:
        """The live node noises per level."""
        return {"step": self.step, "nodes": {str(h): v.tolist() for h, v in self._nodes.items()}}

    def restore(self, snapshot: dict[str, Any], history: list[F64] | None = None) -> None:
        """Resume from a snapshot."""
        self.step = int(snapshot["step"])
        self._nodes = {
            int(h): np.asarray(v, dtype=np.float64) for h, v in snapshot["nodes"].items()
        }

    def _node_levels(self, rng: np.random.Generator) -> list[F64]:
        return [self._seeded(rng, (self.horizon >> h, self.width)) for h in range(self.levels)]

    def noise_matrix(self, seed: int) -> F64:
        """Vectorised: one seeded draw per dyadic node."""
        return _prefix_from_levels(self._node_levels(np.random.default_rng(seed)), self.horizon)


@dataclass
class LaplaceTreeCounter(BinaryTreeCounter):
    """The binary tree with Laplace noise: pure ε-DP, ε = √(2ρ) (so it costs ρ-zCDP)."""

    kind: ClassVar[str] = "tree_laplace"
    distribution: ClassVar[str] = "laplace"

    @property
    def epsilon(self) -> float:
        """ε = √(2ρ): ε-DP implies (ε²/2)-zCDP."""
        return math.sqrt(2 * self.rho)

    @property
    def node_scale(self) -> float:
        """Laplace scale Δ·(L+1)/ε: L1 sensitivity L+1 over the levels."""
        return self.sensitivity * self.levels / self.epsilon

    def node_variance(self, height: int) -> float:
        """2b²."""
        return 2 * self.node_scale**2

    def rho_through(self, t: int) -> float:
        """(ε_t)²/2 with ε_t = ε·(levels completed over step 1)/(L+1)."""
        if t <= 0:
            return 0.0
        t = min(t, self.horizon)
        eps_t = self.epsilon * min(t.bit_length(), self.levels) / self.levels
        return eps_t**2 / 2


@dataclass
class HonakerCounter(BinaryTreeCounter):
    """The binary tree with Honaker's online variance reduction."""

    kind: ClassVar[str] = "honaker"
    _combined: dict[int, list[F64]] = field(default_factory=dict, init=False, repr=False)

    def node_variance(self, height: int) -> float:
        """σ²·2^h/(2^{h+1}−1): a node combined with its children's estimate."""
        return float(self.node_scale**2 * 2**height / (2 ** (height + 1) - 1))

    def variance(self, t: int) -> float:
        """Σ over the set bits h of t of the combined node variance."""
        self._check_t(t)
        return sum(self.node_variance(h) for h in range(self.levels) if (t >> h) & 1)

    def _weight(self, level: int) -> float:
        """Inverse-variance weight of a node's own draw against its two children's sum."""
        child_var = 2 * self.node_variance(level - 1)
        return child_var / (self.node_scale**2 + child_var)

    def draws_at(self, t: int) -> int:
        """One draw per node completed at step t: heights 0..trailing zeros of t."""
        return _trailing_zeros(t) + 1

    def advance(self, draws: npt.ArrayLike) -> F64:
        """Complete every node ending at step t bottom-up, each combined with its children."""
        t = self._advance_step()
        arr = self._as_draws(draws, t)
        for level in range(_trailing_zeros(t) + 1):
            own = arr[level]
            if level == 0:
                combined = own
            else:
                left, right = self._combined[level - 1][-2:]
                w = self._weight(level)
                combined = w * own + (1 - w) * (left + right)
            self._combined[level] = [*self._combined.get(level, [])[-1:], combined]
        self.step = t
        return self._sum_nodes(t, {h: v[-1] for h, v in self._combined.items()})

    def snapshot(self) -> dict[str, Any]:
        """Combined noises of the last two nodes per level."""
        return {
            "step": self.step,
            "combined": {str(h): [v.tolist() for v in vs] for h, vs in self._combined.items()},
        }

    def restore(self, snapshot: dict[str, Any], history: list[F64] | None = None) -> None:
        """Resume from a snapshot."""
        self.step = int(snapshot["step"])
        self._combined = {
            int(h): [np.asarray(v, dtype=np.float64) for v in vs]
            for h, vs in snapshot["combined"].items()
        }

    def noise_matrix(self, seed: int) -> F64:
        """Vectorised: combine each level with the level below, bottom-up."""
        raw = self._node_levels(np.random.default_rng(seed))
        combined = [raw[0]]
        for h in range(1, self.levels):
            below = combined[-1]
            pairs = below[0 : 2 * len(raw[h]) : 2] + below[1 : 2 * len(raw[h]) : 2]
            w = self._weight(h)
            combined.append(w * raw[h] + (1 - w) * pairs)
        return _prefix_from_levels(combined, self.horizon)


@dataclass
class SqrtFactorizationCounter(ContinualCounter):
    """The square-root (Toeplitz) matrix factorization mechanism."""

    kind: ClassVar[str] = "sqrt"
    needs_history: ClassVar[bool] = True
    _z: F64 = field(default_factory=lambda: np.zeros((0, 1)), init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._f = sqrt_coefficients(self.horizon)
        self._cum = np.cumsum(self._f**2)
        self._z = np.zeros((min(self.horizon, 64), self.width))

    @property
    def column_norm(self) -> float:
        """‖C‖_{1→2} = √(Σ_{k<T} f_k²): the largest column norm of C."""
        return float(math.sqrt(self._cum[-1]))

    @property
    def node_scale(self) -> float:
        """σ = Δ·‖C‖_{1→2}/√(2ρ)."""
        return self.sensitivity * self.column_norm / math.sqrt(2 * self.rho)

    def variance(self, t: int) -> float:
        """σ²·Σ_{k<t} f_k²."""
        self._check_t(t)
        return float(self.node_scale**2 * self._cum[t - 1])

    def variances(self) -> F64:
        """Vectorised closed form."""
        return np.asarray(self.node_scale**2 * self._cum, dtype=np.float64)

    def rho_through(self, t: int) -> float:
        """ρ·Σ_{k<t} f_k² / Σ_{k<T} f_k² (column 1 of C restricted to rows ≤ t)."""
        if t <= 0:
            return 0.0
        t = min(t, self.horizon)
        return float(self.rho * self._cum[t - 1] / self._cum[-1])

    def advance(self, draws: npt.ArrayLike) -> F64:
        """(B·z)_t = Σ_{k<t} f_k z_{t−k}."""
        t = self._advance_step()
        arr = self._as_draws(draws, t)
        if t > len(self._z):  # amortised doubling; the mechanism needs every draw
            grown = np.zeros((min(self.horizon, 2 * len(self._z)), self.width))
            grown[: len(self._z)] = self._z
            self._z = grown
        self._z[t - 1] = arr[0]
        self.step = t
        return np.asarray(self._f[:t][::-1] @ self._z[:t], dtype=np.float64)

    def snapshot(self) -> dict[str, Any]:
        """Only the step: the draws come back from the release history."""
        return {"step": self.step}

    def restore(self, snapshot: dict[str, Any], history: list[F64] | None = None) -> None:
        """Resume from the step count and every past step's draws."""
        step = int(snapshot["step"])
        draws = history or []
        if len(draws) != step:
            raise InputError(
                f"Restoring the sqrt counter at step {step} needs {step} steps of draws, got "
                f"{len(draws)}."
            )
        self.step = step
        self._z = np.zeros((max(64, step), self.width))
        if step:
            self._z[:step] = np.stack(
                [np.asarray(d, dtype=np.float64).reshape(self.width) for d in draws]
            )

    def noise_matrix(self, seed: int) -> F64:
        """Vectorised: the causal convolution of f with seeded z (FFT)."""
        from scipy.signal import fftconvolve

        z = self._seeded(np.random.default_rng(seed), (self.horizon, self.width))
        return np.asarray(
            fftconvolve(z, self._f[:, None], axes=0)[: self.horizon], dtype=np.float64
        )


# log d_i² at relative positions i/T = 0, 1/8, …, 1 (linear in between): the row scaling of
# the square-root factorization found by a Powell search of max_t‖row_t(B')‖·max_j‖col_j(C')‖
# at T = 2^16 (4.596 → 4.398); the same shape gives 3–4% less max error at every horizon
# from 2^8 to 2^20 (bench/dp.py prints it).
_ROW_SCALE_KNOTS = (0.0, 0.0464, 0.0479, 0.0683, 0.087, 0.1062, 0.1172, 0.1298, 0.1377)


@dataclass
class ScaledSqrtCounter(SqrtFactorizationCounter):
    """The square-root factorization with its rows rescaled: A = B'·C', C' = D·A^{1/2}.

    ``D = diag(d)`` with d increasing; ``B' = A^{1/2}·D^{−1}`` so B'C' = A still, both lower
    triangular (online, and private under adaptive streams). Raising the weight of later rows
    of C' costs sensitivity only up to the heaviest column and lowers the late rows of B',
    where the square root's error peaks. ``noise_t = Σ_{j≤t} f_{t−j} z_j / d_j``;
    ``Var_t = σ²·Σ_{j≤t} f_{t−j}²/d_j²``, σ = Δ·max_j‖col_j(C')‖/√(2ρ). Spend after t
    releases is bounded by ``ρ·d_t²·Σ_{k<t} f_k²/max_j‖col_j(C')‖²`` (capped at ρ).
    """

    kind: ClassVar[str] = "sqrt_scaled"

    def __post_init__(self) -> None:
        super().__post_init__()
        from scipy.signal import fftconvolve

        n = self.horizon
        x = (np.arange(n) + 1) / n
        knots = np.linspace(0.0, 1.0, len(_ROW_SCALE_KNOTS))
        d2 = np.maximum.accumulate(np.exp(np.interp(x, knots, _ROW_SCALE_KNOTS)))
        f2 = self._f**2
        columns = np.asarray(fftconvolve(d2[::-1], f2)[:n][::-1])  # Σ_{i≥j} d_i² f_{i−j}²
        self._rows = np.asarray(fftconvolve(1.0 / d2, f2)[:n])  # Σ_{j≤t} f_{t−j}²/d_j²
        self._colmax = float(columns.max())
        self._d2 = d2
        self._inv_d = 1.0 / np.sqrt(d2)

    @property
    def column_norm(self) -> float:
        """max_j ‖col_j(C')‖."""
        return float(math.sqrt(self._colmax))

    def variance(self, t: int) -> float:
        """σ²·Σ_{j≤t} f_{t−j}²/d_j²."""
        self._check_t(t)
        return float(self.node_scale**2 * self._rows[t - 1])

    def variances(self) -> F64:
        """Vectorised closed form."""
        return np.asarray(self.node_scale**2 * self._rows, dtype=np.float64)

    def rho_through(self, t: int) -> float:
        """An upper bound on the loss of steps 1..t (exact ρ at the horizon)."""
        if t <= 0:
            return 0.0
        if t >= self.horizon:
            return float(self.rho)
        return float(self.rho * min(1.0, self._d2[t - 1] * self._cum[t - 1] / self._colmax))

    def advance(self, draws: npt.ArrayLike) -> F64:
        """(B'·z)_t = Σ_{j≤t} f_{t−j} z_j / d_j."""
        t = self._advance_step()
        arr = self._as_draws(draws, t)
        if t > len(self._z):
            grown = np.zeros((min(self.horizon, 2 * len(self._z)), self.width))
            grown[: len(self._z)] = self._z
            self._z = grown
        self._z[t - 1] = arr[0]
        self.step = t
        scaled = self._z[:t] * self._inv_d[:t, None]
        return np.asarray(self._f[:t][::-1] @ scaled, dtype=np.float64)

    def noise_matrix(self, seed: int) -> F64:
        """Vectorised: the causal convolution of f with seeded z/d (FFT)."""
        from scipy.signal import fftconvolve

        z = self._seeded(np.random.default_rng(seed), (self.horizon, self.width))
        z = z * self._inv_d[:, None]
        return np.asarray(
            fftconvolve(z, self._f[:, None], axes=0)[: self.horizon], dtype=np.float64
        )


COUNTER_KINDS: dict[str, type[ContinualCounter]] = {
    c.kind: c
    for c in (
        ScaledSqrtCounter,
        SqrtFactorizationCounter,
        HonakerCounter,
        BinaryTreeCounter,
        LaplaceTreeCounter,
    )
}


def make_counter(
    kind: str, horizon: int, rho: float, *, sensitivity: float = 1.0, width: int = 1
) -> ContinualCounter:
    """A counter of ``kind`` (``sqrt``, ``honaker``, ``tree``, ``tree_laplace``).

    Raises:
        InputError: unknown kind, or a horizon/ρ/sensitivity/width that is not valid.
    """
    if kind not in COUNTER_KINDS:
        raise InputError(
            f"Unknown counter kind {kind!r}; choose one of {', '.join(sorted(COUNTER_KINDS))}."
        )
    return COUNTER_KINDS[kind](horizon, rho, sensitivity, width)


def default_counter(
    horizon: int, rho: float, *, sensitivity: float = 1.0, width: int = 1
) -> ContinualCounter:
    """The Gaussian counter with the smallest maximum per-step variance for this horizon."""
    _check(horizon, rho, sensitivity, width)
    candidates = [
        make_counter(kind, horizon, rho, sensitivity=sensitivity, width=width)
        for kind in ("sqrt_scaled", "sqrt", "honaker", "tree")
    ]
    return min(candidates, key=lambda c: float(c.variances().max()))
