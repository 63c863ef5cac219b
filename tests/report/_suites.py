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
