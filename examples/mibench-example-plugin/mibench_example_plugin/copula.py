r"""A sample estimator: the Gaussian-copula MI of joint samples.

Each coordinate of x and y is replaced by the normal scores of its ranks,
:math:`z = \Phi^{-1}(r / (n + 1))`, and the MI of the result is read as that of a Gaussian,

.. math::  \hat I = \tfrac12\big(\log\det C_{xx} + \log\det C_{yy} - \log\det C\big)

with C the sample correlation matrix of (z_x, z_y) (Cover & Thomas, Thm. 8.4.1). MI is unchanged
by strictly monotone maps of single coordinates, and so is this estimate: it is consistent for
every distribution with a Gaussian copula (Gaussians under any such maps, e.g. cubes).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _normal_scores(a: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(a, axis=0)
    return stats.norm.ppf(ranks / (len(a) + 1))


def copula_gaussian_mi(x: np.ndarray, y: np.ndarray) -> float:
    """The estimate (module docstring) in nats from ``x`` (n, d_x) and ``y`` (n, d_y)."""
    z = np.hstack([_normal_scores(x), _normal_scores(y)])
    corr = np.corrcoef(z, rowvar=False)
    d_x = x.shape[1]
    return float(0.5 * (_logdet(corr[:d_x, :d_x]) + _logdet(corr[d_x:, d_x:]) - _logdet(corr)))


def _logdet(matrix: np.ndarray) -> float:
    return float(np.linalg.slogdet(matrix)[1])
