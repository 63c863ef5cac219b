"""Chen et al. (2021), Simpler, Faster, Stronger: Breaking the log-K Curse (FlatNCE), Fig. 1.

The paper's Fig. 1 trains SimCLR (InfoNCE) and FlatCLR (FlatNCE) on CIFAR-10 at a small batch
and plots, for both, the mini-batch InfoNCE estimate of the representation MI (solid; FlatNCE
has no value of its own, so its critic is read with InfoNCE, §5) and a "ground-truth" MI
approximated by InfoNCE over a negative pool 100 times the mini-batch (their footnote 6), with
log K dashed. Its Fig. 6 follows the ESS (their Eq. 4) of the same runs.

Here the data are a 10-d correlated Gaussian at I = 6 nats, so the truth is known, at K = 16
(log K = 2.77 < I); both objectives train the same cosine critic (L2-normalised 256-256-32
towers, temperature 0.1, SimCLR's similarity); the large-pool estimate is the held-out InfoNCE
on 1 600 = 100 K fresh pairs (ceiling log 1600 = 7.38 > I).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mibench.plan.suite import Suite, parse_suite
from mibench.reproduce.base import FULL, QUICK, Budget, Difference, Readings, Reproduction, Verdict
from mibench.reproduce.figures import training_curves
from mibench.reproduce.levels import ema_span
from mibench.reproduce.verdicts import compare, fmt, qualitative

NAME = "flatnce2021"
SOURCE = (
    "Chen et al. 2021, Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive "
    "Learners with FlatNCE, arXiv:2107.01152, Fig. 1 (and Fig. 6 for the ESS)"
)
BATCH_SIZE = 16
POOL = 100 * BATCH_SIZE
TRUE_MI = 6.0
DIM = 10
LOG_K = math.log(BATCH_SIZE)
LABELS = {"infonce": "InfoNCE", "flatnce": "FlatNCE"}
TIE_NATS = 0.2  # "tied": the two mini-batch estimates within this many nats
GAP_NATS = 0.1  # "above": FlatNCE's large-pool estimate higher by more than this many nats
END_FRACTION = 0.2  # the last 20 % of training, as in mibench's summaries
BUDGETS = {
    FULL: Budget(FULL, steps=10000, seeds=3),
    QUICK: Budget(QUICK, steps=1500, seeds=1),
}


def build_suite(budget: Budget) -> Suite:
    document = {
        "suite": {
            "name": NAME if budget.is_full else f"{NAME}-{budget.name}",
            "description": f"FlatNCE (Chen et al. 2021) Fig. 1 ({budget.label})",
            "steps": budget.steps,
            "seeds": budget.seeds,
            "lr": 5e-4,
            "dtype": "float32",
            "batch_sizes": [BATCH_SIZE],
            "log_every": 1,
            "eval_every": max(1, budget.steps // 15),
            "eval_batch_size": POOL,
        },
        "grid": [
            {
                "estimators": ["infonce", "flatnce"],
                "tasks": [{"name": "gaussian", "dim": DIM, "mi": TRUE_MI}],
                "critics": [{"name": "cosine", "hidden": [256, 256], "embed_dim": 32}],
            }
        ],
    }
    return parse_suite(document, source=f"reproduce {NAME}", name=NAME)


def label_run(config: Mapping[str, Any]) -> str:
    return LABELS.get(config["estimator"], config["estimator"])


def label_task(config: Mapping[str, Any]) -> str:
    return f"Gaussian d={DIM}, I={TRUE_MI:g}"


def draw(readings: Readings, budget: Budget) -> Figure:
    return training_curves(
        readings.train,
        readings.heldout,
        labels=("InfoNCE", "FlatNCE"),
        span=ema_span(budget.steps // 5),
        log_k=LOG_K,
        true_mi=TRUE_MI,
        title=f"FlatNCE (Chen et al. 2021) Fig. 1 — {budget.label}: K = {BATCH_SIZE}, "
        f"large pool = {POOL}, Gaussian d = {DIM}, I = {TRUE_MI:g} nats",
    )


def _end_mean(frame: Any, label: str, column: str, *, start: bool = False) -> float:
    part = frame[frame["label"] == label]
    if part.empty:
        return math.nan
    last = part["step"].max()
    cut = END_FRACTION * last
    inside = part[part["step"] <= cut] if start else part[part["step"] >= last - cut]
    values = inside[column].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def verdicts(readings: Readings, budget: Budget) -> list[Verdict]:
    train, heldout = readings.train, readings.heldout
    info, flat = (_end_mean(train, lab, "estimate") for lab in ("InfoNCE", "FlatNCE"))
    gap = abs(info - flat) if math.isfinite(info) and math.isfinite(flat) else math.nan
    pool_info, pool_flat = (_end_mean(heldout, lab, "estimate") for lab in LABELS.values())
    ess = {
        lab: (_end_mean(train, lab, "ess", start=True), _end_mean(train, lab, "ess"))
        for lab in LABELS.values()
    }
    return [
        qualitative(
            "The two mini-batch estimates are tied near log K",
            "§5, Fig. 1",
            paper=f"tied, under log {BATCH_SIZE} = {fmt(LOG_K)} (CIFAR-10; no number given)",
            ours=f"last 20 %: InfoNCE {fmt(info)}, FlatNCE {fmt(flat)} (tied = within "
            f"{TIE_NATS} nats)",
            holds=None if math.isnan(gap) else bool(gap <= TIE_NATS and max(info, flat) <= LOG_K),
        ),
        qualitative(
            "FlatNCE's large-pool MI keeps rising above InfoNCE's once InfoNCE saturates",
            "§5, Fig. 1 (large pool: footnote 6)",
            paper="FlatNCE above InfoNCE on the 100 K pool (no number given)",
            ours=f"last 20 %, held-out InfoNCE on {POOL}: InfoNCE {fmt(pool_info)}, FlatNCE "
            f"{fmt(pool_flat)} (true {TRUE_MI:g}; above = by more than {GAP_NATS} nats)",
            holds=compare(pool_info + GAP_NATS, pool_flat),
        ),
        qualitative(
            "InfoNCE's ESS falls during training while FlatNCE's rises",
            "§5 and Fig. 6",
            paper="InfoNCE 0.06 -> 0.05, FlatNCE 0.17 -> 0.35 (CIFAR-10: a direction here)",
            ours="; ".join(f"{k} {fmt(a, 3)} -> {fmt(b, 3)}" for k, (a, b) in ess.items())
            + " (first vs last 20 % of steps)",
            holds=_both(
                compare(ess["InfoNCE"][1], ess["InfoNCE"][0]),
                compare(ess["FlatNCE"][0], ess["FlatNCE"][1]),
            ),
        ),
    ]


def _both(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None or b is None else (a and b)


def differences(budget: Budget) -> list[Difference]:
    rows = [
        Difference(
            "data",
            "CIFAR-10 images, two augmented views (SimCLR)",
            f"a {DIM}-d correlated Gaussian at I = {TRUE_MI:g} nats",
        ),
        Difference(
            "encoder",
            "ResNet-18, 256-d features",
            "two MLP towers 256-256-32, L2-normalised, temperature 0.1",
        ),
        Difference(
            "negatives",
            "2N - 1 candidates of the views (NT-Xent)",
            f"K - 1 = {BATCH_SIZE - 1} in-batch partners (pairs layout)",
        ),
        Difference("optimiser", "SimCLR's (LARS, schedule)", "Adam lr 5e-4, constant"),
        Difference(
            "ground-truth MI",
            "InfoNCE over a pool of 100 x the mini-batch",
            f"the same on {POOL} fresh held-out pairs, and the exact truth",
        ),
        Difference(
            "batch size",
            "small batches of SimCLR (the figure's K is not stated)",
            f"K = {BATCH_SIZE}",
        ),
    ]
    if not budget.is_full:
        rows.append(
            Difference(
                f"training ({budget.label})",
                "to convergence (epochs)",
                f"{budget.steps} steps, {budget.seeds} seed",
            )
        )
    return rows


REPRODUCTION = Reproduction(
    name=NAME,
    title="Chen et al. 2021 (FlatNCE), Fig. 1",
    source=SOURCE,
    summary=f"Small batch (K = {BATCH_SIZE}) InfoNCE against FlatNCE, both read as InfoNCE, on "
    f"the mini-batch and on a {POOL}-pair pool.",
    budgets=BUDGETS,
    build_suite=build_suite,
    label_run=label_run,
    label_task=label_task,
    draw=draw,
    verdicts=verdicts,
    differences=differences,
)
