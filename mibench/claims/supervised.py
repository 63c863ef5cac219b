r"""SINCERE claims: its gradient coefficients (Eq. 13–14) and its KL bound (Theorem 3).

Layout ``"labels"`` (see :mod:`mibench.core.interface`): ``scores`` is the ``(..., n, n)`` matrix
G_ti (row t = anchor) and ``labels`` says who shares a class. For anchor t, P_t are its other
class members and N_t the other classes' members.

References:
    [1] Feeney & Hughes, SINCERE: Supervised Information Noise-Contrastive Estimation REvisited,
        2023, arXiv:2309.14277.
    [2] Khosla et al., Supervised Contrastive Learning, 2020, arXiv:2004.11362.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mibench.claims._numeric import ROUNDING_ULPS, Worst, gradient, rounding_tolerance
from mibench.claims.base import ClaimContext, ClaimResult, claim, fmt
from mibench.claims.statistical import WHY_Z, Z_MARGIN, MeanCurve, standard_error

#: Coefficient check: anchors per batch, numbers of classes, temperatures, draws per setting.
COEFFICIENT_SIZES: tuple[int, ...] = (6, 16, 48)
COEFFICIENT_CLASSES: tuple[int, ...] = (2, 3, 8)
COEFFICIENT_TEMPERATURES: tuple[float, ...] = (0.05, 0.1, 0.5)
COEFFICIENT_DRAWS = 32
EMBEDDING_DIM = 8

#: KL bound check: two classes at distance 2 (σ = 1) have KL = 2²/2 = 2 nats exactly; batch sizes
#: n give |N_t| ≈ n/2 from 4 (log 4 < KL: the bound is capped) to 256 (log 256 = 5.5 > KL).
KL_TASK = {"n_classes": 2, "dim": 2, "separation": 2.0, "sigma": 1.0}
KL_SIZES: tuple[tuple[int, int], ...] = ((8, 4096), (32, 1024), (128, 512), (512, 128))
#: Batches scored at once (bounds the (chunk, n, n, C) intermediate at n = 512 to ~70 MB).
KL_CHUNK = 16


def _embeddings_gram(
    generator: torch.Generator, n: int, classes: int, tau: float
) -> tuple[Tensor, Tensor]:
    """Random unit embeddings pulled towards per-class directions (so classes are partly
    separated, as during training), their Gram scores z·z/τ and labels; ``COEFFICIENT_DRAWS``
    draws stacked on the leading axis."""
    R = COEFFICIENT_DRAWS
    labels = torch.randint(classes, (R, n), generator=generator)
    centres = torch.randn(R, classes, EMBEDDING_DIM, generator=generator, dtype=torch.float64)
    z = torch.gather(centres, 1, labels[..., None].expand(R, n, EMBEDDING_DIM))
    z = z + torch.randn(R, n, EMBEDDING_DIM, generator=generator, dtype=torch.float64)
    z = z / z.norm(dim=-1, keepdim=True)
    return z @ z.transpose(-1, -2) / tau, labels


def _anchor_coefficients(loss, scores: Tensor, labels: Tensor) -> Tensor:
    """C_tj = A ∂L/∂G_tj: the loss gradient undone of its mean over the A anchors with a positive.

    With G_tj = z_t·z_j/τ, ∂L_t/∂z_t = (1/τ) Σ_j C_tj z_j, so C_tp is τ times the coefficient on
    z_p in Eq. (13)/(14) of [1].
    """
    same = labels[..., :, None] == labels[..., None, :]
    eye = torch.eye(labels.shape[-1], dtype=torch.bool)
    anchors = (same & ~eye).any(dim=-1).sum(dim=-1).to(scores.dtype)  # (R,)
    return gradient(lambda s: loss(s, labels=labels), scores) * anchors[..., None, None]


@dataclass
class _CoefficientTally:
    """The same-class multipliers of SINCERE and SupCon over every setting checked so far."""

    above_zero: Worst = field(default_factory=Worst)
    below_minus_one: Worst = field(default_factory=Worst)
    helper: Worst = field(default_factory=Worst)
    supcon_range: Worst = field(default_factory=Worst)
    supcon_max: float = -math.inf
    supcon_positive: int = 0
    supcon_pairs: int = 0
    checked: int = 0

    def add(self, label: str, scores: Tensor, labels: Tensor, ctx: ClaimContext) -> None:
        """Eq. (13)-(14) of Feeney & Hughes 2023 on one batch of Gram scores."""
        sincere, supcon = ctx.estimator("sincere"), ctx.estimator("supcon")
        closed_form = ctx.function("sincere_coefficients")
        n = scores.shape[-1]
        tol = rounding_tolerance(scores)[..., None, None].expand_as(scores)
        same = labels[..., :, None] == labels[..., None, :]
        positive = same & ~torch.eye(n, dtype=torch.bool)
        n_pos = positive.sum(dim=-1, keepdim=True).expand_as(scores).to(scores.dtype)
        c_sincere = _anchor_coefficients(sincere.loss, scores, labels)
        c_supcon = _anchor_coefficients(supcon.loss, scores, labels)
        # Eq. (13): g_p's multiplier of z_p is σ_tp − 1 = |P_t| C_tp.
        bracket = (n_pos * c_sincere)[positive]
        self.above_zero.update(label, bracket, tol[positive])
        self.below_minus_one.update(label, -1.0 - bracket, tol[positive])
        # Eq. (14): the multiplier of z_p is π_tp − 1/|P_t| = C_tp.
        multiplier = c_supcon[positive]
        self.supcon_range.update(label, multiplier - (1.0 - 1.0 / n_pos[positive]), tol[positive])
        self.supcon_max = max(self.supcon_max, float(multiplier.max()))
        self.supcon_positive += int((multiplier > tol[positive]).sum())
        self.supcon_pairs += multiplier.numel()
        self.checked += bracket.numel()
        self.helper.update(
            label,
            torch.maximum(
                (closed_form(scores, labels, method="sincere") - c_sincere).abs(),
                (closed_form(scores, labels, method="supcon") - c_supcon).abs(),
            ),
            tol,
        )


@claim(
    id="sincere-coefficient",
    statement="In ∂L_t/∂z_t the multiplier of a same-class z_p is in [−1, 0] for SINCERE (same-class "
    "embeddings always attract), while SupCon's can be positive (same-class repulsion).",
    source="SINCERE [Feeney & Hughes 2023] Eq. (13)–(14), §3.3",
    kind="analytic",
    uses=("sincere", "supcon", "sincere_coefficients"),
)
def sincere_coefficient(ctx: ClaimContext) -> ClaimResult:
    generator = ctx.generator("sincere-coefficient")
    tally = _CoefficientTally()
    for n in COEFFICIENT_SIZES:
        for classes in COEFFICIENT_CLASSES:
            for tau in COEFFICIENT_TEMPERATURES:
                scores, labels = _embeddings_gram(generator, n, classes, tau)
                tally.add(f"n={n} C={classes} τ={tau:g}", scores, labels, ctx)
    above_zero, below_minus_one, helper = tally.above_zero, tally.below_minus_one, tally.helper
    supcon_range, supcon_max = tally.supcon_range, tally.supcon_max
    supcon_positive, supcon_pairs, checked = (
        tally.supcon_positive,
        tally.supcon_pairs,
        tally.checked,
    )
    sincere_ok = above_zero.ok and below_minus_one.ok
    supcon_repels = supcon_positive > 0
    # The closed forms are reported, not required: the loss's softplus linearises above 20
    # (torch's default threshold), an e^-20 = 2e-9 deviation unrelated to the claim.
    passed = sincere_ok and supcon_repels and supcon_range.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "same_class_pairs": checked,
            "sincere_max_multiplier": above_zero.measured,
            "sincere_min_multiplier": -1.0 - below_minus_one.measured,
            "sincere_violations": above_zero.violations + below_minus_one.violations,
            "supcon_max_multiplier": supcon_max,
            "supcon_positive_fraction": supcon_positive / max(supcon_pairs, 1),
            "supcon_above_range_violations": supcon_range.violations,
            "closed_form_max_abs_gap": helper.measured,
        },
        summary=(
            f"{checked} (anchor, same-class) pairs: SINCERE multiplier in "
            f"[{-1.0 - below_minus_one.measured:.4f}, {above_zero.measured:.2e}]; SupCon max "
            f"{supcon_max:.3f}, positive for {supcon_positive / max(supcon_pairs, 1):.1%} of pairs; "
            f"Eq. (13)–(14) closed forms match autograd to {fmt(helper.measured)}"
        ),
        tolerance=f"{ROUNDING_ULPS}·eps·(1 + max|G|) on each bound; SupCon must exceed it somewhere",
        why="coefficients are softmax weights of float64 Gram scores, accurate to a few eps·|G|",
    )


# ================================================================================================
def oracle_sincere_scores(task, x: Tensor, labels: Tensor) -> Tensor:
    r"""``(..., n, n)``: S_ti = log p(x_i | y_t) − log p(x_i | ≠ y_t), the Bayes-optimal critic.

    Prop. 3.1 of [1]: f(x) ∝ p(x|y_t)/p(x|≠t) with the noise density the uniform mixture of the
    other classes; row t (the anchor) fixes the target class y_t.
    """
    log_density = task.class_log_density(x)  # (..., n, C): log p(x_i | c)
    classes = log_density.shape[-1]
    n = labels.shape[-1]
    # index[..., i, t] = y_t, so gathering along the class axis gives [..., i, t] = f(x_i, y_t)
    index = labels[..., None, :].expand(*labels.shape[:-1], n, n)
    eye = torch.eye(classes, dtype=torch.bool)
    others = log_density[..., :, None, :].masked_fill(eye, -math.inf)  # (..., n, C, C')
    noise = torch.logsumexp(others, dim=-1) - math.log(classes - 1)  # log p(x_i | != c)
    ratio = torch.gather(log_density, -1, index) - torch.gather(noise, -1, index)
    return ratio.transpose(-1, -2)


def decide_kl_bound(
    curve: MeanCurve, true_kl: float, truth_se: float, mean_negatives: Sequence[float]
) -> ClaimResult:
    """PASS iff the mean estimate is <= KL + z SE at every batch size (the bound) and rises with
    |N_t| by more than z SE of each difference (it tightens)."""
    means, ses = curve.means, curve.standard_errors
    below = [
        m <= true_kl + Z_MARGIN * math.hypot(s, truth_se) for m, s in zip(means, ses, strict=True)
    ]
    rises = [
        (b - a) > Z_MARGIN * math.hypot(sa, sb)
        for a, b, sa, sb in zip(means, means[1:], ses, ses[1:], strict=False)
    ]
    passed = all(below) and all(rises)
    return ClaimResult(
        passed=passed,
        evidence={
            "true_kl": true_kl,
            "n": curve.sizes,
            "batches": curve.batches,
            "mean_negatives": list(mean_negatives),
            "mean_estimate": means,
            "standard_error": ses,
            "below_kl": below,
            "rises": rises,
        },
        summary=(
            f"KL = {true_kl:g}: log|N_t| − L at mean |N_t| = "
            + ", ".join(f"{m:.0f}" for m in mean_negatives)
            + " is "
            + ", ".join(f"{m:.3f}±{s:.3f}" for m, s in zip(means, ses, strict=True))
        ),
        tolerance=f"estimate <= KL + {Z_MARGIN:g}SE; consecutive rise > {Z_MARGIN:g}SE",
        why=WHY_Z,
    )


@claim(
    id="sincere-kl-bound",
    statement="log|N_t| − L_SINCERE lower-bounds KL(p(x|y_t) ‖ p(x|≠y_t)) and tightens as |N_t| "
    "grows (checked at the Bayes-optimal critic, where the bound is tightest).",
    source="SINCERE [Feeney & Hughes 2023] Theorem 3, Eq. (15), Prop. 3.1",
    kind="statistical",
    uses=("sincere", "labeled_gaussians"),
)
def sincere_kl_bound(ctx: ClaimContext) -> ClaimResult:
    sincere = ctx.estimator("sincere")
    task = ctx.task("labeled_gaussians", **KL_TASK)
    means, ses, negatives = [], [], []
    for n, batches in KL_SIZES:
        batch = task.sample(n * batches, ctx.generator(f"sincere-kl-n{n}"), dtype=torch.float64)
        x = batch.x.reshape(batches, n, -1)
        labels = batch.labels.reshape(batches, n)
        values = torch.cat(
            [
                sincere.value(oracle_sincere_scores(task, xs, ls), labels=ls)
                for xs, ls in zip(x.split(KL_CHUNK), labels.split(KL_CHUNK), strict=True)
            ]
        )
        values = values[values.isfinite()]  # a batch with a single class has no estimate
        means.append(float(values.mean()))
        ses.append(standard_error(values))
        same = labels[:, :, None] == labels[:, None, :]
        negatives.append(float((~same).sum(dim=-1).double().mean()))
    truth_se = float(getattr(task, "kl_standard_error", 0.0))
    curve = MeanCurve([n for n, _ in KL_SIZES], means, ses, [b for _, b in KL_SIZES])
    return decide_kl_bound(curve, task.true_mi(), truth_se, negatives)
