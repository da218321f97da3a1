"""Continual counters: closed-form variances, and the generated noise matches them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lakeward.dp import (
    BinaryTreeCounter,
    HonakerCounter,
    OpenDPGaussian,
    SeededGaussian,
    SqrtFactorizationCounter,
    best_counter,
    sqrt_coefficients,
)
from lakeward.errors import InputError

T16 = 2**16


@pytest.mark.parametrize(
    ("cls", "max_sd", "tolerance"),
    [
        (BinaryTreeCounter, 16.49, 0.01),  # sqrt(272): 16 set bits x 17 levels
        (HonakerCounter, 12.2, 0.05),
        (SqrtFactorizationCounter, 4.60, 0.005),
    ],
)
def test_closed_form_max_sd_at_t_2_16(cls: type, max_sd: float, tolerance: float) -> None:
    counter = cls(T16, 0.5)  # rho = 1/2: sd in units of 1/sqrt(2 rho)
    assert counter.max_sd() == pytest.approx(max_sd, abs=tolerance)
    # Every sd scales as 1/sqrt(2 rho).
    assert cls(T16, 0.125).max_sd() == pytest.approx(counter.max_sd() * 2, rel=1e-9)


def test_rho_scaling_and_goal() -> None:
    for rho in (0.05, 0.5, 2.0):
        sd = SqrtFactorizationCounter(T16, rho).max_sd()
        assert sd == pytest.approx(4.596 / math.sqrt(2 * rho), rel=2e-3)
        assert sd <= 4.60 / math.sqrt(2 * rho)
    assert isinstance(best_counter(T16, 0.5), SqrtFactorizationCounter)


def test_sqrt_factorization_squares_to_the_prefix_sum_matrix() -> None:
    n = 64
    f = sqrt_coefficients(n)
    b = np.array([[f[i - j] if i >= j else 0.0 for j in range(n)] for i in range(n)])
    assert np.allclose(b @ b, np.tril(np.ones((n, n))))


@pytest.mark.parametrize("cls", [BinaryTreeCounter, HonakerCounter, SqrtFactorizationCounter])
def test_empirical_variance_matches_closed_form_within_3_percent(cls: type) -> None:
    horizon, runs, rho = 256, 300, 0.5
    noise = np.empty((runs, horizon))
    for r in range(runs):
        counter = cls(horizon, rho)
        source = SeededGaussian(counter.node_scale, seed=1000 + r)
        noise[r] = [counter.noise_for_next_step(source) for _ in range(horizon)]
    closed = cls(horizon, rho).variances()
    empirical = noise.var(axis=0, ddof=0) + noise.mean(axis=0) ** 2  # noise has mean 0
    assert abs(empirical.sum() / closed.sum() - 1) < 0.03
    assert abs(noise.mean()) < 0.1 * math.sqrt(closed.mean())  # unbiased


def test_honaker_halves_the_tree_and_sqrt_beats_both() -> None:
    tree, honaker, sqrt = (
        c(1024, 1.0).variances()
        for c in (BinaryTreeCounter, HonakerCounter, SqrtFactorizationCounter)
    )
    assert honaker.max() < 0.6 * tree.max()
    assert sqrt.max() < honaker.max()
    assert (honaker <= tree + 1e-12).all()


def test_horizon_is_enforced_and_inputs_checked() -> None:
    counter = BinaryTreeCounter(4, 1.0)
    source = SeededGaussian(counter.node_scale, seed=1)
    for _ in range(4):
        counter.noise_for_next_step(source)
    with pytest.raises(InputError, match="horizon of 4 steps is used up"):
        counter.noise_for_next_step(source)
    for bad in (0, -1, math.nan, math.inf):
        with pytest.raises(InputError):
            SqrtFactorizationCounter(8, bad)
    with pytest.raises(InputError):
        HonakerCounter(0, 1.0)


def test_opendp_noise_has_the_requested_scale() -> None:
    # Exact sampler, not seedable: 40,000 draws put the variance estimate's sd at 0.7%;
    # the 5% band is 7 standard deviations wide.
    draws = OpenDPGaussian(3.0).sample(40_000)
    assert draws.var() == pytest.approx(9.0, rel=0.05)
    assert abs(draws.mean()) < 0.1
