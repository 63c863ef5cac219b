"""Tests of the normalizing-flow estimator (mibench.estimators.flow)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mibench.estimators as estimators
from mibench.estimators import flow
from tests.estimators._gaussian_samples import correlated, gaussian_truth

FAST = {"max_steps": 300, "eval_every": 25, "patience": 4}


def test_canonical_log_density_is_the_bivariate_normal() -> None:
    from scipy.stats import multivariate_normal

    rho = 0.6
    u, v = torch.randn(7, 2, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    ours = flow.canonical_gaussian_log_density(u, v, torch.full((2,), math.atanh(rho)))
    cov = np.eye(5)
    for i in range(2):
        cov[i, 2 + i] = cov[2 + i, i] = rho
    expected = multivariate_normal(np.zeros(5), cov).logpdf(torch.cat([u, v], 1).numpy())
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-10)


def test_layers_are_increasing_with_the_stated_log_jacobian() -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layer = flow.Flow(3, transforms=2, hidden=16).double()
        for p in layer.parameters():
            p.data.add_(0.3 * torch.randn_like(p))
        v = torch.randn(4, 3, dtype=torch.float64)
    with torch.no_grad():
        _, log_det = layer(v)
    jacobians = torch.stack(
        [torch.autograd.functional.jacobian(lambda r: layer(r[None])[0][0], row) for row in v]
    )
    sign, log_abs = torch.linalg.slogdet(jacobians.detach())
    assert (sign > 0).all()  # orientation-preserving: each layer is increasing
    np.testing.assert_allclose(log_det.numpy(), log_abs.numpy(), atol=1e-9)


def test_gaussian_quick_fit_is_close_and_deterministic() -> None:
    """A 300-step fit on a 1 x 1 Gaussian (rho = 0.8, n = 1000): the latent MI within 0.1 nats
    of the truth (4 x the efficient SD sqrt(rho^2/n) = 0.025, plus 0.075 for a short fit)."""
    x, y = correlated(1000, 0.8, 1, seed=0)
    first = flow.flow_mi(x, y, **FAST)
    assert abs(first - gaussian_truth(0.8, 1)) <= 0.1
    assert flow.flow_mi(x, y, **FAST) == first  # seeded: the same number twice
    state = torch.random.get_rng_state()
    flow.flow_mi(x, y, **FAST)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's generator untouched


@pytest.mark.slow
@pytest.mark.parametrize(("rho", "dim"), [(0.5, 1), (0.9, 2), (0.8, 3)])
def test_gaussian_closed_form(rho: float, dim: int) -> None:
    """Default training at n = 2000: |Î − I| <= 4 sqrt(d rho^2 / n) + 0.05 I (the fit's
    shortfall: early stopping halts while rho is still rising)."""
    x, y = correlated(2000, rho, dim, seed=dim)
    truth = gaussian_truth(rho, dim)
    assert abs(flow.flow_mi(x, y) - truth) <= 4 * math.sqrt(dim * rho * rho / 2000) + 0.05 * truth


def test_registered_and_bad_input() -> None:
    spec = estimators.get("flow")
    assert spec.kind == "sample" and spec.citation and spec.readout
    x, y = correlated(50, 0.5, 1, seed=0)
    with pytest.raises(ValueError, match="unknown flow hyperparameter"):
        flow.flow_mi(x, y, depth=3)
    with pytest.raises(ValueError, match="validation_fraction"):
        flow.flow_mi(x, y, validation_fraction=1.5)
