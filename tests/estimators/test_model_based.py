"""Tests of the Gaussian-mixture model-based estimator (mibench.estimators.model_based)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mibench.estimators as estimators
from mibench.estimators import model_based
from mibench.tasks import build
from tests.estimators._gaussian_samples import correlated, gaussian_truth


@pytest.mark.parametrize(("rho", "dim"), [(0.5, 1), (0.9, 2), (0.8, 3)])
def test_gaussian_closed_form(rho: float, dim: int) -> None:
    """On a Gaussian, BIC picks one component and the fit is the sample-covariance Gaussian, whose
    MI has bias ≈ d_x d_y/(2n) (the CCA estimator's first-order bias) and sampling SD
    ≈ sqrt(Σ ρ_i²/n) = sqrt(d ρ²/n) (the efficient variance Var[PMI]/n). Tolerance:
    4 sqrt(SD² + MC SE²) + 2 d²/(2n)."""
    n = 2000
    x, y = correlated(n, rho, dim, seed=dim)
    fit = model_based.gmm_mi_details(x, y)
    assert fit.n_components == 1
    sd = math.sqrt(dim * rho * rho / n)
    tolerance = 4 * math.hypot(sd, fit.standard_error) + dim * dim / n
    assert abs(fit.estimate - gaussian_truth(rho, dim)) <= tolerance


def test_recovers_a_mixture_task() -> None:
    """BMI's X mixture (two components) at n = 5000: the fitted mixture's MI within 4 SE of
    the task's Monte Carlo truth, with SE from the efficient variance sd(PMI)/√n (≈ 0.01) and
    both Monte Carlo errors, plus 0.02 nats for the fit's selection (BIC may add a component)."""
    task = build("mixture_x")
    batch = task.sample(5000, torch.Generator().manual_seed(1), dtype=torch.float64)
    fit = model_based.gmm_mi_details(batch.x.numpy(), batch.y.numpy())
    se = math.sqrt(0.74**2 / 5000 + fit.standard_error**2 + task.true_mi_standard_error() ** 2)
    assert abs(fit.estimate - task.true_mi()) <= 4 * se + 0.02


def test_registered_and_deterministic() -> None:
    spec = estimators.get("gmm")
    assert spec.kind == "sample" and spec.citation and spec.readout
    x, y = correlated(500, 0.6, 2, seed=0)
    assert spec.estimate(x, y) == spec.estimate(x, y)


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ({"n_components": -1}, "n_components"),
        ({"n_mc": 1}, "n_mc"),
        ({"n_components": 900}, "needs more"),
    ],
)
def test_bad_input_names_the_argument(hyper: dict, message: str) -> None:
    x, y = correlated(100, 0.5, 1, seed=0)
    with pytest.raises(ValueError, match=message):
        model_based.gmm_mi(x, y, **hyper)


def test_marginal_density_of_one_component_is_the_normal_density() -> None:
    from scipy.stats import multivariate_normal

    x, y = correlated(300, 0.7, 2, seed=4)
    model = model_based.fit_mixture(np.hstack([x, y]), n_components=1, max_components=1, seed=0)
    points = np.random.default_rng(0).standard_normal((5, 2))
    block = slice(0, 2)
    expected = multivariate_normal(model.means_[0, block], model.covariances_[0, block, block])
    np.testing.assert_allclose(
        model_based.mixture_log_density(points, model, block), expected.logpdf(points), atol=1e-10
    )
