"""Tests of the dense and sparse multinormal tasks (mibench.tasks.multinormal)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from mibench.tasks import build
from mibench.tasks.multinormal import dense_covariance, sparse_correlation
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("multinormal_dense", {"dim_x": 2, "dim_y": 2}),
        ("multinormal_dense", {"dim_x": 3, "dim_y": 5, "off_diag": -0.1}),
        ("multinormal_sparse", {"dim_x": 2, "dim_y": 2}),
        ("multinormal_sparse", {"dim_x": 5, "dim_y": 3, "n_interacting": 3, "strength": 1.0}),
    ],
)
def test_truth_matches_the_monte_carlo_mean_of_the_oracle(name: str, params: dict) -> None:
    task = build(name, **params)
    batch = task.sample(100_000, seeded(21), dtype=torch.float64)
    mean, standard_error = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    assert_close_in_standard_errors(mean, standard_error, task.true_mi())


def test_oracle_equals_scipy_log_densities() -> None:
    task = build("multinormal_dense", dim_x=2, dim_y=3, off_diag=0.3)
    cov = dense_covariance(2, 3, 0.3)
    batch = task.sample(50, seeded(1), dtype=torch.float64)
    z = torch.cat([batch.x, batch.y], dim=1).numpy()
    expected = (
        multivariate_normal(cov=cov).logpdf(z)
        - multivariate_normal(cov=cov[:2, :2]).logpdf(z[:, :2])
        - multivariate_normal(cov=cov[2:, 2:]).logpdf(z[:, 2:])
    )
    assert task.log_ratio(batch.x, batch.y).numpy() == pytest.approx(expected, abs=1e-10)
    # broadcasting over a K x K grid, as critics use it
    grid = task.log_ratio(batch.x[:5, None, :], batch.y[None, :4, :])
    assert grid.shape == (5, 4)


def test_sample_covariance_is_the_stated_one() -> None:
    """Sample covariance of 200 000 draws vs Σ: entries have SE <= sqrt(2/n) ~ 0.003; tol 0.015."""
    task = build("multinormal_sparse", dim_x=3, dim_y=3)
    batch = task.sample(200_000, seeded(2), dtype=torch.float64)
    z = torch.cat([batch.x, batch.y], dim=1).numpy()
    assert np.cov(z, rowvar=False) == pytest.approx(task.covariance, abs=0.015)


def test_sparse_two_pair_truth_is_the_closed_form() -> None:
    rho = sparse_correlation(2.0)
    assert rho == pytest.approx(0.8)
    task = build("multinormal_sparse", dim_x=5, dim_y=5)
    assert task.true_mi() == pytest.approx(-math.log1p(-rho * rho))  # K = 2 pairs: -2 * 1/2 log


def test_dense_truth_in_one_by_one_is_the_bivariate_formula() -> None:
    task = build("multinormal_dense", dim_x=1, dim_y=1, off_diag=0.6)
    assert task.true_mi() == pytest.approx(-0.5 * math.log1p(-0.36))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "multinormal_dense",
            {"off_diag": 1.0},
            r"off_diag must lie in the open interval \(-0.3333, 1\)",
        ),
        ("multinormal_dense", {"off_diag": -0.5}, r"got -0.5"),
        ("multinormal_dense", {"dim_x": 0}, r"dim_x must be an integer >= 1, got 0"),
        (
            "multinormal_sparse",
            {"n_interacting": 3},
            r"n_interacting must lie in \[1, min\(dim_x, dim_y\) = 2\], got 3",
        ),
        ("multinormal_sparse", {"strength": 0.0}, r"strength must be a finite number > 0, got 0.0"),
        ("multinormal_sparse", {"dim_y": 1.5}, r"dim_y must be an integer >= 1, got 1.5"),
    ],
)
def test_bad_parameters_name_the_value_and_range(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(name, **params)
