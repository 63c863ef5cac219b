r"""Analytic claims: bounds and identities that hold for every score matrix.

Each check evaluates the project's estimators on the families of
:func:`mibench.claims._matrices.score_families` (i.i.d. Gaussian scores of scale 0.1 to 100, a
1e3 offset, dominant positives and dominant hard negatives with margins up to 1e3, constant
scores, negatives at -1e4, and the Gaussian task's oracle critic at 0.5, 4 and 12 nats) for
K in {2, 3, 8, 64}, in float64. The tolerance of every inequality is the float64 rounding budget
of :data:`mibench.claims._numeric.ROUNDING_ULPS`.

References:
    [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152.
    [2] A Guide to InfoNCE and Its Use in SimCLR.
    [3] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
"""

from __future__ import annotations

import math

import torch

from mibench.claims._matrices import shared_families
from mibench.claims._numeric import ROUNDING_ULPS, Worst, gradient, rounding_tolerance
from mibench.claims.base import ClaimContext, ClaimResult, claim, fmt
from mibench.estimators._logspace import diag, lme_off, lme_row_off

#: A dominant diagonal of this margin puts InfoNCE at log K up to log(1 + (K-1)e^-margin),
#: which is 0 in float64 (e^-1000 underflows); the attained value may differ from log K only
#: by rounding.
ATTAIN_MARGIN = 1000.0
#: Dual offsets delta (u = u* + delta) at which the Fenchel gap is checked in closed form.
FENCHEL_OFFSETS: tuple[float, ...] = (-3.0, -1.0, -0.1, 0.1, 1.0, 3.0)
#: NT-Xent check: numbers of pairs N (2N views) and temperatures of the cosine Gram matrix.
NTXENT_PAIRS: tuple[int, ...] = (2, 3, 16)
NTXENT_TEMPERATURES: tuple[float, ...] = (0.05, 0.5, 1.0)
NTXENT_DRAWS = 32


def _families(ctx: ClaimContext) -> list[tuple[str, torch.Tensor]]:
    return shared_families(ctx.cache, ctx.generator, ctx.task)


def _rounding_why() -> str:
    return (
        f"float64 rounding budget: {ROUNDING_ULPS} ulps of the largest |score| of each matrix "
        "(max-subtracted log-sum-exp rows plus means over <= 64 x 64 entries)"
    )


@claim(
    id="infonce-le-log-k",
    statement="InfoNCE <= log K for every score matrix S, and the cap is attained: a dominant "
    "diagonal gives exactly log K.",
    source="FlatNCE [Chen et al. 2021] Eq. (1), Prop. S1 remark (i); InfoNCE guide Eq. (5)",
    kind="analytic",
    uses=("infonce",),
)
def infonce_le_log_k(ctx: ClaimContext) -> ClaimResult:
    spec = ctx.estimator("infonce")
    above = Worst()
    attain = Worst()
    for label, scores in _families(ctx):
        K = scores.shape[-1]
        value = spec.value(scores)
        tol = rounding_tolerance(scores)
        above.update(label, value - math.log(K), tol)
        if label.startswith(f"pos-margin-{ATTAIN_MARGIN:g}-"):
            attain.update(label, (math.log(K) - value).abs(), tol)
    passed = above.ok and attain.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "matrices": above.checked,
            "violations": above.violations,
            "max_value_minus_log_k": above.measured,
            "worst_family": above.label,
            "allowed_excess": above.allowed,
            "attain_max_abs_gap": attain.measured,
            "attain_family": attain.label,
        },
        summary=(
            f"max(Î − log K) = {fmt(above.measured)} over {above.checked} matrices "
            f"({above.violations} above tol, worst {above.label}); |log K − Î| at margin "
            f"{ATTAIN_MARGIN:g} = {fmt(attain.measured)}"
        ),
        tolerance=f"Î − log K <= {ROUNDING_ULPS}·eps·(1+max|S|) (<= {fmt(above.allowed)} at worst)",
        why=_rounding_why(),
    )


@claim(
    id="dv-ge-nwj",
    statement="DV >= NWJ for the same critic S, with equality exactly where the off-diagonal "
    "log-mean-exp of S equals 1 (log t <= t/e).",
    source="FlatNCE [Chen et al. 2021] Table S2, Eq. (26); Poole et al. 2019 §2.2",
    kind="analytic",
    uses=("dv", "nwj"),
)
def dv_ge_nwj(ctx: ClaimContext) -> ClaimResult:
    dv, nwj = ctx.estimator("dv"), ctx.estimator("nwj")
    below = Worst()
    equality = Worst()
    for label, scores in _families(ctx):
        dv_value, nwj_value = dv.value(scores), nwj.value(scores)
        tol = rounding_tolerance(scores)
        # NWJ is -inf where exp(lme_off) overflows (scores ~1e3): DV > -inf still holds.
        below.update(label, nwj_value - dv_value, tol)
        # Shift S so that lme_off(S) = 1: the only point where log t = t/e.
        at_one = scores - lme_off(scores)[..., None, None] + 1.0
        tol_one = rounding_tolerance(at_one)
        equality.update(label, (dv.value(at_one) - nwj.value(at_one)).abs(), tol_one)
    passed = below.ok and equality.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "matrices": below.checked,
            "violations": below.violations,
            "max_nwj_minus_dv": below.measured,
            "worst_family": below.label,
            "equality_max_abs_gap": equality.measured,
            "equality_violations": equality.violations,
        },
        summary=(
            f"max(NWJ − DV) = {fmt(below.measured)} over {below.checked} matrices "
            f"({below.violations} violations); at lme_off(S)=1, max|DV − NWJ| = "
            f"{fmt(equality.measured)}"
        ),
        tolerance=f"NWJ − DV <= {ROUNDING_ULPS}·eps·(1+max|S|); |DV − NWJ| at the equality point "
        "within the same budget",
        why=_rounding_why(),
    )


@claim(
    id="fenchel-equality",
    statement="For every dual u, the FLO value 1 − u_i − mean_{j≠i} exp(−u_i + S_ij − S_ii) is "
    "<= the per-row DV S_ii − lme_{j≠i} S_ij (the Fenchel–Legendre inequality for −log); the gap "
    "at u = u* + δ is exactly mean_i(e^{−δ_i} − 1 + δ_i), so equality holds only at "
    "u* = lme_{j≠i}(S_ij − S_ii).",
    source="FlatNCE [Chen et al. 2021] Lemma S3 Eq. (22), Eq. (27), Prop. S6",
    kind="analytic",
    uses=("flo", "per_row_dv"),
)
def fenchel_equality(ctx: ClaimContext) -> ClaimResult:
    flo, row_dv = ctx.estimator("flo"), ctx.function("per_row_dv")
    gap_error = Worst()
    negative_gap = Worst()
    printed_gaps: list[torch.Tensor] = []
    for label, scores in _families(ctx):
        tol = rounding_tolerance(scores)
        per_row_dv = row_dv(scores)
        u_star = lme_row_off(scores) - diag(scores)
        for delta in (0.0, *FENCHEL_OFFSETS):
            flo_value = flo.value(scores, dual=u_star + delta)
            gap = per_row_dv - flo_value
            expected = math.exp(-delta) - 1.0 + delta
            negative_gap.update(label, -gap, tol)
            gap_error.update(f"{label} δ={delta:g}", (gap - expected).abs(), tol * (1 + expected))
        # Lemma S3 as printed puts the equality at u = mean_j exp(S_ij - S_ii), not its log.
        printed = per_row_dv - flo.value(scores, dual=(lme_row_off(scores) - diag(scores)).exp())
        printed_gaps.append(printed[printed.isfinite()])
    printed_all = torch.cat(printed_gaps)
    printed_median = float(printed_all.median())
    printed_nonzero = float((printed_all > 1e-9).double().mean())
    passed = gap_error.ok and negative_gap.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "matrices_times_duals": gap_error.checked,
            "gap_formula_violations": gap_error.violations,
            "max_gap_formula_error": gap_error.measured,
            "worst_case": gap_error.label,
            "max_negative_gap": negative_gap.measured,
            "deltas": [0.0, *FENCHEL_OFFSETS],
            "lemma_s3_printed_point_median_gap": printed_median,
            "lemma_s3_printed_point_fraction_not_tight": printed_nonzero,
        },
        summary=(
            f"DV − FLO(u*+δ) matches e^−δ − 1 + δ to {fmt(gap_error.measured)} over "
            f"{gap_error.checked} (matrix, δ) cases, min gap {fmt(-negative_gap.measured)}; "
            f"at Lemma S3's printed point u = mean e^(S_ij−S_ii) the gap is > 1e-9 for "
            f"{printed_nonzero:.0%} of matrices (median {fmt(printed_median)}; Eq. 27's log form "
            "is the equality point)"
        ),
        tolerance=f"|gap − (e^−δ − 1 + δ)| <= {ROUNDING_ULPS}·eps·(1+max|S|)·(1 + e^−δ − 1 + δ)",
        why=_rounding_why() + "; scaled by the size of the expected gap",
    )


@claim(
    id="ess-range",
    statement="ESS = 1/(n Σ_j w_j²) lies in [1/n, 1] for n = K − 1 negatives; equal negatives give "
    "1 and one dominant negative gives 1/n.",
    source="FlatNCE [Chen et al. 2021] Eq. (4) (which writes K for the n negatives)",
    kind="analytic",
    uses=("ess",),
)
def ess_range(ctx: ClaimContext) -> ClaimResult:
    low, high, attain_one, attain_floor = Worst(), Worst(), Worst(), Worst()
    for label, scores in _families(ctx):
        K = scores.shape[-1]
        floor = 1.0 / (K - 1)
        ess = ctx.ess(scores)
        tol = rounding_tolerance(scores)
        low.update(label, floor - ess, tol)
        high.update(label, ess - 1.0, tol)
        if label.startswith("constant-"):
            attain_one.update(label, (ess - 1.0).abs(), tol)
        if label.startswith(f"neg-margin-{ATTAIN_MARGIN:g}-"):
            attain_floor.update(label, (ess - floor).abs(), tol)
    passed = low.ok and high.ok and attain_one.ok and attain_floor.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "matrices": low.checked,
            "below_floor_violations": low.violations,
            "above_one_violations": high.violations,
            "max_floor_minus_ess": low.measured,
            "max_ess_minus_one": high.measured,
            "constant_max_abs_ess_minus_one": attain_one.measured,
            "dominant_negative_max_abs_ess_minus_floor": attain_floor.measured,
        },
        summary=(
            f"{low.checked} matrices: max(1/n − ESS) = {fmt(low.measured)}, max(ESS − 1) = "
            f"{fmt(high.measured)}; |ESS − 1| at constant S = {fmt(attain_one.measured)}, "
            f"|ESS − 1/n| at a dominant negative = {fmt(attain_floor.measured)}"
        ),
        tolerance=f"{ROUNDING_ULPS}·eps·(1+max|S|) on each side and at both endpoints",
        why=_rounding_why(),
    )


def _cyclic_candidates(scores: torch.Tensor) -> torch.Tensor:
    """NT-Xent rows as InfoNCE problems: ``(..., 2N, 2N-1, 2N-1)`` with the positive on the diagonal.

    Row i of the ``(..., 2N, 2N)`` views Gram matrix has 2N − 1 candidates (all k ≠ i), the
    positive being k = (i + N) mod 2N. Put the positive first, then build the circulant matrix of
    that candidate vector, whose every row has the positive on the diagonal: InfoNCE of it is the
    InfoNCE term of row i with K = 2N − 1.
    """
    two_n = scores.shape[-1]
    n = two_n // 2
    rows = torch.arange(two_n)
    positive = (rows + n) % two_n
    others = torch.stack(
        [torch.tensor([k for k in range(two_n) if k not in (i, int(positive[i]))]) for i in rows]
    )
    order = torch.cat([positive[:, None], others], dim=1)  # (2N, 2N-1)
    candidates = torch.gather(scores, -1, order.expand(*scores.shape[:-1], two_n - 1))
    k = two_n - 1
    shift = (torch.arange(k)[None, :] - torch.arange(k)[:, None]) % k  # circulant index
    return candidates[..., shift]  # (..., 2N, K, K): [r, c] = cand[(c - r) mod K]


@claim(
    id="ntxent-eq-infonce",
    statement="The SimCLR NT-Xent value on 2N views equals InfoNCE with K = 2N − 1 candidates per "
    "anchor (positive + 2N − 2 negatives, self-similarity excluded), averaged over the 2N anchors; "
    "the gradients of the two losses agree.",
    source="InfoNCE guide Eq. (9)–(10) and §4 ('InfoNCE with K = 2N − 1')",
    kind="analytic",
    uses=("ntxent", "infonce"),
)
def ntxent_eq_infonce(ctx: ClaimContext) -> ClaimResult:
    ntxent, infonce = ctx.estimator("ntxent"), ctx.estimator("infonce")
    gen = ctx.generator("ntxent-eq-infonce")
    value_gap, grad_gap = Worst(), Worst()
    for n in NTXENT_PAIRS:
        for tau in NTXENT_TEMPERATURES:
            z = torch.randn(NTXENT_DRAWS, 2 * n, 8, generator=gen, dtype=torch.float64)
            z = z / z.norm(dim=-1, keepdim=True)
            scores = z @ z.transpose(-1, -2) / tau
            label = f"N={n} tau={tau:g}"

            def reference(s: torch.Tensor) -> torch.Tensor:
                return infonce.value(_cyclic_candidates(s)).mean(dim=-1)

            tol = rounding_tolerance(scores)
            value_gap.update(label, (ntxent.value(scores) - reference(scores)).abs(), tol)
            grad_nt = gradient(ntxent.loss, scores)
            grad_ref = gradient(lambda s: -reference(s), scores)
            grad_gap.update(label, (grad_nt - grad_ref).abs().amax(dim=(-2, -1)), tol)
    passed = value_gap.ok and grad_gap.ok
    return ClaimResult(
        passed=passed,
        evidence={
            "matrices": value_gap.checked,
            "max_abs_value_gap": value_gap.measured,
            "worst_case": value_gap.label,
            "max_abs_gradient_gap": grad_gap.measured,
            "pairs_n": list(NTXENT_PAIRS),
            "temperatures": list(NTXENT_TEMPERATURES),
        },
        summary=(
            f"|NT-Xent − InfoNCE(K=2N−1)| <= {fmt(value_gap.measured)}, gradient gap "
            f"<= {fmt(grad_gap.measured)} over {value_gap.checked} Gram matrices "
            f"(N in {list(NTXENT_PAIRS)}, τ in {list(NTXENT_TEMPERATURES)})"
        ),
        tolerance=f"{ROUNDING_ULPS}·eps·(1+max|S|) for the value and every gradient entry",
        why=_rounding_why(),
    )
