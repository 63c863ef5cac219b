"""Fixtures shared by the estimator tests: seeded random scores and Gaussian oracle scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from mibench.tasks.gaussian import build_gaussian, gaussian_log_ratio


@dataclass(frozen=True)
class OracleBatches:
    """R independent batches of K pairs from a correlated Gaussian, scored by the true log ratio.

    ``scores[r, i, j] = log p(x_ri, y_rj) / (p(x_ri) p(y_rj))``: the analytic optimal critic of
    DV/InfoNCE (up to a constant or a function of x) in the orientation of the estimators.
    """

    scores: Tensor  # (R, K, K) float64
    x: Tensor  # (R, K, dim)
    y: Tensor  # (R, K, dim)
    rho: float
    dim: int
    true_mi: float


def make_oracle_batches(
    *, true_mi: float, dim: int, K: int, n_batches: int, seed: int
) -> OracleBatches:
    """Sample ``n_batches`` independent batches with a seeded generator (float64 throughout)."""
    task = build_gaussian(dim=dim, mi=true_mi)
    generator = torch.Generator().manual_seed(seed)
    batch = task.sample(n_batches * K, generator, dtype=torch.float64)
    x = batch.x.reshape(n_batches, K, dim)
    assert batch.y is not None
    y = batch.y.reshape(n_batches, K, dim)
    scores = gaussian_log_ratio(x.unsqueeze(-2), y.unsqueeze(-3), task.rho)
    return OracleBatches(scores=scores, x=x, y=y, rho=task.rho, dim=dim, true_mi=task.true_mi())


@pytest.fixture
def oracle_batches() -> Callable[..., OracleBatches]:
    """Factory fixture: ``oracle_batches(true_mi=..., dim=..., K=..., n_batches=..., seed=...)``."""
    return make_oracle_batches


@pytest.fixture
def generator() -> torch.Generator:
    """A fresh seeded CPU generator per test (tests never touch the global RNG)."""
    return torch.Generator().manual_seed(20240607)
