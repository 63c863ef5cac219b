r"""The 95 % interval of :func:`mibench.estimate_mi`: subsample, extrapolate, widen by the bias.

An estimator's error on n rows is bias plus noise, and both shrink as n grows. Following the
subsample-and-extrapolate bias correction of Abdelaleem, Martini and Nemenman [1] (estimates on
the data split into γ disjoint parts, extrapolated linearly in γ ∝ 1/N to γ = 0), the rows are
cut at random into γ equal parts for every γ of a small set ``G`` (γ = 1 is all rows) and the
estimator is run on each part. With
:math:`m_\gamma` the mean of the γ estimates on n/γ rows, the leading finite-sample bias is taken
to fall as :math:`N^{-r}` (``rate`` r; :math:`N^{-r} \propto \gamma^r`):

.. math:: m_\gamma \approx I_\infty + b\,\gamma^r ,

fitted by ordinary least squares over γ ∈ G; the intercept :math:`I_\infty` is the
bias-corrected estimate (with G = {1, 2} and r = 1: :math:`I_\infty = 2 m_1 - m_2`). NeuralMI
fits r = 1; ``DEFAULT_RATE`` is the rate chosen on the development set of
``benchmarks/study_estimate_mi.py`` between 1 and 1/2 (the rate of a generalisation gap).

Noise. The variance of one estimate grows like 1/N, so one estimate on n/γ rows has variance
γ v and the mean of γ of them v, the variance v of the full-data estimate: every :math:`m_\gamma`
is equally noisy, which is why the fit is unweighted. Each γ ≥ 2 gives an unbiased estimate
:math:`s_\gamma^2/\gamma` of v with γ − 1 degrees of freedom (:math:`s_\gamma^2` the sample
variance of its γ estimates); :math:`\hat v` pools them, at least ``noise_floor``² (the neural
path passes its held-out readouts' standard error, a second, independent look at the same noise).
With :math:`g = \gamma^r`, the intercept's variance is
:math:`\hat v\,(1/|G| + \bar g^2 / \sum_\gamma(g_\gamma-\bar g)^2)`.

Interval. Whether the bias falls as fast as 1/N is not known from the data, so neither
:math:`m_1` (no bias correction) nor :math:`I_\infty` (the full linear correction) is trusted
alone: the interval is the smallest one holding both of their 95 % normal intervals,

.. math:: \big[\min(m_1 - z\sqrt{\hat v},\ I_\infty - z\,\mathrm{sd}(I_\infty)),\
          \max(m_1 + z\sqrt{\hat v},\ I_\infty + z\,\mathrm{sd}(I_\infty))\big],\quad z = 1.96 .

It accounts for the finite-sample bias that the subsets reveal; a bias that does not shrink with
n (a critic family that cannot represent the density ratio, an estimator capped at log K) is not
visible to it. Its coverage on tasks with known truth is measured by
``benchmarks/study_estimate_mi.py`` (benchmarks/README.md).

References:
    [1] Abdelaleem, Martini, Nemenman, Accurate estimation of mutual information in high
        dimensional data, 2025, arXiv:2506.00330.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
DEFAULT_RATE = 0.5  # bias ~ N^-rate: chosen on the development set (benchmarks/README.md)


@dataclass(frozen=True)
class Extrapolation:
    """The subsample fit (module docstring): ``full`` = :math:`m_1`, ``extrapolated`` =
    :math:`I_\\infty`, their standard deviations, the 95 % ``interval``, ``means`` per γ and the
    ``estimates`` it was fitted to."""

    full: float
    extrapolated: float
    sd_full: float
    sd_extrapolated: float
    interval: tuple[float, float]
    means: dict[int, float]
    estimates: dict[int, tuple[float, ...]]


def subset_rows(n: int, parts: int, seed: int) -> list[np.ndarray]:
    """``parts`` disjoint random row sets of (almost) equal size covering ``range(n)``.

    Examples:
        >>> [len(rows) for rows in subset_rows(10, 3, seed=0)]
        [4, 3, 3]
    """
    order = np.random.default_rng(seed).permutation(n)
    return list(np.array_split(order, parts))


def extrapolate(
    estimates: Mapping[int, Sequence[float]],
    *,
    noise_floor: float = 0.0,
    rate: float = DEFAULT_RATE,
) -> Extrapolation:
    """Fit :math:`m_\\gamma = I_\\infty + b\\gamma^r` to ``estimates[γ]`` (γ estimates on n/γ rows).

    Args:
        estimates: γ -> its γ estimates; needs γ = 1 (one estimate) and at least one γ ≥ 2.
        noise_floor: a lower bound on the standard deviation of the full-data estimate.
        rate: r, the assumed decay of the bias, :math:`N^{-r}`.
    Returns:
        :class:`Extrapolation` (see the module docstring for every quantity).

    Examples:
        >>> fit = extrapolate({1: [1.0], 2: [0.9, 0.9]}, rate=1.0)
        >>> round(fit.extrapolated, 6), fit.sd_full
        (1.1, 0.0)
        >>> [round(end, 6) for end in fit.interval]
        [1.0, 1.1]
    """
    if len(estimates.get(1, ())) != 1 or not any(g >= 2 for g in estimates):
        raise ValueError(f"need one estimate at γ = 1 and some γ >= 2, got {dict(estimates)}")
    gammas = np.array(sorted(estimates), dtype=np.float64)
    means = {int(g): float(np.mean(estimates[int(g)])) for g in gammas}
    pieces = [(np.var(estimates[int(g)], ddof=1) / g, g - 1) for g in gammas if g >= 2]
    pooled = sum(v * df for v, df in pieces) / sum(df for _, df in pieces)
    variance = max(float(pooled), noise_floor**2)
    regressor = gammas**rate
    centred = regressor - regressor.mean()
    slope = float(np.dot(centred, [means[int(g)] for g in gammas]) / np.dot(centred, centred))
    intercept = float(np.mean([means[int(g)] for g in gammas]) - slope * regressor.mean())
    leverage = 1.0 / len(gammas) + regressor.mean() ** 2 / float(np.dot(centred, centred))
    sd_full, sd_extra = math.sqrt(variance), math.sqrt(variance * leverage)
    low = min(means[1] - Z95 * sd_full, intercept - Z95 * sd_extra)
    high = max(means[1] + Z95 * sd_full, intercept + Z95 * sd_extra)
    kept = {int(g): tuple(float(e) for e in estimates[int(g)]) for g in gammas}
    return Extrapolation(means[1], intercept, sd_full, sd_extra, (low, high), means, kept)
