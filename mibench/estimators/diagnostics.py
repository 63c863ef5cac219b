"""Estimator-agnostic diagnostics of a score matrix, recorded for every run at every logged step."""

from __future__ import annotations

import math

from torch import Tensor

from mibench.estimators._logspace import diag, lse_row, lse_row_off, mask_diag


def infonce_value(scores: Tensor) -> Tensor:
    r"""InfoNCE value of any score matrix, so every critic can be read on one scale.

    .. math::  \hat I_{\rm NCE}(S) = \frac1K \sum_i \Big(S_{ii} - \log\sum_j e^{S_{ij}}\Big) + \log K
               \;\le\; \log K

    Implements Eq. (1) of [1] (Eq. (5) of the InfoNCE guide, seed 000).

    Args:
        scores: ``(..., K, K)`` in the orientation of :mod:`mibench.estimators`.
    Returns:
        ``(...)``, nats.

    References:
        [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive
            Learners with FlatNCE, 2021, arXiv:2107.01152.
    """
    K = scores.shape[-1]
    return (diag(scores) - lse_row(scores)).mean(dim=-1) + math.log(K)


def ess(scores: Tensor) -> Tensor:
    r"""Mean effective sample size of the negatives' importance weights (FlatNCE Eq. 4).

    .. math::  w_{ij} = \frac{e^{S_{ij} - S_{ii}}}{\sum_{j' \ne i} e^{S_{ij'} - S_{ii}}},\qquad
               \mathrm{ESS}_i = \frac{1}{n \sum_{j \ne i} w_{ij}^2} \in [1/n, 1]

    with n = K - 1 in-batch negatives per row (Algorithm S2 of [1] writes K for n). Computed in
    log space: log sum_j w_ij^2 = logsumexp_j(2 log w_ij).

    Args:
        scores: ``(..., K, K)``.
    Returns:
        ``(...)``: the row mean of ESS_i.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (4) and Algorithm S2.
    """
    K = scores.shape[-1]
    # The S_ii shift cancels in the softmax; only the off-diagonal entries carry weight.
    log_w = mask_diag(scores) - lse_row_off(scores).unsqueeze(-1)
    log_sum_w2 = (2.0 * log_w).logsumexp(dim=-1)
    return (-(log_sum_w2 + math.log(K - 1))).exp().mean(dim=-1)
