r"""Training claims: what happens when critics are trained, run with the stacked trainer.

All runs go through :func:`mibench.train.train_stack` (via :meth:`ClaimContext.train`), one stack
per claim family, and every decision is a pure function of the tidy results frame
(:mod:`mibench.results.schema` columns), so the decisions are tested on synthetic frames.

Setting (FlatNCE §2/§C in miniature): the Gaussian task with d = 10 and I = 8 nats, far above
log K = log 16 = 2.77; a cosine critic cos(f(x), h(y))/τ with τ = 0.1 (the SimCLR critic of the
paper's experiments; a bounded critic — with an unbounded separable critic FlatNCE's
term-dropping gradient, whose positive pull never saturates, drives the scores off to ±1e7 here);
towers 10→64→64→16; Adam, lr 1e-3; float32.

True-MI proxy: the paper plots the ground-truth MI of the representation, approximated "by
InfoNCE using a very large negative sample pool (100X mini-batch)" (footnote 6). We use the
InfoNCE value of the trained critic on a held-out batch of 64 K = 1024 pairs (the ``eval``
readout's ``infonce_value``), capped at log 1024 = 6.93 nats, far above the values reached; it is
the same number for both objectives, unlike their own estimates.

Seeds and margins: each arm has :data:`LOGK_SEEDS` seeds; comparisons use the standard error of
the per-seed numbers (Welch for two arms) with a margin of :data:`Z_MARGIN` SE. With so few seeds
the SE is itself uncertain (a t-distribution with few degrees of freedom), so 4 SE is a
conservative margin for a PASS, not a calibrated p-value.

References:
    [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mibench.claims.base import ClaimContext, ClaimResult, claim
from mibench.core.interface import RunConfig
from mibench.results import schema

Z_MARGIN = 4.0
WHY_SEEDS = (
    "4 standard errors of the per-seed numbers (Welch SE for a difference of two arms); with few "
    "seeds the SE is itself noisy, so this is a conservative margin, not a calibrated p-value"
)

LOGK_TASK: dict[str, Any] = {"dim": 10, "mi": 8.0}
LOGK_K = 16
LOGK_STEPS = 1500
LOGK_SEEDS = 4
LOGK_EVAL_POINTS = 10
PROXY_BATCH_FACTOR = 64  # held-out batch of 64 K pairs for the true-MI proxy
CRITIC = "cosine"
CRITIC_PARAMS: dict[str, Any] = {"hidden": [64, 64], "embed_dim": 16, "tau": 0.1}
LEARNING_RATE = 1e-3
LOG_EVERY = 10
#: "Saturates near log K": the InfoNCE training estimate, averaged over the last 20 % of steps
#: (the summary window of :data:`mibench.results.schema.EVAL_FRACTION`), reaches 90 % of log K.
SATURATION = 0.9
#: ESS windows (fractions of training): "early" skips the first 10 % (the collapse from the
#: untrained critic's ESS ≈ 1 is not the trend Fig. 6 shows); "late" is the summary window.
EARLY_WINDOW = (0.1, 0.3)
LATE_START = 1.0 - schema.EVAL_FRACTION
#: Proxy windows: "mid" = evaluations in [40 %, 60 %] of training, "final" = the last 20 %.
MID_WINDOW = (0.4, 0.6)

ESS_TARGETS: tuple[float, ...] = (0.25, 0.4)
ESS_SEEDS = 2
ESS_STEPS = 400
#: "Reaches its target": the median ESS over the last 20 % of steps within 10 % of ϱ. Fig. 7 of
#: [1] compares targets 0.05 apart (0.15–0.4); 10 % of ϱ (0.025–0.04) resolves them.
ESS_RELATIVE_TOLERANCE = 0.1
SCHEDULED_ESS = schema.SCHEDULED_ESS
BETA = schema.BETA


def logk_configs(
    estimators: Sequence[str] = ("infonce", "flatnce"), dtype: str = "float32"
) -> list[RunConfig]:
    """The log-K curse stack: ``estimators`` x :data:`LOGK_SEEDS` seeds, in ``dtype``."""
    return [
        RunConfig.make(
            estimator=estimator,
            task="gaussian",
            task_params=LOGK_TASK,
            critic=CRITIC,
            critic_params=CRITIC_PARAMS,
            batch_size=LOGK_K,
            n_steps=LOGK_STEPS,
            lr=LEARNING_RATE,
            seed=seed,
            eval_every=LOGK_STEPS // LOGK_EVAL_POINTS,
            eval_batch_size=PROXY_BATCH_FACTOR * LOGK_K,
            log_every=LOG_EVERY,
            dtype=dtype,
            suite="claims",
        )
        for estimator in estimators
        for seed in range(LOGK_SEEDS)
    ]


def _frame(results: Sequence[Any]) -> pd.DataFrame:
    return pd.concat([r.frame for r in results], ignore_index=True)


def logk_frame(ctx: ClaimContext) -> pd.DataFrame:
    """The log-K curse runs' tidy frame, trained once per context (four claims read it)."""
    key = "training-logk-frame"
    if key not in ctx.cache:
        ctx.cache[key] = _frame(ctx.train(logk_configs()))
    return ctx.cache[key]


def logk_float64_frame(ctx: ClaimContext) -> pd.DataFrame:
    """InfoNCE runs of the log-K setting trained in float64 (a separate stack: dtype is a shape)."""
    key = "training-logk-float64-frame"
    if key not in ctx.cache:
        ctx.cache[key] = _frame(ctx.train(logk_configs(("infonce",), dtype="float64")))
    return ctx.cache[key]


# ------------------------------------------------------------------------------------ helpers
def _window(frame: pd.DataFrame, readout: str, start: float, stop: float) -> pd.DataFrame:
    """Rows of ``readout`` whose step lies in [start, stop) of each run's training length."""
    rows = frame[frame[schema.READOUT] == readout]
    last = rows.groupby(schema.RUN_ID)[schema.STEP].transform("max")
    fraction = rows[schema.STEP] / last.where(last > 0, 1)
    upper = fraction < stop if stop < 1.0 else fraction <= 1.0
    return rows[(fraction >= start) & upper]


def _per_seed(frame: pd.DataFrame, estimator: str, column: str) -> np.ndarray:
    rows = frame[frame[schema.ESTIMATOR] == estimator]
    return rows.groupby(schema.SEED)[column].mean().to_numpy(dtype=float)


def _se(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.inf


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean(a) − mean(b), its Welch standard error)."""
    return float(a.mean() - b.mean()), math.hypot(_se(a), _se(b))


def proxy_windows(frame: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Per estimator, per seed: mean eval proxy in the mid and final windows, and their gain."""
    mid = _window(frame, schema.READOUT_EVAL, *MID_WINDOW)
    final = _window(frame, schema.READOUT_EVAL, LATE_START, 1.0)
    out: dict[str, dict[str, np.ndarray]] = {}
    for estimator in sorted(frame[schema.ESTIMATOR].unique()):
        m = _per_seed(mid, estimator, schema.INFONCE_VALUE)
        f = _per_seed(final, estimator, schema.INFONCE_VALUE)
        out[estimator] = {"mid": m, "final": f, "gain": f - m}
    return out


def _train_log_k(frame: pd.DataFrame) -> float:
    """log K of the training batch (eval rows carry the held-out batch's log size)."""
    return float(frame[frame[schema.READOUT] == schema.READOUT_TRAIN][schema.LOG_K].iloc[0])


def _round(values: np.ndarray | Sequence[float], digits: int = 4) -> list[float]:
    return [round(float(v), digits) for v in values]


# ------------------------------------------------------------------------------ the decisions
def decide_log_k_curse(frame: pd.DataFrame) -> ClaimResult:
    """PASS iff (i) InfoNCE's training estimate over the last 20 % of steps is >= 90 % of log K in
    every seed, (ii) its critic's proxy ends above log K by more than z SE (the cap, not the
    critic, stops the estimate) and (iii) over the second half the FlatNCE critic's proxy gains
    more than InfoNCE's by more than z Welch SE (FlatNCE keeps improving, InfoNCE stagnates)."""
    log_k = _train_log_k(frame)
    true_mi = float(frame[schema.TRUE_MI].iloc[0])
    late = _window(frame, schema.READOUT_TRAIN, LATE_START, 1.0)
    saturation = _per_seed(late, "infonce", schema.ESTIMATE) / log_k
    proxies = proxy_windows(frame)
    nce, flat = proxies["infonce"], proxies["flatnce"]
    above_cap = float(nce["final"].mean() - log_k)
    gain_diff, gain_se = _welch(flat["gain"], nce["gain"])
    checks = {
        "infonce_saturated": bool(np.all(saturation >= SATURATION)),
        "cap_binds": above_cap > Z_MARGIN * _se(nce["final"]),
        "flatnce_gains_more": gain_diff > Z_MARGIN * gain_se,
    }
    return ClaimResult(
        passed=all(checks.values()),
        evidence={
            "true_mi": true_mi,
            "log_k": log_k,
            "seeds": len(saturation),
            "infonce_train_estimate_over_log_k": _round(saturation),
            "infonce_mid_proxy": _round(nce["mid"]),
            "infonce_final_proxy": _round(nce["final"]),
            "flatnce_mid_proxy": _round(flat["mid"]),
            "flatnce_final_proxy": _round(flat["final"]),
            "infonce_second_half_proxy_gain": _round(nce["gain"]),
            "flatnce_second_half_proxy_gain": _round(flat["gain"]),
            "gain_difference": gain_diff,
            "gain_difference_se": gain_se,
            **checks,
        },
        summary=(
            f"I = {true_mi:g} > log K = {log_k:.2f}: InfoNCE's estimate at "
            f"{saturation.mean():.1%} of log K, its critic's proxy {nce['final'].mean():.2f}; "
            f"second-half proxy gain FlatNCE {flat['gain'].mean():+.3f} vs InfoNCE "
            f"{nce['gain'].mean():+.3f} (diff {gain_diff:+.3f} ± {gain_se:.3f})"
        ),
        tolerance=f"estimate >= {SATURATION:.0%} log K; proxy − log K > {Z_MARGIN:g} SE; "
        f"gain difference > {Z_MARGIN:g} SE",
        why=WHY_SEEDS + "; 90 % of log K over the summary window is 'near' the cap",
    )


def decide_small_batch(frame: pd.DataFrame) -> ClaimResult:
    """PASS iff the FlatNCE critic's final proxy exceeds the InfoNCE critic's by > z Welch SE."""
    proxies = proxy_windows(frame)
    nce, flat = proxies["infonce"], proxies["flatnce"]
    diff, se = _welch(flat["final"], nce["final"])
    log_k = _train_log_k(frame)
    return ClaimResult(
        passed=diff > Z_MARGIN * se,
        evidence={
            "true_mi": float(frame[schema.TRUE_MI].iloc[0]),
            "batch_size": int(frame[schema.BATCH_SIZE].iloc[0]),
            "flatnce_final_proxy": _round(flat["final"]),
            "infonce_final_proxy": _round(nce["final"]),
            "difference": diff,
            "difference_se": se,
        },
        summary=(
            f"K = {int(frame[schema.BATCH_SIZE].iloc[0])} (log K = {log_k:.2f}): final proxy "
            f"FlatNCE {flat['final'].mean():.3f} vs InfoNCE {nce['final'].mean():.3f} "
            f"(diff {diff:+.3f} ± {se:.3f})"
        ),
        tolerance=f"difference > {Z_MARGIN:g} Welch SE",
        why=WHY_SEEDS,
    )


def ess_changes(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per estimator, per seed: late-window minus early-window mean training ESS."""
    early = _window(frame, schema.READOUT_TRAIN, *EARLY_WINDOW)
    late = _window(frame, schema.READOUT_TRAIN, LATE_START, 1.0)
    return {
        e: _per_seed(late, e, schema.ESS) - _per_seed(early, e, schema.ESS)
        for e in sorted(frame[schema.ESTIMATOR].unique())
    }


def decide_ess_trajectories(frame: pd.DataFrame) -> ClaimResult:
    """PASS iff InfoNCE's training ESS falls (late − early < −z SE) and FlatNCE's rises (> z SE)."""
    changes = ess_changes(frame)
    nce, flat = changes["infonce"], changes["flatnce"]
    falls = float(nce.mean()) < -Z_MARGIN * _se(nce)
    rises = float(flat.mean()) > Z_MARGIN * _se(flat)
    early = _window(frame, schema.READOUT_TRAIN, *EARLY_WINDOW)
    late = _window(frame, schema.READOUT_TRAIN, LATE_START, 1.0)
    levels = {
        f"{e}_{name}": float(rows[rows[schema.ESTIMATOR] == e][schema.ESS].mean())
        for e in ("infonce", "flatnce")
        for name, rows in (("early_ess", early), ("late_ess", late))
    }
    return ClaimResult(
        passed=falls and rises,
        evidence={
            "infonce_ess_change": _round(nce),
            "flatnce_ess_change": _round(flat),
            "infonce_falls": falls,
            "flatnce_rises": rises,
            "early_window": list(EARLY_WINDOW),
            "late_window": [LATE_START, 1.0],
            **levels,
        },
        summary=(
            f"training ESS early → late: InfoNCE {levels['infonce_early_ess']:.3f} → "
            f"{levels['infonce_late_ess']:.3f} (Δ {nce.mean():+.3f} ± {_se(nce):.3f}), FlatNCE "
            f"{levels['flatnce_early_ess']:.3f} → {levels['flatnce_late_ess']:.3f} "
            f"(Δ {flat.mean():+.3f} ± {_se(flat):.3f})"
        ),
        tolerance=f"InfoNCE Δ < −{Z_MARGIN:g} SE and FlatNCE Δ > +{Z_MARGIN:g} SE (across seeds)",
        why=WHY_SEEDS,
    )


# ----------------------------------------------------------------------------------- claims
@claim(
    id="log-k-curse",
    statement="With I > log K, trained InfoNCE saturates near log K while its critic stagnates, "
    "and a FlatNCE-trained critic keeps improving (true-MI proxy: InfoNCE on a 64K held-out batch).",
    source="FlatNCE [Chen et al. 2021] §2 (Eq. 2), App. C and Fig. 1",
    kind="training",
    uses=("infonce", "flatnce", "gaussian", "cosine", "train_stack"),
    differs_from_paper=(
        "The paper trains SimCLR/FlatCLR ResNets on CIFAR-10 for hundreds of epochs; we train a "
        "bounded cosine critic on a Gaussian for a few thousand steps: InfoNCE's estimate saturates"
        " but its critic keeps improving, and FlatNCE's advantage is a fixed offset rather than a "
        "widening gap."
    ),
)
def log_k_curse(ctx: ClaimContext) -> ClaimResult:
    return decide_log_k_curse(logk_frame(ctx))


@claim(
    id="flatnce-small-batch",
    statement="At a small batch (K = 16, I = 8 nats) the FlatNCE-trained critic ends with a higher "
    "true-MI proxy than the InfoNCE-trained one.",
    source="FlatNCE [Chen et al. 2021] App. C ('Breaking the curse'), Fig. 1 and Fig. 3",
    kind="training",
    uses=("infonce", "flatnce", "gaussian", "cosine", "train_stack"),
)
def flatnce_small_batch(ctx: ClaimContext) -> ClaimResult:
    return decide_small_batch(logk_frame(ctx))


@claim(
    id="ess-trajectories",
    statement="During training InfoNCE's ESS falls while FlatNCE's rises.",
    source="FlatNCE [Chen et al. 2021] App. C ('ESS for monitoring'), Fig. 6",
    kind="training",
    uses=("infonce", "flatnce", "ess", "train_stack"),
    differs_from_paper=(
        "The paper's Fig. 6 is SimCLR on CIFAR-10 with a ResNet encoder; with our cosine critic at "
        "a fixed tau = 0.1 the temperature sets the ESS for both objectives, so both trajectories "
        "stay flat."
    ),
)
def ess_trajectories(ctx: ClaimContext) -> ClaimResult:
    return decide_ess_trajectories(logk_frame(ctx))


def decide_precision(frame32: pd.DataFrame, frame64: pd.DataFrame) -> ClaimResult:
    """PASS iff the float64-trained InfoNCE critic's final proxy exceeds the float32-trained one's
    by more than z Welch SE (precision, not the estimator's bias, limits small-batch InfoNCE)."""
    proxies32 = proxy_windows(frame32)
    nce32 = proxies32["infonce"]["final"]
    nce64 = proxy_windows(frame64)["infonce"]["final"]
    flat32 = proxies32.get("flatnce", {"final": np.array([math.nan])})["final"]
    diff, se = _welch(nce64, nce32)
    late64 = _window(frame64, schema.READOUT_TRAIN, LATE_START, 1.0)
    log_k = _train_log_k(frame64)
    saturation64 = _per_seed(late64, "infonce", schema.ESTIMATE) / log_k
    return ClaimResult(
        passed=diff > Z_MARGIN * se,
        evidence={
            "infonce_float32_final_proxy": _round(nce32),
            "infonce_float64_final_proxy": _round(nce64),
            "flatnce_float32_final_proxy": _round(flat32),
            "difference_64_minus_32": diff,
            "difference_se": se,
            "infonce_float64_train_estimate_over_log_k": _round(saturation64),
        },
        summary=(
            f"final proxy of InfoNCE critics: float64 {nce64.mean():.3f} vs float32 "
            f"{nce32.mean():.3f} (diff {diff:+.3f} ± {se:.3f}; FlatNCE float32 "
            f"{np.nanmean(flat32):.3f}); float64 InfoNCE estimate at {saturation64.mean():.1%} "
            "of log K"
        ),
        tolerance=f"float64 − float32 > {Z_MARGIN:g} Welch SE",
        why=WHY_SEEDS,
    )


@claim(
    id="log-k-curse-precision",
    statement="InfoNCE's small-batch stagnation is a floating-point precision effect: trained in "
    "float64 instead of float32, the InfoNCE critic ends with a higher true-MI proxy.",
    source="FlatNCE [Chen et al. 2021] §1 ('primarily due to floating-point overflow, not "
    "because of the larger bias'), §2",
    kind="training",
    uses=("infonce", "gaussian", "cosine", "train_stack"),
    differs_from_paper=(
        "The paper argues float32 limits InfoNCE near saturation; on our Gaussian task float64 "
        "lifts the true-MI proxy only marginally (below our 4-standard-error threshold), consistent"
        " with the float32-gradient-snr finding."
    ),
)
def log_k_curse_precision(ctx: ClaimContext) -> ClaimResult:
    return decide_precision(logk_frame(ctx), logk_float64_frame(ctx))


# ------------------------------------------------------------------------ ESS scheduling
def ess_schedule_configs(name: str) -> list[RunConfig]:
    """FlatNCE with ESS scheduling: both update directions, :data:`ESS_TARGETS`, :data:`ESS_SEEDS`."""
    from mibench.train.ess_schedule import PRINTED_DIRECTION, STABLE_DIRECTION

    return [
        RunConfig.make(
            estimator=name,
            estimator_params={"target": target, "direction": direction},
            task="gaussian",
            task_params=LOGK_TASK,
            critic=CRITIC,
            critic_params=CRITIC_PARAMS,
            batch_size=LOGK_K,
            n_steps=ESS_STEPS,
            lr=LEARNING_RATE,
            seed=seed,
            eval_every=ESS_STEPS,
            eval_batch_size=LOGK_K,
            log_every=LOG_EVERY,
            suite="claims",
        )
        for direction in (PRINTED_DIRECTION, STABLE_DIRECTION)
        for target in ESS_TARGETS
        for seed in range(ESS_SEEDS)
    ]


def ess_schedule_outcome(frame: pd.DataFrame, configs: Sequence[RunConfig]) -> pd.DataFrame:
    """One row per run: direction, target, the window median of the scheduled ESS, final β."""
    late = _window(frame, schema.READOUT_TRAIN, LATE_START, 1.0)
    rows = []
    for config in configs:
        params = dict(config.estimator_params)
        run = late[late[schema.RUN_ID] == config.cell_hash()]
        rows.append(
            {
                "direction": float(params["direction"]),
                "target": float(params["target"]),
                "seed": config.seed,
                "median_ess": float(run[SCHEDULED_ESS].median()),
                "final_beta": float(run[BETA].iloc[-1]) if len(run) else math.nan,
            }
        )
    outcome = pd.DataFrame(rows)
    outcome["relative_error"] = (outcome["median_ess"] - outcome["target"]).abs() / outcome[
        "target"
    ]
    outcome["reached"] = outcome["relative_error"] <= ESS_RELATIVE_TOLERANCE
    return outcome


def decide_ess_scheduling(outcome: pd.DataFrame) -> ClaimResult:
    """PASS iff every run of Algorithm S2 *as printed* (direction −1) ends with its window-median
    ESS within :data:`ESS_RELATIVE_TOLERANCE` of its target. The stable direction (+1) is reported
    beside it as evidence of what the schedule does with the update's sign flipped."""
    printed = outcome[outcome["direction"] < 0]
    stable = outcome[outcome["direction"] > 0]

    def describe(rows: pd.DataFrame) -> str:
        return ", ".join(
            f"ϱ={t:g}: {g['median_ess'].mean():.3f} (β {g['final_beta'].mean():.3g})"
            for t, g in rows.groupby("target")
        )

    return ClaimResult(
        passed=bool(len(printed)) and bool(printed["reached"].all()),
        evidence={
            "targets": list(ESS_TARGETS),
            "seeds": ESS_SEEDS,
            "steps": ESS_STEPS,
            "printed_median_ess": _round(printed["median_ess"]),
            "printed_final_beta": _round(printed["final_beta"]),
            "printed_reached": [bool(v) for v in printed["reached"]],
            "stable_median_ess": _round(stable["median_ess"]),
            "stable_final_beta": _round(stable["final_beta"]),
            "stable_reached": [bool(v) for v in stable["reached"]],
        },
        summary=(
            f"Alg. S2 as printed: window-median ESS {describe(printed)}; with the update's sign "
            f"flipped: {describe(stable)}"
        ),
        tolerance=f"|median ESS − ϱ| <= {ESS_RELATIVE_TOLERANCE:.0%} of ϱ in every run",
        why="Fig. 7 of the paper compares targets 0.05 apart; 10 % of ϱ resolves them",
    )


@claim(
    id="ess-scheduling-reaches-target",
    statement="ESS scheduling (Algorithm S2: β ← (1 − γ)β if ESS > ϱ else (1 + γ)β, γ = 0.01) holds "
    "the training ESS at its target ϱ.",
    source="FlatNCE [Chen et al. 2021] Algorithm S2, §4, App. C and Fig. 7",
    kind="training",
    uses=("flatnce_ess", "gaussian", "cosine", "train_stack"),
    differs_from_paper=(
        "Algorithm S2 as printed updates the inverse temperature in the direction that lowers the "
        "ESS; the claim is judged on the printed algorithm (it FAILs), and the sign-corrected "
        "update (our training default) reaches the target."
    ),
)
def ess_scheduling_reaches_target(ctx: ClaimContext) -> ClaimResult:
    from mibench.train.ess_schedule import SCHEDULED_FLATNCE, ess_scheduled

    # The scheduled FlatNCE is not a registered estimator: the trainer gets the spec itself.
    scheduled = ess_scheduled(ctx.estimator("flatnce"), name=SCHEDULED_FLATNCE)
    configs = ess_schedule_configs(SCHEDULED_FLATNCE)
    frame = _frame(ctx.train(configs, estimators=[scheduled] * len(configs)))
    return decide_ess_scheduling(ess_schedule_outcome(frame, configs))
