"""Song & Ermon (2020), Understanding the Limitations of Variational MI Estimators, Fig. 1-2.

The setting of their code (demo.ipynb, utils.py): the Poole et al. staircase, d = 20,
2 -> 10 nats, 4 000 steps per level, K = 64, Adam lr 5e-4, one seed, on the Gaussian (Fig. 1 top)
and its cubic transform y -> y^3 (bottom); their ``mlp(layers=2)`` has three hidden layers of
256 (one input layer and two more), separable (embedding 32) and joint critics. Estimators:
InfoNCE (their CPC), NWJ, JS (JS-trained critic read with NWJ), MINE (their momentum 0.9, an EMA
rate of 0.1) and SMILE with τ ∈ {1, 5, ∞} (τ = ∞ is DV read on a JS-trained critic).

Fig. 1: the staircase panels (raw faint, EMA span 200 bold, one colour per critic). Fig. 2: bias,
variance and MSE of each estimator per level, Gaussian and cubic; computed here over the last
1/8 of each level (500 of 4 000 steps, CLUB's window; their code does not ship the Fig. 2 script).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mibench.plan.suite import Suite
from mibench.reproduce.base import FULL, QUICK, Budget, Difference, Readings, Reproduction, Verdict
from mibench.reproduce.figures import bias_variance_panels, staircase_panels
from mibench.reproduce.levels import WINDOW_FRACTION
from mibench.reproduce.staircases import (
    LEVELS,
    LOG_K,
    critics_of,
    span_of,
    staircase_suite,
    staircase_task,
    stats_of,
    task_label,
)
from mibench.reproduce.verdicts import compare, fmt, numeric, pick, qualitative

NAME = "song_ermon2020"
SOURCE = (
    "Song & Ermon 2020, Understanding the Limitations of Variational Mutual Information "
    "Estimators, ICLR 2020, arXiv:1910.06222, Fig. 1-2"
)
TAUS = (1.0, 5.0, math.inf)
HIDDEN = [256, 256, 256]
CRITICS: dict[str, dict[str, Any]] = {
    "separable": {"hidden": HIDDEN, "embed_dim": 32},
    "concat": {"hidden": HIDDEN},
}
MINE_EMA_RATE = 0.1  # their mine_lower_bound: buffer * 0.9 + update * 0.1
LABELS = {"infonce": "InfoNCE", "nwj": "NWJ", "js": "JS", "mine": "MINE"}
PANELS = ("InfoNCE", "NWJ", "JS", "MINE", "SMILE (τ = 1)", "SMILE (τ = 5)", "SMILE (τ = ∞)")
TASKS = ("Gaussian", "Cubic")
CRITIC_NAMES = {"separable": "separable critic", "concat": "joint critic"}
BUDGETS = {
    FULL: Budget(FULL, steps=4000, seeds=1),
    # The joint critic with three 256-unit layers costs ~25x the separable one per step on K^2
    # pairs (67 ms per run-step on one CPU thread): the quick budget trains the separable one.
    QUICK: Budget(QUICK, steps=300, seeds=1, critics=("separable",)),
}
TOP = LEVELS[-1]


def build_suite(budget: Budget) -> Suite:
    """Their setting in the suite schema, both tasks in one grid."""
    grid = {
        "estimators": ["infonce", "nwj", "js", "mine", "smile"],
        "tasks": [staircase_task(base, budget.steps) for base in ("gaussian", "cubic")],
        "critics": critics_of(budget, CRITICS),
        "estimator_params": {"smile": {"clip": list(TAUS)}, "mine": {"ema_rate": MINE_EMA_RATE}},
    }
    return staircase_suite(
        name=NAME if budget.is_full else f"{NAME}-{budget.name}",
        description=f"Song & Ermon 2020 Fig. 1-2 ({budget.label})",
        budget=budget,
        lr=5e-4,
        grids=[grid],
    )


def label_run(config: Mapping[str, Any]) -> str:
    """``InfoNCE``, ..., ``SMILE (τ = 5)``, ``SMILE (τ = ∞)``."""
    if config["estimator"] == "smile":
        tau = float(dict(config["estimator_params"])["clip"])
        return f"SMILE (τ = {'∞' if math.isinf(tau) else f'{tau:g}'})"
    return LABELS.get(config["estimator"], config["estimator"])


def draw(readings: Readings, budget: Budget) -> Figure:
    """Fig. 1 (staircases, two rows) above Fig. 2 (bias/variance/MSE), one image."""
    from mibench.reproduce.figures import combine_vertically

    span = span_of(budget)
    staircase = staircase_panels(
        readings.train,
        labels=PANELS,
        rows=TASKS,
        hues=tuple(CRITICS),
        span=span,
        title=f"Song & Ermon 2020, Fig. 1 — {budget.label} ({budget.steps} steps per level, "
        f"EMA span {span})",
        log_k=LOG_K,
        hue_names=CRITIC_NAMES,
        ylim=(0.0, 12.0),
    )
    stats = stats_of(readings, WINDOW_FRACTION)
    separable = stats[stats["critic"] == "separable"]
    errors = bias_variance_panels(
        separable if len(separable) else stats,
        labels=PANELS,
        columns=TASKS,
        title=f"Song & Ermon 2020, Fig. 2 — {budget.label} (separable critic, last 1/8 of "
        "each level)",
    )
    return combine_vertically([staircase, errors])


def _log_variance_slope(stats: Any, label: str, task: str) -> float:
    """Least-squares slope of ln(variance) against the true MI over the levels (per nat)."""
    part = stats[(stats["label"] == label) & (stats["task_label"] == task)]
    part = part.groupby("true_mi")["variance"].mean().reset_index()
    part = part[np.isfinite(part["variance"]) & (part["variance"] > 0)]
    if len(part) < 2:
        return math.nan
    return float(np.polyfit(part["true_mi"], np.log(part["variance"]), 1)[0])


def verdicts(readings: Readings, budget: Budget) -> list[Verdict]:
    """Fig. 1-2's statements on our runs, on both tasks (critics pooled by mean)."""
    stats = stats_of(readings, WINDOW_FRACTION)
    top = stats[stats["true_mi"] == TOP]
    rows = []
    for task in TASKS:
        rows.append(
            numeric(
                f"InfoNCE (CPC) saturates just under log K at I = 10 ({task})",
                "§3 and Fig. 1",
                paper=LOG_K,
                ours=pick(top, "mean", label="InfoNCE", task_label=task),
                tolerance=0.5,
                paper_text=f"≤ log 64 = {fmt(LOG_K)}",
            )
        )
    slopes = {
        (label, task): _log_variance_slope(stats, label, task)
        for label in ("NWJ", "MINE")
        for task in TASKS
    }
    rows.append(
        qualitative(
            "The variance of NWJ and MINE grows exponentially with the true MI",
            "Theorem 2, Fig. 2",
            paper="ln(variance) rises linearly in I (no number given)",
            ours="; ".join(f"{k[0]} {k[1]}: slope {fmt(v)} per nat" for k, v in slopes.items()),
            holds=_every(v > 0 if math.isfinite(v) else None for v in slopes.values()),
        )
    )
    rows += _smile_rows(top)
    return rows


def _smile_rows(top: Any) -> list[Verdict]:
    def var(label: str, task: str) -> float:
        return pick(top, "variance", label=label, task_label=task)

    def bias(label: str, task: str) -> float:
        return pick(top, "abs_bias", label=label, task_label=task)

    lower = [compare(var("SMILE (τ = 5)", t), var("NWJ", t)) for t in TASKS]
    tradeoff = [
        _both(
            compare(var("SMILE (τ = 1)", t), var("SMILE (τ = 5)", t)),
            compare(bias("SMILE (τ = 5)", t), bias("SMILE (τ = 1)", t)),
        )
        for t in TASKS
    ]
    infinite = [compare(var("SMILE (τ = 5)", t), var("SMILE (τ = ∞)", t)) for t in TASKS]
    per_task = "; ".join
    return [
        qualitative(
            "SMILE (τ = 5) has lower variance than NWJ at high MI",
            "§5 and Fig. 2",
            paper="SMILE's variance below NWJ's (no number given)",
            ours=per_task(
                f"{t}: {fmt(var('SMILE (τ = 5)', t), 3)} vs {fmt(var('NWJ', t), 3)}" for t in TASKS
            ),
            holds=_every(lower),
        ),
        qualitative(
            "A smaller τ lowers SMILE's variance and raises its bias (τ = 1 vs τ = 5, I = 10)",
            "§5 (Theorem 3) and Fig. 2",
            paper="τ = 1: less variance, more bias (no number given)",
            ours=per_task(
                f"{t}: var {fmt(var('SMILE (τ = 1)', t), 3)} vs {fmt(var('SMILE (τ = 5)', t), 3)},"
                f" |bias| {fmt(bias('SMILE (τ = 1)', t))} vs {fmt(bias('SMILE (τ = 5)', t))}"
                for t in TASKS
            ),
            holds=_every(tradeoff),
        ),
        qualitative(
            "Without clipping (τ = ∞, DV on a JS-trained critic) the variance is higher",
            "Fig. 1 and the notebook's text",
            paper="τ = ∞ above τ = 5 in variance (no number given)",
            ours=per_task(
                f"{t}: {fmt(var('SMILE (τ = ∞)', t), 3)} vs {fmt(var('SMILE (τ = 5)', t), 3)}"
                for t in TASKS
            ),
            holds=_every(infinite),
        ),
    ]


def _both(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None or b is None else (a and b)


def _every(values: Any) -> bool | None:
    listed = list(values)
    return None if any(v is None for v in listed) else all(listed)


def differences(budget: Budget) -> list[Difference]:
    """Every setting in which our run differs from their code."""
    rows = [
        Difference(
            "JS readout",
            "NWJ of the JS-trained scores S",
            "NWJ of S + 1 (tight at the JS-optimal critic)",
        ),
        Difference(
            "MINE",
            "DV value with an EMA-corrected gradient, buffer clamped at 1e-4, momentum 0.9",
            "the same correction (mibench's mine) at EMA rate 0.1, no clamp",
        ),
        Difference(
            "level boundaries",
            "np.round of a linear ramp: the same 4 000-step levels, but step 0 at 0 nats",
            "exactly 4 000 steps per level, step 0 at 2 nats",
        ),
        Difference("framework", "PyTorch on a GPU", "PyTorch on CPU (float32)"),
        Difference(
            "Fig. 2 window",
            "not in the released code",
            "the last 1/8 of each level (500 of 4 000 steps), population variance",
        ),
        Difference("flow (GM) column of Fig. 1", "a flow-based generative estimate", "left out"),
    ]
    if not budget.is_full:
        rows.append(Difference(f"steps per level ({budget.label})", "4 000", str(budget.steps)))
        rows.append(Difference(f"EMA span ({budget.label})", "200", str(span_of(budget))))
        if budget.critics:
            rows.append(
                Difference(
                    f"critics ({budget.label})",
                    "separable and joint",
                    " and ".join(budget.critics) + " only",
                )
            )
    return rows


REPRODUCTION = Reproduction(
    name=NAME,
    title="Song & Ermon 2020, Fig. 1-2",
    source=SOURCE,
    summary="Gaussian and cubic staircases: InfoNCE, NWJ, JS, MINE and SMILE (τ = 1, 5, ∞), "
    "their 3-layer critic; bias, variance and MSE per level.",
    budgets=BUDGETS,
    build_suite=build_suite,
    label_run=label_run,
    label_task=task_label,
    draw=draw,
    verdicts=verdicts,
    differences=differences,
)
