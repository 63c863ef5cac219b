"""The runner's path for sample estimators (``kind == "sample"``): draw n samples, estimate, store.

Sample estimators (KSG, Gaussian/CCA, histogram, KDE; :mod:`mibench.estimators.classical`) have no
critic and no training, so they skip the stacked trainer. Each run (one cell and seed):

1. draws ``sample_size`` joint pairs from the task (float64) with the run's own data stream
   (:func:`mibench.core.rng.generator` with ``STREAM_DATA``, seeded from the cell hash), and
2. computes one estimate from them. On a schedule task (``staircase``) it does this once per
   level, drawing the n pairs at the level's last step (the step the summary's evaluation window
   ends on), so the run has one estimate per level.

The run file has the schema of every other run: one row per level and readout; the one estimate
appears under both the ``train`` and the ``eval`` readout (there is no training batch to tell them
apart), so the summary's window columns and held-out columns agree, and its bias, variances and
MSE are taken over seeds (``var_within`` is 0: one estimate per run). Cells are canonical: a
sample estimator's cell records ``critic = "none"``, ``batch_size = sample_size`` (the n the
estimate used), ``dtype = "float64"``, ``n_steps = 1`` (the suite's ``steps`` only for schedule
tasks, whose levels depend on it) and the default lr and logging settings, so changing a neural
setting never recomputes a sample estimate. The sidecar adds ``kind``, ``sample_size``,
``readout`` and, for Monte Carlo truths, ``true_mi_standard_error``.

An estimator of another quantity than I(X; Y) (``spec.target``: ``"sliced"`` for sliced MI) is
scored against the task's value of that quantity: its ``true_mi`` column holds the task's sliced
MI at each level, its ``mi_level`` stays the level's I(X; Y) (so its rows line up with the other
estimators' levels) and its sidecar records ``target``, which the summary copies into its
``target`` column; tables that compare estimates with I(X; Y) leave such rows out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mibench.core import rng
from mibench.core.interface import EstimatorFailedError, RunConfig, SampleEstimator, Task
from mibench.plan import plugins

# The canonical sample cell and the compatibility rule are the planner's (mibench.plan.resolve);
# re-exported here for this path's callers.
from mibench.plan.resolve import SAMPLE_CRITIC as SAMPLE_CRITIC
from mibench.plan.resolve import SAMPLE_DEVICE as SAMPLE_DEVICE
from mibench.plan.resolve import SAMPLE_DTYPE as SAMPLE_DTYPE
from mibench.plan.resolve import build_task, sliced_truth
from mibench.plan.resolve import sample_config as sample_config
from mibench.results import schema, store
from mibench.train import failures

READOUT_NOTE = "one estimate from sample_size fresh joint draws per level (no training)"


def is_sample_config(config: RunConfig) -> bool:
    """Whether ``config`` is a sample-estimator cell (built-in or plug-in)."""
    return isinstance(plugins.spec_for(config), SampleEstimator)


def split(configs: Sequence[RunConfig]) -> tuple[list[RunConfig], list[RunConfig]]:
    """``(sample cells, score-matrix cells)`` in their given order."""
    sample = [c for c in configs if is_sample_config(c)]
    return sample, [c for c in configs if not is_sample_config(c)]


def _estimate(spec: SampleEstimator, config: RunConfig, x: np.ndarray, y: np.ndarray) -> float:
    """One estimate; a plug-in's own exception becomes a failure (its run is recorded as failed
    and the sweep goes on), a built-in estimator's propagates (a bug in mibench)."""
    if not config.estimator_fingerprint:
        return spec.estimate(x, y)
    try:
        return spec.estimate(x, y)
    except EstimatorFailedError:
        raise
    except Exception as error:  # user code: any exception is its failure, recorded with it
        raise failures.failure_of(error) from None


def run_one(config: RunConfig, task: Task) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Estimate once per level of ``task``; the run's frame and its sidecar (not yet written).
    A plug-in that produces no estimate gives a failed run (:mod:`mibench.train.failures`)."""
    spec = plugins.spec_for(config)
    assert isinstance(spec, SampleEstimator), config.estimator
    spec = spec.with_hyper(**config.kwargs("estimator"))
    generator = rng.generator(config, rng.STREAM_DATA)
    started = time.perf_counter()
    steps, estimates, truths, levels, times = [], [], [], [], []
    for step in failures.level_steps(task, config.n_steps):
        at = torch.full((config.batch_size,), step, dtype=torch.int64)
        batch = task.sample(config.batch_size, generator, steps=at, dtype=torch.float64)
        assert batch.y is not None
        try:
            estimates.append(_estimate(spec, config, batch.x.numpy(), batch.y.numpy()))
        except EstimatorFailedError as failure:
            return failures.failed_run(config, task, failure, time.perf_counter() - started)
        steps.append(step)
        truths.append(scored_truth(spec, task, step))
        levels.append(float(task.true_mi(step)))
        times.append(time.perf_counter() - started)
    wall = time.perf_counter() - started
    frame = failures.level_frame(config, task, steps, estimates, times, truths=truths)
    if spec.target != "mi" and not np.isfinite(frame[schema.MI_LEVEL].iloc[0]):
        # A schedule task: each row's level is its I(X; Y), while true_mi holds what the
        # estimate is scored on (the sliced MI), so the levels line up with the other estimators.
        frame[schema.MI_LEVEL] = np.tile(np.asarray(levels, dtype=np.float64), 2)
    diverged = ~np.isfinite(np.asarray(estimates, dtype=np.float64))
    first_bad = np.flatnonzero(diverged)
    sidecar = store.sidecar_record(
        config=config.as_dict(),
        run_id=config.cell_hash(),
        wall_time_s=wall,
        critic_architecture=f"{SAMPLE_CRITIC} (sample estimator)",
        n_parameters=0,
        diverged_step=int(steps[first_bad[0]]) if len(first_bad) else None,
        task_id=task.id,
        n_rows=len(frame),
    )
    sidecar.update({"kind": spec.kind, "sample_size": config.batch_size, "readout": READOUT_NOTE})
    if spec.target != "mi":
        sidecar["target"] = spec.target  # the summary's target column (what true_mi measures)
    sidecar.update(truth_metadata(task))
    return frame, sidecar


def scored_truth(spec: SampleEstimator, task: Task, step: int) -> float:
    """What ``spec``'s estimate at ``step`` is scored against: the task's I(X; Y), or its sliced
    MI at the estimator's ``slice_dim`` for an estimator of sliced MI (``spec.target``)."""
    if spec.target == "mi":
        return float(task.true_mi(step))
    value = sliced_truth(task, step, slice_dim=int(spec.hyper.get("slice_dim", 1)))
    if value is None:
        raise ValueError(f"{spec.name} estimates sliced MI; task {task.name} has no sliced truth")
    return float(value)


def truth_metadata(task: Task) -> dict[str, float]:
    """``{"true_mi_standard_error": se}`` for tasks whose truth is a Monte Carlo estimate."""
    standard_error = getattr(task, "true_mi_standard_error", None)
    return {} if standard_error is None else {"true_mi_standard_error": float(standard_error())}


def run_and_store(suite_dir: Path, configs: Sequence[RunConfig]) -> list[str]:
    """Run every sample cell and store it atomically as it finishes; returns the run ids."""
    run_ids = []
    for config in configs:
        frame, sidecar = run_one(config, build_task(config))
        store.write_run(suite_dir, config.cell_hash(), frame, sidecar)
        run_ids.append(config.cell_hash())
    return run_ids
