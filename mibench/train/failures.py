"""Failed runs: a plug-in that produced no estimate, recorded with its reason.

A run *fails* when a plug-in estimator cannot produce an estimate at all: an external command
exits non-zero, times out or prints no number (:mod:`mibench.estimators.command`), a plug-in's
own code raises, or a Dask worker cannot import or unpickle the plug-in. (A built-in estimator
that raises is a bug and stops the run; NaN or Inf is *diverged*, a measurement, not a failure.)

A failed run is stored like any other, so a sweep always ends with every cell accounted for:
its frame has the schema's columns with one row per MI level and readout (the level's last
step) whose ``estimate`` is NaN and ``diverged`` True (so code that knows nothing of failures
leaves it out of every metric), and its sidecar carries ``failure = {"reason", "detail"}`` (one
line; the tail of the program's standard error or of the traceback). The summary counts such
runs in ``failed_fraction`` instead of ``diverged_fraction`` and keeps the first reason in
``failure``; ``mibench run`` and the report print one ``failed:`` line per cell. A later
``mibench run`` trains failed runs again (a failure is not a result; the runner asks
:func:`is_failed`).
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mibench.core.interface import EstimatorFailedError, RunConfig, Task
from mibench.plan.resolve import is_schedule
from mibench.results import schema, store, summary
from mibench.train import frames

FAILURE_KEY = summary.FAILURE_KEY  # the sidecar key of a failed run
DETAIL_CHARS = 2000  # what a failure keeps of a traceback or a program's standard error
NO_MATRIX_COLUMNS = (schema.LOSS, schema.INFONCE_VALUE, schema.ESS, schema.LOG_K,
                     schema.CEILING, schema.GRAD_NORM)  # fmt: skip


def level_steps(task: Task, n_steps: int) -> list[int]:
    """The step each level is read at: each level's last step (0 for a fixed task)."""
    if not is_schedule(task):
        return [0]
    return [segment.end - 1 for segment in task.segments(n_steps)]  # type: ignore[attr-defined]


def level_frame(
    config: RunConfig,
    task: Task,
    steps: Sequence[int],
    estimates: Sequence[float],
    times: Sequence[float],
    *,
    truths: Sequence[float] | None = None,
) -> pd.DataFrame:
    """A run frame with one row per level (``estimates[i]`` at ``steps[i]``, scored against
    ``truths[i]``, default the task's I(X; Y) there) under both the train and the eval readout,
    no score-matrix columns: sample runs and failed runs."""
    estimate = np.asarray(estimates, dtype=np.float64)
    levels = np.asarray([float(task.true_mi(step)) for step in steps], dtype=np.float64)
    truth = levels if truths is None else np.asarray(truths, dtype=np.float64)
    diverged = ~np.isfinite(estimate)
    level_rows = {
        schema.STEP: np.asarray(steps, dtype=np.int64),
        schema.TRUE_MI: truth,
        schema.ESTIMATE: estimate,
        schema.DIVERGED: np.maximum.accumulate(diverged),
        schema.TIME_S: np.asarray(times, dtype=np.float64),
    }
    frame = pd.concat(
        [pd.DataFrame({**level_rows, schema.READOUT: readout})
         for readout in (schema.READOUT_TRAIN, schema.READOUT_EVAL)],
        ignore_index=True,
    )  # fmt: skip
    for name, value in frames.run_constants(config, task, levels).items():
        frame[name] = value
    for name in NO_MATRIX_COLUMNS:
        frame[name] = math.nan  # no score matrix, no training
    return frame[list(schema.COLUMNS)]


def failure_of(error: BaseException) -> EstimatorFailedError:
    """``error`` as a failure: itself if it is one, else its type and message with the tail
    of its traceback as the detail (a plug-in's own code raised)."""
    if isinstance(error, EstimatorFailedError):
        return error
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    detail = trace.strip()[-DETAIL_CHARS:]
    return EstimatorFailedError(f"raised {type(error).__name__}: {error}", detail)


def failed_run(
    config: RunConfig, task: Task, failure: EstimatorFailedError, wall_time_s: float = 0.0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The frame and sidecar recording ``config`` as failed (see the module docstring)."""
    steps = level_steps(task, config.n_steps)
    frame = level_frame(config, task, steps, [math.nan] * len(steps), [wall_time_s] * len(steps))
    sidecar = store.sidecar_record(
        config=config.as_dict(),
        run_id=config.cell_hash(),
        wall_time_s=wall_time_s,
        critic_architecture="none (failed run)",
        n_parameters=0,
        diverged_step=None,
        task_id=task.id,
        n_rows=len(frame),
    )
    sidecar[FAILURE_KEY] = {
        "reason": " ".join(failure.reason.split()),
        "detail": failure.detail[-DETAIL_CHARS:],
    }
    return frame, sidecar


def failure_in(sidecar: dict[str, Any]) -> dict[str, str] | None:
    """The ``failure`` record of a sidecar, None for a run that did not fail."""
    record = sidecar.get(FAILURE_KEY)
    return record if isinstance(record, dict) else None


def is_failed(suite_dir: Path, run_id: str) -> bool:
    """Whether the stored run ``run_id`` is a failed one (False when it is not stored)."""
    if not store.is_finished(suite_dir, run_id):
        return False
    try:
        return failure_in(store.read_sidecar(suite_dir, run_id)) is not None
    except (OSError, ValueError):  # sidecar missing or unreadable: the store's rules apply
        return False
