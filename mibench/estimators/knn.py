r"""k-nearest-neighbour sample estimators beyond KSG type I: KSG type II, Kozachenko–Leonenko, weighted KL.

Every function takes joint draws ``x`` ``(n, d_x)``, ``y`` ``(n, d_y)`` (see
:func:`~mibench.estimators.classical.as_samples`), divides each coordinate by its sample standard
deviation (an invertible map of x and of y, so the MI is unchanged while the neighbour
geometry no longer depends on units) and returns one estimate in nats.

* ``ksg2`` — KSG algorithm 2 (Eq. (9) of Kraskov, Stögbauer & Grassberger [1]):

  .. math:: \hat I = \psi(k) - \frac1k + \psi(n) - \frac1n\sum_i\big[\psi(n_{x,i}) + \psi(n_{y,i})\big],

  where the k nearest neighbours of (x_i, y_i) are taken in the joint max-norm, ε_{x,i} is the
  largest x-space max-norm distance from x_i to those k neighbours (ε_{y,i} likewise) and n_{x,i}
  counts the j ≠ i with ‖x_j − x_i‖_∞ ≤ ε_{x,i} (non-strict, so n_{x,i} ≥ k).
* ``kl`` — three Kozachenko–Leonenko entropy estimates [2], Î = Ĥ(X) + Ĥ(Y) − Ĥ(X, Y), with

  .. math:: \hat H_k(V) = \psi(n) - \psi(k) + \log V_d + \frac dn \sum_i \log\rho_{k,i},

  ρ_{k,i} the Euclidean distance from v_i to its k-th nearest neighbour among the other points
  and V_d = π^{d/2}/Γ(1 + d/2) the volume of the Euclidean unit ball in R^d. Unlike KSG the
  three entropies' errors do not cancel, so its bias at high MI is larger.
* ``wkl`` — the weighted Kozachenko–Leonenko estimator of Berrett, Samworth & Yuan [3] (§3)
  applied to each of the three entropies, Ĥ^w(V) = Σ_j w_j Ĥ_j(V). The weights lie in their
  class W^(k): Σ_j w_j = 1, w_j = 0 unless j ∈ {⌊ik/d⌋ : i = 1, …, d}, and

  .. math:: \sum_j w_j\,\frac{\Gamma(j + 2\ell/d)}{\Gamma(j)} = 0,\qquad \ell = 1, …, \lfloor d/4\rfloor,

  which cancels the bias terms of order (k/n)^{2ℓ/d} that make the plain estimator inefficient
  for d ≥ 4. Of the vectors in W^(k) we take the one of least Euclidean norm (the weights'
  norm multiplies the estimator's variance); for d ≤ 3 that is the plain mean of Ĥ_j over the
  support. Each entropy uses the weights of its own dimension (d_x, d_y, d_x + d_y) and the same k;
  ``k = 0`` (default) takes k = max(20, 2(d_x + d_y)): the joint's support is then spaced at
  least 2 apart (j = 1, the noisiest distance, is left out) and holds the d_x + d_y points its
  ⌊(d_x + d_y)/4⌋ constraints need (chosen on 3 × 3 and 8 × 8 Gaussians, not on the benchmark's
  tasks). The least-norm weights grow fast with the dimension (Σ|w_j| ≈ 4.5 at d = 6, ≈ 10⁴ at
  d = 16), so beyond a joint dimension of about 10 the estimate is dominated by its variance at n
  in the thousands: the bias correction is asymptotic.

``ksg2`` takes ``ensemble = 1`` as :func:`~mibench.estimators.classical.ksg_mi` does (the mean over
k = 5 and 10, the BMI benchmark's default).

References:
    [1] Kraskov, Stögbauer, Grassberger, Estimating mutual information, Phys. Rev. E 69, 066138,
        2004, arXiv:cond-mat/0305641.
    [2] Kozachenko, Leonenko, Sample estimate of the entropy of a random vector, Problems Inform.
        Transmission 23, 1987.
    [3] Berrett, Samworth, Yuan, Efficient multivariate entropy estimation via k-nearest
        neighbour distances, Ann. Statist. 47(1), 2019, arXiv:1606.00304.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from mibench.core.interface import SampleEstimator
from mibench.estimators.classical import (
    DEFAULT_K,
    _int_hyper,
    _unit_scale,
    as_samples,
    neighbour_ks,
)
from mibench.estimators.registry import register

WKL_MIN_K = 20
"""``wkl`` with ``k = 0``: k = max(WKL_MIN_K, 2 (d_x + d_y))."""


def ksg2_mi(x: Any, y: Any, *, k: float = DEFAULT_K, ensemble: float = 0) -> float:
    """KSG algorithm 2 (Eq. (9) of Kraskov et al. 2004), max-norm, unit-variance coordinates.

    Args:
        x: ``(n, d_x)``; y: ``(n, d_y)`` joint draws.
        k: neighbours, an integer in [1, n - 1].
        ensemble: 1 averages the estimates at k = 5 and 10 and ignores ``k``.
    Returns:
        The estimate in nats.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((2000, 1)); y = 0.8 * x + 0.6 * rng.standard_normal((2000, 1))
        >>> round(ksg2_mi(x, y), 2), round(-0.5 * math.log(1 - 0.8**2), 2)  # estimate, truth
        (0.52, 0.51)
    """
    x, y = as_samples(x, y)
    n = len(x)
    ks = neighbour_ks(k, ensemble, n)
    x, y = _unit_scale(x), _unit_scale(y)
    _, index = cKDTree(np.hstack([x, y])).query(
        np.hstack([x, y]), k=max(ks) + 1, p=math.inf, workers=-1
    )
    x_tree, y_tree = cKDTree(x), cKDTree(y)
    estimates = []
    for k_i in ks:
        neighbours = index[:, 1 : k_i + 1]  # column 0 is the point itself
        eps_x = np.abs(x[neighbours] - x[:, None, :]).max(axis=(1, 2))
        eps_y = np.abs(y[neighbours] - y[:, None, :]).max(axis=(1, 2))
        # query_ball_point counts distances <= r, the point itself included.
        n_x = x_tree.query_ball_point(x, r=eps_x, p=math.inf, return_length=True, workers=-1) - 1
        n_y = y_tree.query_ball_point(y, r=eps_y, p=math.inf, return_length=True, workers=-1) - 1
        estimates.append(
            digamma(k_i) - 1.0 / k_i + digamma(n) - np.mean(digamma(n_x) + digamma(n_y))
        )
    return float(np.mean(estimates))


def log_unit_ball_volume(dim: int) -> float:
    """log V_d, V_d = π^{d/2} / Γ(1 + d/2), the volume of the Euclidean unit ball in R^d."""
    return 0.5 * dim * math.log(math.pi) - float(gammaln(1.0 + 0.5 * dim))


def kl_entropies(v: np.ndarray, k: int) -> np.ndarray:
    """Kozachenko–Leonenko entropies Ĥ_j(V) for j = 1..k, shape ``(k,)`` (Euclidean norm).

    Raises ValueError on repeated points (a zero neighbour distance has no logarithm).
    """
    n, dim = v.shape
    distances, _ = cKDTree(v).query(v, k=k + 1, p=2, workers=-1)
    distances = distances[:, 1:]  # column 0 is the point itself
    if not (distances > 0).all():
        raise ValueError(
            "repeated samples: a k-nearest-neighbour distance is 0 (the data must be continuous)"
        )
    j = np.arange(1, k + 1)
    mean_log = np.log(distances).mean(axis=0)
    return digamma(n) - digamma(j) + log_unit_ball_volume(dim) + dim * mean_log


def _checked_k(k: float, n: int, *, minimum: int = 1) -> int:
    value = _int_hyper("k", k, minimum)
    if value >= n:
        raise ValueError(f"k must be < n = {n} (the number of samples), got {value}")
    return value


def kl_mi(x: Any, y: Any, *, k: float = DEFAULT_K) -> float:
    """Ĥ(X) + Ĥ(Y) − Ĥ(X, Y) with Kozachenko–Leonenko entropies at k neighbours.

    Args:
        x: ``(n, d_x)``; y: ``(n, d_y)`` joint draws.
        k: neighbours, an integer in [1, n - 1].
    Returns:
        The estimate in nats.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((2000, 1)); y = 0.8 * x + 0.6 * rng.standard_normal((2000, 1))
        >>> round(kl_mi(x, y), 2), round(-0.5 * math.log(1 - 0.8**2), 2)  # estimate, truth
        (0.56, 0.51)
    """
    x, y = as_samples(x, y)
    k = _checked_k(k, len(x))
    x, y = _unit_scale(x), _unit_scale(y)
    parts = [kl_entropies(v, k)[-1] for v in (x, y, np.hstack([x, y]))]
    return float(parts[0] + parts[1] - parts[2])


def weight_support(k: int, dim: int) -> tuple[int, ...]:
    """The j with w_j allowed non-zero in W^(k): {⌊ik/d⌋ : i = 1..d} without 0 (sorted)."""
    return tuple(sorted({(i * k) // dim for i in range(1, dim + 1)} - {0}))


@lru_cache(maxsize=256)
def wkl_weights(k: int, dim: int) -> np.ndarray:
    """The least-norm weights ``(k,)`` of W^(k) (Berrett et al. 2019 §3) for dimension ``dim``.

    Raises ValueError when the support has fewer than ⌊d/4⌋ + 1 points (the constraints
    cannot all hold): k must grow with d.

    Examples:
        >>> wkl_weights(4, 2).round(3).tolist()  # d <= 3: the mean over the support {2, 4}
        [0.0, 0.5, 0.0, 0.5]
        >>> w = wkl_weights(10, 8); round(float(w.sum()), 12)  # one constraint (l = 1) besides
        1.0
    """
    support = np.asarray(weight_support(k, dim))
    n_constraints = dim // 4
    if len(support) < n_constraints + 1:
        raise ValueError(
            f"wkl needs k with at least {n_constraints + 1} support points in dimension {dim}; "
            f"k = {k} gives {len(support)} (take k >= {dim})"
        )
    rows = [np.ones(len(support))]
    for ell in range(1, n_constraints + 1):
        rows.append(np.exp(gammaln(support + 2.0 * ell / dim) - gammaln(support)))
    constraints = np.vstack(rows)
    rhs = np.zeros(len(rows))
    rhs[0] = 1.0
    # The least-norm solution of the under-determined system (lstsq returns it).
    solution, *_ = np.linalg.lstsq(constraints, rhs, rcond=None)
    weights = np.zeros(k)
    weights[support - 1] = solution
    weights.setflags(write=False)
    return weights


def wkl_mi(x: Any, y: Any, *, k: float = 0) -> float:
    """Ĥ^w(X) + Ĥ^w(Y) − Ĥ^w(X, Y) with the weighted Kozachenko–Leonenko entropies.

    Args:
        x: ``(n, d_x)``; y: ``(n, d_y)`` joint draws.
        k: the largest neighbour index the weights use; 0 (default): max(20, 2 (d_x + d_y)).
    Returns:
        The estimate in nats.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((2000, 1)); y = 0.8 * x + 0.6 * rng.standard_normal((2000, 1))
        >>> round(wkl_mi(x, y), 2), round(-0.5 * math.log(1 - 0.8**2), 2)  # estimate, truth
        (0.51, 0.51)
    """
    x, y = as_samples(x, y)
    n = len(x)
    joint_dim = x.shape[1] + y.shape[1]
    k_used = max(WKL_MIN_K, 2 * joint_dim) if k == 0 else _checked_k(k, n)
    if k_used >= n:
        raise ValueError(f"wkl needs n > k = {k_used} samples, got {n}")
    x, y = _unit_scale(x), _unit_scale(y)
    parts = [
        float(wkl_weights(k_used, v.shape[1]) @ kl_entropies(v, k_used))
        for v in (x, y, np.hstack([x, y]))
    ]
    return parts[0] + parts[1] - parts[2]


register(
    SampleEstimator(
        name="ksg2",
        family="knn",
        sample_fn=ksg2_mi,
        hyper={"k": DEFAULT_K, "ensemble": 0},
        citation="Kraskov, Stögbauer, Grassberger 2004, Eq. (9) (algorithm 2), max-norm",
        readout=(
            "KSG type II estimate from n joint samples (per-margin radii; consistent, biased "
            "low at high MI and dimension; neither bound)"
        ),
        description="k-NN estimator with per-margin radii; ensemble = 1: mean over k = 5, 10",
    )
)
register(
    SampleEstimator(
        name="kl",
        family="knn",
        sample_fn=kl_mi,
        hyper={"k": DEFAULT_K},
        citation="Kozachenko & Leonenko 1987 k-NN entropy estimate; I = H(X) + H(Y) - H(X,Y)",
        readout=(
            "H(X) + H(Y) - H(X,Y) from three k-NN entropy estimates (errors do not cancel: "
            "biased at high MI; neither bound)"
        ),
        description="Euclidean k-th neighbour distances; coordinates scaled to unit variance",
    )
)
register(
    SampleEstimator(
        name="wkl",
        family="knn",
        sample_fn=wkl_mi,
        hyper={"k": 0},
        citation="Berrett, Samworth & Yuan 2019, Ann. Statist., §3 (weighted KL, weights in W^(k))",
        readout=(
            "H(X) + H(Y) - H(X,Y) from weighted k-NN entropy estimates whose weights cancel the "
            "leading bias terms (neither bound)"
        ),
        description="least-norm weights in W^(k); k = 0: k = max(20, 2 (dx + dy))",
    )
)
