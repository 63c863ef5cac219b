"""Tests of the Gaussian-mixture tasks with Monte Carlo truth (mibench.tasks.mixtures)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from mibench.tasks import build
from tests.tasks._task_stats import Z_TOLERANCE, mean_and_standard_error, seeded


@pytest.mark.parametrize("name", ["mixture_x", "mixture_ai"])
def test_stored_truth_agrees_with_an_independent_monte_carlo_check(name: str) -> None:
    """A second Monte Carlo estimate (other seed) vs the stored truth: their difference has SE
    sqrt(se_truth^2 + se_check^2); 4 of those (see _task_stats)."""
    task = build(name)
    se_truth = task.true_mi_standard_error()
    assert 0 < se_truth < 0.01 and task.params["true_mi_standard_error"] == se_truth
    batch = task.sample(100_000, seeded(99), dtype=torch.float64)
    mean, se_check = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    z = abs(mean - task.true_mi()) / math.hypot(se_truth, se_check)
    assert z <= Z_TOLERANCE, (mean, task.true_mi(), z)


def test_log_densities_equal_scipy_mixtures() -> None:
    task = build("mixture_ai", n_mc=1000)
    batch = task.sample(40, seeded(3), dtype=torch.float64)
    z = torch.cat([batch.x, batch.y], dim=1).numpy()

    def mixture(cols: slice, points: np.ndarray) -> np.ndarray:
        dens = sum(
            w * multivariate_normal(mean=m[cols], cov=c[cols, cols]).pdf(points)
            for w, m, c in zip(task.weights, task.means, task.covariances, strict=True)
        )
        return np.log(dens)

    expected = (
        mixture(slice(0, 2), z) - mixture(slice(0, 1), z[:, :1]) - mixture(slice(1, 2), z[:, 1:])
    )
    assert task.log_ratio(batch.x, batch.y).numpy() == pytest.approx(expected, abs=1e-9)


def test_mixture_x_is_uncorrelated_but_dependent() -> None:
    task = build("mixture_x", rho=0.9)
    batch = task.sample(100_000, seeded(4), dtype=torch.float64)
    correlation = float(np.corrcoef(batch.x[:, 0], batch.y[:, 0])[0, 1])
    assert abs(correlation) < Z_TOLERANCE / math.sqrt(100_000)  # SE of r at rho = 0 is 1/sqrt(n)
    assert task.true_mi() > 0.3


def test_truth_is_reproducible_and_its_se_shrinks_with_n_mc() -> None:
    small, large = build("mixture_x", n_mc=10_000), build("mixture_x", n_mc=160_000)
    assert build("mixture_x", n_mc=10_000).true_mi() == small.true_mi()
    # SE ~ 1/sqrt(n_mc): 16x the draws, a quarter of the SE (up to the sample SD's own noise)
    assert large.true_mi_standard_error() == pytest.approx(
        small.true_mi_standard_error() / 4, rel=0.1
    )


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("mixture_x", {"rho": 1.0}, r"rho must lie in the open interval \(-1, 1\), got 1.0"),
        ("mixture_x", {"n_mc": 10}, r"n_mc must be an integer >= 100, got 10"),
        ("mixture_ai", {"mc_seed": -1}, r"mc_seed must be an integer >= 0, got -1"),
    ],
)
def test_bad_parameters_name_the_value_and_range(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(name, **params)
