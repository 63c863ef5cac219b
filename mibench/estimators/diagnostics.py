"""Estimator-agnostic diagnostics of a score matrix, recorded for every run at every logged step."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibench.estimators._logspace import diag, exp_row_off_shifted, lme_off, lse_row


def infonce_value(scores: Tensor) -> Tensor:
    r"""InfoNCE value of any score matrix, so every critic can be read on one scale.

    .. math::  \hat I_{\rm NCE}(S) = \frac1K \sum_i \Big(S_{ii} - \log\sum_j e^{S_{ij}}\Big) + \log K
               \;\le\; \log K

    Implements Eq. (1) of [1] (Eq. (5) of the InfoNCE guide).

    Args:
        scores: ``(..., K, K)`` in the orientation of :mod:`mibench.estimators`.
    Returns:
        ``(...)``, nats.

    References:
        [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive
            Learners with FlatNCE, 2021, arXiv:2107.01152.

    Examples:
        >>> import torch
        >>> from mibench.estimators.diagnostics import infonce_value
        >>> round(float(infonce_value(torch.zeros(4, 4))), 4)
        0.0
        >>> round(float(infonce_value(50.0 * torch.eye(4))), 4)  # log 4, the ceiling
        1.3863
    """
    K = scores.shape[-1]
    return (diag(scores) - lse_row(scores)).mean(dim=-1) + math.log(K)


def ess(scores: Tensor) -> Tensor:
    r"""Mean effective sample size of the negatives' importance weights (FlatNCE Eq. 4).

    .. math::  w_{ij} = \frac{e^{S_{ij} - S_{ii}}}{\sum_{j' \ne i} e^{S_{ij'} - S_{ii}}},\qquad
               \mathrm{ESS}_i = \frac{1}{n \sum_{j \ne i} w_{ij}^2} \in [1/n, 1]

    with n = K - 1 in-batch negatives per row (Algorithm S2 of [1] writes K for n). Computed as
    the log-sum-exp trick does: with m_i = max_{j≠i} S_ij and e_ij = exp(S_ij − m_i) ∈ (0, 1]
    (the largest is exactly 1, so neither sum below can underflow to 0 or overflow),
    ESS_i = (Σ_j e_ij)² / (n Σ_j e_ij²) — one exponential per entry instead of two
    log-sum-exps (the float64 readout evaluates it at every logged step).

    Args:
        scores: ``(..., K, K)``.
    Returns:
        ``(...)``: the row mean of ESS_i.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (4) and Algorithm S2.

    Examples:
        >>> import torch
        >>> from mibench.estimators.diagnostics import ess
        >>> round(float(ess(torch.zeros(4, 4))), 4)  # equal weights: every negative counts
        1.0
        >>> one_dominates = torch.tensor([[0.0, 9.0, 0.0], [0.0, 0.0, 9.0], [9.0, 0.0, 0.0]])
        >>> round(float(ess(one_dominates)), 4)  # one of n = 2 negatives carries the weight: ~1/n
        0.5001
    """
    K = scores.shape[-1]
    # The S_ii shift cancels in the normalised weights; only the off-diagonal entries carry weight.
    shifted = exp_row_off_shifted(scores)
    total = shifted.sum(dim=-1)
    squares = shifted.square_().sum(dim=-1)
    return (total.square() / ((K - 1) * squares)).mean(dim=-1)


def bank_infonce_value(logits: Tensor) -> Tensor:
    r"""InfoNCE value of a positive scored against a bank of negatives (a memory bank or queue).

    .. math::  \hat I = \frac1K\sum_{i=1}^K\Big(\ell_{i0} - \log\sum_{c=0}^{Q} e^{\ell_{ic}}\Big)
               + \log(Q+1) \;\le\; \log(Q+1)

    The same bound as :func:`infonce_value` (Eq. (1) of [1], Eq. (5) of the InfoNCE guide) with
    the candidates of Eq. (2) of [2]: row i holds its positive and Q negatives that are not the
    batch's other samples, so the score block is ``(K, 1 + Q)`` instead of ``(K, K)``.
    With the K − 1 in-batch negatives as the bank (Q = K − 1) it is :func:`infonce_value`.

    Args:
        logits: ``(..., K, 1 + Q)``; column 0 is the positive ℓ_i0 = g(x_i, y_i), columns 1..Q
            the bank's negatives.
    Returns:
        ``(...)``, nats.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152.
        [2] He et al., Momentum Contrast for Unsupervised Visual Representation Learning, CVPR
            2020, arXiv:1911.05722.
    """
    if logits.dim() < 2 or logits.shape[-1] < 2:
        raise ValueError(
            f"logits must have shape (..., K, 1 + Q), Q >= 1, got {tuple(logits.shape)}"
        )
    n_candidates = logits.shape[-1]
    return (logits[..., 0] - lse_row(logits)).mean(dim=-1) + math.log(n_candidates)


def bank_ess(logits: Tensor) -> Tensor:
    r"""FlatNCE Eq. (4) mean ESS of a bank's negatives, as :func:`ess` is of the in-batch ones.

    .. math::  w_{ic} = \frac{e^{\ell_{ic}}}{\sum_{c'=1}^Q e^{\ell_{ic'}}},\qquad
               \mathrm{ESS}_i = \frac{1}{Q \sum_{c=1}^Q w_{ic}^2} \in [1/Q, 1]

    in log space: log w = ℓ − log-sum-exp ℓ, and Σ w² = exp(log-sum-exp 2 log w).

    Args:
        logits: ``(..., K, 1 + Q)`` as in :func:`bank_infonce_value` (column 0 is not a negative).
    Returns:
        ``(...)``: the row mean of ESS_i.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (4).
    """
    negatives = logits[..., 1:]
    log_w = negatives - lse_row(negatives).unsqueeze(-1)
    n = negatives.shape[-1]
    return (-(lse_row(2.0 * log_w) + math.log(n))).exp().mean(dim=-1)


# Wang & Isola (2020) defaults: alpha = 2 in L_align, t = 2 in L_unif.
DEFAULT_ALIGN_ALPHA = 2.0
DEFAULT_UNIFORMITY_T = 2.0


def _unit(z: Tensor) -> Tensor:
    return z / z.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)


def alignment(fx: Tensor, gy: Tensor, *, alpha: float = DEFAULT_ALIGN_ALPHA) -> Tensor:
    r"""Alignment loss of positive pairs on the unit hypersphere (lower = positives closer).

    .. math::  \mathcal L_{\rm align} = \frac1K\sum_{i=1}^K \big\|\bar f(x_i) - \bar g(y_i)\big\|_2^{\alpha},
               \qquad \bar u = u / \|u\|

    Implements L_align (Def. of L_align in Sec. 4.1 of [1]) with the embeddings L2-normalised
    first, as [1] defines it on the hypersphere (a no-op for the cosine/encoder critics, whose
    embeddings are unit vectors).

    Args:
        fx: ``(..., K, d)`` embeddings of x_i.
        gy: ``(..., K, d)`` embeddings of the paired y_i.
        alpha: the exponent α > 0 (default 2).
    Returns:
        ``(...)``, in [0, 2^α].

    References:
        [1] Wang & Isola, Understanding Contrastive Representation Learning through Alignment and
            Uniformity on the Hypersphere, ICML 2020, arXiv:2005.10242.

    Examples:
        >>> import torch
        >>> from mibench.estimators.diagnostics import alignment
        >>> z = torch.nn.functional.normalize(torch.ones(3, 2), dim=-1)
        >>> round(float(alignment(z, z)), 4)  # identical embeddings: perfectly aligned
        0.0
    """
    if fx.shape != gy.shape:
        raise ValueError(
            f"fx and gy must have the same shape (..., K, d), got {tuple(fx.shape)} and "
            f"{tuple(gy.shape)}"
        )
    return (_unit(fx) - _unit(gy)).norm(dim=-1).pow(alpha).mean(dim=-1)


def uniformity(z: Tensor, *, t: float = DEFAULT_UNIFORMITY_T) -> Tensor:
    r"""Uniformity loss of one set of embeddings on the unit hypersphere (lower = more uniform).

    .. math::  \mathcal L_{\rm unif} = \log \frac{1}{K(K-1)} \sum_{i \ne j}
               e^{-t\,\|\bar z_i - \bar z_j\|_2^2}, \qquad \bar u = u / \|u\|

    Implements L_unif (Sec. 4.1 of [1], the Gaussian-potential form with t = 2) over the
    ordered pairs i ≠ j of the batch (the same mean as over unordered pairs), in log space:
    log-sum-exp of −t d_ij² minus log K(K−1). The squared distance of unit vectors is
    2 − 2 z̄_iᵀz̄_j, clamped at 0 against rounding.

    Args:
        z: ``(..., K, d)`` embeddings, K ≥ 2.
        t: the potential's scale t > 0 (default 2).
    Returns:
        ``(...)``, ≤ 0; 0 when every embedding coincides (collapse).

    References:
        [1] Wang & Isola, ICML 2020, arXiv:2005.10242.
    """
    K = z.shape[-2]
    if z.dim() < 2 or K < 2:
        raise ValueError(f"z must have shape (..., K, d) with K >= 2, got {tuple(z.shape)}")
    unit = _unit(z)
    # In place on the fresh Gram matrix: -t * max(2 - 2 z_i.z_j, 0), one K x K buffer in all.
    potential = (unit @ unit.transpose(-1, -2)).mul_(-2.0).add_(2.0).clamp_min_(0.0).mul_(-t)
    return lme_off(potential)
