r"""Contrastive (softmax-normalised, per-anchor) estimators: InfoNCE and its relatives.

Every function here reads ``scores`` in the orientation of :mod:`mibench.estimators`
(``scores[..., i, j] = g(x_i, y_j)``, positives on the diagonal) and normalises **per row**, i.e.
per anchor x_i over the candidates y_j. The FlatNCE family works with the *contrasts*

.. math::  S_{ij} - S_{ii},\qquad c_i = \log\sum_{j\ne i} e^{S_{ij}-S_{ii}},

which are formed before any log-sum-exp (the positive's own score never enters a reduction next to
the negatives, which is the precision point of §2 of [1]).

Which estimate each objective reports (its readout)
---------------------------------------------------
FlatNCE's Eq. (3) is identically 1, and the FlatNCE paper does not read an MI number off it:
"Since FlatNCE itself is not associated with a number to bound MI ... we use an InfoNCE estimate
based on the FlatNCE representation" (Appendix C, discussion of Fig. 1). So ``flatnce``,
``holder_flatnce`` and the term-dropping ``infonce_drop`` report the **InfoNCE value of the same
scores** (<= log K for every critic). The *per-row Donsker–Varadhan* value at the optimal FLO dual
(Corollary S5, Eq. (27) of [1]),

.. math::  \hat I_{\rm rowDV}(S) = \frac1K\sum_i \Big(S_{ii} - \log\frac1{K-1}\sum_{j\ne i}e^{S_{ij}}\Big),

which these objectives implicitly optimise, is kept as the extra column ``per_row_dv``: it is not
a finite-K bound and runs away once the critic's margin grows (tens to 1e11 nats above the truth in
the Poole staircase), which is why it is a diagnostic and not the readout.

References:
    [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152.
    [2] van den Oord et al., Representation Learning with Contrastive Predictive Coding, 2018,
        arXiv:1807.03748.
    [3] Guo et al., Tight Mutual Information Estimation With Contrastive Fenchel-Legendre
        Optimization (FLO), 2021/2022, arXiv:2107.01131.
    [4] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibench.core.interface import Estimator
from mibench.estimators._logspace import diag, lme_row_off, lse_row, lse_row_off, mask_diag
from mibench.estimators.diagnostics import infonce_value
from mibench.estimators.registry import register

DEFAULT_HOLDER_GAMMA = 0.5
PER_ROW_DV = "per_row_dv"  # extra column of the FlatNCE family (see the module docstring)


# --------------------------------------------------------------------------------------------
# Input checks shared with :mod:`mibench.estimators.variational` (errors name both shapes).
# --------------------------------------------------------------------------------------------
def check_scores(scores: Tensor, *, min_k: int = 2) -> int:
    """Validate a ``(..., K, K)`` score tensor and return K.

    Raises:
        ValueError: fewer than two dimensions, a non-square trailing block, K < ``min_k``, or a
            non-floating dtype (log-space reductions need floats).
    """
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must have shape (..., K, K), got {tuple(scores.shape)}")
    size = scores.shape[-1]
    if size < min_k:
        raise ValueError(f"scores need K >= {min_k} (off-diagonal negatives), got K = {size}")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating tensor, got dtype {scores.dtype}")
    return size


def check_per_sample(scores: Tensor, values: Tensor, *, name: str) -> None:
    """``values`` must have shape ``scores.shape[:-1]``, i.e. ``(..., K)`` (one per sample)."""
    if tuple(values.shape) != tuple(scores.shape[:-1]):
        raise ValueError(
            f"{name} must have shape {tuple(scores.shape[:-1])} (scores.shape[:-1]) for scores of "
            f"shape {tuple(scores.shape)}, got {tuple(values.shape)}"
        )


def contrasts(scores: Tensor) -> Tensor:
    """``(..., K, K)``: S_ij - S_ii (row i minus its own positive); the diagonal is 0."""
    return scores - diag(scores).unsqueeze(-1)


def per_row_dv(scores: Tensor) -> Tensor:
    r"""Per-row Donsker–Varadhan value (the reported estimate of the FlatNCE family).

    .. math::  \hat I_{\rm rowDV} = \frac1K\sum_i \Big(S_{ii} - \log\frac1{K-1}\sum_{j\ne i}e^{S_{ij}}\Big)

    Implements Eq. (26) of [1] with the inner expectation E_{p(y')} replaced by the K-1 in-batch
    negatives of row i; equivalently FLO (Eq. (24)) at the optimal dual u_i* of Eq. (27) (with
    the positive excluded, as in Eq. (3)).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats. Unbounded above (no log K cap) and not a finite-K lower bound: for a fixed
        critic its expectation exceeds the population conditional-DV bound by the Jensen gap of
        the plug-in log, ≈ Var/(2(K-1)). At the exact log ratio that is ≈ (e^{2I} - 1)/(2(K-1)),
        small only when I << log K; for I >> log K the overshoot is large (tested: mean ≈ 80
        nats for I = 10, K = 16 on the Gaussian task).

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (26)-(27), Corollary S5.

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import per_row_dv
        >>> round(float(per_row_dv(torch.zeros(4, 4))), 4)  # the DV of each row, averaged
        0.0
    """
    check_scores(scores)
    return (diag(scores) - lme_row_off(scores)).mean(dim=-1)


# --------------------------------------------------------------------------------------------
# InfoNCE (already the exemplar) and its term-dropping variant
# --------------------------------------------------------------------------------------------
def infonce_lower_bound(scores: Tensor) -> Tensor:
    r"""InfoNCE lower bound (CPC), capped at log K.

    .. math::  \hat I = \frac1K \sum_i \big(S_{ii} - \log\sum_{j} e^{S_{ij}}\big) + \log K

    Implements Eq. (1) of [1] (InfoNCE guide, Eq. (5)); the positive stays in the denominator.

    Args:
        scores: ``(..., K, K)``, see :mod:`mibench.estimators`.
    Returns:
        ``(...)``, nats; always ``<= log K``.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152.
        [2] van den Oord et al., Representation Learning with Contrastive Predictive Coding,
            2018, arXiv:1807.03748.

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import infonce_lower_bound
        >>> scores = torch.zeros(4, 4)  # an uninformative critic: log K - log K
        >>> round(float(infonce_lower_bound(scores)), 4)
        0.0
        >>> round(float(infonce_lower_bound(50.0 * torch.eye(4))), 4)  # a perfect critic reaches log 4
        1.3863
    """
    return infonce_value(scores)


def infonce_loss(scores: Tensor) -> Tensor:
    """Training loss of InfoNCE: the negative bound (cross-entropy up to log K)."""
    return -infonce_lower_bound(scores)


def bank_infonce_loss(logits: Tensor) -> Tensor:
    r"""InfoNCE's cross-entropy over a positive and a bank of Q negatives (MoCo, Eq. (1) of [5]).

    .. math::  \mathcal L = \frac1K\sum_{i=1}^K\Big(\log\sum_{c=0}^{Q} e^{\ell_{ic}} - \ell_{i0}\Big)
               = \log(Q+1) - \hat I

    with Î of :func:`~mibench.estimators.diagnostics.bank_infonce_value`; ``logits`` is
    ``(..., K, 1 + Q)``, column 0 the positive.

    References:
        [5] He et al., Momentum Contrast for Unsupervised Visual Representation Learning, CVPR
            2020, arXiv:1911.05722.
    """
    return (lse_row(logits) - logits[..., 0]).mean(dim=-1)


def infonce_drop_value(scores: Tensor) -> Tensor:
    r"""Term-dropping InfoNCE: the positive removed from the denominator, constant log(K-1).

    .. math::  \hat I_{\rm drop} = \frac1K\sum_i\Big(S_{ii} - \log\sum_{j\ne i}e^{S_{ij}}\Big)
               + \log(K-1) \;=\; \hat I_{\rm rowDV}(S)

    The constant: with the positive dropped, each row's normaliser sums K-1 negatives, so
    log(K-1) (not InfoNCE's log K) turns the sum into the mean that estimates the partition
    function E_{p(y)} e^{g(x_i, y)}; the value is then the per-row DV estimate of Eq. (26) of [1],
    which is TUBA ([4] §2.2) with the plug-in optimal baseline a(x_i) = log mean_{j≠i} e^{S_ij}
    ("term-dropping InfoNCE essentially recovers TUBA", §3 of [1]): with that baseline TUBA's
    marginal term is exactly 1 and 1 + mean(S_ii - a_i) - 1 is the expression above. With log K
    instead the value would be biased low by log(K/(K-1)) for every critic.

    No log K cap: dropping the positive removes the term that bounds InfoNCE (a dominant diagonal
    drives this value to +inf). Because the baseline is estimated from the same negatives, the
    plug-in log biases a fixed critic's value *upward* by a Jensen gap of order Var/(2(K-1)),
    which is large when I >> log K (see :func:`per_row_dv`); as K -> inf it converges to the
    population conditional-DV bound, which is <= I(X;Y).

    Implements the term-dropping InfoNCE of §3 of [1] (its gradient equals that of FlatNCE,
    Eq. (3); see :func:`flatnce_loss`).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, §3, Eq. (26).
        [4] Poole et al., On Variational Bounds of Mutual Information, 2019, §2.2 (TUBA).

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import infonce_drop_value, infonce_lower_bound
        >>> scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, -0.5, 1.0]])
        >>> bool(torch.isclose(infonce_drop_value(scores), infonce_lower_bound(scores)))
        False
    """
    K = check_scores(scores)
    return (diag(scores) - lse_row_off(scores)).mean(dim=-1) + math.log(K - 1)


def infonce_drop_loss(scores: Tensor) -> Tensor:
    """Training loss of term-dropping InfoNCE: ``-infonce_drop_value``."""
    return -infonce_drop_value(scores)


# --------------------------------------------------------------------------------------------
# FLO (Fenchel-Legendre optimisation bound)
# --------------------------------------------------------------------------------------------
def flo_lower_bound(scores: Tensor, *, dual: Tensor) -> Tensor:
    r"""FLO bound with a learned dual critic u_i = u(x_i, y_i).

    .. math::  \hat I_{\rm FLO}(S, u) = 1 + \frac1K\sum_i\Big[-u_i
               - \frac1{K-1}\sum_{j\ne i} e^{-u_i + S_{ij} - S_{ii}}\Big]

    Implements Eq. (24)-(25) of [1] (Prop. S6; Guo et al. [3]) with the K-1 in-batch negatives
    of row i standing for p(y'); per row it is the Fenchel inequality of Lemma S3 (Eq. (22)),
    -log t >= 1 - u - t e^{-u}, with t = mean_{j≠i} e^{S_ij - S_ii}. Hence for every u
    ``flo_lower_bound(S, u) <= per_row_dv(S)``, with equality at u_i* = log t_i, i.e.
    u* = lme_row_off(S - S_ii) (Eq. (27)). Two misprints in [1] are followed in their corrected
    form: Lemma S3 states the equality point without the log, and Eq. (24)-(25) put the "+1" inside
    the quantity that is negated (the bound is I >= 1 - E[u + e^{-u + g(x,y') - g(x,y)}], as in
    Eq. (22)).

    Computed as 1 - mean(u) - mean_i exp(lme_row_off(S - S_ii)_i - u_i): the exponent is a
    log-mean-exp of contrasts minus the dual, never a raw score.

    Args:
        scores: ``(..., K, K)``, K >= 2.
        dual: ``(..., K)``, u(x_i, y_i) for each positive pair (dual_of = "pair").
    Returns:
        ``(...)``, nats.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Prop. S6, Eq. (22), (24)-(27).
        [3] Guo et al., FLO, arXiv:2107.01131.

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import flo_lower_bound, flo_optimal_dual, infonce_lower_bound
        >>> scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, -0.5, 1.0]])
        >>> tight = flo_lower_bound(scores, dual=flo_optimal_dual(scores))  # FLO at its optimal u
        >>> bool(torch.isclose(tight, infonce_lower_bound(scores)))
        False
    """
    check_scores(scores)
    check_per_sample(scores, dual, name="dual")
    log_t = lme_row_off(contrasts(scores))
    return 1.0 - dual.mean(dim=-1) - torch.exp(log_t - dual).mean(dim=-1)


def flo_loss(scores: Tensor, *, dual: Tensor) -> Tensor:
    """Training loss of FLO: ``-flo_lower_bound``, minimised jointly over the critic and the dual."""
    return -flo_lower_bound(scores, dual=dual)


def flo_optimal_dual(scores: Tensor) -> Tensor:
    """``(..., K)``: u_i* = log mean_{j≠i} e^{S_ij - S_ii}, where FLO equals :func:`per_row_dv` (Eq. (27))."""
    check_scores(scores)
    return lme_row_off(contrasts(scores))


# --------------------------------------------------------------------------------------------
# FlatNCE, its Eq. (12) variant, Hölder-FlatNCE
# --------------------------------------------------------------------------------------------
def flatnce_loss(scores: Tensor) -> Tensor:
    r"""FlatNCE surrogate loss: identically 1 in value, the FlatNCE gradient in backward.

    .. math::  c_i = \log\sum_{j\ne i} e^{S_{ij}-S_{ii}},\qquad
               \ell = \frac1K\sum_i \exp\big(c_i - \mathrm{detach}(c_i)\big)

    Implements Eq. (3) and Algorithm S1 of [1] (averaged over the K anchors). Its gradient is
    mean_i ∇c_i, the gradient of the term-dropping InfoNCE loss (§3), and per row equals the
    importance-weighted form sum_{j≠i} w_ij ∇(S_ij - S_ii) of Prop. S2 with
    w_ij = softmax_{j≠i}(S_ij - S_ii) (see :func:`importance_weights`).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, identically 1.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (3), Prop. S2, Algorithm S1.
    """
    check_scores(scores)
    clogits = lse_row_off(contrasts(scores))
    return torch.exp(clogits - clogits.detach()).mean(dim=-1)


def flatnce_value(scores: Tensor) -> Tensor:
    r"""Reported FlatNCE estimate: the InfoNCE value of the same scores (<= log K).

    .. math::  \hat I = \frac1K\sum_i\big(S_{ii} - \log\sum_j e^{S_{ij}}\big) + \log K

    Eq. (3) of [1] is identically 1 and FlatNCE "is not associated with a number to bound MI"
    (Appendix C, discussion of Fig. 1), so the paper reads the FlatNCE critic with InfoNCE (Eq. (1));
    this does the same. The per-row DV value the objective implicitly optimises (Corollary S5,
    Eq. (27)) is :func:`per_row_dv`, recorded beside it as the extra column ``per_row_dv``.

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats; always ``<= log K``.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (1), Eq. (3), Appendix C.

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import flatnce_value, infonce_lower_bound
        >>> scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, -0.5, 1.0]])
        >>> bool(torch.isclose(flatnce_value(scores), infonce_lower_bound(scores)))  # read as InfoNCE
        True
    """
    check_scores(scores)
    return infonce_value(scores)


def per_row_dv_extra(scores: Tensor, **_hyper: float) -> dict[str, Tensor]:
    """The FlatNCE family's diagnostic extra: ``{"per_row_dv": per_row_dv(scores)}``."""
    return {PER_ROW_DV: per_row_dv(scores)}


def flatnce_with_positive_loss(scores: Tensor) -> Tensor:
    r"""The Eq. (12) variant of FlatNCE: the positive kept in the sum; gradient = InfoNCE's.

    .. math::  c'_i = \log\Big(1 + \sum_{j\ne i} e^{S_{ij}-S_{ii}}\Big) = \log\sum_j e^{S_{ij}-S_{ii}},
               \qquad \ell' = \frac1K\sum_i \exp\big(c'_i - \mathrm{detach}(c'_i)\big)

    Implements Eq. (12) of [1] (the "1 +" is the positive's zero contrast, e^0). Identically 1
    in value; by Prop. S1 its gradient equals the gradient of the InfoNCE loss
    ``-infonce_lower_bound`` (c'_i is the per-row cross-entropy, Eq. (15)). Not registered: it
    is InfoNCE's optimisation in FlatNCE form, kept for the gradient-identity claims.

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, identically 1.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (12)-(16), Prop. S1.
    """
    check_scores(scores)
    clogits = lse_row(contrasts(scores))
    return torch.exp(clogits - clogits.detach()).mean(dim=-1)


def importance_weights(scores: Tensor, *, include_positive: bool = False) -> Tensor:
    r"""Self-normalised importance weights of the FlatNCE/InfoNCE gradients (Prop. S2).

    .. math::  w_{ij} = \frac{e^{S_{ij}-S_{ii}}}{\sum_{j'\in J_i} e^{S_{ij'}-S_{ii}}},\qquad
               J_i = \{j \ne i\}\ \text{(Eq. (3))}\ \text{or}\ \{1..K\}\ \text{(Eq. (12)/(17))}

    so that ∇c_i = sum_j w_ij ∇S_ij - ∇S_ii (Eq. (17)-(21) of [1]). With the positive excluded
    the diagonal weight is 0; these are the weights whose ESS Eq. (4) reports.

    Args:
        scores: ``(..., K, K)``.
        include_positive: keep j = i in the normalisation (the InfoNCE / Eq. (12) weights).
    Returns:
        ``(..., K, K)``, each row sums to 1.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Prop. S2, Eq. (4), (17).

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import importance_weights
        >>> weights = importance_weights(torch.zeros(4, 4))  # equal scores: uniform over the K - 1 negatives
        >>> [round(float(w), 4) for w in weights[0]]
        [0.0, 0.3333, 0.3333, 0.3333]
    """
    check_scores(scores)
    contrast = contrasts(scores)
    if not include_positive:
        contrast = mask_diag(contrast)
    return torch.exp(contrast - torch.logsumexp(contrast, dim=-1, keepdim=True))


def holder_flatnce_loss(scores: Tensor, *, gamma: float = DEFAULT_HOLDER_GAMMA) -> Tensor:
    r"""Hölder-FlatNCE surrogate loss (identically 1 in value).

    .. math::  m_\gamma^{(i)} = \Big(\frac1{K-1}\sum_{j\ne i} e^{\gamma(S_{ij}-S_{ii})}\Big)^{1/\gamma}
               = \exp\Big(\tfrac1\gamma\,\mathrm{lme}_{j\ne i}\,\gamma(S_{ij}-S_{ii})\Big),
               \qquad \ell_\gamma = \frac1K\sum_i \frac{m_\gamma^{(i)}}{\mathrm{detach}(m_\gamma^{(i)})}

    Implements Eq. (28) (Def. S7-S8) of [1] over the K-1 negatives of each anchor, averaged
    (Eq. (28) sums; the factor K only rescales the gradient). Computed as
    exp(log m - detach(log m)). gamma = 1 is FlatNCE (Eq. (3)); gamma = 0 is the geometric-mean
    limit, log m_0 = mean_{j≠i}(S_ij - S_ii); gamma < 0 is allowed (min at -inf). By Prop. S9,
    ∇ℓ_γ(S) = (1/γ) ∇[ℓ_1(γ S)].

    Args:
        scores: ``(..., K, K)``, K >= 2.
        gamma: Hölder exponent, any finite real.
    Returns:
        ``(...)``, identically 1.

    References:
        [1] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Def. S7-S8, Eq. (28), Prop. S9.
    """
    K = check_scores(scores)
    gamma = float(gamma)
    if not math.isfinite(gamma):
        raise ValueError(f"gamma must be a finite real number, got {gamma!r}")
    contrast = contrasts(scores)
    # gamma = 0, the geometric mean: the diagonal contrast is exactly 0, so the row sum is the
    # sum over the K - 1 negatives.
    log_m = (
        contrast.sum(dim=-1) / (K - 1) if gamma == 0.0 else lme_row_off(gamma * contrast) / gamma
    )
    return torch.exp(log_m - log_m.detach()).mean(dim=-1)


def holder_flatnce_value(scores: Tensor, *, gamma: float = DEFAULT_HOLDER_GAMMA) -> Tensor:
    """Reported Hölder-FlatNCE estimate: the InfoNCE value, as for FlatNCE (``gamma`` unused).

    Examples:
        >>> import torch
        >>> from mibench.estimators.contrastive import holder_flatnce_value, infonce_lower_bound
        >>> scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, -0.5, 1.0]])
        >>> bool(torch.isclose(holder_flatnce_value(scores), infonce_lower_bound(scores)))
        True
    """
    return flatnce_value(scores)


register(
    Estimator(
        name="infonce",
        family="contrastive",
        value_fn=infonce_lower_bound,
        loss_fn=infonce_loss,
        citation="van den Oord et al. 2018 (CPC); FlatNCE (Chen et al. 2021) Eq. (1)",
        kind="lower_bound",
        caps_at_log_k=True,
        readout="InfoNCE lower bound (<= log K for every critic)",
        description="Softmax cross-entropy bound; value <= log K.",
    )
)

register(
    Estimator(
        name="infonce_drop",
        family="contrastive",
        value_fn=flatnce_value,
        loss_fn=infonce_drop_loss,
        citation=(
            "FlatNCE (Chen et al. 2021) §3 term-dropping InfoNCE (= per-row DV, Eq. (26)); "
            "Poole et al. 2019 §2.2 TUBA with the plug-in baseline; readout: Appendix C"
        ),
        kind="surrogate",
        caps_at_log_k=True,
        extras_fn=per_row_dv_extra,
        default_critic="cosine",
        readout="InfoNCE value of the same scores (<= log K); the per-row DV it optimises is the per_row_dv column",
        description=(
            "InfoNCE with the positive dropped from the denominator, + log(K-1) (trained); "
            "same gradient as FlatNCE Eq. (3); reports the InfoNCE value."
        ),
    )
)

register(
    Estimator(
        name="flo",
        family="contrastive",
        value_fn=flo_lower_bound,
        loss_fn=flo_loss,
        citation="Guo et al. 2021 (FLO); FlatNCE (Chen et al. 2021) Prop. S6, Eq. (24)-(25)",
        kind="lower_bound",
        needs=frozenset({"dual"}),
        dual_of="pair",
        readout="FLO lower bound with the learned dual u(x, y) (lower bound in expectation; no cap)",
        description="Fenchel-Legendre bound with a dual critic u(x_i, y_i); tight at u* (Eq. 27).",
    )
)

register(
    Estimator(
        name="flatnce",
        family="contrastive",
        value_fn=flatnce_value,
        loss_fn=flatnce_loss,
        citation="FlatNCE (Chen et al. 2021) Eq. (3), Algorithm S1; readout: Appendix C (Fig. 1)",
        kind="surrogate",
        caps_at_log_k=True,
        extras_fn=per_row_dv_extra,
        default_critic="cosine",
        readout="InfoNCE value of the same scores (<= log K), as the FlatNCE paper reads it; per-row DV in per_row_dv",
        description=(
            "Loss exp(c - detach c) (identically 1); reports the InfoNCE value of its critic."
        ),
    )
)

register(
    Estimator(
        name="holder_flatnce",
        family="contrastive",
        value_fn=holder_flatnce_value,
        loss_fn=holder_flatnce_loss,
        citation="FlatNCE (Chen et al. 2021) Def. S7-S8, Eq. (28), Prop. S9; readout: Appendix C",
        kind="surrogate",
        caps_at_log_k=True,
        extras_fn=per_row_dv_extra,
        default_critic="cosine",
        hyper={"gamma": DEFAULT_HOLDER_GAMMA},
        readout="InfoNCE value of the same scores (<= log K), as flatnce; per-row DV in per_row_dv",
        description="Hölder-mean FlatNCE (gamma = 1 is FlatNCE); reports the InfoNCE value.",
    )
)
