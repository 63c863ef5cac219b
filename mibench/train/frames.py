"""A finished stack's records as one long-format frame per run (the schema of
:mod:`mibench.results.schema`, one row per (readout, step)).

The trainer's records are ``(n_rows, R)`` float64 columns per readout ("train", "eval"); here
each run gets its column slices, NaN after the step it diverged at, the per-step true MI, log M
and the ceiling of its estimator at the readout's matrix size M, its config's constants and, last,
its system's ``system`` and ``k_eff``. Only the run's own estimator's extras become columns, so a
run's frame never depends on its stack-mates; stack-wide extras (embedding and system readouts)
go to every run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mibench import systems
from mibench.core.interface import RunConfig, Task
from mibench.plan.resolve import head_of
from mibench.results import schema
from mibench.train.record import RunResult

_TRAIN_METRICS = (schema.ESTIMATE, schema.LOSS, schema.INFONCE_VALUE, schema.ESS, schema.GRAD_NORM)


@dataclass(frozen=True)
class HostReadout:
    """One readout of a stack, on the host."""

    readout: str  # schema.READOUT_TRAIN or schema.READOUT_EVAL
    steps: list[int]
    columns: dict[str, np.ndarray]  # name -> (n_rows, R)
    times: list[float]
    batch: int  # samples per readout batch (K or the eval batch size)
    matrix_size: int  # M of the score block: log_k = log M, the ceiling's argument


def host_readout(
    readout: str,
    steps: list[int],
    columns: dict[str, Any],
    times: list[float],
    *,
    batch: int,
    matrix_size: int,
) -> HostReadout:
    """The device records ``columns`` (name -> ``(n_rows, R)`` tensor) copied to the host."""
    host = {name: values.cpu().numpy() for name, values in columns.items()}
    return HostReadout(readout, steps, host, times, batch, matrix_size)


def described(critic: Any, heads: Mapping[str, tuple[slice, Any]], spec: Any) -> tuple[str, int]:
    """The critic architecture and parameter count of a run of ``spec`` (with its dual head, if
    it trains one: ``heads`` maps a dual kind to its slice of runs and its stacked head)."""
    arch, n_params = critic.architecture, critic.n_parameters
    head = heads.get(head_of(spec))
    if head is not None:
        arch = f"{arch} + {head[1].architecture}"
        n_params += head[1].n_parameters
    return arch, n_params


def run_results(
    runs: Sequence[Any],
    groups: Sequence[Any],
    readouts: tuple[HostReadout, HostReadout],
    diverged: np.ndarray,
    *,
    layout: str,
    n_steps: int,
    described: Sequence[tuple[str, int]],
    wall: float,
) -> list[RunResult]:
    """One :class:`RunResult` per run, in the caller's order (``run.position``).

    Args:
        runs: the stack's runs (``position``, ``config``, ``task``, ``spec``), in stack order.
        groups: the estimator groups (``start``, ``stop``, ``extra_names``).
        readouts: the train and the eval readout.
        diverged: ``(R,)`` first diverged step per run, -1 for none.
        layout: the stack's score layout (sets ``k_eff``).
        n_steps: steps configured (the true-MI series covers them all).
        described: per run, its critic architecture and parameter count.
        wall: the stack's wall time in seconds.
    """
    own = own_extras(readouts, groups)
    truths: dict[int, np.ndarray] = {}
    results: list[RunResult | None] = [None] * len(runs)
    for index, run in enumerate(runs):
        truth = truths.get(id(run.task))
        if truth is None:
            truth = np.array([run.task.true_mi(s) for s in range(n_steps)], dtype=np.float64)
            truths[id(run.task)] = truth
        div_step = int(diverged[index]) if diverged[index] >= 0 else None
        frame = run_frame(run, index, readouts, own[index], truth, div_step, layout)
        architecture, n_parameters = described[index]
        results[run.position] = RunResult(
            config=run.config, frame=frame, diverged_step=div_step, wall_time_s=wall,
            critic_architecture=architecture, n_parameters=n_parameters, task_id=run.task.id,
        )  # fmt: skip
    return [r for r in results if r is not None]


def own_extras(readouts: Sequence[HostReadout], groups: Sequence[Any]) -> dict[int, list[str]]:
    """Per run index, the extra columns its frame gets (sorted): its estimator's own extras and
    every column no estimator reports (the stack-wide embedding and system readouts)."""
    recorded = set().union(*(set(r.columns) for r in readouts))
    extras = sorted(recorded - set(schema.COLUMNS))
    estimator_extras = set().union(*(g.extra_names for g in groups))
    return {
        index: [e for e in extras if e not in estimator_extras or e in group.extra_names]
        for group in groups
        for index in range(group.start, group.stop)
    }


def run_frame(
    run: Any,
    index: int,
    readouts: tuple[HostReadout, HostReadout],
    extras: list[str],
    truth: np.ndarray,
    div_step: int | None,
    layout: str,
) -> pd.DataFrame:
    """Run ``index``'s frame: its train and eval rows, constants, then ``system`` and ``k_eff``."""
    parts = [_readout_part(run.spec, index, part, extras, truth, div_step) for part in readouts]
    frame = pd.concat(parts, ignore_index=True)
    for name, value in run_constants(run.config, run.task, truth).items():
        frame[name] = value
    frame = frame[[*schema.COLUMNS, *extras]]
    config = run.config
    frame[schema.SYSTEM] = config.system
    train, evals = readouts
    frame[schema.K_EFF] = np.where(
        frame[schema.READOUT].to_numpy() == schema.READOUT_TRAIN,
        systems.k_eff(config, layout, train.batch),
        systems.k_eff(config, layout, evals.batch),
    )
    return frame


def _readout_part(
    spec: Any,
    index: int,
    part: HostReadout,
    extras: list[str],
    truth: np.ndarray,
    div_step: int | None,
) -> pd.DataFrame:
    """The rows of one readout of run ``index``; metrics after ``div_step`` are NaN."""
    n_rows = len(part.steps)
    step_arr = np.asarray(part.steps, dtype=np.int64)
    after = step_arr > div_step if div_step is not None else np.zeros(n_rows, bool)
    columns: dict[str, Any] = {}
    for name in (*_TRAIN_METRICS, *extras):
        host = part.columns
        values = host[name][:, index].copy() if name in host else np.full(n_rows, np.nan)
        values[after] = np.nan
        columns[name] = values
    ceiling = spec.ceiling(part.matrix_size)
    return pd.DataFrame(
        {
            schema.STEP: step_arr,
            schema.READOUT: part.readout,
            schema.TRUE_MI: truth[step_arr],
            schema.LOG_K: math.log(part.matrix_size),
            schema.CEILING: math.nan if ceiling is None else ceiling,
            schema.DIVERGED: (
                step_arr >= div_step if div_step is not None else np.zeros(n_rows, bool)
            ),
            schema.TIME_S: np.asarray(part.times, dtype=np.float64),
            **columns,
        }
    )


def run_constants(config: RunConfig, task: Task, truth: np.ndarray) -> dict[str, Any]:
    """The per-run columns that are the same in every row (trained and sample runs alike)."""
    return {
        schema.RUN_ID: config.cell_hash(),
        schema.SUITE: config.suite,
        schema.ESTIMATOR: config.estimator,
        schema.TASK: config.task,
        schema.TASK_ID: task.id,
        schema.DIM: task.dim_x,
        schema.MI_LEVEL: mi_level(config, truth),
        schema.BATCH_SIZE: config.batch_size,
        schema.CRITIC: config.critic,
        schema.SEED: config.seed,
        schema.DTYPE: config.dtype,
        schema.NEGATIVES: config.negatives,
    }


def mi_level(config: RunConfig, truth: np.ndarray) -> float:
    """The cell's configured MI level (``task_params["mi"]``), else the constant true MI, else NaN."""
    level = dict(config.task_params).get("mi")
    if isinstance(level, int | float) and not isinstance(level, bool):
        return float(level)
    return float(truth[0]) if np.all(truth == truth[0]) else math.nan
