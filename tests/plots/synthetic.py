"""Synthetic results in the runner's schema, for testing figures and reports without training.

Nothing here estimates anything: the curves are made-up shapes (a capped estimator saturates at
a smooth minimum of I and log K, an uncapped one approaches I with noise growing like e^{I/3}),
chosen only so every figure has something recognisable to draw. The frames follow
:mod:`mibench.results.schema` column for column, and :func:`write_synthetic_suite` stores them
with the runner's own store and summary code, so tests get a complete fake ``results/<suite>/``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mibench.core.interface import RunConfig
from mibench.results import schema, store
from mibench.results.summary import summarize

DEFAULT_MI_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
STAIRCASE_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
RISE_FRACTION = 1 / 6  # time constant of the made-up learning curve, as a fraction of the run
CAPPED_NOISE_STD = 0.05
UNCAPPED_NOISE_SCALE = 0.05  # noise std = scale * exp(I / 3): variance growing with I
UNCAPPED_BIAS_FRACTION = 0.05
DIVERGE_AT_FRACTION = 0.7


def _smooth_min(a: float, b: float) -> float:
    return -math.log(math.exp(-a) + math.exp(-b))


def synthetic_runs(
    *,
    estimators: Sequence[str],
    capped: Sequence[str] = (),
    rng: np.random.Generator,
    task: str = "gaussian",
    mi_levels: Sequence[float] = DEFAULT_MI_LEVELS,
    batch_sizes: Sequence[int] = (64,),
    seeds: Sequence[int] = (0, 1, 2),
    n_steps: int = 200,
    eval_every: int = 50,
    staircase: bool = False,
    diverging: Sequence[str] = (),
    suite: str = "synthetic",
) -> pd.DataFrame:
    """A long runs frame: one run per (estimator, MI level, K, seed), every step logged.

    ``capped`` estimators saturate at a smooth min(I, log K) and get ``ceiling = log K``;
    ``diverging`` ones turn NaN (``diverged`` True) from 70 % of the run in seed ``seeds[0]`` at
    the highest MI level. ``staircase`` makes one schedule task whose true MI climbs through
    2, 4, 6, 8, 10 nats in equal blocks (``mi_level`` NaN, as the schema says).
    """
    levels: Sequence[float | None] = [None] if staircase else list(mi_levels)
    steps = np.arange(n_steps)
    frames = []
    for estimator in estimators:
        for level in levels:
            for batch_size in batch_sizes:
                log_k = math.log(batch_size)
                for seed in seeds:
                    if level is None:
                        block = np.minimum(steps * len(STAIRCASE_LEVELS) // n_steps, 4)
                        true_mi = np.asarray(STAIRCASE_LEVELS)[block]
                        task_id = f"{task}-staircase"
                    else:
                        true_mi = np.full(n_steps, float(level))
                        task_id = f"{task}-d5-mi{level:g}"
                    is_capped = estimator in capped
                    if is_capped:
                        target = np.array([_smooth_min(i, log_k) for i in true_mi])
                        noise = CAPPED_NOISE_STD * np.ones(n_steps)
                    else:
                        target = true_mi * (1 - UNCAPPED_BIAS_FRACTION)
                        noise = UNCAPPED_NOISE_SCALE * np.exp(true_mi / 3)
                    rise = 1 - np.exp(-steps / (RISE_FRACTION * n_steps))
                    estimate = target * rise + noise * rng.standard_normal(n_steps)
                    ess = np.clip(
                        (0.6 * np.exp(-2 * rise) if is_capped else 0.1 + 0.3 * rise)
                        + 0.01 * rng.standard_normal(n_steps),
                        1 / (batch_size - 1),
                        1.0,
                    )
                    diverged = np.zeros(n_steps, dtype=bool)
                    if estimator in diverging and seed == seeds[0] and level == max(mi_levels):
                        diverged[int(DIVERGE_AT_FRACTION * n_steps) :] = True
                        estimate = np.where(diverged, np.nan, estimate)
                    run_id = _cell(
                        suite, estimator, task, level, task_id, batch_size, seed, n_steps
                    ).cell_hash()
                    base = {
                        schema.RUN_ID: run_id,
                        schema.SUITE: suite,
                        schema.ESTIMATOR: estimator,
                        schema.TASK: task,
                        schema.TASK_ID: task_id,
                        schema.DIM: 5,
                        schema.MI_LEVEL: np.nan if level is None else level,
                        schema.BATCH_SIZE: batch_size,
                        schema.CRITIC: "separable",
                        schema.SEED: seed,
                        schema.DTYPE: "float32",
                        schema.NEGATIVES: "offdiag",
                    }
                    train = pd.DataFrame(
                        {
                            **base,
                            schema.STEP: steps,
                            schema.READOUT: schema.READOUT_TRAIN,
                            schema.TRUE_MI: true_mi,
                            schema.ESTIMATE: estimate,
                            schema.LOSS: -estimate,
                            schema.INFONCE_VALUE: np.minimum(estimate, log_k),
                            schema.ESS: ess,
                            schema.LOG_K: log_k,
                            schema.CEILING: log_k if is_capped else np.nan,
                            schema.GRAD_NORM: np.abs(rng.standard_normal(n_steps)),
                            schema.DIVERGED: diverged,
                            schema.TIME_S: steps * 1e-3,
                        }
                    )
                    at = steps[::eval_every]
                    evals = train.iloc[at].copy()
                    evals[schema.READOUT] = schema.READOUT_EVAL
                    evals[schema.ESTIMATE] = estimate[at] + 0.5 * noise[at] * rng.standard_normal(
                        at.size
                    )
                    evals[schema.LOSS] = np.nan
                    evals[schema.LOG_K] = math.log(4 * batch_size)
                    frames += [train, evals]
    return pd.DataFrame(pd.concat(frames, ignore_index=True))[list(schema.COLUMNS)]


def _cell(
    suite: str,
    estimator: str,
    task: str,
    level: float | None,
    task_id: str,
    batch_size: int,
    seed: int,
    n_steps: int,
    *,
    critic: str = "separable",
    dtype: str = "float32",
    negatives: str = "offdiag",
) -> RunConfig:
    """The config of one synthetic run; its hash is the run id (readers check it)."""
    return RunConfig.make(
        estimator=estimator,
        task=task,
        # The fixed MI level as the real tasks store it (no level: the schedule task).
        task_params={"mi": float(level)} if level is not None else {"schedule": task_id},
        critic=critic,
        batch_size=batch_size,
        n_steps=n_steps,
        seed=seed,
        dtype=dtype,
        negatives=negatives,
        suite=suite,
    )


def write_synthetic_suite(
    suite_dir: str | Path, runs: pd.DataFrame, *, summary: bool = True
) -> Path:
    """Store ``runs`` under ``suite_dir`` exactly as the runner does and return ``suite_dir``.

    Each run goes through :func:`mibench.results.store.write_run` (JSON sidecar with a
    :class:`~mibench.core.interface.RunConfig` config, then the Parquet file); with ``summary`` the
    runs are aggregated by the runner's own :func:`mibench.results.summary.summarize` into
    ``summary.parquet``, so figures and reports are tested on the real summary columns.
    """
    suite_dir = Path(suite_dir)
    frames: dict[str, pd.DataFrame] = {}
    sidecars: dict[str, dict] = {}
    for _, run in runs.groupby(schema.RUN_ID, sort=True):
        first = run.iloc[0]
        level = float(first[schema.MI_LEVEL])
        cell = _cell(
            str(first[schema.SUITE]),
            str(first[schema.ESTIMATOR]),
            str(first[schema.TASK]),
            level if np.isfinite(level) else None,
            str(first[schema.TASK_ID]),
            int(first[schema.BATCH_SIZE]),
            int(first[schema.SEED]),
            int(run[schema.STEP].max() + 1),
            critic=str(first[schema.CRITIC]),
            dtype=str(first[schema.DTYPE]),
            negatives=str(first[schema.NEGATIVES]),
        )
        # Stored under its config's hash, as the runner does: readers trust no other name.
        run_id, config = cell.cell_hash(), cell.as_dict()
        diverged = run.loc[run[schema.DIVERGED].astype(bool), schema.STEP]
        sidecar = store.sidecar_record(
            config=config,
            run_id=str(run_id),
            wall_time_s=float(run[schema.TIME_S].max()),
            critic_architecture="synthetic (no critic)",
            n_parameters=0,
            diverged_step=int(diverged.min()) if len(diverged) else None,
            task_id=str(first[schema.TASK_ID]),
            n_rows=len(run),
        )
        frame = run.reset_index(drop=True).assign(**{schema.RUN_ID: run_id})
        store.write_run(suite_dir, str(run_id), frame, sidecar)
        frames[str(run_id)], sidecars[str(run_id)] = frame, sidecar
    if summary:
        table = summarize(frames, sidecars)
        store.write_summary(suite_dir, table)
    return suite_dir
