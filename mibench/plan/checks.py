"""Checks of a plan and of its results folder that the suite schema cannot make by itself.

:mod:`mibench.plan.suite` checks each value on its own; these checks combine values with the machine:
how many rows a run would log (the trainer preallocates them), whether the results folder can be
created where ``--out`` points, and whether the file system accepts the suite name as a folder
name. Each raises :class:`~mibench.plan.suite.SuiteError` with one line naming the bad value, before
anything is written (``mibench run`` prints it and exits with code 2).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from mibench.core.interface import RunConfig
from mibench.plan.suite import Plan, SuiteError

# Rows one run may log (train readouts every log_every steps + eval readouts every eval_every
# steps). The trainer keeps them in preallocated float64 tensors, about 20 columns per row and
# run: 2 million rows are ~320 MB per run, and a stack holds many runs.
MAX_LOGGED_ROWS = 2_000_000
# A folder name may have at most this many bytes on Linux/macOS file systems (NAME_MAX).
NAME_MAX_BYTES = 255


def logged_rows(config: RunConfig) -> int:
    """Rows of a run's frame: train readouts at every ``log_every``-th step and at the last step,
    eval readouts at every ``eval_every``-th step and at the last step."""
    steps = config.n_steps
    return math.ceil(steps / config.log_every) + math.ceil(steps / config.eval_every) + 2


def check_plan_size(plan: Plan) -> None:
    """SuiteError when a run would log more than :data:`MAX_LOGGED_ROWS` rows."""
    for config in plan.configs:
        rows = logged_rows(config)
        if rows > MAX_LOGGED_ROWS:
            raise SuiteError(
                f"steps = {config.n_steps} with log_every = {config.log_every} and eval_every = "
                f"{config.eval_every} logs {rows} rows per run; at most {MAX_LOGGED_ROWS} fit in "
                "memory (lower steps or raise log_every/eval_every)"
            )


def check_plan_memory(plan: Plan, *, available: float | None = None) -> None:
    """SuiteError when the plan's largest stack would not fit in memory
    (:func:`mibench.plan.resources.check_plan_memory`)."""
    from mibench.core.interface import SampleEstimator
    from mibench.plan import resolve, resources

    runs = (
        (
            run.config,
            run.task.dim_x,
            run.task.dim_y or 0,
            isinstance(run.estimator, SampleEstimator),
            (run.config.device, *resolve.stack_key(run.config, run.task, run.estimator)),
        )
        for run in plan.runs.values()
    )
    refusal = resources.check_plan_memory(runs, available=available)
    if refusal is not None:
        raise SuiteError(refusal)


def check_suite_folder_name(name: str) -> None:
    """SuiteError when the file system cannot hold a folder named ``name``."""
    size = len(os.fsencode(name))
    if size > NAME_MAX_BYTES:
        raise SuiteError(
            f"[suite].name: {size} bytes long ({name[:20]!r}...); it names the results folder, "
            f"which may have at most {NAME_MAX_BYTES} bytes"
        )


def check_out(out: str | Path) -> Path:
    """``--out`` as a Path; SuiteError for an empty string (which would mean the current folder)."""
    if isinstance(out, str) and not out.strip():
        raise SuiteError(f"--out: must name a folder, got {out!r}")
    return Path(out)


def check_results_folder(suite_dir: Path) -> None:
    """SuiteError unless ``suite_dir`` is, or can be created as, a writable folder.

    Walks up to the nearest existing path: it must be a folder (not a regular file) that this
    process may write into (``os.access``; root passes except on a read-only file system).
    """
    suite_dir = Path(suite_dir)
    existing = suite_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "" if existing == suite_dir else f", so {str(suite_dir)!r} cannot be created"
        raise SuiteError(f"--out: {str(existing)!r} is not a directory{where}")
    folders = [existing, existing / "runs"] if existing == suite_dir else [existing]
    for folder in folders:
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise SuiteError(f"--out: folder {str(folder)!r} is not writable")
    _probe_folder(existing, suite_dir)


def _probe_folder(existing: Path, suite_dir: Path) -> None:
    """SuiteError unless a folder can be made in ``existing`` (``os.access`` passes for root on
    /proc, say): one is made and removed at once, so nothing is left."""
    if not existing.is_dir():
        return
    try:
        probe = tempfile.mkdtemp(prefix=".mibench-probe-", dir=existing)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SuiteError(
            f"--out: cannot create {str(suite_dir)!r}: folder {str(existing)!r} does not take "
            f"new folders ({reason})"
        ) from None
    os.rmdir(probe)


__all__ = [
    "MAX_LOGGED_ROWS",
    "NAME_MAX_BYTES",
    "check_out",
    "check_plan_memory",
    "check_plan_size",
    "check_results_folder",
    "check_suite_folder_name",
    "logged_rows",
]
