r"""NT-Xent: the symmetric SimCLR loss, read as InfoNCE with K = 2N − 1 candidates.

Layout ``"views"`` (see :mod:`mibench.core.interface`): ``scores`` is the ``(..., 2N, 2N)`` Gram matrix
of the concatenated views [a_1..a_N, b_1..b_N], scores[i, k] = sim(z_i, z_k)/τ (cosine over τ,
computed by the critic). The positive of row i is its mate m(i) = (i + N) mod 2N; the diagonal
(self-similarity) is excluded; every row is an anchor, so both directions a→b and b→a count.

Per anchor, the 2N − 1 candidates are the mate and 2N − 2 negatives, so each row is one InfoNCE
row with K = 2N − 1 (InfoNCE guide, after Eq. 10) and the MI reading is

.. math::  \hat I = \log(2N - 1) - \mathcal L \;\le\; \log(2N - 1).

References:
    [1] A Guide to InfoNCE and Its Use in SimCLR, Eq. (8)–(10).
    [2] Chen, Kornblith, Norouzi, Hinton, A Simple Framework for Contrastive Learning of Visual
        Representations, 2020, arXiv:2002.05709, Eq. (1) and Algorithm 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibench.core.interface import Estimator
from mibench.estimators._logspace import lse_row_off
from mibench.estimators.registry import register


def mate_index(n_views: int, device: torch.device | None = None) -> Tensor:
    """``(2N,)`` int64: m(i) = (i + N) mod 2N, the column of row i's positive."""
    return (torch.arange(n_views, device=device) + n_views // 2) % n_views


def _check_views(scores: Tensor) -> None:
    if (
        scores.dim() < 2
        or scores.shape[-1] != scores.shape[-2]
        or scores.shape[-1] % 2
        or scores.shape[-1] < 2
    ):
        raise ValueError(
            f"scores must be a (..., 2N, 2N) Gram matrix of two views, got {tuple(scores.shape)}"
        )


def ntxent_anchor_losses(scores: Tensor) -> Tensor:
    r"""Per-anchor NT-Xent terms ℓ_i = −log softmax over k ≠ i of row i, at the mate m(i).

    .. math::  \ell_i = -\log\frac{e^{S_{i,m(i)}}}{\sum_{k\ne i} e^{S_{ik}}}
               = \log\sum_{k\ne i} e^{S_{ik}} - S_{i,m(i)}

    Implements Eq. (9) of [1] (Eq. 1 of [2]) with sim/τ already in ``scores``.

    Args:
        scores: ``(..., 2N, 2N)``, layout ``"views"``.
    Returns:
        ``(..., 2N)``, each ≥ 0 (nats).
    """
    _check_views(scores)
    mates = mate_index(scores.shape[-1], scores.device)
    positives = torch.gather(scores, -1, mates.expand(scores.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    return lse_row_off(scores) - positives


def ntxent_loss(scores: Tensor) -> Tensor:
    r"""The symmetric NT-Xent (SimCLR) loss: the mean of ℓ_i over all 2N anchors.

    .. math::  \mathcal L = \frac1{2N}\sum_{i=1}^{2N}\ell_{i,m(i)}
               = \frac1{2N}\sum_{k=1}^{N}\big(\ell_{k,k+N} + \ell_{k+N,k}\big)

    Implements Eq. (10) of [1] in the normalisation of Algorithm 1 of [2]. Eq. (10) of [1] as
    printed sums ℓ_{i,j(i)} + ℓ_{j(i),i} over all 2N anchors, which counts every term twice
    (2 × this value); we follow [2], the form for which the guide's own statement
    "InfoNCE with K = 2N − 1" holds.

    Args:
        scores: ``(..., 2N, 2N)``, layout ``"views"``.
    Returns:
        ``(...)``, nats, ≥ 0.

    References:
        [1] InfoNCE/SimCLR guide. [2] Chen et al., SimCLR, 2020, arXiv:2002.05709.
    """
    return ntxent_anchor_losses(scores).mean(dim=-1)


def ntxent_lower_bound(scores: Tensor) -> Tensor:
    r"""MI reading of NT-Xent: log(2N − 1) − L, the InfoNCE bound with K = 2N − 1 candidates.

    .. math::  \hat I = \log(2N-1) - \frac1{2N}\sum_{i=1}^{2N}\Big(\log\sum_{k\ne i}e^{S_{ik}}
               - S_{i,m(i)}\Big) \;\le\; \log(2N-1)

    Implements Eq. (5) of [1] applied to Eq. (9)–(10) (each anchor is an InfoNCE row over its
    2N − 1 candidates).

    Args:
        scores: ``(..., 2N, 2N)``, layout ``"views"``.
    Returns:
        ``(...)``, nats.

    References:
        [1] InfoNCE/SimCLR guide. [2] Chen et al., SimCLR, 2020, arXiv:2002.05709.

    Examples:
        >>> import torch
        >>> from mibench.estimators.ntxent import ntxent_lower_bound
        >>> scores = torch.zeros(4, 4)  # 2N = 4 views, equal similarities
        >>> round(float(ntxent_lower_bound(scores)), 4)  # log(2N - 1) - log(2N - 1)
        0.0
    """
    return math.log(scores.shape[-1] - 1) - ntxent_loss(scores)


def ntxent_ceiling(K: int) -> float:
    """log(K − 1) for a ``K x K`` views matrix (K = 2N): the InfoNCE cap with 2N − 1 candidates.

    Examples:
        >>> import torch
        >>> from mibench.estimators.ntxent import ntxent_ceiling
        >>> round(ntxent_ceiling(64), 4)  # log(K - 1) with K = 2N views
        4.1431
    """
    return math.log(K - 1)


register(
    Estimator(
        name="ntxent",
        family="contrastive",
        value_fn=ntxent_lower_bound,
        loss_fn=ntxent_loss,
        citation="SimCLR (Chen et al. 2020) Eq. (1); InfoNCE guide Eq. (9)-(10)",
        kind="lower_bound",
        layout="views",
        ceiling_fn=ntxent_ceiling,
        readout="NT-Xent lower bound log(2N - 1) - L (<= log(2N - 1))",
        description="Symmetric SimCLR loss over 2N views; value = log(2N - 1) - L <= log(2N - 1).",
    )
)
