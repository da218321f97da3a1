"""MaxSum / SumSelect: the per-attribute counters vs the sparse vector, chosen by d and T."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lakeward.dp._select import (
    CounterMaxSum,
    SparseVectorMaxSum,
    _svt_scales,
    choose_maxsum,
)
from lakeward.errors import InputError


def _simulate(mechanism: object, horizon: int, d: int, seed: int) -> tuple[float, float]:
    """Max-over-time MaxSum and SumSelect errors on a skewed stream of {0,1}^d records."""
    rng = np.random.default_rng(seed)
    p = np.minimum(0.5, 2.0 / np.arange(1, d + 1))
    sums = np.zeros(d)
    max_err = select_err = 0.0
    for _ in range(horizon):
        sums += rng.random(d) < p
        value, index = mechanism.step(sums)  # type: ignore[attr-defined]
        max_err = max(max_err, abs(value - sums.max()))
        select_err = max(select_err, sums.max() - sums[index])
    return max_err, select_err


@pytest.mark.parametrize(("d", "expected"), [(4, "counters"), (4096, "sparse_vector")])
def test_choice_by_d_matches_simulated_errors(d: int, expected: str) -> None:
    horizon, rho = 512, 0.5
    choice = choose_maxsum(horizon, d, rho)
    assert choice["mechanism"] == expected
    counters = _simulate(CounterMaxSum(horizon, d, rho, seed=1), horizon, d, seed=3)
    svt = _simulate(SparseVectorMaxSum(horizon, d, rho, seed=1), horizon, d, seed=3)
    chosen, other = (counters, svt) if expected == "counters" else (svt, counters)
    assert chosen[0] < other[0]  # the chosen mechanism's MaxSum error is the smaller
    # The counters' error grows as sqrt(d); the sparse vector's does not depend on d.
    ratio = choice["counter_error"] / choose_maxsum(horizon, 4, rho)["counter_error"]
    assert math.sqrt(d / 4) <= ratio <= 2 * math.sqrt(d / 4)
    assert choice["svt_error"] == choose_maxsum(horizon, 4, rho)["svt_error"]


def test_crossover_moves_with_t() -> None:
    # The per-attribute counters win up to larger d as T grows only polylogarithmically
    # for them; at T = 2^12 the crossover sits between d = 64 and d = 1024.
    assert choose_maxsum(4096, 64, 0.5)["mechanism"] == "counters"
    assert choose_maxsum(4096, 1024, 0.5)["mechanism"] == "sparse_vector"


def test_sparse_vector_budget_adds_up_and_freezes_when_spent() -> None:
    horizon, rho, alpha = 256, 0.3, 16.0
    s = _svt_scales(horizon, rho, alpha)
    rounds = s["rounds"]
    eps_round = 2.0 / s["threshold"]
    assert s["query"] == pytest.approx(2 * s["threshold"])  # AboveThreshold: Lap(2/ε), Lap(4/ε)
    spent = (
        rounds * eps_round**2 / 2  # tests: c ε-DP rounds
        + rounds / (2 * s["value"] ** 2)  # values: c Gaussian releases, sensitivity 1
        + rounds * (2.0 / s["index"]) ** 2 / 2  # indices: c report-noisy-max
    )
    assert spent == pytest.approx(rho)
    mech = SparseVectorMaxSum(horizon, 8, rho, alpha=alpha, seed=0)
    sums = np.zeros(8)
    outputs = []
    for t in range(horizon):
        sums[t % 8] += 8
        outputs.append(mech.step(sums))
        if mech.exhausted:
            break
    assert mech.refreshes <= mech.rounds
    if mech.exhausted:
        frozen = mech.step(sums + 1000)
        assert frozen == outputs[-1]


def test_bad_parameters() -> None:
    with pytest.raises(InputError, match="rho must be"):
        SparseVectorMaxSum(10, 2, 0.0)
    with pytest.raises(InputError, match="d \\(number of sums\\)"):
        CounterMaxSum(10, 0, 1.0)
    with pytest.raises(InputError, match="alpha must be"):
        SparseVectorMaxSum(10, 2, 1.0, alpha=-1.0)
