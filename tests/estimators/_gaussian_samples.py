"""Correlated Gaussian samples and the closed-form tolerance rule shared by the sample-estimator tests.

Tolerance rule (each test states its bias budget b): with R independent replicates at n pairs,
|mean_r Î_r − I| <= 4 SE + b, SE = sd_r(Î_r)/√R (4 SE: a two-sided miss probability ~6e-5 per
check under normality; the replicate SD is measured, since the k-NN estimators' variance is known
only asymptotically, Var[PMI]/n for the efficient ones, = d ρ²/n here).
"""

from __future__ import annotations

import math

import numpy as np


def correlated(n: int, rho: float, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``dim`` independent pairs with correlation ``rho``; true MI = -(dim/2) log(1 - rho^2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    return x, rho * x + math.sqrt(1 - rho * rho) * rng.standard_normal((n, dim))


def gaussian_truth(rho: float, dim: int) -> float:
    return -0.5 * dim * math.log1p(-rho * rho)


def replicate_gap(estimate, rho: float, dim: int, n: int, replicates: int) -> tuple[float, float]:
    """(|mean estimate − I|, 4 SE) over ``replicates`` independent samples."""
    values = np.array([estimate(*correlated(n, rho, dim, seed)) for seed in range(replicates)])
    return abs(values.mean() - gaussian_truth(rho, dim)), 4 * values.std(ddof=1) / math.sqrt(
        replicates
    )
