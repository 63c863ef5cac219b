"""The one record type a stacked training call returns per run."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mibench.core.interface import RunConfig


@dataclass
class RunResult:
    """Everything one run of a stack produced.

    Attributes:
        config: the run's cell config.
        frame: tidy rows in the schema of :mod:`mibench.results.schema` (``readout`` "train" and
            "eval"), plus one float column per estimator extra.
        diverged_step: the first step whose loss, estimate or gradient was NaN/Inf (None if never).
        wall_time_s: wall seconds of the whole stacked computation this run was part of (runs of a
            stack share one computation; divide by the stack size for a per-run cost).
        critic_architecture: exact architecture string (main critic, plus the dual head if any).
        n_parameters: trainable parameters of this run (critic + its dual head).
        task_id: the task's derived id (e.g. ``gaussian-d20-mi2``).
    """

    config: RunConfig
    frame: pd.DataFrame
    diverged_step: int | None
    wall_time_s: float
    critic_architecture: str
    n_parameters: int
    task_id: str
