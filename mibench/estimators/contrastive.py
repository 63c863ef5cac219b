"""Contrastive (softmax-normalised) estimators: InfoNCE and its relatives."""

from __future__ import annotations

from torch import Tensor

from mibench.estimators.diagnostics import infonce_value
from mibench.estimators.registry import register
from mibench.interface import Estimator


def infonce_lower_bound(scores: Tensor) -> Tensor:
    r"""InfoNCE lower bound (CPC), capped at log K.

    .. math::  \hat I = \frac1K \sum_i \big(S_{ii} - \log\sum_{j} e^{S_{ij}}\big) + \log K

    Implements Eq. (1) of [1] (guide, seed 000, Eq. (5)); the positive stays in the denominator.

    Args:
        scores: ``(..., K, K)``, see :mod:`mibench.estimators`.
    Returns:
        ``(...)``, nats; always ``<= log K``.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152.
        [2] van den Oord et al., Representation Learning with Contrastive Predictive Coding,
            2018, arXiv:1807.03748.
    """
    return infonce_value(scores)


def infonce_loss(scores: Tensor) -> Tensor:
    """Training loss of InfoNCE: the negative bound (cross-entropy up to log K)."""
    return -infonce_lower_bound(scores)


register(
    Estimator(
        name="infonce",
        family="contrastive",
        value_fn=infonce_lower_bound,
        loss_fn=infonce_loss,
        citation="van den Oord et al. 2018 (CPC); FlatNCE (Chen et al. 2021) Eq. (1)",
        kind="lower_bound",
        caps_at_log_k=True,
        description="Softmax cross-entropy bound; value <= log K.",
    )
)
