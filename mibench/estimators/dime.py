r"""f-DIME: discriminative MI estimators from the variational form of an f-divergence.

Letizia, Novello & Tonello [1] train a discriminator D on the f-divergence objective
J_f(T) = E_{p(x,y)}[T(x,y)] − E_{p(x)p(y)}[f*(T(x,σ(y)))], with σ a **derangement** of the
batch's y (no y keeps its own partner), and read the MI off the joint samples only,

.. math::  \hat I_{f\rm DIME} = \mathbb E_{p(x,y)}\big[\log (f^*)'(\hat T(x, y))\big],

since (f*)'(T*) is the density ratio p(x,y)/(p(x)p(y)) at the optimum T* = f'(ratio). No
partition function enters the readout, hence the low variance the paper reports. Here the
discriminator is written through the critic score S = log of the density ratio it implies
(a reparameterisation of the network's output activation), so every readout is

.. math::  \hat I = \frac1K\sum_i S_{ii},

and each objective becomes a function of S (``scores[..., i, j] = g(x_i, y_j)``, the
orientation of :mod:`mibench.estimators`; expectations under p(x)p(y) average the K(K−1)
off-diagonal entries, which under the trainer's ``negatives = "derangement"`` setting are the
one deranged partner per row — the paper's training scheme — and otherwise all in-batch pairs):

=========  ======================================  ==========================================
name       discriminator of [1]                    maximised objective in S
=========  ======================================  ==========================================
KL-DIME    D = e^S > 0                             mean S_ii − mean_{i≠j} e^{S_ij} + 1
HD-DIME    D = e^{−S/2} > 0                        2 − mean e^{−S_ii/2} − mean_{i≠j} e^{S_ij/2}
GAN-DIME   D = sigmoid(−S) ∈ (0, 1)                −mean softplus(−S_ii) − mean_{i≠j} softplus(S_ij) + log 4
=========  ======================================  ==========================================

(J_KL = E log D − E' D + 1, J_HD = 2 − E D − E' 1/D, J_GAN = E log(1 − D) + E' log D + log 4,
with the readouts log D, log 1/D² and log((1 − D)/D) of [1], each equal to S.) Each objective
is maximised pointwise at S = log p(x,y)/(p(x)p(y)), so the readout is consistent; it is not a
bound (``kind="estimate"``). The exponentials go through log-sum-exp and softplus, never
``exp`` of a raw score.

References:
    [1] Letizia, Novello & Tonello, Mutual Information Estimation via f-Divergence and Data
        Derangements, NeurIPS 2024, arXiv:2305.20025 (I_fDIME, Theorem 1; KL-, HD- and
        GAN-DIME, §3).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import softplus

from mibench.core.interface import Estimator
from mibench.estimators._logspace import diag, lme_off, mean_offdiag
from mibench.estimators.contrastive import check_scores
from mibench.estimators.registry import register

LOG_4 = math.log(4.0)

UNBOUNDED_AT_LARGE_SCORES: dict[str, str] = {
    name: "the training loss holds e^{lme_off(S)} (KL) or e^{lme_off(S/2)} (HD): +inf once "
    "off-diagonal scores reach ~+1e3; the readout mean_i S_ii stays finite"
    for name in ("kl_dime", "hd_dime")
}
"""Estimators of this module whose loss is honestly +inf at scores of magnitude 1e3, with why."""


def dime_value(scores: Tensor) -> Tensor:
    r"""The f-DIME readout: (1/K) Σ_i S_ii, the mean log density ratio over the joint samples.

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.dime import dime_value
        >>> scores = torch.tensor([[1.5, 0.0], [0.0, 0.5]])  # S_ii read as log p(x_i, y_i)/(p(x_i)p(y_i))
        >>> round(float(dime_value(scores)), 4)
        1.0
    """
    check_scores(scores)
    return diag(scores).mean(dim=-1)


def kl_dime_objective(scores: Tensor) -> Tensor:
    r"""J_KL in S: mean_i S_ii − mean_{i≠j} e^{S_ij} + 1 (the NWJ form of S + 1).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``.
    """
    check_scores(scores)
    return diag(scores).mean(dim=-1) - torch.exp(lme_off(scores)) + 1.0


def hd_dime_objective(scores: Tensor) -> Tensor:
    r"""J_HD in S: 2 − mean_i e^{−S_ii/2} − mean_{i≠j} e^{S_ij/2} (squared-Hellinger dual).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``.
    """
    K = check_scores(scores)
    joint = torch.exp(torch.logsumexp(-0.5 * diag(scores), dim=-1) - math.log(K))
    return 2.0 - joint - torch.exp(lme_off(0.5 * scores))


def gan_dime_objective(scores: Tensor) -> Tensor:
    r"""J_GAN in S: −mean_i softplus(−S_ii) − mean_{i≠j} softplus(S_ij) + log 4.

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``; at most log 4, reached where the classes separate perfectly.
    """
    check_scores(scores)
    return -softplus(-diag(scores)).mean(dim=-1) - mean_offdiag(softplus(scores)) + LOG_4


def kl_dime_loss(scores: Tensor) -> Tensor:
    """KL-DIME training loss: ``-kl_dime_objective``."""
    return -kl_dime_objective(scores)


def hd_dime_loss(scores: Tensor) -> Tensor:
    """HD-DIME training loss: ``-hd_dime_objective``."""
    return -hd_dime_objective(scores)


def gan_dime_loss(scores: Tensor) -> Tensor:
    """GAN-DIME training loss: ``-gan_dime_objective``."""
    return -gan_dime_objective(scores)


_CITATION = "Letizia, Novello & Tonello 2024 (f-DIME), Theorem 1 readout; {} of §3"
for _name, _loss, _label, _text in (
    ("kl_dime", kl_dime_loss, "KL-DIME", "trained on J_KL = mean S_ii - mean_{i!=j} e^S + 1"),
    ("hd_dime", hd_dime_loss, "HD-DIME", "trained on the squared-Hellinger J_HD"),
    ("gan_dime", gan_dime_loss, "GAN-DIME", "trained on the GAN/JS J_GAN (the JS loss)"),
):
    register(
        Estimator(
            name=_name,
            family="dime",
            value_fn=dime_value,
            loss_fn=_loss,
            citation=_CITATION.format(_label),
            kind="estimate",
            readout=(
                "mean_i S_ii, the critic read as the log density ratio (the f-DIME estimate): "
                "neither a lower nor an upper bound; no cap"
            ),
            description=f"Reports mean_i S_ii (no partition term); {_text}.",
        )
    )
