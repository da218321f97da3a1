"""Continual counters: closed-form variances, generated noise matching them, privacy spent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lakeward.dp import (
    COUNTER_KINDS,
    OpenDPGaussian,
    OpenDPLaplace,
    SeededGaussian,
    SeededLaplace,
    SqrtFactorizationCounter,
    default_counter,
    make_counter,
    sqrt_coefficients,
)
from lakeward.errors import InputError

T16 = 2**16
KINDS = sorted(COUNTER_KINDS)


@pytest.mark.parametrize(
    ("kind", "max_sd", "tolerance"),
    [
        ("tree", 16.49, 0.01),  # sqrt(272): 16 set bits x 17 levels
        ("honaker", 12.2, 0.05),
        ("sqrt", 4.60, 0.005),
        ("sqrt_scaled", 4.398, 0.001),  # the stretch goal: <= 4.40
        ("tree_laplace", 96.17, 0.01),  # eps = 1: sqrt(16 * 2 * 17^2)
    ],
)
def test_closed_form_max_sd_at_t_2_16(kind: str, max_sd: float, tolerance: float) -> None:
    counter = make_counter(kind, T16, 0.5)  # rho = 1/2: sd in units of 1/sqrt(2 rho)
    assert counter.max_sd() == pytest.approx(max_sd, abs=tolerance)
    # Every sd scales as 1/sqrt(2 rho) and linearly in the sensitivity.
    assert make_counter(kind, T16, 0.125).max_sd() == pytest.approx(2 * max_sd, abs=2 * tolerance)
    assert make_counter(kind, T16, 0.5, sensitivity=3.0).max_sd() == pytest.approx(
        3 * counter.max_sd(), rel=1e-9
    )


def test_default_counter_meets_the_stretch_goal_at_every_rho() -> None:
    for rho in (0.05, 0.5, 2.0):
        counter = default_counter(T16, rho)
        assert counter.kind == "sqrt_scaled"
        assert counter.max_sd() <= 4.40 / math.sqrt(2 * rho)
        # Within 4% of the factorization lower bound (HKU25: 0.701 + ln T / pi).
        assert counter.max_sd() <= 1.04 * (0.701 + math.log(T16) / math.pi) / math.sqrt(2 * rho)
    assert default_counter(1, 1.0).max_sd() == pytest.approx(math.sqrt(1 / 2))


def test_sqrt_factorization_squares_to_the_prefix_sum_matrix() -> None:
    n = 64
    f = sqrt_coefficients(n)
    b = np.array([[f[i - j] if i >= j else 0.0 for j in range(n)] for i in range(n)])
    assert np.allclose(b @ b, np.tril(np.ones((n, n))))


def test_scaled_sqrt_factorization_brute_force() -> None:
    # Build B' and C' explicitly: they factor A, the variance is sigma^2 |row_t(B')|^2 with
    # sigma from the heaviest column of C', and the spend bound covers the exact loss of
    # every prefix of releases.
    n, rho = 64, 0.5
    counter = make_counter("sqrt_scaled", n, rho)
    f = sqrt_coefficients(n)
    root = np.array([[f[i - j] if i >= j else 0.0 for j in range(n)] for i in range(n)])
    d = np.sqrt(counter._d2)  # type: ignore[attr-defined]
    c = np.diag(d) @ root
    b = root @ np.diag(1 / d)
    assert np.allclose(b @ c, np.tril(np.ones((n, n))))
    sigma = np.linalg.norm(c, axis=0).max() / math.sqrt(2 * rho)
    assert counter.node_scale == pytest.approx(sigma)
    assert counter.variances() == pytest.approx(sigma**2 * (b**2).sum(axis=1))
    for t in range(1, n + 1):
        exact = rho * (np.linalg.norm(c[:t], axis=0) ** 2).max() / (sigma**2 * 2 * rho)
        assert counter.rho_through(t) >= exact - 1e-12
    assert counter.rho_through(n) == pytest.approx(rho)


def _source(counter: object, seed: int) -> SeededGaussian:
    cls = SeededLaplace if counter.distribution == "laplace" else SeededGaussian  # type: ignore[attr-defined]
    return cls(counter.node_scale, seed=seed)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_online_noise_variance_matches_closed_form_within_3_percent(kind: str) -> None:
    # 300 independent runs of 256 steps x 4 keys: 1,200 streams per step.
    horizon, runs, width = 256, 300, 4
    noise = np.empty((runs, horizon, width))
    for r in range(runs):
        counter = make_counter(kind, horizon, 0.5, width=width)
        source = _source(counter, 1000 + r)
        for t in range(horizon):
            noise[r, t] = counter.next_noise(source)
    closed = make_counter(kind, horizon, 0.5).variances()
    empirical = (noise**2).mean(axis=(0, 2))  # noise has mean 0
    assert abs(empirical.sum() / closed.sum() - 1) < 0.03
    # Per step too, for the most and least noisy steps (sd of the estimate ~4%).
    for t in (int(np.argmax(closed)), int(np.argmin(closed))):
        assert empirical[t] == pytest.approx(closed[t], rel=0.15)
    assert abs(noise.mean()) < 0.05 * math.sqrt(closed.mean())  # unbiased


@pytest.mark.parametrize("kind", KINDS)
def test_run_matches_closed_form_and_adds_the_prefix_sums(kind: str) -> None:
    # 200 seeded runs x 8 keys; steps share tree nodes, so steps are not independent samples.
    horizon, runs, width = 1024, 200, 8
    counter = make_counter(kind, horizon, 0.5, width=width)
    x = np.random.default_rng(7).integers(0, 5, size=(horizon, width))
    noise = np.stack([counter.run(x, seed=s) - np.cumsum(x, axis=0) for s in range(runs)])
    closed = counter.variances()
    assert abs((noise**2).mean(axis=(0, 2)).sum() / closed.sum() - 1) < 0.03
    x = x[:, 0]
    counter = make_counter(kind, horizon, 0.5)
    assert counter.run(x, seed=3) == pytest.approx(counter.run(x, seed=3))  # seeded
    assert not np.allclose(counter.run(x, seed=3), counter.run(x, seed=4))
    with pytest.raises(InputError, match="at most 1024 steps"):
        counter.run(np.zeros(1025), seed=0)


@pytest.mark.parametrize("kind", KINDS)
def test_snapshot_restore_continues_identically(kind: str) -> None:
    horizon, width = 64, 3
    a = make_counter(kind, horizon, 1.0, width=width)
    draws = [np.random.default_rng(t).normal(size=(a.draws_at(t), width)) for t in range(1, 65)]
    outputs = [a.advance(draws[t]) for t in range(37)]
    b = make_counter(kind, horizon, 1.0, width=width)
    b.restore(a.snapshot(), [d[0] for d in draws[:37]])
    assert np.allclose(b.advance(draws[37]), a.advance(draws[37]))
    # A fresh replay of all draws gives the same outputs (noise is a function of draws only).
    c = make_counter(kind, horizon, 1.0, width=width)
    assert np.allclose([c.advance(d) for d in draws[:37]], outputs)


@pytest.mark.parametrize("kind", KINDS)
def test_privacy_spent_grows_to_rho_at_the_horizon(kind: str) -> None:
    counter = make_counter(kind, 4096, 0.3)
    spent = np.array([counter.rho_through(t) for t in range(4097)])
    assert spent[0] == 0.0
    assert spent[-1] == pytest.approx(0.3)
    assert (np.diff(spent) >= 0).all()
    assert spent[1] > 0  # the first release already costs something


def test_sqrt_spend_is_the_heaviest_truncated_column() -> None:
    counter = SqrtFactorizationCounter(128, 0.5)
    f = sqrt_coefficients(128)
    for t in (1, 2, 17, 128):
        # Column 1 of C restricted to rows <= t has the largest norm of all columns.
        assert counter.rho_through(t) == pytest.approx(0.5 * (f[:t] ** 2).sum() / (f**2).sum())


def test_honaker_halves_the_tree_and_sqrt_beats_both() -> None:
    tree, honaker, sqrt = (
        make_counter(k, 1024, 1.0).variances() for k in ("tree", "honaker", "sqrt")
    )
    assert honaker.max() < 0.6 * tree.max()
    assert sqrt.max() < honaker.max()
    assert (honaker <= tree + 1e-12).all()


def test_horizon_is_enforced_and_inputs_checked() -> None:
    counter = make_counter("tree", 4, 1.0)
    source = SeededGaussian(counter.node_scale, seed=1)
    for _ in range(4):
        counter.next_noise(source)
    with pytest.raises(InputError, match="horizon of 4 steps is used up"):
        counter.next_noise(source)
    for bad in (0, -1, math.nan, math.inf, True):
        with pytest.raises(InputError, match="rho must be"):
            make_counter("sqrt", 8, bad)
    with pytest.raises(InputError, match="horizon"):
        make_counter("honaker", 0, 1.0)
    with pytest.raises(InputError, match="Unknown counter kind 'blt'"):
        make_counter("blt", 8, 1.0)
    honaker = make_counter("honaker", 8, 1.0)
    for t in (1, 2, 3):
        honaker.advance(np.zeros((honaker.draws_at(t), 1)))
    with pytest.raises(InputError, match="Step 4 of the honaker counter needs 3 draws per key"):
        honaker.advance(np.zeros((1, 1)))
    with pytest.raises(InputError, match="sensitivity"):
        make_counter("tree", 8, 1.0, sensitivity=0)


def test_opendp_noise_has_the_requested_scale() -> None:
    # Exact samplers, not seedable: 40,000 draws put the variance estimate's sd at 0.7%
    # (Gaussian) and 1.6% (Laplace); the bands are > 6 standard deviations wide.
    gauss = OpenDPGaussian(3.0).sample(40_000)
    assert gauss.var() == pytest.approx(9.0, rel=0.05)
    lap = OpenDPLaplace(2.0).sample(40_000)
    assert lap.var() == pytest.approx(8.0, rel=0.1)
    assert abs(gauss.mean()) < 0.1 and abs(lap.mean()) < 0.1
