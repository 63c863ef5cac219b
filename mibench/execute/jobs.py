"""One stack as a unit of work: train it (from its checkpoint, if one exists) and hand back its
finished runs as frames and sidecars, ready for :func:`mibench.results.store.write_run`.

This is what runs wherever a stack trains (this process or a Dask worker on another machine), so
it writes no result file: the client that owns the results folder writes them, which keeps the
atomic write and resume-by-config-hash rules in one place and needs no shared filesystem.

Checkpoints. A stack in flight saves its whole state (critic parameters, Adam moments, estimator
and system state, per-run random generators, the rows recorded so far; see
:func:`mibench.train.train_stack`) at a data-block boundary once at least
``checkpoint_every_s`` seconds have passed since the last one, to
``<results>/checkpoints/<stack id>.pt`` on the machine that trains it (temp file + rename). A rerun
of the same stack (Dask rescheduling it after its worker died, or ``mibench run`` started again)
resumes from there, bit for bit as if never stopped; the client removes the file once the stack's
run files are written. Without a shared filesystem a stack rerun on another machine starts from
step 0 (same numbers, more time).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mibench.core.interface import Estimator, EstimatorFailedError, RunConfig, SampleEstimator, Task
from mibench.plan import cost, plugins
from mibench.results import schema, store

if TYPE_CHECKING:
    from mibench.plan.resolve import ResolvedRun

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_SUFFIX = ".pt"
# Seconds between two checkpoints of a stack: writing one costs about as much as a few steps, and
# a preempted worker loses at most this much training.
DEFAULT_CHECKPOINT_EVERY_S = 60.0


def stack_id(configs: Sequence[RunConfig]) -> str:
    """16 hex digits naming a stack by its runs' cell hashes (in order)."""
    blob = ",".join(c.cell_hash() for c in configs).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def checkpoint_dir(suite_dir: Path) -> Path:
    """``<suite_dir>/checkpoints``."""
    return Path(suite_dir) / CHECKPOINT_DIR


@dataclass(frozen=True)
class StackJob:
    """One stack to train: its index in the plan's stack list and where its checkpoint lives.

    ``checkpoint_path`` None disables checkpoints; it is an absolute path string so that it
    means the same folder on every machine that shares the filesystem.
    """

    index: int
    configs: tuple[RunConfig, ...]
    checkpoint_path: str | None = None
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    # The plug-in estimators the configs name, found again where the stack trains.
    plugins: tuple[plugins.PluginPayload, ...] = ()

    @property
    def device(self) -> str:
        return self.configs[0].device

    @property
    def n_steps(self) -> int:
        return self.configs[0].n_steps

    @property
    def run_steps(self) -> int:
        return len(self.configs) * self.n_steps

    @property
    def work(self) -> float:
        """Relative cost to train (:func:`mibench.plan.cost.work`): the executors start the costliest first."""
        return cost.work(self.configs)


@dataclass(frozen=True)
class FinishedRun:
    """A trained run as the store writes it."""

    run_id: str
    frame: pd.DataFrame
    sidecar: dict[str, Any]


def make_job(
    index: int,
    stack: Sequence[RunConfig],
    suite_dir: Path,
    *,
    checkpoint_every_s: float | None = DEFAULT_CHECKPOINT_EVERY_S,
) -> StackJob:
    """The job of stack number ``index``; ``checkpoint_every_s`` None: no checkpoints."""
    folder = checkpoint_dir(Path(suite_dir).resolve())
    return StackJob(
        index=index,
        configs=tuple(stack),
        checkpoint_path=None
        if checkpoint_every_s is None
        else str(folder / f"{stack_id(stack)}{CHECKPOINT_SUFFIX}"),
        checkpoint_every_s=0.0 if checkpoint_every_s is None else float(checkpoint_every_s),
        plugins=plugins.payloads(stack),
    )


def make_jobs(
    stacks: Sequence[Sequence[RunConfig]],
    suite_dir: Path,
    *,
    checkpoint_every_s: float | None = DEFAULT_CHECKPOINT_EVERY_S,
) -> list[StackJob]:
    """One job per stack (:func:`make_job`); ``checkpoint_every_s`` None: no checkpoints."""
    return [
        make_job(index, stack, suite_dir, checkpoint_every_s=checkpoint_every_s)
        for index, stack in enumerate(stacks)
    ]


def with_f_truth(
    frame: pd.DataFrame, spec: Estimator | SampleEstimator, task: Task
) -> pd.DataFrame:
    """Add the task's f-information at each row's step as ``true_f_mi`` to the frame of a run whose
    estimator declares one (``spec.f_information``, the f-MICL estimators).

    The value is the task's ``f_mi(spec.f_information, step=..., alpha=...)`` (``alpha`` from the
    spec's hyperparameters, for Tsallis); NaN where the task has no f-MI ground truth.
    """
    name = getattr(spec, "f_information", None)
    if name is None or schema.TRUE_F_MI in frame.columns:
        return frame
    f_mi = getattr(task, "f_mi", None)
    if f_mi is None:
        return frame
    alpha = spec.hyper.get("alpha")
    extra = {} if alpha is None else {"alpha": alpha}
    steps = frame[schema.STEP].to_numpy()
    truth = frame[schema.TRUE_MI].to_numpy()
    by_truth = {}
    for level in pd.unique(truth):  # schedule tasks: one f-MI per MI level, read at its first step
        value = f_mi(name, step=int(steps[truth == level][0]), **extra)
        by_truth[level] = math.nan if value is None else float(value)
    frame = frame.copy()
    frame[schema.TRUE_F_MI] = [by_truth[level] for level in truth]
    return frame


def finished_run(result: Any, run: ResolvedRun) -> FinishedRun:
    """A :class:`~mibench.train.RunResult` of the :class:`~mibench.plan.resolve.ResolvedRun` ``run`` as
    frame + sidecar (versions of this machine)."""
    config: RunConfig = result.config
    run_id = config.cell_hash()
    frame = with_f_truth(result.frame, run.estimator, run.task)
    sidecar = store.sidecar_record(
        config=config.as_dict(),
        run_id=run_id,
        wall_time_s=result.wall_time_s,
        critic_architecture=result.critic_architecture,
        n_parameters=result.n_parameters,
        diverged_step=result.diverged_step,
        task_id=result.task_id,
        n_rows=len(frame),
    )
    return FinishedRun(run_id, frame, sidecar)


class _CheckpointWriter:
    """The ``checkpoint`` callback of :func:`mibench.train.train_stack` for one job."""

    def __init__(self, job: StackJob) -> None:
        self.path = Path(str(job.checkpoint_path))
        self.every_s = job.checkpoint_every_s
        self.last = time.monotonic()
        self.enabled = True

    def __call__(self, steps_done: int, state: Callable[[], dict[str, Any]]) -> None:
        import torch

        if not self.enabled or time.monotonic() - self.last < self.every_s:
            return
        buffer = io.BytesIO()
        torch.save(state(), buffer)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            store.write_bytes_atomic(self.path, buffer.getvalue())
        except OSError as error:  # e.g. the results path does not exist on this machine
            logger.warning("checkpoints off for this stack: cannot write %s (%s)", self.path, error)
            self.enabled = False
        self.last = time.monotonic()


def load_checkpoint(job: StackJob) -> dict[str, Any] | None:
    """The job's saved state, or None when there is none usable (a bad file is ignored)."""
    import torch

    from mibench.train import snapshots

    if job.checkpoint_path is None:
        return None
    path = Path(job.checkpoint_path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated or foreign file: train from step 0 instead
        logger.warning("ignoring unreadable checkpoint %s (%s)", path, error)
        return None
    if not isinstance(state, dict) or state.get("format") != snapshots.CHECKPOINT_FORMAT:
        logger.warning("ignoring checkpoint %s of another format", path)
        return None
    return state


def remove_checkpoint(job: StackJob) -> None:
    """Delete the job's checkpoint (its runs are stored)."""
    if job.checkpoint_path is not None:
        with contextlib.suppress(OSError):
            Path(job.checkpoint_path).unlink(missing_ok=True)


def train_job(
    job: StackJob, progress: Callable[[int], None] | None = None, *, threads: int | None = None
) -> list[FinishedRun]:
    """Train one stack (resuming from its checkpoint) with ``threads`` torch threads (None: leave
    the process's setting) and return its runs, in the stack's order."""
    if not job.plugins:
        return _train_stack(job, progress, threads)
    # A plug-in's stack holds that plug-in's runs only (the runner's make_stacks): whatever its
    # code raises, or a worker that cannot load it, fails those runs and the sweep goes on.
    try:
        plugins.install(job.plugins)
        return _train_stack(job, progress, threads)
    except Exception as error:  # the plug-in's code or its import: recorded with the runs
        return failed_runs(job, error)


def failed_runs(job: StackJob, error: BaseException) -> list[FinishedRun]:
    """Every run of ``job`` recorded as failed with ``error`` (:mod:`mibench.train.failures`)."""
    from mibench.plan.resolve import build_task
    from mibench.train import failures

    failure = failures.failure_of(error)
    if isinstance(error, plugins.PluginError):  # one line says it all; no traceback to keep
        failure = EstimatorFailedError(str(error))
    logger.warning("stack %d failed: %s", job.index, failure.reason)
    out = []
    for config in job.configs:
        frame, sidecar = failures.failed_run(config, build_task(config), failure)
        out.append(FinishedRun(config.cell_hash(), frame, sidecar))
    return out


def _train_stack(
    job: StackJob, progress: Callable[[int], None] | None, threads: int | None
) -> list[FinishedRun]:
    import torch

    from mibench import train

    # Jobs carry configs (they pickle for Dask); each is resolved once here, where it trains. The
    from mibench.plan import resolve

    # plan checked them, so they are not checked again.
    runs = [resolve.resolve_run(c, checked=True) for c in job.configs]
    extra: dict[str, Any] = {}
    if job.checkpoint_path is not None:
        extra["checkpoint"] = _CheckpointWriter(job)
        resume = load_checkpoint(job)
        if resume is not None:
            extra["resume_from"] = resume
            if progress is not None:
                progress(int(resume["steps_done"]))
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        results = train.train_stack(runs, device=job.device, progress=progress, **extra)
    finally:
        torch.set_num_threads(before)
    return [finished_run(r, run) for r, run in zip(results, runs, strict=True)]
