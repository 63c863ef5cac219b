"""Fixtures for the results tests: synthetic per-step frames in the schema the trainer writes."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from mibench.core.interface import RunConfig
from mibench.results import schema


def fake_frame(
    config: RunConfig,
    *,
    estimate: Callable[[np.ndarray], np.ndarray],
    truth: Callable[[np.ndarray], np.ndarray] | None = None,
    diverged_step: int | None = None,
    ceiling: float = math.nan,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Train rows every ``log_every`` step and eval rows every ``eval_every`` step of ``config``.

    ``estimate(steps)`` gives the training-readout estimates; eval rows get the same function.
    """
    rng = rng or np.random.default_rng(0)
    truth = truth or (lambda s: np.full(len(s), float(dict(config.task_params).get("mi", 1.0))))
    frames = []
    for readout, every in ((schema.READOUT_TRAIN, config.log_every),
                           (schema.READOUT_EVAL, config.eval_every)):  # fmt: skip
        steps = np.arange(0, config.n_steps, every)
        n = len(steps)
        diverged = np.zeros(n, dtype=bool)
        if diverged_step is not None:
            diverged = steps >= diverged_step
        est = estimate(steps).astype(float)
        est = np.where(diverged, np.nan, est)
        mi_level = dict(config.task_params).get("mi", math.nan)
        frames.append(
            pd.DataFrame(
                {
                    schema.RUN_ID: config.cell_hash(),
                    schema.SUITE: config.suite,
                    schema.ESTIMATOR: config.estimator,
                    schema.TASK: config.task,
                    schema.TASK_ID: f"{config.task}-fake",
                    schema.DIM: 2,
                    schema.TRUE_MI: truth(steps),
                    schema.MI_LEVEL: float(mi_level) if mi_level is not None else math.nan,
                    schema.BATCH_SIZE: config.batch_size,
                    schema.CRITIC: config.critic,
                    schema.SEED: config.seed,
                    schema.DTYPE: config.dtype,
                    schema.NEGATIVES: config.negatives,
                    schema.STEP: steps,
                    schema.READOUT: readout,
                    schema.ESTIMATE: est,
                    schema.LOSS: -est if readout == schema.READOUT_TRAIN else np.nan,
                    schema.INFONCE_VALUE: est,
                    schema.ESS: rng.uniform(0.2, 0.8, n),
                    schema.LOG_K: math.log(config.batch_size),
                    schema.CEILING: ceiling,
                    schema.GRAD_NORM: 1.0,
                    schema.DIVERGED: diverged,
                    schema.TIME_S: steps * 1e-3,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def fake_sidecar(config: RunConfig, *, diverged_step: int | None = None) -> dict:
    return {
        "run_id": config.cell_hash(),
        "config": config.as_dict(),
        "critic_architecture": "fake 2->4->2",
        "n_parameters": 30,
        "diverged_step": diverged_step,
    }


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """The :func:`fake_frame` builder."""
    return fake_frame


@pytest.fixture
def make_sidecar() -> Callable[..., dict]:
    """The :func:`fake_sidecar` builder."""
    return fake_sidecar
