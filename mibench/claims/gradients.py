r"""Gradient claims of the FlatNCE paper, checked with autograd on the project's estimators.

Every identity is checked on all the score families of :mod:`mibench.claims._matrices` in
float64, entry by entry of the gradient with respect to the score matrix S. Equality of
:math:`\partial\mathcal L/\partial S` implies equality of :math:`\nabla_\theta` for any critic
:math:`S = g_\theta`, by the chain rule, so these are the paper's identities for every critic.

The mean over the K rows of a batch is part of every loss (the contract of
:mod:`mibench.estimators`), so the per-row expressions of the paper carry a factor 1/K here.

References:
    [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from mibench.claims._matrices import shared_families
from mibench.claims._numeric import ROUNDING_ULPS, Worst, gradient, rounding_tolerance
from mibench.claims.base import ClaimContext, ClaimResult, claim, fmt
from mibench.core.interface import Estimator
from mibench.estimators._logspace import mask_diag

#: Hölder exponents γ of Prop. S9 (γ = 1 is FlatNCE itself and is checked separately).
HOLDER_GAMMAS: tuple[float, ...] = (0.5, 3.0)
#: Inverse temperatures β of the Prop. S2 remark.
TEMPERATURE_BETAS: tuple[float, ...] = (0.5, 2.0, 4.0)


def _families(ctx: ClaimContext) -> list[tuple[str, Tensor]]:
    return shared_families(ctx.cache, ctx.generator, ctx.task)


def _tolerance_text() -> str:
    return f"every gradient entry within {ROUNDING_ULPS}·eps·(1 + max|S|) (absolute)"


def _why() -> str:
    return (
        "gradient entries are (weight − indicator)/K with weights exp(contrast − lse) in [0, 1]; "
        "a contrast of size |S| carries eps·|S| absolute rounding, hence a relative (and, as "
        f"weights are <= 1, absolute) weight error of a few eps·|S|; {ROUNDING_ULPS} ulps of "
        "(1 + max|S|) bounds it with margin"
    )


def _failed(result: ClaimResult) -> ClaimResult:
    """The same result marked FAIL (a secondary condition of the claim did not hold)."""
    return replace(result, passed=False)


def _max_abs(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).abs().amax(dim=(-2, -1))


def _gradient_result(
    worst: Worst, subject: str, extra: dict[str, float | int | str | list[float]]
) -> ClaimResult:
    return ClaimResult(
        passed=worst.ok,
        evidence={
            "matrices": worst.checked,
            "violations": worst.violations,
            "max_abs_gradient_gap": worst.measured,
            "worst_family": worst.label,
            **extra,
        },
        summary=(
            f"{subject}: max |Δ∂/∂S| = {fmt(worst.measured)} over {worst.checked} matrices "
            f"({worst.violations} above tol, worst {worst.label})"
        ),
        tolerance=_tolerance_text(),
        why=_why(),
    )


@claim(
    id="flatnce-eq12-gradient",
    statement="FlatNCE with the positive in its denominator (Eq. 12) is identically 1 and its "
    "gradient equals the InfoNCE loss gradient for every S.",
    source="FlatNCE [Chen et al. 2021] Eq. (12), Prop. S1 (Eq. 13–16)",
    kind="analytic",
    uses=("infonce", "flatnce_with_positive_loss"),
)
def flatnce_eq12_gradient(ctx: ClaimContext) -> ClaimResult:
    infonce = ctx.estimator("infonce")
    eq12 = ctx.function("flatnce_with_positive_loss")
    worst, flat = Worst(), Worst()
    for label, scores in _families(ctx):
        tol = rounding_tolerance(scores)
        worst.update(label, _max_abs(gradient(eq12, scores), gradient(infonce.loss, scores)), tol)
        flat.update(label, (eq12(scores) - 1.0).abs(), tol)
    result = _gradient_result(
        worst, "∇ Eq.(12) vs ∇ InfoNCE loss", {"max_abs_eq12_minus_one": flat.measured}
    )
    return result if flat.ok else _failed(result)


@claim(
    id="flatnce-term-dropping-gradient",
    statement="The FlatNCE loss (Eq. 3) is identically 1 and its gradient equals the gradient of "
    "term-dropping InfoNCE (the positive removed from the denominator) for every S.",
    source="FlatNCE [Chen et al. 2021] Eq. (3), §3 ('the gradient of FlatNCE equals that of the "
    "term-dropping InfoNCE')",
    kind="analytic",
    uses=("flatnce", "infonce_drop"),
)
def flatnce_term_dropping_gradient(ctx: ClaimContext) -> ClaimResult:
    flatnce, dropping = ctx.estimator("flatnce"), ctx.estimator("infonce_drop")
    worst, flat = Worst(), Worst()
    for label, scores in _families(ctx):
        tol = rounding_tolerance(scores)
        worst.update(
            label, _max_abs(gradient(flatnce.loss, scores), gradient(dropping.loss, scores)), tol
        )
        flat.update(label, (flatnce.loss(scores) - 1.0).abs(), tol)
    result = _gradient_result(
        worst,
        "∇ FlatNCE vs ∇ term-dropping InfoNCE",
        {"max_abs_flatnce_loss_minus_one": flat.measured},
    )
    return result if flat.ok else _failed(result)


@claim(
    id="importance-weight-gradient",
    statement="The InfoNCE loss gradient is the self-normalised importance-weighted form "
    "∂ℓ/∂S_ij = (w_ij − δ_ij)/K with w_ij = softmax_j(S_ij) over all j; FlatNCE's (Eq. 3) is the "
    "same with the weights of Eq. (4), softmax over j ≠ i.",
    source="FlatNCE [Chen et al. 2021] Prop. S2, Eq. (17)–(21); Eq. (4)",
    kind="analytic",
    uses=("infonce", "flatnce", "importance_weights"),
)
def importance_weight_gradient(ctx: ClaimContext) -> ClaimResult:
    infonce, flatnce = ctx.estimator("infonce"), ctx.estimator("flatnce")
    project_weights = ctx.function("importance_weights")
    worst_nce, worst_flat, helper = Worst(), Worst(), Worst()
    vanishing = 0.0
    for label, scores in _families(ctx):
        K = scores.shape[-1]
        tol = rounding_tolerance(scores)
        eye = torch.eye(K, dtype=scores.dtype)
        # The weights exactly as Eq. (17) and Eq. (4) define them.
        weights_all = torch.softmax(scores, dim=-1)
        weights_neg = torch.softmax(mask_diag(scores), dim=-1)
        grad_nce = gradient(infonce.loss, scores)
        grad_flat = gradient(flatnce.loss, scores)
        worst_nce.update(label, _max_abs(grad_nce, (weights_all - eye) / K), tol)
        worst_flat.update(label, _max_abs(grad_flat, (weights_neg - eye) / K), tol)
        # The project's helper (what diagnostics and docs use) must give the same weights.
        helper.update(
            label,
            torch.maximum(
                _max_abs(project_weights(scores, include_positive=True), weights_all),
                _max_abs(project_weights(scores), weights_neg),
            ),
            tol,
        )
        if label.startswith("pos-margin-1000-"):
            vanishing = max(vanishing, float(grad_nce.abs().max()))
    worst = worst_nce if worst_nce.margin >= worst_flat.margin else worst_flat
    passed = worst_nce.ok and worst_flat.ok and helper.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "matrices": worst_nce.checked,
            "infonce_max_abs_gap": worst_nce.measured,
            "infonce_violations": worst_nce.violations,
            "flatnce_max_abs_gap": worst_flat.measured,
            "flatnce_violations": worst_flat.violations,
            "worst_family": worst.label,
            "importance_weights_helper_max_abs_gap": helper.measured,
            "infonce_max_abs_gradient_at_saturation": vanishing,
        },
        summary=(
            f"InfoNCE vs (softmax − δ)/K: {fmt(worst_nce.measured)}; FlatNCE vs Eq.(4) weights: "
            f"{fmt(worst_flat.measured)} over {worst_nce.checked} matrices each; at a 1000-nat "
            f"margin InfoNCE's gradient is {fmt(vanishing)} (w_ii → 1: the signal vanishes)"
        ),
        tolerance=_tolerance_text(),
        why=_why(),
    )


def _gradient_weights(spec: Estimator, scores: Tensor) -> Tensor:
    """The weights w_ij (j != i) read off the loss gradient: K ∂ℓ/∂S_ij = w_ij (Prop. S2)."""
    K = scores.shape[-1]
    eye = torch.eye(K, dtype=torch.bool)
    return (K * gradient(spec.loss, scores)).masked_fill(eye, 0.0)


def _single_hyper(spec: Estimator) -> str:
    if len(spec.hyper) != 1:
        raise ValueError(
            f"estimator {spec.name!r} should have one hyperparameter (the Hölder γ), "
            f"has {sorted(spec.hyper)}"
        )
    return next(iter(spec.hyper))


@claim(
    id="holder-flatnce-gradient",
    statement="Hölder-FlatNCE is annealed FlatNCE: ∇I_γ(g) = (1/γ)∇[FlatNCE(γ·g)] for every γ, "
    "and γ = 1 is FlatNCE itself.",
    source="FlatNCE [Chen et al. 2021] Def. S7–S8, Prop. S9 (Eq. 29–33)",
    kind="analytic",
    uses=("holder_flatnce", "flatnce"),
)
def holder_flatnce_gradient(ctx: ClaimContext) -> ClaimResult:
    holder, flatnce = ctx.estimator("holder_flatnce"), ctx.estimator("flatnce")
    key = _single_hyper(holder)
    worst, at_one = Worst(), Worst()
    for label, scores in _families(ctx):
        for gamma in HOLDER_GAMMAS:
            spec = holder.with_hyper(**{key: gamma})
            annealed = gradient(lambda s, g=gamma: flatnce.loss(g * s), scores) / gamma
            worst.update(
                f"{label} γ={gamma:g}",
                _max_abs(gradient(spec.loss, scores), annealed),
                # the contrasts are scaled by γ, and so is their rounding
                rounding_tolerance(max(gamma, 1.0) * scores),
            )
        one = holder.with_hyper(**{key: 1.0})
        at_one.update(
            label,
            _max_abs(gradient(one.loss, scores), gradient(flatnce.loss, scores)),
            rounding_tolerance(scores),
        )
    result = _gradient_result(
        worst,
        "∇ Hölder_γ vs (1/γ)∇ FlatNCE(γS)",
        {"gammas": list(HOLDER_GAMMAS), "gamma_one_max_abs_gap": at_one.measured},
    )
    return result if at_one.ok else _failed(result)


@claim(
    id="temperature-reweights",
    statement="Scaling the scores by an inverse temperature β re-weights FlatNCE's gradient weights "
    "as w_j(β) = w_j^β / Σ_j' w_j'^β, so a larger β (lower temperature) concentrates them: the "
    "ESS is non-increasing in β.",
    source="FlatNCE [Chen et al. 2021] remark after Prop. S2 (Eq. 17–21)",
    kind="analytic",
    uses=("flatnce", "ess"),
)
def temperature_reweights(ctx: ClaimContext) -> ClaimResult:
    flatnce = ctx.estimator("flatnce")
    worst, monotone = Worst(), Worst()
    betas = sorted((*TEMPERATURE_BETAS, 1.0))
    for label, scores in _families(ctx):
        K = scores.shape[-1]
        if K < 3:  # one negative per row: its weight is 1 at every β
            continue
        base = _gradient_weights(flatnce, scores)
        for beta in TEMPERATURE_BETAS:
            tempered = base.pow(beta)
            expected = tempered / tempered.sum(dim=-1, keepdim=True)
            worst.update(
                f"{label} β={beta:g}",
                _max_abs(_gradient_weights(flatnce, beta * scores), expected),
                rounding_tolerance(max(beta, 1.0) * scores),
            )
        ess = torch.stack([ctx.ess(beta * scores) for beta in betas])  # (B, R)
        rise = (ess[1:] - ess[:-1]).amax(dim=0)  # > 0 would be an increase with β
        monotone.update(label, rise, rounding_tolerance(max(betas) * scores))
    result = _gradient_result(
        worst,
        "K∂ℓ/∂(βS) vs w^β/Σw^β",
        {"betas": list(TEMPERATURE_BETAS), "max_ess_increase_with_beta": monotone.measured},
    )
    return result if monotone.ok else _failed(result)
