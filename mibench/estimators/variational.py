r"""Variational (single-critic, partition-function) MI bounds: DV, MINE, NWJ, TUBA, JS, SMILE, I_α.

Every function reads ``scores`` in the orientation of :mod:`mibench.estimators`
(``scores[..., i, j] = g(x_i, y_j)``; the diagonal holds the K positive pairs, the K(K-1)
off-diagonal entries stand for p(x)p(y)). DV/MINE/NWJ/TUBA/JS/SMILE average the partition term
over **all** off-diagonal entries, so they do not depend on the orientation of S except through
per-sample baselines (TUBA's a(x_i) subtracts from row i). I_α's InfoNCE normaliser
m(y; x_{1:K}) is a mean over x for a fixed y: a **column** reduction here.

Two numbers per estimator (see :class:`mibench.core.interface.Estimator`): the reported ``value`` and
the training ``loss``; they differ for MINE (bias-corrected gradient), JS and SMILE (trained with
the f-GAN Jensen-Shannon objective, read out through NWJ/DV).

References:
    [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152 (Table S2, Eq. (26)).
    [2] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
    [3] Belghazi et al., Mutual Information Neural Estimation, 2018, arXiv:1801.04062.
    [4] Nguyen, Wainwright & Jordan, Estimating divergence functionals and the likelihood ratio
        by convex risk minimization, 2010, arXiv:0809.0853.
    [5] Song & Ermon, Understanding the Limitations of Variational Mutual Information
        Estimators, 2020, arXiv:1910.06222.
    [6] Nowozin et al., f-GAN, 2016, arXiv:1606.00709; Hjelm et al., Deep InfoMax, 2019,
        arXiv:1808.06670.
    [7] Donsker & Varadhan, Asymptotic evaluation of certain Markov process expectations for
        large time IV, 1983.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import softplus

from mibench.core.interface import Estimator
from mibench.estimators._logspace import diag, lme_off, mean_offdiag
from mibench.estimators.contrastive import check_per_sample, check_scores
from mibench.estimators.registry import register

DEFAULT_EMA_RATE = 0.01
DEFAULT_SMILE_CLIP = 5.0
DEFAULT_ALPHA = 0.5


# --------------------------------------------------------------------------------------------
# Donsker-Varadhan and MINE
# --------------------------------------------------------------------------------------------
def dv_lower_bound(scores: Tensor) -> Tensor:
    r"""Donsker–Varadhan bound.

    .. math::  \hat I_{\rm DV} = \frac1K\sum_i S_{ii} - \log\frac1{K(K-1)}\sum_{i\ne j}e^{S_{ij}}

    Implements Eq. (26) of [1] (Table S2; [7]) with the expectation under p(x)p(y) taken over
    all K(K-1) off-diagonal pairs. Invariant to adding a constant to S.

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import dv_lower_bound
        >>> round(float(dv_lower_bound(torch.zeros(4, 4))), 4)  # equal scores: no information
        0.0
        >>> scores = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        >>> round(float(dv_lower_bound(scores)), 4)  # 1 - log-mean-exp of the off-diagonal 0s
        1.0
    """
    check_scores(scores)
    return diag(scores).mean(dim=-1) - lme_off(scores)


def dv_loss(scores: Tensor) -> Tensor:
    """Training loss of DV: ``-dv_lower_bound``."""
    return -dv_lower_bound(scores)


def mine_value(
    scores: Tensor, *, state: Tensor | None = None, ema_rate: float = DEFAULT_EMA_RATE
) -> Tensor:
    """MINE's reported estimate: the DV value (``state`` and ``ema_rate`` only shape the gradient).

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import dv_lower_bound, mine_value
        >>> scores = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        >>> bool(torch.isclose(mine_value(scores), dv_lower_bound(scores)))  # MINE reports the DV value
        True
    """
    return dv_lower_bound(scores)


def _check_ema_rate(ema_rate: float) -> float:
    rate = float(ema_rate)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"ema_rate must lie in (0, 1], got {ema_rate!r}")
    return rate


def mine_next_state(
    scores: Tensor, state: Tensor | None, *, ema_rate: float = DEFAULT_EMA_RATE
) -> Tensor:
    r"""Advance MINE's per-run moving average of the partition function, in log space.

    .. math::  \log\bar Z_t = \log\big((1-r)\,\bar Z_{t-1} + r\,\hat Z_t\big),\qquad
               \hat Z_t = \frac1{K(K-1)}\sum_{i\ne j}e^{S_{ij}}

    computed as logaddexp(log(1-r) + log Z̄_{t-1}, log r + lme_off(S)); ``state=None`` (first
    step) initialises at log Ẑ_1. The result is detached: the average is a constant in the
    loss ([3] §3.2).

    Args:
        scores: ``(..., K, K)``.
        state: ``(...)`` previous log-EMA, or None.
        ema_rate: r in (0, 1].
    Returns:
        ``(...)``, the new log-EMA (detached).
    """
    rate = _check_ema_rate(ema_rate)
    check_scores(scores)
    current = lme_off(scores).detach()
    if state is None:
        return current
    if tuple(state.shape) != tuple(current.shape):
        raise ValueError(
            f"MINE state must have shape {tuple(current.shape)} (scores.shape[:-2]) for scores of "
            f"shape {tuple(scores.shape)}, got {tuple(state.shape)}"
        )
    keep = math.log1p(-rate) if rate < 1.0 else -math.inf
    return torch.logaddexp(state.detach().to(current.dtype) + keep, current + math.log(rate))


def mine_loss(
    scores: Tensor, *, state: Tensor | None = None, ema_rate: float = DEFAULT_EMA_RATE
) -> Tensor:
    r"""MINE loss: value -DV, gradient with the moving-average partition function.

    .. math::  \mathcal L = -\frac1K\sum_i S_{ii} + \mathrm{sg}(\log\hat Z)
               + \frac{\hat Z}{\bar Z} - \mathrm{sg}\Big(\frac{\hat Z}{\bar Z}\Big),\qquad
               \nabla\mathcal L = -\nabla\frac1K\sum_i S_{ii} + \frac{\nabla\hat Z}{\bar Z}

    with Ẑ = mean_{i≠j} e^{S_ij} and Z̄ the moving average returned by :func:`mine_next_state`
    (the trainer calls it on the same scores before the loss, so Z̄ >= r Ẑ and
    Ẑ/Z̄ = exp(lme_off(S) - state) <= 1/r never overflows). Implements the bias-corrected DV
    gradient of [3] §3.2 (the minibatch gradient of log Ẑ, ∇Ẑ/Ẑ, is biased; the EMA replaces its
    denominator). ``state=None`` uses Ẑ itself, i.e. the plain DV gradient. ``ema_rate`` is
    accepted for the spec's signature; the rate acts in :func:`mine_next_state`.

    Args:
        scores: ``(..., K, K)``.
        state: ``(...)`` log Z̄ (detached), or None.
    Returns:
        ``(...)``; equals ``-dv_lower_bound(scores)`` in value.

    References:
        [3] Belghazi et al., MINE, 2018, arXiv:1801.04062, §3.2.
    """
    check_scores(scores)
    log_z = lme_off(scores)
    log_ema = log_z.detach() if state is None else state.detach()
    ratio = torch.exp(log_z - log_ema)
    return -diag(scores).mean(dim=-1) + log_z.detach() + ratio - ratio.detach()


# --------------------------------------------------------------------------------------------
# NWJ, TUBA, JS
# --------------------------------------------------------------------------------------------
def nwj_lower_bound(scores: Tensor) -> Tensor:
    r"""Nguyen–Wainwright–Jordan bound (f-divergence dual of the KL).

    .. math::  \hat I_{\rm NWJ} = \frac1K\sum_i S_{ii} - e^{-1}\,\frac1{K(K-1)}\sum_{i\ne j}e^{S_{ij}}

    Implements the NWJ row of Table S2 of [1] ([4]; [2] §2.2 with the 1/e convention), computed
    as exp(lme_off(S) - 1). Optimal critic S = 1 + log p(x,y)/(p(x)p(y)), where the value is an
    unbiased estimate of I(X;Y).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import nwj_lower_bound
        >>> round(float(nwj_lower_bound(torch.ones(4, 4))), 4)  # S = 1 + log r with r = 1: exactly 0
        0.0
        >>> round(float(nwj_lower_bound(torch.zeros(4, 4))), 4)  # the same critic 1 lower: 0 - 1/e
        -0.3679
    """
    check_scores(scores)
    return diag(scores).mean(dim=-1) - torch.exp(lme_off(scores) - 1.0)


def nwj_loss(scores: Tensor) -> Tensor:
    """Training loss of NWJ: ``-nwj_lower_bound``."""
    return -nwj_lower_bound(scores)


def tuba_lower_bound(scores: Tensor, *, dual: Tensor) -> Tensor:
    r"""TUBA bound with a learned per-x log-baseline a(x_i).

    .. math::  \hat I_{\rm TUBA} = 1 + \frac1K\sum_i (S_{ii} - a_i)
               - \frac1{K(K-1)}\sum_{i\ne j} e^{S_{ij} - a_i}

    Implements I_TUBA of [2] §2.2 (tractable unnormalised Barber–Agakov) with the baseline a
    evaluated on the x sample of each row (row i is x_i, so a_i is subtracted from row i).
    a ≡ 1 gives NWJ; the bound is tight at S = log p(y|x)/p(y) + a(x) for any a.

    Args:
        scores: ``(..., K, K)``, K >= 2.
        dual: ``(..., K)``, a(x_i) (dual_of = "x").
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import nwj_lower_bound, tuba_lower_bound
        >>> scores = torch.ones(4, 4)
        >>> round(float(tuba_lower_bound(scores, dual=torch.ones(4))), 4)  # a = 1 gives NWJ
        0.0
        >>> round(float(nwj_lower_bound(scores)), 4)
        0.0
    """
    check_scores(scores)
    check_per_sample(scores, dual, name="dual")
    shifted = scores - dual.unsqueeze(-1)
    return 1.0 + diag(shifted).mean(dim=-1) - torch.exp(lme_off(shifted))


def tuba_loss(scores: Tensor, *, dual: Tensor) -> Tensor:
    """Training loss of TUBA: ``-tuba_lower_bound``, over both the critic and the baseline."""
    return -tuba_lower_bound(scores, dual=dual)


def js_value(scores: Tensor) -> Tensor:
    r"""MI read out of a Jensen–Shannon-trained critic: NWJ of S + 1.

    .. math::  \hat I = \hat I_{\rm NWJ}(S + 1) = 1 + \frac1K\sum_i S_{ii}
               - \frac1{K(K-1)}\sum_{i\ne j} e^{S_{ij}}

    The JS (f-GAN) discriminator is optimal at S = log p(x,y)/(p(x)p(y)), so S + 1 is NWJ's
    optimal critic ([2] §2.2, "I_JS"). A valid lower bound for every critic (it is NWJ).

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import js_value
        >>> round(float(js_value(torch.zeros(4, 4))), 4)  # NWJ of S + 1 with S = log r = 0
        0.0
    """
    return nwj_lower_bound(scores + 1.0)


def js_loss(scores: Tensor) -> Tensor:
    r"""f-GAN Jensen–Shannon training loss (negated JS lower bound).

    .. math::  \mathcal L_{\rm JS} = \frac1K\sum_i \mathrm{softplus}(-S_{ii})
               + \frac1{K(K-1)}\sum_{i\ne j}\mathrm{softplus}(S_{ij})

    Implements the GAN/JS row of Table 1 of Nowozin et al. [6] as used by [2] §2.2 and Hjelm
    et al. [6]; softplus is evaluated stably by torch, never through exp of a raw score.

    Args:
        scores: ``(..., K, K)``, K >= 2.
    Returns:
        ``(...)``.
    """
    check_scores(scores)
    return softplus(-diag(scores)).mean(dim=-1) + mean_offdiag(softplus(scores))


# --------------------------------------------------------------------------------------------
# SMILE
# --------------------------------------------------------------------------------------------
def smile_value(scores: Tensor, *, clip: float = DEFAULT_SMILE_CLIP) -> Tensor:
    r"""SMILE estimate: DV with the partition function's density ratios clipped to [e^{-τ}, e^τ].

    .. math::  \hat I_{\rm SMILE} = \frac1K\sum_i S_{ii}
               - \log\frac1{K(K-1)}\sum_{i\ne j}e^{\mathrm{clip}(S_{ij},-\tau,\tau)}

    Implements I_SMILE of [5] §4 (clip(e^T, e^{-τ}, e^τ) = e^{clip(T, -τ, τ)}; the positives are not
    clipped). τ = inf gives DV. For finite τ the value is neither a lower nor an upper bound in
    general (clipping lowers large ratios and raises small ones) — a bias/variance trade-off,
    hence ``kind="surrogate"``.

    Args:
        scores: ``(..., K, K)``, K >= 2.
        clip: τ > 0 (``math.inf`` allowed).
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import dv_lower_bound, smile_value
        >>> scores = torch.tensor([[0.0, 9.0, 9.0], [9.0, 0.0, 9.0], [9.0, 9.0, 0.0]])
        >>> round(float(smile_value(scores, clip=5.0)), 4)  # the partition's 9s count as 5
        -5.0
        >>> round(float(dv_lower_bound(scores)), 4)
        -9.0
    """
    check_scores(scores)
    tau = float(clip)
    if not tau > 0.0:
        raise ValueError(f"clip (tau) must be > 0, got {clip!r}")
    return diag(scores).mean(dim=-1) - lme_off(scores.clamp(min=-tau, max=tau))


def smile_loss(scores: Tensor, *, clip: float = DEFAULT_SMILE_CLIP) -> Tensor:
    """SMILE's training loss: the JS loss on the unclipped scores ([5] §4); ``clip`` is unused."""
    return js_loss(scores)


# --------------------------------------------------------------------------------------------
# I_alpha (Poole et al. 2019, Eq. (11))
# --------------------------------------------------------------------------------------------
def log_loo_mean_exp(values: Tensor) -> Tensor:
    r"""Leave-one-out log-mean-exp along the last axis.

    .. math::  \mathrm{out}[..., b, j] = \log\frac1{n-1}\sum_{k\ne j} e^{v_{bk}}

    for ``values`` of shape ``(..., m, n)``. Stable without an (n x n x n) tensor: for j ≠ argmax,
    e^{v_j} <= e^{max} so v_j - lse <= -log 2 and lse + log1p(-e^{v_j - lse}) is well conditioned;
    the argmax entry uses the log-sum-exp of the row with it masked out. (The vbmi notebook's
    softplus-inverse form loses this case when the other terms underflow.)

    Args:
        values: ``(..., m, n)``, n >= 2.
    Returns:
        ``(..., m, n)``.
    """
    n = values.shape[-1]
    lse = torch.logsumexp(values, dim=-1, keepdim=True)
    is_top = torch.zeros_like(values, dtype=torch.bool).scatter(
        -1, values.argmax(dim=-1, keepdim=True), True
    )
    lse_without_top = torch.logsumexp(values.masked_fill(is_top, -math.inf), dim=-1, keepdim=True)
    # The argmax slot gets a dummy gap so the unused branch (and its gradient) stays finite.
    gap = (values - lse).masked_fill(is_top, -math.log(2.0))
    rest = lse + torch.log1p(-torch.exp(gap))
    return torch.where(is_top, lse_without_top, rest) - math.log(n - 1)


def _check_alpha(alpha: float) -> float:
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    return a


def alpha_lower_bound(scores: Tensor, *, dual: Tensor, alpha: float = DEFAULT_ALPHA) -> Tensor:
    r"""Interpolated bound I_α: NWJ/TUBA whose baseline mixes InfoNCE's m(y) with a learned q(y).

    Poole's baseline for a y and a set of x samples is a(y) = α m(y; x_{1:K'}) + (1-α) q(y) with
    m = mean_k e^{g(x_k, y)} — a mean over x for fixed y, i.e. down a **column** of S. In a batch
    each normaliser must use the same number K' = K - 1 of x samples in both terms:

    .. math::  B_{jb} = \log\Big(\alpha\,\frac1{K-1}\sum_{k\ne j}e^{S_{kb}} + (1-\alpha)\,q_b\Big)

    (column b leaving row j out; evaluated as logaddexp(log α + loo-lme, log(1-α) + log q_b)),

    .. math::  \hat I_\alpha = 1 + \frac1{K(K-1)}\sum_{i}\sum_{j\ne i}\big(S_{ii} - B_{ji}\big)
               - \frac1{K(K-1)}\sum_{a\ne b} e^{S_{ab} - B_{bb}}.

    Joint term: the positive (x_i, y_i) with the K-1 x samples {k ≠ j} (which contain x_i),
    averaged over the K-1 choices of j ≠ i. Marginal term: y_b with an x_a, a ≠ b, drawn from the
    set {k ≠ b}, which excludes y_b's own partner and so is independent of y_b, as the bound
    requires. Implements Eq. (11) of [2], re-derived for rows = x from the leave-one-out estimator
    of the authors' vbmi notebook (which stores rows = y).

    Limits: α = 0 is TUBA with the per-y baseline log q (i.e. :func:`tuba_lower_bound` of Sᵀ);
    α = 1 is the leave-one-out InfoNCE with K - 1 candidates (marginal term exactly 1).
    Ceiling: the joint term is at most log(K-1) - log α (m contains the positive) and the marginal
    term is >= 0, so Î_α <= 1 + log(K-1) - log α for α < 1 (approached with a dominant diagonal and
    m_offdiag << q << e^{S_ii}) and <= log(K-1) for α = 1: Poole's 1 + log K - log α with his K
    (the number of x samples per normaliser) equal to K - 1 here.

    Args:
        scores: ``(..., K, K)``, K >= 2.
        dual: ``(..., K)``, log q(y_j) (dual_of = "y").
        alpha: α in [0, 1].
    Returns:
        ``(...)``, nats.

    References:
        [2] Poole et al., On Variational Bounds of Mutual Information, 2019, Eq. (11).

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import alpha_lower_bound
        >>> scores = torch.zeros(4, 4)
        >>> round(float(alpha_lower_bound(scores, dual=torch.zeros(4), alpha=0.5)), 4)
        0.0
    """
    check_scores(scores)
    check_per_sample(scores, dual, name="dual")
    a = _check_alpha(alpha)
    log_alpha = math.log(a) if a > 0.0 else -math.inf
    log_one_minus = math.log1p(-a) if a < 1.0 else -math.inf
    # log_m[..., j, b] = log mean_{k != j} exp(S_kb): leave-one-out down column b.
    log_m = log_loo_mean_exp(scores.transpose(-1, -2)).transpose(-1, -2)
    baseline = torch.logaddexp(log_alpha + log_m, log_one_minus + dual.unsqueeze(-2))
    joint = mean_offdiag(diag(scores).unsqueeze(-2) - baseline)
    marginal = torch.exp(lme_off(scores - diag(baseline).unsqueeze(-2)))
    return 1.0 + joint - marginal


def alpha_loss(scores: Tensor, *, dual: Tensor, alpha: float = DEFAULT_ALPHA) -> Tensor:
    """Training loss of I_α: ``-alpha_lower_bound``, over the critic and the baseline q."""
    return -alpha_lower_bound(scores, dual=dual, alpha=alpha)


def alpha_ceiling(K: int, *, alpha: float = DEFAULT_ALPHA) -> float:
    """Supremum of :func:`alpha_lower_bound` over S and q: 1 + log(K-1) - log α (log(K-1) at α = 1).

    Examples:
        >>> import torch
        >>> from mibench.estimators.variational import alpha_ceiling
        >>> round(alpha_ceiling(64, alpha=0.5), 4)  # 1 + log(K - 1) - log(alpha)
        5.8363
    """
    a = _check_alpha(alpha)
    if K < 2:
        raise ValueError(f"I_alpha needs K >= 2, got K = {K}")
    if a == 1.0:
        return math.log(K - 1)
    if a == 0.0:
        return math.inf
    return 1.0 + math.log(K - 1) - math.log(a)


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------
register(
    Estimator(
        name="dv",
        family="variational",
        value_fn=dv_lower_bound,
        loss_fn=dv_loss,
        citation="Donsker & Varadhan 1983; FlatNCE (Chen et al. 2021) Table S2, Eq. (26)",
        kind="lower_bound",
        readout=(
            "DV bound of the batch (a lower bound on I in the population limit; the batch "
            "log-mean-exp of the partition biases it upward; no cap)"
        ),
        description="mean(diag S) - log mean_{i!=j} exp(S_ij).",
    )
)

register(
    Estimator(
        name="mine",
        family="variational",
        value_fn=mine_value,
        loss_fn=mine_loss,
        citation="Belghazi et al. 2018 (MINE) §3.2 bias-corrected gradient; DV value, Eq. (26) of FlatNCE",
        kind="lower_bound",
        needs=frozenset({"state"}),
        hyper={"ema_rate": DEFAULT_EMA_RATE},
        state_fn=mine_next_state,
        readout="the DV value of the batch, as dv (only MINE's gradient differs)",
        description="DV value; partition gradient divided by a moving average (per-run state).",
    )
)

register(
    Estimator(
        name="nwj",
        family="variational",
        value_fn=nwj_lower_bound,
        loss_fn=nwj_loss,
        citation="Nguyen, Wainwright & Jordan 2010; FlatNCE (Chen et al. 2021) Table S2; Poole et al. 2019 §2.2",
        kind="lower_bound",
        readout="NWJ lower bound (a lower bound on I in expectation for every critic; no cap)",
        description="mean(diag S) - e^-1 mean_{i!=j} exp(S_ij); optimal critic 1 + log ratio.",
    )
)

register(
    Estimator(
        name="tuba",
        family="variational",
        value_fn=tuba_lower_bound,
        loss_fn=tuba_loss,
        citation="Poole et al. 2019 §2.2 (I_TUBA, learned baseline a(x))",
        kind="lower_bound",
        needs=frozenset({"dual"}),
        dual_of="x",
        readout="TUBA lower bound with the learned baseline a(x) (lower bound in expectation; no cap)",
        description="1 + mean(diag S - a) - mean_{i!=j} exp(S_ij - a_i); a = 1 gives NWJ.",
    )
)

register(
    Estimator(
        name="js",
        family="variational",
        value_fn=js_value,
        loss_fn=js_loss,
        citation="Poole et al. 2019 §2.2 (I_JS); Nowozin et al. 2016 Table 1 (JS f-GAN); Hjelm et al. 2019",
        kind="lower_bound",
        readout="NWJ bound of S + 1 (the JS-trained critic read as a log density ratio); lower bound in expectation",
        description="Trained with the f-GAN JS loss; reports NWJ of S + 1.",
    )
)

register(
    Estimator(
        name="smile",
        family="variational",
        value_fn=smile_value,
        loss_fn=smile_loss,
        citation="Song & Ermon 2020 §4 (I_SMILE, clipped density ratio); JS loss of Poole et al. 2019 §2.2",
        kind="surrogate",
        hyper={"clip": DEFAULT_SMILE_CLIP},
        readout=(
            "DV value with the partition's scores clipped to [-clip, clip]: not a bound "
            "(clipping trades bias for variance)"
        ),
        description="DV with exp(clip(S_ij, -tau, tau)) in the partition; trained with the JS loss.",
    )
)

register(
    Estimator(
        name="alpha",
        family="variational",
        value_fn=alpha_lower_bound,
        loss_fn=alpha_loss,
        citation="Poole et al. 2019 Eq. (11) (I_alpha), leave-one-out batch form of the vbmi notebook",
        kind="lower_bound",
        needs=frozenset({"dual"}),
        dual_of="y",
        ceiling_fn=alpha_ceiling,
        hyper={"alpha": DEFAULT_ALPHA},
        readout="Poole et al. I_alpha lower bound; capped at 1 + log(K-1) - log(alpha)",
        description="TUBA/NWJ with baseline alpha*m(y) + (1-alpha)*q(y); alpha=1 is InfoNCE-like.",
    )
)
