"""Tests of BMI's v1 non-Gaussian tasks (mibench.tasks.bmi_v1): truths, oracles, maps, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

from mibench.tasks import bmi_v1, build
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded

MC_SAMPLES = 100_000
ONE_BY_ONE_TRUTH = -0.5 * math.log1p(-(0.75**2))  # rho = 0.75: 0.4133 nats


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("additive_uniform", {"epsilon": 0.1}),
        ("additive_uniform", {"epsilon": 0.75}),
        ("bimodal", {}),
        ("wiggly", {}),
        ("swissroll", {}),
        ("spiral", {"dim": 3}),
        ("spiral", {"dim": 5, "speed": 2.0}),
    ],
)
def test_truth_matches_the_monte_carlo_mean_of_the_oracle(name: str, params: dict) -> None:
    """E[log r(x, y)] over joint draws estimates I; 4 standard errors (see _task_stats)."""
    task = build(name, **params)
    batch = task.sample(MC_SAMPLES, seeded(11), dtype=torch.float64)
    mean, standard_error = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    assert_close_in_standard_errors(mean, standard_error, task.true_mi())


def test_additive_uniform_truth_equals_numerical_integration() -> None:
    """I = h(Y) − log 2ε with h(Y) by quadrature of the convolution density (1e-7 nats)."""
    for epsilon in (0.1, 0.5, 0.75, 2.0):

        def density(y: float, eps: float = epsilon) -> float:
            return max(0.0, min(1.0, y + eps) - max(0.0, y - eps)) / (2 * eps)

        def integrand(y: float, eps: float = epsilon) -> float:
            p = density(y, eps)
            return -p * math.log(p) if p > 0 else 0.0

        breaks = sorted({-epsilon, epsilon, 1 - epsilon, 1 + epsilon})
        entropy = sum(integrate.quad(integrand, lo, hi)[0] for lo, hi in itertools.pairwise(breaks))
        expected = entropy - math.log(2 * epsilon)
        assert bmi_v1.additive_uniform_mi(epsilon) == pytest.approx(expected, abs=1e-7)


def test_additive_uniform_oracle_is_minus_infinity_off_the_support() -> None:
    task = build("additive_uniform", epsilon=0.1)
    value = task.log_ratio(torch.tensor([[0.5]]), torch.tensor([[0.75]]))
    assert value.item() == -math.inf


@pytest.mark.parametrize("name", ["bimodal", "wiggly", "swissroll", "spiral"])
def test_maps_round_trip_and_keep_the_base_truth(name: str) -> None:
    task = build(name)
    base = task.base.sample(2000, seeded(3), dtype=torch.float64)
    x, y = task.forward_x(base.x), task.forward_y(base.y)
    assert x.shape[-1] == task.dim_x and y.shape[-1] == task.dim_y
    assert torch.allclose(task.inverse_x(x), base.x, atol=1e-9)
    assert torch.allclose(task.inverse_y(y), base.y, atol=1e-9)
    assert task.true_mi() == pytest.approx(task.base.true_mi())


def test_bimodal_margins_are_the_stated_mixtures() -> None:
    """Empirical CDF of x (and y) at a few points vs the mixture CDF: binomial SE, 4 SE."""
    task = build("bimodal")
    batch = task.sample(MC_SAMPLES, seeded(5), dtype=torch.float64)
    for values, (weights, offsets) in ((batch.x, bmi_v1.BIMODAL_X), (batch.y, bmi_v1.BIMODAL_Y)):
        sample = values[:, 0].numpy()
        for point in (-1.0, 1.0, 2.5, 4.0, 6.0):
            cdf = sum(w * norm.cdf(point - m) for w, m in zip(weights, offsets, strict=True))
            empirical = float(np.mean(sample <= point))
            standard_error = math.sqrt(cdf * (1 - cdf) / len(sample))
            assert_close_in_standard_errors(empirical, standard_error, cdf)


def test_wiggle_maps_are_strictly_increasing() -> None:
    v = torch.linspace(-20, 20, 200_001, dtype=torch.float64)
    for function in (bmi_v1.wiggle_x, bmi_v1.wiggle_y):
        assert bool((torch.diff(function(v)) > 0).all())


def test_swissroll_lies_on_the_roll() -> None:
    task = build("swissroll")
    batch = task.sample(1000, seeded(2), dtype=torch.float64)
    radius = torch.linalg.vector_norm(batch.x, dim=-1)
    low, high = 1.5 * math.pi / 21, 4.5 * math.pi / 21
    assert bool(((radius > low) & (radius < high)).all())
    assert bool(((batch.y > 0) & (batch.y < 1)).all())  # y has uniform margins
    assert task.true_mi() == pytest.approx(ONE_BY_ONE_TRUTH)


def test_spiral_keeps_the_norm_and_rotates() -> None:
    task = build("spiral", dim=4)
    base = task.base.sample(500, seeded(4), dtype=torch.float64)
    x = task.forward_x(base.x)
    assert torch.allclose(x.norm(dim=-1), base.x.norm(dim=-1), atol=1e-12)
    assert torch.equal(x[:, 2:], base.x[:, 2:])  # only coordinates 0 and 1 turn
    assert not torch.allclose(x, base.x)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("additive_uniform", {"epsilon": 0.0}, r"epsilon must be a finite number > 0, got 0.0"),
        ("additive_uniform", {"epsilon": -1}, r"epsilon must be a finite number > 0, got -1"),
        ("bimodal", {"rho": 1.0}, r"rho must lie in the open interval \(-1, 1\), got 1.0"),
        ("wiggly", {"rho": "a"}, r"rho must lie in the open interval \(-1, 1\), got 'a'"),
        ("swissroll", {"rho": -1.5}, r"rho must lie in the open interval \(-1, 1\), got -1.5"),
        ("spiral", {"dim": 2}, r"dim must be an integer >= 3, got 2"),
        ("spiral", {"speed": 0}, r"speed must be a finite number > 0, got 0"),
    ],
)
def test_bad_parameters_name_the_value_and_range(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(name, **params)
