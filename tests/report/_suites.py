"""A synthetic finished suite for the console and screen tests: two staircases of one task name on
two bases (gaussian and cubic), as the default suite has, with capped, noisy and diverging
estimators (helpers, not fixtures: imported by the test modules of tests/report/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mibench.results import schema
from tests.plots.synthetic import synthetic_runs, write_synthetic_suite

ESTIMATORS = ("infonce", "ntxent", "flo", "nwj", "dv", "smile", "mine", "js")
CAPPED = ("infonce", "ntxent", "flo")


def staircase_runs(seed: int = 5) -> pd.DataFrame:
    """Runs of :data:`ESTIMATORS` on ``staircase`` over two bases (one task name, two task ids)."""
    frames = []
    for base in ("gaussian", "cubic"):
        runs = synthetic_runs(
            estimators=ESTIMATORS,
            capped=CAPPED,
            rng=np.random.default_rng(seed + len(base)),
            task=base,
            staircase=True,
            seeds=(0, 1),
            n_steps=100,
            eval_every=25,
        )
        runs[schema.TASK] = "staircase"
        runs[schema.TASK_ID] = f"staircase-d5-{base}"
        frames.append(runs)
    return pd.concat(frames, ignore_index=True)


def write_staircase_suite(folder: Path) -> Path:
    """The suite folder (runs, sidecars, summary) of :func:`staircase_runs`."""
    return write_synthetic_suite(folder / "staircases", staircase_runs())


LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
HANDMADE_ESTIMATORS = ("ksg", "infonce", "fmicl_kl", "fmicl_sqhellinger", "club", "nwj", "js")


def handmade_summary() -> pd.DataFrame:
    """Summary rows as the default suite writes them, without training: two staircases of one
    task name on two bases, sample and neural estimators, f-MICL f-values (the sqhellinger's
    f-MI unknown), an upper bound for the sandwich, unstable and diverged cells."""
    rows = []
    for base in ("gaussian", "cubic"):
        for segment, level in enumerate(LEVELS):
            for index, estimator in enumerate(HANDMADE_ESTIMATORS):
                rows.append(_handmade_row(base, segment, level, index, estimator))
    return pd.DataFrame(rows)


def _handmade_row(base: str, segment: int, level: float, index: int, estimator: str) -> dict:
    log_k = float(np.log(64))
    capped = estimator == "infonce"
    estimate = min(level, log_k) if capped else level * (0.8 + 0.05 * index)
    if estimator == "club":
        estimate = level + 1.5
    unstable = estimator == "js" and level >= 6
    row = {
        schema.CELL_ID: f"{base}-{estimator}",
        schema.ESTIMATOR: estimator,
        schema.TASK: "staircase",
        schema.TASK_ID: f"staircase-d5-{base}",
        schema.TARGET: "mi",
        schema.DIM: 5,
        schema.MI_LEVEL: level,
        schema.TRUE_MI: level,
        schema.SEGMENT: segment,
        schema.LOG_K: log_k,
        schema.CRITIC: "none" if estimator == "ksg" else "separable",
        schema.BATCH_SIZE: 64,
        schema.DTYPE: "float32",
        schema.NEGATIVES: "offdiag",
        schema.N_STEPS: 2500,
        schema.LR: 2e-3,
        schema.CRITIC_PARAMS: "{}",
        schema.TASK_PARAMS: json_params(base),
        schema.ESTIMATOR_PARAMS: "{}",
        schema.N_SEEDS: 3,
        schema.MEAN_ESTIMATE: -4e53 if unstable else estimate,
        schema.BIAS: -4e53 if unstable else estimate - level,
        schema.STD: 1e60 if unstable else 0.1 + 0.02 * level,
        schema.MSE: 1e120 if unstable else (estimate - level) ** 2 + 0.01,
        schema.MEDIAN_BIAS: estimate - level,
        schema.IQR: 0.2,
        schema.WILD_FRACTION: 0.25 if unstable else 0.0,
        schema.UNSTABLE: unstable,
        schema.DIVERGED_FRACTION: 1 / 3 if estimator == "nwj" and level == 10 else 0.0,
    }
    if estimator.startswith("fmicl_"):
        known = estimator == "fmicl_kl"
        row |= {
            schema.F_VALUE: 0.9 * level,
            schema.F_VALUE_MEDIAN: 0.9 * level,
            schema.TRUE_F_MI: level if known else float("nan"),
        }
    return row


def json_params(base: str) -> str:
    """The staircase's task_params: the cubic one names its base, the gaussian one does not."""
    params = {"dim": 5, "levels": list(LEVELS), "steps_per_level": 500}
    if base == "cubic":
        params["base"] = "cubic"
    import json

    return json.dumps(params, sort_keys=True)
