r"""f-MICL: variational lower bounds on f-mutual information, one table row per f.

For a convex generator f with f(1) = 0, its derivative f′ and Fenchel conjugate
f*(t) = sup_u (t u − f(u)), the f-mutual information is the f-divergence from the product of
marginals q = p(x)p(y) to the joint p = p(x, y) (Definition 1 of [1]), and every critic T gives
a lower bound (Nguyen–Wainwright–Jordan [3]; its maximiser is Lemma 1 of [1]):

.. math::  I_f(X;Y) = \mathbb E_q\big[f(r)\big] \;\ge\; \mathbb E_p[T] - \mathbb E_q[f^*(T)],
           \qquad r = \frac{p(x,y)}{p(x)p(y)},

with equality at T = f′(r). f-MICL parameterises the critic through a density-ratio estimate,
T = f′(e^S), so the score S is an estimate of log r whatever f is. On a batch (positives on the
diagonal, the K(K−1) off-diagonal pairs standing for q; see :mod:`mibench.estimators`):

.. math::  \hat I_f(S) = \frac1K\sum_i f'\!\big(e^{S_{ii}}\big)
           - \frac1{K(K-1)}\sum_{i\ne j} f^*\!\big(f'(e^{S_{ij}})\big).

Every f used here makes both f′(e^S) and f*(f′(e^S)) an *exp-linear* function of S,
c + a·S + b(S) + Σ_k w_k e^{β_k S} with b bounded-slope (softplus), so the batch means are
computed from log-mean-exps and only the final signed sum of a few ``exp(log-mean)`` terms is
exponentiated (a stable signed log-sum-exp). Where that sum exceeds the floating-point range the
result is honestly ±inf: e.g. the Pearson bound at S = 1e3 is −e^{2000}, which no float holds.

The table (one row per f; the seed summary of [1] lacks its table, so f, f′, f* are derived here
from the standard definitions, in the conventions of Table 2 of [2]), each row as
f(u) | f′(u) | f*(t) | critic term f′(e^S) | conjugate term f*(f′(e^S)):

* ``kl``: u log u | 1 + log u | e^{t−1} | 1 + S | e^S
* ``js``: u log u − (u+1) log((u+1)/2) | log(2u/(1+u)) | −log(2 − e^t) |
  log 2 − softplus(−S) | softplus(S) − log 2
* ``pearson`` (χ²): (u − 1)² | 2(u − 1) | t²/4 + t | 2e^S − 2 | e^{2S} − 1
* ``sqhellinger``: (√u − 1)² | 1 − u^{−1/2} | t/(1 − t), t < 1 | 1 − e^{−S/2} | e^{S/2} − 1
* ``tsallis`` (α > 0, α ≠ 1): (u^α − u)/(α − 1) | (αu^{α−1} − 1)/(α − 1) |
  (((α−1)t + 1)/α)^{α/(α−1)} | (αe^{(α−1)S} − 1)/(α − 1) | e^{αS}

The last column follows from the Fenchel–Young equality f*(f′(u)) = u f′(u) − f(u). Notes:
``kl`` is the NWJ bound of the critic S + 1 and I_KL = I(X;Y); the ``js`` generator gives twice
the Jensen–Shannon divergence (range [0, 2 log 2]) and its critic term is the f-GAN/Poole et al.
JS objective; ``tsallis`` (α > 0, α ≠ 1) tends to ``kl`` as α → 1 and equals ``pearson`` at α = 2
(the generators differ by u − 1, which integrates to 0 under q).

What is reported: ``fmicl_<name>.value`` is the MI read from the trained score as a log density
ratio — the NWJ estimate of the critic S + 1, i.e. the ``kl`` row of this table (the same reading
as ``js``, Poole et al. 2019) — and ``extras`` returns ``{"f_value": Î_f(S)}``, the f-MI bound
itself, so the runner records both. Training minimises −Î_f.

References:
    [1] Lu, Zhang, Sun, Guo, Yu, f-MICL: Understanding and Generalizing InfoNCE-based Contrastive
        Learning, 2023: Definition 1, Lemma 1, the
        objective with f′ and f* (their Fig. 2) and the table of f-divergences.
    [2] Nowozin, Cseke, Tomioka, f-GAN: Training Generative Neural Samplers using Variational
        Divergence Minimization, 2016, arXiv:1606.00709, Table 2.
    [3] Nguyen, Wainwright, Jordan, Estimating divergence functionals and the likelihood ratio
        by convex risk minimization, 2010, arXiv:0809.0853.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.nn.functional import softplus

from mibench.core.interface import Estimator
from mibench.estimators._logspace import diag, lme_off, mean_offdiag
from mibench.estimators.registry import register

LOG2 = math.log(2.0)

DEFAULT_TSALLIS_ALPHA = 1.5
"""Default Tsallis order: strictly between the KL (α → 1) and Pearson χ² (α = 2) members."""

FAMILY = "f_divergence"
CITATION = "Lu et al. 2023 (f-MICL) Lemma 1 & table of f; f-GAN (Nowozin et al. 2016) Table 2"


@dataclass(frozen=True)
class ExpLinear:
    r"""A function of the score written as c + a·S + b(S) + Σ_k w_k e^{β_k S}.

    ``exponentials`` holds the pairs (w_k, β_k); ``bounded`` is an elementwise function that
    grows at most linearly (softplus), so it never overflows. This form lets batch means be taken
    in log space: mean e^{βS} = exp(logmeanexp(βS)).
    """

    constant: float = 0.0
    slope: float = 0.0
    exponentials: tuple[tuple[float, float], ...] = ()
    bounded: Callable[[Tensor], Tensor] | None = None

    def __call__(self, scores: Tensor) -> Tensor:
        """Elementwise value (direct, not overflow-safe; used to check the table)."""
        out = self.constant + self.slope * scores
        if self.bounded is not None:
            out = out + self.bounded(scores)
        for weight, rate in self.exponentials:
            out = out + weight * torch.exp(rate * scores)
        return out


@dataclass(frozen=True)
class FDivergence:
    r"""One row of the f-MICL table: the generator and its critic/conjugate terms in score space.

    ``generator``, ``derivative`` and ``conjugate`` are f, f′ and f* as functions of a tensor
    (u or t); ``critic_term(**hyper)`` is f′(e^S) and ``conjugate_term(**hyper)`` is
    f*(f′(e^S)), both as :class:`ExpLinear`. ``hyper`` holds the default hyperparameters and
    ``check_hyper`` validates them (raising ``ValueError`` naming the bad value).
    """

    name: str
    generator: Callable[..., Tensor]
    derivative: Callable[..., Tensor]
    conjugate: Callable[..., Tensor]
    critic_term: Callable[..., ExpLinear]
    conjugate_term: Callable[..., ExpLinear]
    description: str
    hyper: Mapping[str, float] = field(default_factory=dict)
    check_hyper: Callable[..., None] | None = None

    def validate(self, hyper: Mapping[str, Any]) -> dict[str, float]:
        """``hyper`` checked against this row's hyperparameters (unknown names are an error)."""
        unknown = sorted(set(hyper) - set(self.hyper))
        if unknown:
            valid = ", ".join(sorted(self.hyper)) or "(none)"
            raise ValueError(
                f"f-divergence {self.name!r} has no hyperparameter {unknown[0]!r}; valid: {valid}"
            )
        values = {**self.hyper, **hyper}
        if self.check_hyper is not None:
            self.check_hyper(**values)
        return values


def _check_tsallis(alpha: float) -> None:
    if not (isinstance(alpha, int | float) and math.isfinite(alpha) and alpha > 0 and alpha != 1):
        raise ValueError(
            f"tsallis alpha must be a number > 0 and != 1 (alpha = 1 is fmicl_kl), got {alpha!r}"
        )


def _neg_softplus_neg(scores: Tensor) -> Tensor:
    return -softplus(-scores)


F_DIVERGENCES: dict[str, FDivergence] = {
    row.name: row
    for row in (
        FDivergence(
            name="kl",
            generator=lambda u: torch.special.xlogy(u, u),
            derivative=lambda u: 1.0 + torch.log(u),
            conjugate=lambda t: torch.exp(t - 1.0),
            critic_term=lambda: ExpLinear(constant=1.0, slope=1.0),
            conjugate_term=lambda: ExpLinear(exponentials=((1.0, 1.0),)),
            description="Kullback-Leibler: I_f = I(X;Y); the bound is NWJ of S + 1",
        ),
        FDivergence(
            name="js",
            generator=lambda u: torch.special.xlogy(u, u) - (u + 1.0) * torch.log((u + 1.0) / 2.0),
            derivative=lambda u: torch.log(2.0 * u / (1.0 + u)),
            conjugate=lambda t: -torch.log(2.0 - torch.exp(t)),
            critic_term=lambda: ExpLinear(constant=LOG2, bounded=_neg_softplus_neg),
            conjugate_term=lambda: ExpLinear(constant=-LOG2, bounded=softplus),
            description="Jensen-Shannon (f-GAN convention): I_f = 2 JSD in [0, 2 log 2]",
        ),
        FDivergence(
            name="pearson",
            generator=lambda u: (u - 1.0) ** 2,
            derivative=lambda u: 2.0 * (u - 1.0),
            conjugate=lambda t: t * t / 4.0 + t,
            critic_term=lambda: ExpLinear(constant=-2.0, exponentials=((2.0, 1.0),)),
            conjugate_term=lambda: ExpLinear(constant=-1.0, exponentials=((1.0, 2.0),)),
            description="Pearson chi^2: I_f = E_q[r^2] - 1",
        ),
        FDivergence(
            name="sqhellinger",
            generator=lambda u: (torch.sqrt(u) - 1.0) ** 2,
            derivative=lambda u: 1.0 - torch.rsqrt(u),
            conjugate=lambda t: t / (1.0 - t),
            critic_term=lambda: ExpLinear(constant=1.0, exponentials=((-1.0, -0.5),)),
            conjugate_term=lambda: ExpLinear(constant=-1.0, exponentials=((1.0, 0.5),)),
            description="squared Hellinger: I_f = 2 - 2 E_q[sqrt r] in [0, 2]",
        ),
        FDivergence(
            name="tsallis",
            generator=lambda u, alpha: (u**alpha - u) / (alpha - 1.0),
            derivative=lambda u, alpha: (alpha * u ** (alpha - 1.0) - 1.0) / (alpha - 1.0),
            conjugate=lambda t, alpha: (
                (((alpha - 1.0) * t + 1.0) / alpha) ** (alpha / (alpha - 1.0))
            ),
            critic_term=lambda alpha: ExpLinear(
                constant=-1.0 / (alpha - 1.0), exponentials=((alpha / (alpha - 1.0), alpha - 1.0),)
            ),
            conjugate_term=lambda alpha: ExpLinear(exponentials=((1.0, alpha),)),
            description="Tsallis-alpha: I_f = (E_q[r^alpha] - 1)/(alpha - 1); alpha=2 is Pearson",
            hyper={"alpha": DEFAULT_TSALLIS_ALPHA},
            check_hyper=_check_tsallis,
        ),
    )
}
"""The f-MICL table; adding an f is one row here (it is registered as ``fmicl_<name>``)."""


_OVERFLOW_REASON = (
    "value (NWJ of S + 1) contains -mean_{i!=j} exp(S_ij), which is -inf in floating point once an "
    "off-diagonal score exceeds log(float max) (~709 in float64, ~88 in float32): the true value "
    "is below -e^709 there, not a numerical failure"
)
_F_VALUE_OVERFLOW = (
    "; extras()['f_value'] likewise: its terms mean exp(beta S) (beta = the row's rates, negative "
    "on the diagonal for sqhellinger and tsallis with alpha < 1) overflow once |beta S| > ~709"
)

UNBOUNDED_AT_LARGE_SCORES: dict[str, str] = {
    f"fmicl_{name}": _OVERFLOW_REASON + ("" if name == "js" else _F_VALUE_OVERFLOW)
    for name in F_DIVERGENCES
}
"""Estimators of this module whose value is honestly ±inf at scores of magnitude 1e3, with why.

Generic finiteness checks (tests/estimators/test_common.py) should skip these names there and may
quote the reason. Only ``fmicl_js``'s ``f_value`` stays finite for every finite S (softplus terms).
"""


def _resolve(divergence: str | FDivergence) -> FDivergence:
    if isinstance(divergence, FDivergence):
        return divergence
    try:
        return F_DIVERGENCES[divergence]
    except KeyError:
        valid = ", ".join(F_DIVERGENCES)
        raise ValueError(f"unknown f-divergence {divergence!r}; valid choices: {valid}") from None


def _check_square(scores: Tensor) -> None:
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2] or scores.shape[-1] < 2:
        raise ValueError(
            f"scores must have shape (..., K, K) with K >= 2, got {tuple(scores.shape)}"
        )


def _log_mean_exp(values: Tensor) -> Tensor:
    """log mean_k exp(values_k) over the last axis (the K positive-pair scores)."""
    return torch.logsumexp(values, dim=-1) - math.log(values.shape[-1])


def _signed_exp_sum(terms: list[tuple[float, Tensor]]) -> Tensor:
    r"""Σ_k w_k exp(L_k) for Python weights w_k and log-magnitudes L_k of shape ``(...)``.

    Computed as e^M · Σ_k w_k e^{L_k − M} with M = max_k L_k (detached: the sum does not depend on
    it), so the inner sum is bounded by Σ|w_k| and the only overflow left is e^M itself, which
    happens exactly when the true magnitude is beyond the float range.
    """
    logs = torch.stack([log_mean for _, log_mean in terms], dim=-1)
    weights = torch.tensor([w for w, _ in terms], dtype=logs.dtype, device=logs.device)
    shift = logs.detach().amax(dim=-1, keepdim=True)
    inner = (weights * torch.exp(logs - shift)).sum(dim=-1)
    return inner * torch.exp(shift.squeeze(-1))


def f_lower_bound(scores: Tensor, *, divergence: str | FDivergence, **hyper: float) -> Tensor:
    r"""The f-MICL variational lower bound on the f-mutual information.

    .. math::  \hat I_f(S) = \frac1K\sum_i f'\!\big(e^{S_{ii}}\big)
               - \frac1{K(K-1)}\sum_{i\ne j} f^*\!\big(f'(e^{S_{ij}})\big)
               \;\le\; I_f(X;Y) \text{ in expectation over batches},

    with equality in expectation at S = log p(x,y)/(p(x)p(y)). Implements the sample objective
    of [1] (their Fig. 2: f′ on positive pairs minus f*∘f′ on negative pairs, with the similarity
    s = e^S; the paper's summary numbers no equations), maximised at S = log r (Lemma 1 of [1]), with
    the off-diagonal entries as the product-of-marginals samples and f-MICL's negative-term
    weight fixed at 1 (the value that keeps it a bound). f′ and f* come from the row
    ``divergence`` of :data:`F_DIVERGENCES` (derived from [2], Table 2; see the module
    docstring). Exponential terms are batch-averaged in log space.

    Args:
        scores: ``(..., K, K)``, see :mod:`mibench.estimators`; S estimates log r.
        divergence: a name in :data:`F_DIVERGENCES` (``kl``, ``js``, ``pearson``, ``sqhellinger``,
            ``tsallis``) or a row.
        **hyper: the row's hyperparameters (``alpha`` for ``tsallis``, default
            :data:`DEFAULT_TSALLIS_ALPHA`).
    Returns:
        ``(...)``, in the units of I_f (nats for ``kl``); ±inf only where the true value is
        beyond the float range (see :data:`UNBOUNDED_AT_LARGE_SCORES`).

    References:
        [1] Lu et al., f-MICL, 2023. [2] Nowozin et al., f-GAN, 2016, arXiv:1606.00709.

    Examples:
        >>> import torch
        >>> from mibench.estimators.fdiv import f_lower_bound
        >>> round(float(f_lower_bound(torch.zeros(4, 4), divergence='kl')), 4)  # independence
        0.0
    """
    _check_square(scores)
    row = _resolve(divergence)
    params = row.validate(hyper)
    critic, conjugate = row.critic_term(**params), row.conjugate_term(**params)
    positives = diag(scores)
    out = torch.full(
        scores.shape[:-2],
        critic.constant - conjugate.constant,
        dtype=scores.dtype,
        device=scores.device,
    )
    if critic.slope:
        out = out + critic.slope * positives.mean(dim=-1)
    if conjugate.slope:
        out = out - conjugate.slope * mean_offdiag(scores)
    if critic.bounded is not None:
        out = out + critic.bounded(positives).mean(dim=-1)
    if conjugate.bounded is not None:
        out = out - mean_offdiag(conjugate.bounded(scores))

    # mean_i w e^{βS_ii} = w·exp(logmeanexp(βS_ii)); mean_{i≠j} likewise with lme_off, sign flipped.
    terms = [(w, _log_mean_exp(rate * positives)) for w, rate in critic.exponentials]
    terms += [(-w, lme_off(rate * scores)) for w, rate in conjugate.exponentials]
    if terms:
        out = out + _signed_exp_sum(terms)
    return out


def f_loss(scores: Tensor, *, divergence: str | FDivergence, **hyper: float) -> Tensor:
    """Training loss of f-MICL: −Î_f (see :func:`f_lower_bound`)."""
    return -f_lower_bound(scores, divergence=divergence, **hyper)


def log_ratio_mi_estimate(scores: Tensor) -> Tensor:
    r"""MI read from a score that estimates the log density ratio: NWJ of the critic S + 1.

    .. math::  \hat I(S) = 1 + \frac1K\sum_i S_{ii} - \frac1{K(K-1)}\sum_{i\ne j} e^{S_{ij}}
               = \hat I_{\rm KL}(S)

    The NWJ bound [3] at the critic T = S + 1 (its optimum when S = log r), which is the ``kl``
    row of the f-MICL table; the reading Poole et al. use for a JS-trained critic.

    Args:
        scores: ``(..., K, K)``.
    Returns:
        ``(...)``, nats; −inf once an off-diagonal score exceeds log(float max).

    References:
        [3] Nguyen, Wainwright, Jordan, 2010, arXiv:0809.0853; Poole et al., On Variational
            Bounds of Mutual Information, 2019, arXiv:1905.06922.

    Examples:
        >>> import torch
        >>> from mibench.estimators.fdiv import log_ratio_mi_estimate
        >>> round(float(log_ratio_mi_estimate(torch.zeros(4, 4))), 4)
        0.0
    """
    return f_lower_bound(scores, divergence="kl")


def _bind(row: FDivergence) -> Estimator:
    """The registry entry ``fmicl_<row.name>``: value = log-ratio MI reading, loss = −Î_f."""

    def value(scores: Tensor, **hyper: float) -> Tensor:
        row.validate(hyper)
        return log_ratio_mi_estimate(scores)

    def loss(scores: Tensor, **hyper: float) -> Tensor:
        return f_loss(scores, divergence=row, **hyper)

    def extras(scores: Tensor, **hyper: float) -> dict[str, Tensor]:
        return {"f_value": f_lower_bound(scores, divergence=row, **hyper)}

    name = f"fmicl_{row.name}"
    value.__name__, loss.__name__, extras.__name__ = (
        f"{name}_value",
        f"{name}_loss",
        f"{name}_extras",
    )
    value.__doc__ = f"{name}: MI of S read as a log density ratio (:func:`log_ratio_mi_estimate`)."
    loss.__doc__ = f"{name}: training loss −Î_f with f = {row.name} (:func:`f_lower_bound`)."
    extras.__doc__ = (
        f"{name}: ``{{'f_value': Î_f(S)}}`` with f = {row.name} (:func:`f_lower_bound`)."
    )
    return Estimator(
        name=name,
        family=FAMILY,
        value_fn=value,
        loss_fn=loss,
        citation=CITATION,
        kind="f_bound",
        hyper=dict(row.hyper),
        extras_fn=extras,
        f_information=row.name,
        readout=(
            "NWJ bound of S + 1 (the critic read as a log density ratio, as js); the f-MI lower "
            "bound of the f-MICL paper is the f_value column"
        ),
        description=f"{row.description}; value = NWJ of S + 1, extras f_value = f-MI bound.",
    )


for _row in F_DIVERGENCES.values():
    register(_bind(_row))
