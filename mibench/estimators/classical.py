r"""Classical (sample) MI estimators: functions of n joint samples, no critic and no training.

Each takes float arrays ``x`` ``(n, d_x)`` and ``y`` ``(n, d_y)`` of joint draws (a 1-d array is one
coordinate) and returns one estimate in nats. They are registered with ``kind == "sample"`` (a
:class:`~mibench.core.interface.SampleEstimator`) and run through the runner's sample path
(:mod:`mibench.train.sample_runs`), one estimate per run. They put the neural estimators in
context: KSG is consistent for any continuous distribution but biased in high dimension; the
Gaussian (CCA) estimator is exact on Gaussians and wrong, visibly, on their nonlinear
transforms; the histogram and KDE plug-ins are the textbook baselines.

* ``ksg`` — Kraskov, Stögbauer and Grassberger, algorithm 1 (Eq. (8) of [1]) with the max-norm:

  .. math:: \hat I = \psi(k) + \psi(n) - \frac1n\sum_i\big[\psi(n_{x,i}+1) + \psi(n_{y,i}+1)\big],

  where ε_i is the max-norm distance from (x_i, y_i) to its k-th nearest neighbour in the joint
  space (itself the max of the x- and y-space max-norms) and n_{x,i} counts the j ≠ i with
  ‖x_j − x_i‖_∞ < ε_i strictly (likewise n_{y,i}). Each coordinate is first divided by its sample
  standard deviation (as scikit-learn's and BMI's KSG do), so the estimate does not depend on the
  units of a coordinate. No clipping at 0 (scikit-learn clips).
* ``cca`` — the Gaussian estimator: the MI of the Gaussian with the sample covariance Σ̂,

  .. math:: \hat I = \tfrac12\big[\log\det\hat\Sigma_{xx} + \log\det\hat\Sigma_{yy}
            - \log\det\hat\Sigma\big] = -\tfrac12\sum_i \log(1-\hat\rho_i^2),

  with ρ̂_i the sample canonical correlations (Hotelling [2]; the log-det form follows from the
  Gaussian entropy, Thm. 8.4.1 of [4]). Invariant under invertible affine maps of x and of y.
* ``histogram`` — plug-in Ĥ(X) + Ĥ(Y) − Ĥ(X, Y) of the empirical cell frequencies of an
  equal-width grid: each coordinate's range [min, max] is cut into b bins; ``bins = 0`` (default)
  picks b = max(2, ⌊(n/5)^{1/(d_x+d_y)}⌋), so an evenly filled joint grid holds at least 5 points
  a cell. Plain plug-in (no Miller–Madow correction); entropies over occupied cells only.
* ``kde`` — plug-in mean_i[log p̂(x_i, y_i) − log p̂(x_i) − log p̂(y_i)] with three Gaussian kernel
  density estimates (joint, x, y), each with kernel covariance h² Σ̂ of its own block and Scott's
  rule h = n^{−1/(d+4)} (scipy's ``gaussian_kde`` default; d the block's dimension). With
  ``leave_one_out = 1`` (default) sample i is left out of its own density (divisor n − 1);
  ``leave_one_out = 0`` is resubstitution, equal to scipy's ``gaussian_kde(...).logpdf``.

References:
    [1] Kraskov, Stögbauer, Grassberger, Estimating mutual information, Phys. Rev. E 69, 066138,
        2004, arXiv:cond-mat/0305641.
    [2] Hotelling, Relations between two sets of variates, Biometrika 28, 1936.
    [3] Scott, Multivariate Density Estimation, 1992 (Scott's rule).
    [4] Cover, Thomas, Elements of Information Theory, 2nd ed., 2006.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.linalg import solve_triangular
from scipy.spatial import cKDTree
from scipy.special import digamma

from mibench.core.interface import SampleEstimator
from mibench.estimators.registry import register

DEFAULT_K = 3
"""KSG neighbours: Kraskov et al. recommend k = 2-4; 3 is scikit-learn's default."""
ENSEMBLE_K = (5, 10)
"""``ensemble = 1``: the mean of the estimates at these k (the BMI benchmark's KSG default)."""
MIN_POINTS_PER_CELL = 5  # histogram auto rule: n / b^D >= 5
KDE_CHUNK_ROWS = 512  # rows of the n x n kernel matrix held at once (memory ~ 512 n floats)


def as_samples(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``x``, ``y`` as float64 ``(n, d)`` arrays with equal n, finite (a 1-d array is ``(n, 1)``)."""
    arrays = []
    for label, value in (("x", x), ("y", y)):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 1:
            raise ValueError(
                f"{label} must have shape (n, d) with n >= 2 and d >= 1, got {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"{label} has non-finite values (NaN or Inf)")
        arrays.append(array)
    if arrays[0].shape[0] != arrays[1].shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got {arrays[0].shape} and {arrays[1].shape}"
        )
    return arrays[0], arrays[1]


def _int_hyper(name: str, value: float, minimum: int) -> int:
    if not float(value).is_integer() or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _unit_scale(v: np.ndarray) -> np.ndarray:
    """Each column divided by its sample standard deviation (constant columns left as they are)."""
    scale = v.std(axis=0, ddof=1)
    return v / np.where(scale > 0, scale, 1.0)


def ensemble_hyper(ensemble: float) -> bool:
    """The ``ensemble`` switch (0 or 1) of the KSG-type estimators as a bool."""
    if ensemble not in (0, 1):
        raise ValueError(
            f"ensemble must be 0 (one k) or 1 (mean over k in {ENSEMBLE_K}), got {ensemble!r}"
        )
    return bool(ensemble)


def neighbour_ks(k: float, ensemble: float, n: int) -> tuple[int, ...]:
    """The k values an estimate averages: ``(k,)``, or :data:`ENSEMBLE_K` when ``ensemble = 1``."""
    ks = ENSEMBLE_K if ensemble_hyper(ensemble) else (_int_hyper("k", k, 1),)
    if max(ks) >= n:
        raise ValueError(f"k must be < n = {n} (the number of samples), got {max(ks)}")
    return ks


def ksg_mi(x: Any, y: Any, *, k: float = DEFAULT_K, ensemble: float = 0) -> float:
    """KSG algorithm 1 (Eq. (8) of Kraskov et al. 2004), max-norm, unit-variance coordinates.

    Args:
        x: ``(n, d_x)`` joint samples' x part; y: ``(n, d_y)``.
        k: number of neighbours, an integer in [1, n - 1].
        ensemble: 1 reports the mean of the estimates at k = 5 and k = 10 (:data:`ENSEMBLE_K`,
            as the BMI benchmark does) and ignores ``k``; 0 (default) uses ``k``.
    Returns:
        The estimate in nats (may be slightly negative for independent x and y).

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((2000, 1)); y = 0.8 * x + 0.6 * rng.standard_normal((2000, 1))
        >>> round(ksg_mi(x, y), 2), round(-0.5 * math.log(1 - 0.8**2), 2)  # estimate, truth
        (0.51, 0.51)
    """
    x, y = as_samples(x, y)
    n = len(x)
    ks = neighbour_ks(k, ensemble, n)
    x, y = _unit_scale(x), _unit_scale(y)
    joint = np.hstack([x, y])
    # max(ks) + 1 neighbours: the first is the point itself (distance 0).
    # workers=-1: the queries run on every core (each point's answer is the same either way).
    distances, _ = cKDTree(joint).query(joint, k=max(ks) + 1, p=math.inf, workers=-1)
    x_tree, y_tree = cKDTree(x), cKDTree(y)
    estimates = []
    for k_i in ks:
        # Strictly closer than eps: query_ball_point counts <= r, so shrink r by one ulp.
        radius = np.nextafter(distances[:, k_i], 0.0)
        n_x = x_tree.query_ball_point(x, r=radius, p=math.inf, return_length=True, workers=-1) - 1
        n_y = y_tree.query_ball_point(y, r=radius, p=math.inf, return_length=True, workers=-1) - 1
        estimates.append(digamma(k_i) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))
    return float(np.mean(estimates))


def gaussian_mi(x: Any, y: Any) -> float:
    """½[log det Σ̂_xx + log det Σ̂_yy − log det Σ̂]: the MI of the sample covariance's Gaussian.

    Σ̂ is the unbiased (n − 1) sample covariance of the stacked ``(x, y)``; needs n > d_x + d_y
    and a non-singular Σ̂ (ValueError otherwise).
    """
    x, y = as_samples(x, y)
    n, d_x = x.shape
    dim = d_x + y.shape[1]
    if n <= dim:
        raise ValueError(f"the Gaussian estimator needs n > d_x + d_y = {dim} samples, got {n}")
    covariance = np.cov(np.hstack([x, y]), rowvar=False).reshape(dim, dim)
    log_dets = []
    for block in (covariance[:d_x, :d_x], covariance[d_x:, d_x:], covariance):
        sign, log_det = np.linalg.slogdet(block)
        if sign <= 0:
            raise ValueError("the sample covariance is singular (a constant or collinear column)")
        log_dets.append(log_det)
    return float(0.5 * (log_dets[0] + log_dets[1] - log_dets[2]))


def default_bins(n: int, dim: int) -> int:
    """The histogram's automatic bin count b = max(2, ⌊(n/5)^{1/dim}⌋) per coordinate."""
    return max(2, math.floor((n / MIN_POINTS_PER_CELL) ** (1.0 / dim)))


def _bin_codes(v: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin index of every entry, per column over [min, max] (the max in the last bin)."""
    low, high = v.min(axis=0), v.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    return np.clip(np.floor((v - low) / width * bins), 0, bins - 1).astype(np.int64)


def _plugin_entropy(codes: np.ndarray) -> float:
    """−Σ p̂ log p̂ over the occupied cells of rows of integer codes."""
    _, counts = np.unique(codes, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def histogram_mi(x: Any, y: Any, *, bins: float = 0) -> float:
    """Plug-in Ĥ(X) + Ĥ(Y) − Ĥ(X, Y) on an equal-width grid of ``bins`` per coordinate.

    ``bins = 0`` applies :func:`default_bins` over the joint dimension d_x + d_y.
    """
    x, y = as_samples(x, y)
    bins = _int_hyper("bins", bins, 0)
    if bins == 1:
        raise ValueError("bins must be 0 (automatic) or an integer >= 2, got 1")
    d_x = x.shape[1]
    joint = np.hstack([x, y])
    b = bins or default_bins(len(joint), joint.shape[1])
    codes = _bin_codes(joint, b)
    return (
        _plugin_entropy(codes[:, :d_x]) + _plugin_entropy(codes[:, d_x:]) - _plugin_entropy(codes)
    )


def kde_log_density(v: np.ndarray, *, leave_one_out: bool) -> np.ndarray:
    """log p̂(v_i) of a Gaussian KDE with Scott's rule and the data covariance, shape ``(n,)``.

    The kernel covariance is h² Σ̂ with h = n^{−1/(d+4)} (scipy ``gaussian_kde`` convention);
    distances are taken in whitened coordinates z = L⁻¹ v / h with Σ̂ = L Lᵀ, chunked by rows.
    """
    n, dim = v.shape
    covariance = np.cov(v, rowvar=False).reshape(dim, dim)
    try:
        cholesky = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the sample covariance is singular (a constant or collinear column)"
        ) from None
    factor = n ** (-1.0 / (dim + 4))
    z = solve_triangular(cholesky, v.T, lower=True).T / factor
    squared = (z * z).sum(axis=1)
    log_norm = (
        -dim * math.log(factor)
        - np.log(np.diag(cholesky)).sum()
        - 0.5 * dim * math.log(2.0 * math.pi)
    )
    # The n x n log-kernel in float64 torch, row chunk by row chunk: torch's logsumexp is one
    # threaded pass where scipy's took several (0.026 s against 0.082 s for n = 2000, d = 10;
    # the same numbers to 1e-15).
    z_rows, squared_rows = torch.from_numpy(z), torch.from_numpy(squared)
    out = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, KDE_CHUNK_ROWS):
        stop = min(start + KDE_CHUNK_ROWS, n)
        distance2 = squared_rows[start:stop, None] + squared_rows[None, :]
        distance2 = distance2.sub_(2.0 * z_rows[start:stop] @ z_rows.T).clamp_min_(0.0)
        log_kernel = distance2.mul_(-0.5)
        if leave_one_out:
            index = torch.arange(start, stop)
            log_kernel[index - start, index] = -math.inf
        out[start:stop] = torch.logsumexp(log_kernel, dim=1)
    return out.numpy() + log_norm - math.log(n - 1 if leave_one_out else n)


def kde_mi(x: Any, y: Any, *, leave_one_out: float = 1) -> float:
    """mean_i[log p̂(x_i, y_i) − log p̂(x_i) − log p̂(y_i)] with Scott-rule Gaussian KDEs."""
    x, y = as_samples(x, y)
    if leave_one_out not in (0, 1):
        raise ValueError(f"leave_one_out must be 0 or 1, got {leave_one_out!r}")
    loo = bool(leave_one_out)
    joint = kde_log_density(np.hstack([x, y]), leave_one_out=loo)
    return float(
        np.mean(
            joint - kde_log_density(x, leave_one_out=loo) - kde_log_density(y, leave_one_out=loo)
        )
    )


register(
    SampleEstimator(
        name="ksg",
        family="classical",
        sample_fn=ksg_mi,
        hyper={"k": DEFAULT_K, "ensemble": 0},
        citation="Kraskov, Stögbauer, Grassberger 2004, Eq. (8) (algorithm 1), max-norm",
        readout=(
            "KSG estimate from n joint samples (algorithm 1; consistent, biased low at high MI "
            "and dimension; neither bound)"
        ),
        description=(
            "k-nearest-neighbour estimator; coordinates scaled to unit variance; "
            "ensemble = 1: mean over k = 5, 10"
        ),
    )
)
register(
    SampleEstimator(
        name="cca",
        family="classical",
        sample_fn=gaussian_mi,
        citation="Gaussian MI of the sample covariance: Cover & Thomas Thm. 8.4.1; Hotelling 1936",
        readout=(
            "Gaussian MI of the sample canonical correlations: exact for Gaussians, wrong "
            "under nonlinear transforms"
        ),
        description="-1/2 sum log(1 - rho_i^2) over sample canonical correlations",
    )
)
register(
    SampleEstimator(
        name="histogram",
        family="classical",
        sample_fn=histogram_mi,
        hyper={"bins": 0},
        citation="plug-in H(X) + H(Y) - H(X,Y) (Cover & Thomas Thm. 2.4.1), equal-width bins",
        readout="plug-in MI of the binned joint distribution (biased; meaningless in high dimension)",
        description="bins = 0: b = max(2, floor((n/5)^(1/(dx+dy)))) per coordinate",
    )
)
register(
    SampleEstimator(
        name="kde",
        family="classical",
        sample_fn=kde_mi,
        hyper={"leave_one_out": 1},
        citation="Gaussian KDE plug-in of Cover & Thomas Thm. 2.4.1; Scott's rule (Scott 1992)",
        readout="plug-in MI of Gaussian kernel density estimates (Scott's bandwidth; biased, neither bound)",
        description="leave-one-out (default) or resubstitution (leave_one_out = 0)",
    )
)
