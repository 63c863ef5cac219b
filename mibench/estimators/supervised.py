r"""Supervised contrastive objectives: SINCERE and SupCon, and SINCERE's KL bound.

Layout ``"labels"`` (see :mod:`mibench.core.interface`): ``scores`` is the ``(..., n, n)`` Gram matrix
G_ij = z_i·z_j/τ (already divided by the temperature) and ``labels`` (``(..., n)``, integer) says
which embeddings share a class. For an anchor t, P_t = {i ≠ t : y_i = y_t} are its positives and
N_t = {i : y_i ≠ y_t} its negatives (noise). Only row t of G enters anchor t's terms, so G need
not be symmetric (an asymmetric critic G_ti = h_t(x_i) is allowed, as in the optimal critic of
Prop. 3.1 of [1]). Labels may differ per leading index; a ``(n,)`` label vector is broadcast.

Anchor conventions (the paper assumes every anchor has a positive and a negative):

* the losses average over the anchors with |P_t| ≥ 1 (an anchor without positives has no term;
  SINCERE's term of an anchor without negatives is 0, as its formula gives);
* the KL estimate averages over anchors with |P_t| ≥ 1 and |N_t| ≥ 1 (log|N_t| needs N_t ≠ ∅);
* with no such anchor in a batch the result is NaN (an empty mean), never a silent 0.

References:
    [1] Feeney & Hughes, SINCERE: Supervised Information Noise-Contrastive Estimation REvisited,
        2023, arXiv:2309.14277: Eq. (3), (12), (13), (14), Theorem 3 / Eq. (15).
    [2] Khosla et al., Supervised Contrastive Learning, 2020, arXiv:2004.11362.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor
from torch.nn.functional import softplus

from mibench.core.interface import Estimator
from mibench.estimators._logspace import mask_diag
from mibench.estimators.registry import register

Method = Literal["sincere", "supcon"]
METHODS: tuple[Method, ...] = ("sincere", "supcon")

FAMILY = "supervised"


class AnchorTerms(NamedTuple):
    """Per-anchor quantities, each ``(..., n)``.

    ``loss``: L_t (0 where ``has_positive`` is False); ``has_positive``: |P_t| ≥ 1;
    ``n_positives``: |P_t|; ``n_negatives``: |N_t|.
    """

    loss: Tensor
    has_positive: Tensor
    n_positives: Tensor
    n_negatives: Tensor


def label_masks(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(positive, negative)`` boolean masks ``(..., n, n)``: row t marks P_t and N_t.

    Raises ``ValueError`` naming both shapes when ``labels`` does not broadcast to
    ``scores.shape[:-1]`` or ``scores`` is not square.
    """
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must have shape (..., n, n), got {tuple(scores.shape)}")
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    try:
        labels = torch.broadcast_to(labels, scores.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match scores of shape {tuple(scores.shape)}; "
            f"expected {tuple(scores.shape[:-1])} (or a broadcastable shape)"
        ) from None
    same = labels.unsqueeze(-1) == labels.unsqueeze(-2)
    eye = torch.eye(scores.shape[-1], dtype=torch.bool, device=scores.device)
    return same & ~eye, ~same


def _negative_lse(scores: Tensor, negative: Tensor) -> Tensor:
    """``(..., n, 1)``: log Σ_{j∈N_t} exp(G_tj).

    Non-negatives are filled with half the most negative finite float instead of −inf, so an
    anchor without negatives gets a (huge negative) finite value: its SINCERE terms are then exactly
    0 with finite gradients, where an all −inf log-sum-exp would back-propagate NaN.
    """
    fill = torch.finfo(scores.dtype).min / 2
    return torch.logsumexp(scores.masked_fill(~negative, fill), dim=-1, keepdim=True)


def anchor_terms(scores: Tensor, labels: Tensor, *, method: Method = "sincere") -> AnchorTerms:
    r"""Per-anchor SINCERE or SupCon losses L_t.

    .. math::  L^{\rm SINCERE}_t = -\frac1{|P_t|}\sum_{p\in P_t}
               \log\frac{e^{G_{tp}}}{e^{G_{tp}} + \sum_{j\in N_t} e^{G_{tj}}}
               = \frac1{|P_t|}\sum_{p\in P_t}\operatorname{softplus}\Big(\log\sum_{j\in N_t}
               e^{G_{tj}} - G_{tp}\Big)

    .. math::  L^{\rm SupCon}_t = -\frac1{|P_t|}\sum_{p\in P_t}
               \log\frac{e^{G_{tp}}}{\sum_{i\ne t} e^{G_{ti}}}

    Implements the per-anchor terms of Eq. (12) (SINCERE) and Eq. (3) (SupCon) of [1]. Eq. (3)
    as printed has z_i·z_i in the sums; we use z_t·z_i, the loss of [2] (denominator over all
    i ≠ t).

    Args:
        scores: ``(..., n, n)`` Gram scores G = z zᵀ/τ.
        labels: ``(..., n)`` integer class labels (broadcast to ``scores.shape[:-1]``).
        method: ``"sincere"`` or ``"supcon"``.
    Returns:
        :class:`AnchorTerms` of ``(..., n)`` tensors.
    """
    positive, negative = label_masks(scores, labels)
    n_positives = positive.sum(dim=-1)
    if method == "sincere":
        pair_losses = softplus(_negative_lse(scores, negative) - scores)
    elif method == "supcon":
        pair_losses = torch.logsumexp(mask_diag(scores), dim=-1, keepdim=True) - scores
    else:
        raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(METHODS)}")
    # where (not multiply): entries off P_t are never used, whatever their value
    summed = torch.where(positive, pair_losses, torch.zeros_like(pair_losses)).sum(dim=-1)
    loss = summed / n_positives.clamp(min=1).to(scores.dtype)
    return AnchorTerms(loss, n_positives > 0, n_positives, negative.sum(dim=-1))


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over the last axis of the entries where ``mask``; NaN when there are none."""
    total = torch.where(mask, values, torch.zeros_like(values)).sum(dim=-1)
    return total / mask.sum(dim=-1).to(values.dtype)


def sincere_loss(scores: Tensor, labels: Tensor) -> Tensor:
    r"""SINCERE loss: the mean of L_t over anchors with a positive.

    .. math::  \mathcal L = \frac{1}{|\{t: |P_t|\ge 1\}|}\sum_{t: |P_t|\ge1}
               -\frac1{|P_t|}\sum_{p\in P_t}\log\frac{e^{G_{tp}}}{e^{G_{tp}} + \sum_{j\in N_t}e^{G_{tj}}}

    Implements Eq. (12) of [1] (one batch; the paper averages over all n anchors, which all have
    positives there). Other members of the anchor's class never appear in the denominator.

    Args:
        scores: ``(..., n, n)`` Gram scores z_i·z_j/τ. labels: ``(..., n)`` integer labels.
    Returns:
        ``(...)``; NaN if no anchor has a positive.

    References:
        [1] Feeney & Hughes, SINCERE, 2023, arXiv:2309.14277.
    """
    terms = anchor_terms(scores, labels, method="sincere")
    return _masked_mean(terms.loss, terms.has_positive)


def supcon_loss(scores: Tensor, labels: Tensor) -> Tensor:
    r"""SupCon loss: as :func:`sincere_loss` with the denominator over every i ≠ t.

    .. math::  \mathcal L = \operatorname{mean}_{t: |P_t|\ge1}
               -\frac1{|P_t|}\sum_{p\in P_t}\log\frac{e^{G_{tp}}}{\sum_{i\ne t}e^{G_{ti}}}

    Implements Eq. (3) of [1] (with z_t·z_i for its printed z_i·z_i), the L^sup_out loss of [2].

    Args:
        scores: ``(..., n, n)``. labels: ``(..., n)``.
    Returns:
        ``(...)``; NaN if no anchor has a positive.

    References:
        [1] Feeney & Hughes, SINCERE, 2023, arXiv:2309.14277. [2] Khosla et al., 2020,
            arXiv:2004.11362.
    """
    terms = anchor_terms(scores, labels, method="supcon")
    return _masked_mean(terms.loss, terms.has_positive)


def kl_bound_estimate(scores: Tensor, labels: Tensor, *, method: Method = "sincere") -> Tensor:
    r"""The KL estimate of Theorem 3: log|N_t| − L_t, averaged over anchors.

    .. math::  \widehat{\rm KL} = \operatorname{mean}_{t:\,|P_t|\ge1,\,|N_t|\ge1}
               \big(\log|N_t| - L_t\big)

    Theorem 3 / Eq. (15) of [1] states L(θ) ≥ E_{P_t,t}[log|N_t| − KL(p(x|y_t) ‖ p(x|≠y_t))]
    for the *expected* loss of a fixed target class, i.e. KL ≥ E[log|N_t|] − E[L_t]. This returns
    that right-hand side with the expectations replaced by the batch: per anchor, its own |N_t|
    and L_t. It therefore lower-bounds, in expectation over batches, the anchor-weighted mean of
    the class-conditional KLs (each anchor t contributes KL(p(x|y_t) ‖ p(x|≠y_t)) of its class);
    a single batch may exceed it. The bound is at most log|N_t| per anchor and tightens as |N_t|
    grows or L_t falls.

    Note on the proof: App. D approximates E log Σ_{n∈N_t} r(x_n) by log|N_t| (Eq. 30–31), which
    by Jensen is an over-estimate, so the printed argument is not a proof. The statement is true
    nevertheless: with x_t fixed, G_t· is a fixed critic and the candidates {p} ∪ N_t are one
    target and |N_t| noise draws, so the multi-sample (InfoNCE) argument gives
    KL ≥ log(|N_t| + 1) − E[ℓ_tp] > log|N_t| − E[ℓ_tp]. We report the paper's log|N_t| form.

    For ``method="supcon"`` L_t is SupCon's, which is ≥ SINCERE's on the same scores (its
    denominator is a superset), so the value is a looser but still valid bound.

    Args:
        scores: ``(..., n, n)``. labels: ``(..., n)``.
        method: whose L_t to use, ``"sincere"`` (Theorem 3) or ``"supcon"``.
    Returns:
        ``(...)``, nats; NaN if no anchor has both a positive and a negative.

    References:
        [1] Feeney & Hughes, SINCERE, 2023, arXiv:2309.14277, Theorem 3, Eq. (15), App. D.

    Examples:
        >>> import torch
        >>> from mibench.estimators.supervised import kl_bound_estimate
        >>> scores = torch.tensor([[0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0],
        ...                        [0.0, 0.0, 0.0, 3.0], [0.0, 0.0, 3.0, 0.0]])
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> round(float(kl_bound_estimate(scores, labels)), 4)  # log|N_t| - L_t, averaged over anchors
        0.5982
    """
    terms = anchor_terms(scores, labels, method=method)
    has_both = terms.has_positive & (terms.n_negatives > 0)
    log_negatives = terms.n_negatives.clamp(min=1).to(scores.dtype).log()
    return _masked_mean(log_negatives - terms.loss, has_both)


def sincere_kl_estimate(scores: Tensor, labels: Tensor) -> Tensor:
    """Theorem 3 KL estimate with SINCERE's L_t (:func:`kl_bound_estimate`)."""
    return kl_bound_estimate(scores, labels, method="sincere")


def supcon_kl_estimate(scores: Tensor, labels: Tensor) -> Tensor:
    """Theorem 3 form with SupCon's L_t (:func:`kl_bound_estimate`, ``method="supcon"``)."""
    return kl_bound_estimate(scores, labels, method="supcon")


def anchor_gradient_coefficients(
    scores: Tensor, labels: Tensor, *, method: Method = "sincere"
) -> Tensor:
    r"""Closed-form ∂L_t/∂G_tj: the coefficients of Eq. (13) (SINCERE) and Eq. (14) (SupCon).

    With G_tj = z_t·z_j/τ and the other embeddings held fixed, ∂L_t/∂z_t = (1/τ) Σ_j C_tj z_j,
    so C_tj is τ times the coefficient on z_j in the paper's gradients. With
    σ_tp = e^{G_tp}/(e^{G_tp} + Σ_{n∈N_t} e^{G_tn}) and π_tj = softmax_{i≠t}(G_ti)_j:

    .. math::  \text{SINCERE: } C_{tp} = \frac{\sigma_{tp} - 1}{|P_t|}\ (p\in P_t),\qquad
               C_{tn} = \frac1{|P_t|}\sum_{p\in P_t}
               \frac{e^{G_{tn}}}{e^{G_{tp}} + \sum_{n'\in N_t}e^{G_{tn'}}}\ (n\in N_t)

    .. math::  \text{SupCon: } C_{tp} = \pi_{tp} - \frac1{|P_t|}\ (p\in P_t),\qquad
               C_{tn} = \pi_{tn}\ (n\in N_t)

    Implements Eq. (13)–(14) of [1] (App. C, Eq. 20–24). SINCERE's bracket σ_tp − 1 of Eq. (13)
    lies in [−1, 0], so C_tp ∈ [−1/|P_t|, 0]: same-class embeddings always attract. SupCon's
    C_tp ∈ [−1/|P_t|, 1 − 1/|P_t|] can be positive (same-class repulsion), as Sec. 3.3 states.
    Eq. (14) prints its softmax over all i ∈ I; the SupCon loss (Eq. 3, [2]) excludes i = t, and
    these coefficients are the exact gradient of that loss (the tests check it with autograd).
    Each row sums to 0 (L_t is invariant to adding a constant to row t).

    Args:
        scores: ``(..., n, n)``. labels: ``(..., n)``.
        method: ``"sincere"`` or ``"supcon"``.
    Returns:
        ``(..., n, n)``: C_tj on P_t ∪ N_t, 0 on the diagonal and in the rows of anchors without
        positives (they have no loss term). The gradient of the mean loss is C divided by the
        number of anchors with a positive.

    References:
        [1] Feeney & Hughes, SINCERE, 2023, arXiv:2309.14277. [2] Khosla et al., 2020,
            arXiv:2004.11362.
    """
    positive, negative = label_masks(scores, labels)
    n_positives = positive.sum(dim=-1, keepdim=True).clamp(min=1).to(scores.dtype)
    zeros = torch.zeros_like(scores)
    if method == "sincere":
        negative_lse = _negative_lse(scores, negative)
        on_positive = (torch.sigmoid(scores - negative_lse) - 1.0) / n_positives
        # log Σ_{p∈P_t} 1/(e^{G_tp} + Σ_N e^{G}) = logsumexp_p(−logaddexp(G_tp, lse_N))
        log_denominators = torch.logaddexp(scores, negative_lse)
        log_inverse_sum = torch.logsumexp(
            (-log_denominators).masked_fill(~positive, -torch.inf), dim=-1, keepdim=True
        )
        on_negative = torch.exp(scores + log_inverse_sum) / n_positives
    elif method == "supcon":
        softmax = torch.softmax(mask_diag(scores), dim=-1)
        on_positive = softmax - 1.0 / n_positives
        on_negative = softmax
    else:
        raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(METHODS)}")
    coefficients = torch.where(positive, on_positive, zeros)
    coefficients = torch.where(negative, on_negative, coefficients)
    has_positive = positive.any(dim=-1, keepdim=True)
    return torch.where(has_positive, coefficients, zeros)


_CITATION = "Feeney & Hughes 2023 (SINCERE) Eq. (12), Thm. 3 Eq. (15)"

register(
    Estimator(
        name="sincere",
        family=FAMILY,
        value_fn=sincere_kl_estimate,
        loss_fn=sincere_loss,
        citation=_CITATION,
        kind="supervised",
        layout="labels",
        needs=frozenset({"labels"}),
        readout="log|N_t| - L_t, a lower bound on the class-conditional KL (SINCERE Thm. 3)",
        description="Supervised InfoNCE without same-class negatives; value = log|N_t| - L_t (KL bound).",
    )
)

register(
    Estimator(
        name="supcon",
        family=FAMILY,
        value_fn=supcon_kl_estimate,
        loss_fn=supcon_loss,
        citation="Khosla et al. 2020 (SupCon); SINCERE Eq. (3), value in the form of Eq. (15)",
        kind="supervised",
        layout="labels",
        needs=frozenset({"labels"}),
        readout="log|N_t| - L_t read as for SINCERE (not a KL bound: same-class terms sit in the denominator)",
        description="Supervised contrastive loss, denominator over all i != t; value = log|N_t| - L_t.",
    )
)
