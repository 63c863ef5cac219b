"""Cheng et al. (2020), CLUB: A Contrastive Log-ratio Upper Bound of Mutual Information, §5.1.

The setting of their notebook (mi_estimation.ipynb, mi_estimators.py): d = 20, K = 64, the MI
levels 2, 4, 6, 8, 10 nats with 4 000 steps each (the estimators are kept warm across levels),
Adam lr 5e-3, one seed, on the Gaussian and on its cubic transform y -> y^3. The lower bounds
NWJ, MINE and InfoNCE use a concat critic with one hidden layer of 15 ReLU units; L1Out and CLUB
fit a Gaussian q(y|x) by maximum likelihood. Their figures: the staircase of each estimator (raw
faint, EMA span 200 bold) and the bias, variance (log axis) and MSE per level over the last 500
steps of each level (|bias|, population variance, MSE = bias^2 + variance).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from mibench.plan.suite import Suite
from mibench.reproduce.base import FULL, QUICK, Budget, Difference, Readings, Reproduction, Verdict
from mibench.reproduce.figures import bias_variance_panels, combine_vertically, staircase_panels
from mibench.reproduce.levels import WINDOW_FRACTION
from mibench.reproduce.staircases import (
    LEVELS,
    LOG_K,
    span_of,
    staircase_suite,
    staircase_task,
    stats_of,
    task_label,
)
from mibench.reproduce.verdicts import compare, fmt, numeric, pick, qualitative

NAME = "club2020"
SOURCE = (
    "Cheng et al. 2020, CLUB: A Contrastive Log-ratio Upper Bound of Mutual Information, "
    "ICML 2020, arXiv:2006.12013, §5.1 (Fig. 2, bias/variance/MSE figure)"
)
HIDDEN = [15]
LOWER = ("NWJ", "MINE", "InfoNCE")
PANELS = (*LOWER, "L1Out", "CLUB")
TASKS = ("Gaussian", "Cubic")
LABELS = {"nwj": "NWJ", "dv": "MINE", "infonce": "InfoNCE", "l1out": "L1Out", "club": "CLUB"}
BUDGETS = {
    FULL: Budget(FULL, steps=4000, seeds=1),
    QUICK: Budget(QUICK, steps=300, seeds=1),
}
TOP = LEVELS[-1]


def build_suite(budget: Budget) -> Suite:
    """Three grids: NWJ and InfoNCE on all pairs, MINE as DV on one shuffled partner per row
    (their MINE draws one shuffled y per x), L1Out and CLUB on a fitted q(y|x)."""
    tasks = [staircase_task(base, budget.steps) for base in ("gaussian", "cubic")]
    concat = [{"name": "concat", "hidden": HIDDEN}]
    grids = [
        {"estimators": ["nwj", "infonce"], "tasks": tasks, "critics": concat},
        {"estimators": ["dv"], "tasks": tasks, "critics": concat, "negatives": "derangement"},
        {
            "estimators": ["l1out", "club"],
            "tasks": tasks,
            "critics": [{"name": "gaussian_conditional", "hidden": HIDDEN}],
        },
    ]
    return staircase_suite(
        name=NAME if budget.is_full else f"{NAME}-{budget.name}",
        description=f"CLUB (Cheng et al. 2020) §5.1 ({budget.label})",
        budget=budget,
        lr=5e-3,
        grids=grids,
    )


def label_run(config: Mapping[str, Any]) -> str:
    return LABELS.get(config["estimator"], config["estimator"])


def draw(readings: Readings, budget: Budget) -> Figure:
    """The staircases (Gaussian and cubic rows) above the bias/variance/MSE panels."""
    span = span_of(budget)
    staircase = staircase_panels(
        readings.train,
        labels=PANELS,
        rows=TASKS,
        hues=("concat", "gaussian_conditional"),
        span=span,
        title=f"CLUB (Cheng et al. 2020) staircases — {budget.label} ({budget.steps} steps per "
        f"level, EMA span {span})",
        log_k=LOG_K,
        ylim=(0.0, 15.5),
        hue_names={"concat": "critic", "gaussian_conditional": "q(y|x)"},
    )
    errors = bias_variance_panels(
        stats_of(readings, WINDOW_FRACTION),
        labels=PANELS,
        columns=TASKS,
        title=f"CLUB bias / variance / MSE — {budget.label} (last 1/8 of each level)",
        log_axes=("variance",),
    )
    return combine_vertically([staircase, errors])


def verdicts(readings: Readings, budget: Budget) -> list[Verdict]:
    stats = stats_of(readings, WINDOW_FRACTION)
    top = stats[stats["true_mi"] == TOP]
    gaussian = stats[stats["task_label"] == "Gaussian"]
    rows = [
        numeric(
            "InfoNCE saturates just under log K = log 64 (Gaussian, I = 10)",
            "§5.1, Fig. 2",
            paper=LOG_K,
            ours=pick(top, "mean", label="InfoNCE", task_label="Gaussian"),
            tolerance=0.5,
            paper_text=f"≤ log 64 = {fmt(LOG_K)}",
        )
    ]
    below = {lab: pick(top, "bias", label=lab, task_label="Gaussian") for lab in LOWER}
    rows.append(
        qualitative(
            "The lower bounds NWJ, MINE and InfoNCE fall below the truth at high MI",
            "§5.1, Fig. 2",
            paper="estimates under the true MI at I = 10 (no number given)",
            ours="Gaussian bias at I=10: " + ", ".join(f"{k} {fmt(v)}" for k, v in below.items()),
            holds=_every(compare(v, 0.0) for v in below.values()),
        )
    )
    club_bias = [pick(gaussian, "bias", label="CLUB", true_mi=level) for level in LEVELS]
    rows.append(
        qualitative(
            "With q(y|x) fitted, CLUB lies at or above the truth on the Gaussian (an upper bound)",
            "Theorem 3.1 and Fig. 2",
            paper="CLUB ≥ I (no number given; holds exactly only for q = p(y|x))",
            ours="CLUB bias per level: "
            + ", ".join(fmt(b) for b in club_bias)
            + " (judged with a 0.1-nat allowance)",
            holds=_every(compare(-0.1, b) for b in club_bias),
        )
    )
    club_var = pick(top, "variance", label="CLUB", task_label="Gaussian")
    others = {
        lab: pick(top, "variance", label=lab, task_label="Gaussian") for lab in ("NWJ", "MINE")
    }
    rows.append(
        qualitative(
            "CLUB has lower variance than NWJ and MINE at high MI",
            "§5.1, bias/variance/MSE figure",
            paper="CLUB's variance below the DV/NWJ-type bounds' (no number given)",
            ours=f"Gaussian var at I=10: CLUB {fmt(club_var, 3)}, "
            + ", ".join(f"{k} {fmt(v, 3)}" for k, v in others.items()),
            holds=_every(compare(club_var, v) for v in others.values()),
        )
    )
    return rows


def _every(values: Any) -> bool | None:
    listed = list(values)
    return None if any(v is None for v in listed) else all(listed)


def differences(budget: Budget) -> list[Difference]:
    rows = [
        Difference(
            "q(y|x) network (L1Out, CLUB)",
            "two MLPs 20-7-20 (mean; log-variance through tanh)",
            "one MLP 20-15-40 (mean and log-scale), no tanh",
        ),
        Difference(
            "NWJ's marginal term",
            "log-mean-exp over all K^2 pairs, the diagonal included",
            "over the K(K-1) off-diagonal pairs",
        ),
        Difference(
            "MINE",
            "DV on one shuffled y per x (drawn with replacement), no moving average",
            "DV on one shuffled partner per row (a derangement: never the own y), no moving "
            "average (mibench's dv with negatives = derangement)",
        ),
        Difference("InfoNCE critic output", "softplus of the last layer (scores ≥ 0)", "linear"),
        Difference(
            "L1Out's diagonal", "masked by adding -20 to the log-density", "excluded exactly"
        ),
        Difference("CLUBSample", "a sampled variant of CLUB", "left out (not in mibench)"),
        Difference("data", "x, y from numpy, cast to float32, on a GPU", "torch float32 on CPU"),
    ]
    if not budget.is_full:
        rows.append(Difference(f"steps per level ({budget.label})", "4 000", str(budget.steps)))
        rows.append(
            Difference(
                f"window ({budget.label})",
                "last 500 of 4 000 steps",
                f"last 1/8 of {budget.steps} steps",
            )
        )
    return rows


REPRODUCTION = Reproduction(
    name=NAME,
    title="Cheng et al. 2020 (CLUB), §5.1",
    source=SOURCE,
    summary="Gaussian and cubic staircases, d = 20, K = 64, lr 5e-3: NWJ, MINE, InfoNCE, L1Out "
    "and CLUB; bias, variance and MSE over the last 500 steps of each level.",
    budgets=BUDGETS,
    build_suite=build_suite,
    label_run=label_run,
    label_task=task_label,
    draw=draw,
    verdicts=verdicts,
    differences=differences,
)
