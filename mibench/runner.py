"""Orchestration of ``mibench run``: plan -> skip finished cells -> stacks -> store -> summary.

The data flow of DESIGN.md, one direction::

    suite file --prepare()--> Plan (validated cells; nothing written yet)
      --execute()--> pending cells (finished ones skipped unless force)
      --group by (device, train.stack_key)--> stacks --train.train_stack--> RunResults
         (in this process, or in ``workers`` spawned processes with one torch thread each)
      --store.write_run (atomic, as soon as each stack ends)--> runs/<run_id>.parquet
      --summary.summarize--> summary.parquet (+ manifest.json, suite.json, skipped.json)
      --mibench.plots.draw_all, when that module provides it--> figures/

:func:`prepare` raises :class:`~mibench.suite.SuiteError` for every bad input before any
directory exists; :func:`execute` is the only function that writes.

Workers. Stacks are independent, so ``workers > 1`` trains them in that many spawned processes,
each limited to one torch thread (small stacked kernels are dominated by per-call overhead, and
one thread per process avoids oversubscribing the cores). Each worker writes its own results with
the same atomic rules. A worker dies with its parent (Linux ``PR_SET_PDEATHSIG``, and a parent
check at every progress report elsewhere), so killing ``mibench run`` never leaves training
processes behind. A run's numbers are bit-identical whatever its stack (size, stack-mates) and
whatever the worker count: see ``tests/train/test_stack_independence.py``.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from mibench import checks
from mibench.comparison import truth_comparison_table
from mibench.interface import RunConfig
from mibench.results import lock, schema, store, views
from mibench.results.formatting import number as _number
from mibench.results.formatting import share as _share
from mibench.results.sandwich import sandwich_intervals, sandwich_lines
from mibench.results.summary import SUMMARY_COLUMNS, summarize
from mibench.suite import (
    Overrides,
    Plan,
    Suite,
    load_suite,
    plan,
    suite_record,
)

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("results")
DEFAULT_MAX_STACK = 256  # runs per train_stack call: bounds memory; larger stacks gain little
FMICL_PREFIX = "fmicl_"
MAX_BARS_KEPT = 8  # with more stacks than this, finished stacks' bars are removed
DEFAULT_WORKERS = 1
WORKER_THREADS = 1  # torch threads per worker process
PARALLEL_MIN_RUN_STEPS = 100_000  # below this, spawning workers costs more than it saves
_PROGRESS_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Prepared:
    """A validated plan and where its results go (nothing created yet)."""

    plan: Plan
    suite_dir: Path


@dataclass
class RunReport:
    """What :func:`execute` did."""

    suite_dir: Path
    n_cells: int
    n_trained: int
    n_reused: int
    run_steps: int  # sum of n_steps over the runs trained now
    wall_time_s: float
    summary: pd.DataFrame
    skipped: list[dict[str, str]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    n_by_others: int = 0  # runs of the plan another mibench run trained meanwhile

    @property
    def run_steps_per_s(self) -> float:
        return self.run_steps / self.wall_time_s if self.wall_time_s > 0 else math.nan


def prepare(
    suite: str | Path | Suite | None = None,
    *,
    overrides: Overrides | None = None,
    out: str | Path = DEFAULT_OUT,
) -> Prepared:
    """Load and validate a suite (default: ``tasks/default.toml``) and expand it into cells.

    Raises SuiteError naming the bad value; creates no file or directory.
    """
    loaded = suite if isinstance(suite, Suite) else load_suite(suite)
    checks.check_suite_folder_name(loaded.name)
    expanded = plan(loaded, overrides)
    checks.check_plan_size(expanded)
    suite_dir = checks.check_out(out) / expanded.suite.name
    checks.check_results_folder(suite_dir)
    return Prepared(plan=expanded, suite_dir=suite_dir)


def pending_configs(prepared: Prepared, *, force: bool = False) -> list[RunConfig]:
    """Cells of the plan that still need training (all of them with ``force``)."""
    configs = list(prepared.plan.configs)
    if force:
        return configs
    return [c for c in configs if not store.is_finished(prepared.suite_dir, c.cell_hash())]


def make_stacks(
    configs: Sequence[RunConfig], *, max_stack: int = DEFAULT_MAX_STACK, workers: int = 1
) -> list[list[RunConfig]]:
    """Group configs that may share one stacked computation, in first-seen order.

    Each group is cut into equal parts of at most ``max_stack`` runs; with ``workers > 1`` a group
    whose run-steps exceed a worker's fair share (all run-steps / workers) is also cut into that
    many parts, so that no worker is left with one big stack while the others idle (a plan of 8
    runs on 4 workers is 4 stacks, not one of 8).
    """
    from mibench import train

    groups: dict[tuple[Any, ...], list[RunConfig]] = {}
    for config in configs:
        groups.setdefault((config.device, *train.stack_key(config)), []).append(config)
    total = sum(c.n_steps for c in configs)
    share = total / max(1, workers)
    stacks = []
    for members in groups.values():
        parts = math.ceil(len(members) / max_stack)
        if workers > 1:
            work = sum(c.n_steps for c in members)
            parts = max(parts, min(len(members), math.ceil(work / share - 1e-9)))
        size = math.ceil(len(members) / parts)
        stacks.extend(members[start : start + size] for start in range(0, len(members), size))
    return stacks


def _stack_label(stack: Sequence[RunConfig]) -> str:
    estimators = sorted({c.estimator for c in stack})
    shown = ", ".join(estimators[:3]) + (f" +{len(estimators) - 3}" if len(estimators) > 3 else "")
    first = stack[0]
    return f"{first.critic} K={first.batch_size} {shown} ({len(stack)} runs)"


def _with_f_truth(frame: pd.DataFrame, config: RunConfig, task: Any) -> pd.DataFrame:
    """Add the task's f-MI at each row's step as ``true_f_mi`` to an f-MICL run's frame.

    The f of ``fmicl_<name>`` is the task's ``f_mi(name, step=..., alpha=...)`` (``alpha`` from
    the run's estimator parameters, for Tsallis); NaN where the task has no f-MI ground truth.
    """
    if not config.estimator.startswith(FMICL_PREFIX) or schema.TRUE_F_MI in frame.columns:
        return frame
    f_mi = getattr(task, "f_mi", None)
    if f_mi is None:
        return frame
    name = config.estimator.removeprefix(FMICL_PREFIX)
    alpha = config.kwargs("estimator").get("alpha")
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


def _store_result(suite_dir: Path, result: Any, task: Any, token: str | None = None) -> bool:
    """Write one run's files; with a claim ``token``, only while the claim still holds it."""
    config: RunConfig = result.config
    run_id = config.cell_hash()
    if token is not None and not lock.holds(suite_dir, run_id, token):
        # Our claim was taken over (we stalled for longer than lock.STALE_S): the process that
        # took it writes this run; writing too could mix its sidecar with our Parquet file.
        logger.warning("run %s: claim taken over by another process; result dropped", run_id)
        return False
    frame = _with_f_truth(result.frame, config, task)
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
    store.write_run(suite_dir, run_id, frame, sidecar)
    return True


def train_and_store(
    suite_dir: Path,
    stack: Sequence[RunConfig],
    progress: Callable[[int], None] | None = None,
    token: str | None = None,
) -> list[str]:
    """Train one stack and store each run as it comes back; returns the run ids.

    ``token``: the claim token of the ``mibench run`` that holds these cells (see
    :mod:`mibench.results.lock`); a run whose claim no longer holds it is not written.
    """
    from mibench import train

    results = train.train_stack(stack, device=stack[0].device, progress=progress)
    for result in results:
        _store_result(suite_dir, result, train.build_task(result.config), token)
    return [r.config.cell_hash() for r in results]


# ------------------------------------------------------------------------- worker processes
_worker_queue: Any = None
_worker_parent: int | None = None


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _worker_init(progress_queue: Any, parent: int) -> None:
    import torch

    global _worker_queue, _worker_parent
    _worker_queue, _worker_parent = progress_queue, parent
    torch.set_num_threads(WORKER_THREADS)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)


def _worker_stack(
    index: int, suite_dir: Path, stack: list[RunConfig], token: str | None = None
) -> list[str]:
    def report(steps_done: int) -> None:
        if os.getppid() != _worker_parent:  # orphaned: stop instead of training for nobody
            os._exit(1)
        _worker_queue.put((index, steps_done))

    report(0)
    return train_and_store(suite_dir, stack, report, token)


def build_summary(prepared: Prepared) -> pd.DataFrame:
    """Summary of the plan's cells, read back from the stored run files."""
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    frames = {r: store.read_columns(prepared.suite_dir, r, SUMMARY_COLUMNS) for r in run_ids}
    sidecars = {r: store.read_sidecar(prepared.suite_dir, r) for r in run_ids}
    targets = {r: getattr(prepared.plan.tasks[r], "target", "mi") for r in run_ids}
    return summarize(frames, sidecars, targets=targets)


def _draw_figures(suite_dir: Path) -> list[Path]:
    import mibench.plots

    draw_all: Callable[[Path], list[Path]] | None = getattr(mibench.plots, "draw_all", None)
    if draw_all is None:
        logger.info("mibench.plots.draw_all not available; no figures drawn")
        return []
    return list(draw_all(suite_dir))


class _Bars:
    """Rich progress: one bar for all run-steps, one per stack (added when the stack starts)."""

    COLUMNS = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )

    def __init__(self, progress: Progress, stacks: Sequence[Sequence[RunConfig]]) -> None:
        self.progress = progress
        self.stacks = stacks
        total = sum(len(s) * s[0].n_steps for s in stacks)
        n_runs = sum(len(s) for s in stacks)
        self.overall = progress.add_task(f"all {n_runs} runs (run-steps)", total=total)
        self.bars: dict[int, Any] = {}
        self.done: dict[int, int] = {}

    def update(self, index: int, steps_done: int) -> None:
        stack = self.stacks[index]
        if index not in self.bars:
            label = f"stack {index + 1}/{len(self.stacks)}: {_stack_label(stack)}"
            self.bars[index] = self.progress.add_task(label, total=stack[0].n_steps)
        self.done[index] = steps_done
        self.progress.update(self.bars[index], completed=steps_done)
        run_steps = sum(self.done[i] * len(self.stacks[i]) for i in self.done)
        self.progress.update(self.overall, completed=run_steps)

    def finish(self, index: int) -> None:
        self.update(index, self.stacks[index][0].n_steps)
        if len(self.stacks) > MAX_BARS_KEPT:
            self.progress.remove_task(self.bars[index])  # many stacks: keep the display short


def _claim(
    claims: lock.Claims, configs: Sequence[RunConfig], force: bool
) -> tuple[list[RunConfig], list[RunConfig]]:
    """(claimed for training here, held by another process) among ``configs``.

    A cell claimed after another process finished it (it writes, then releases) is released
    again and in neither list, unless ``force`` asks to recompute finished cells.
    """
    ours, held = [], []
    for config in configs:
        run_id = config.cell_hash()
        if not claims.try_claim(run_id):
            held.append(config)
        elif not force and store.is_finished(claims.suite_dir, run_id):
            claims.release(run_id)
        else:
            ours.append(config)
    return ours, held


def _train_in_process(
    suite_dir: Path,
    stacks: list[list[RunConfig]],
    bars: _Bars,
    claims: lock.Claims,
    force: bool = False,
) -> tuple[list[RunConfig], list[RunConfig]]:
    """Claim each stack's cells just before training it, so that a second ``mibench run`` on
    the folder takes the stacks not started yet; returns (trained here, held by others)."""
    trained, held = [], []
    for index, stack in enumerate(stacks):
        ours, others = _claim(claims, stack, force)
        held.extend(others)
        if ours:
            bars.update(index, 0)
            progress = functools.partial(bars.update, index)
            for run_id in train_and_store(suite_dir, ours, progress, claims.token):
                claims.release(run_id)
            trained.extend(ours)
        bars.finish(index)
    return trained, held


def _train_in_workers(
    suite_dir: Path,
    stacks: list[list[RunConfig]],
    bars: _Bars,
    workers: int,
    claims: lock.Claims,
) -> None:
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    # Longest stacks first, so the last worker to finish is not handed the biggest one late.
    order = sorted(range(len(stacks)), key=lambda i: -len(stacks[i]) * stacks[i][0].n_steps)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(progress_queue, os.getpid()),
    ) as pool:
        pending: dict[Future[list[str]], int] = {
            pool.submit(_worker_stack, i, suite_dir, stacks[i], claims.token): i for i in order
        }
        try:
            while pending:
                done, _ = wait(pending, timeout=_PROGRESS_POLL_S, return_when=FIRST_COMPLETED)
                _drain(progress_queue, bars)
                for future in done:
                    index = pending.pop(future)
                    # A worker's exception is raised here, with its traceback.
                    for run_id in future.result():
                        claims.release(run_id)
                    bars.finish(index)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _drain(progress_queue: Any, bars: _Bars) -> None:
    while True:
        try:
            index, steps_done = progress_queue.get_nowait()
        except queue.Empty:
            return
        bars.update(index, steps_done)


def default_workers(prepared: Prepared, *, force: bool = False) -> int:
    """Workers ``mibench run`` uses unless told: one per CPU core for a plan of at least
    ``PARALLEL_MIN_RUN_STEPS`` pending run-steps, else 1 (starting a worker costs seconds)."""
    run_steps = sum(c.n_steps for c in pending_configs(prepared, force=force))
    return max(1, os.cpu_count() or 1) if run_steps >= PARALLEL_MIN_RUN_STEPS else 1


def execute(
    prepared: Prepared,
    *,
    force: bool = False,
    console: Console | None = None,
    show_progress: bool = True,
    plots: bool = True,
    max_stack: int = DEFAULT_MAX_STACK,
    workers: int = DEFAULT_WORKERS,
) -> RunReport:
    """Train the pending cells of a prepared plan, store them, and write the summary.

    ``workers > 1`` trains stacks in that many processes (one torch thread each); CUDA runs
    always train in this process.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    console = console or Console(stderr=True)
    started = time.perf_counter()
    suite_dir = prepared.suite_dir
    runs = store.runs_dir(suite_dir)
    runs.mkdir(parents=True, exist_ok=True)
    store.clean_leftovers(suite_dir)
    lock.remove_dead_claims(suite_dir)  # claims a killed run left on cells it had finished
    from mibench.train import sample_runs

    # Sample estimators (KSG, CCA, ...) need no critic and no stack: their own fast path.
    sample_pending, pending = sample_runs.split(pending_configs(prepared, force=force))
    if any(c.device.startswith("cuda") for c in pending):
        workers = 1  # one process per GPU: the stacks already fill it
    by_id = {c.cell_hash(): c for c in pending}
    trained: list[RunConfig] = []

    def train_now(configs: list[RunConfig]) -> list[RunConfig]:
        """Train the cells of ``configs`` nobody else holds; returns those held by others."""
        stacks = make_stacks(configs, max_stack=max_stack, workers=workers)
        with Progress(*_Bars.COLUMNS, console=console, disable=not show_progress) as progress:
            if workers > 1 and len(stacks) > 1:
                # All stacks start at once in the pool: claim them all up front.
                ours, held_configs = _claim(claims, configs, force)
                stacks = make_stacks(ours, max_stack=max_stack, workers=workers)
                bars = _Bars(progress, stacks)
                if stacks:
                    _train_in_workers(suite_dir, stacks, bars, min(workers, len(stacks)), claims)
                trained.extend(ours)
                return held_configs
            bars = _Bars(progress, stacks)
            here, held_configs = _train_in_process(suite_dir, stacks, bars, claims, force)
        trained.extend(here)
        return held_configs

    # One claim per cell (mibench.results.lock): cells another mibench run is training are
    # left to it and waited for; a cell whose holder dies is taken over and trained here.
    def sample_now(configs: list[RunConfig]) -> list[RunConfig]:
        """Estimate the sample cells of ``configs`` nobody else holds; returns the held ones."""
        ours, held_configs = _claim(claims, configs, force)
        for run_id in sample_runs.run_and_store(suite_dir, ours):
            claims.release(run_id)
        trained.extend(ours)
        return held_configs

    every = {**by_id, **{c.cell_hash(): c for c in sample_pending}}
    claims = lock.Claims(suite_dir)
    with claims.holding():
        held = [c.cell_hash() for c in sample_now(sample_pending)]
        held += [c.cell_hash() for c in train_now(list(by_id.values()))]
        if held:
            holder = claims.holder_of(held[0])
            who = "another mibench run" if holder is None else holder.describe()
            console.print(
                f"waiting for {len(held)} runs that {who} is training (in this results folder)",
                markup=False,
                soft_wrap=True,
            )
        for taken in claims.wait_for(held):  # holders that died or stalled: train their cells
            samples, stacked = sample_runs.split([every[r] for r in taken])
            held_again = sample_now(samples) + train_now(stacked)
            if held_again:  # claimed by wait_for, so ours: cannot be held by others
                raise RuntimeError(f"claimed runs held by another process: {held_again}")
    total_run_steps = sum(c.n_steps for c in trained)
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    store.write_json_atomic(suite_dir / store.MANIFEST_FILE, {"run_ids": run_ids})
    store.write_json_atomic(suite_dir / store.SUITE_FILE, suite_record(prepared.plan.suite))
    skipped = [s.as_dict() for s in prepared.plan.skipped]
    store.write_json_atomic(suite_dir / store.SKIPPED_FILE, skipped)
    summary = build_summary(prepared)
    views.write_summary(suite_dir, summary)  # records the manifest it describes
    figures = _draw_figures(suite_dir) if plots else []
    return RunReport(
        suite_dir=suite_dir,
        n_cells=len(run_ids),
        n_trained=len(trained),
        n_reused=len(run_ids) - len(pending) - len(sample_pending),
        n_by_others=len(pending) + len(sample_pending) - len(trained),
        run_steps=total_run_steps,
        wall_time_s=time.perf_counter() - started,
        summary=summary,
        skipped=skipped,
        figures=figures,
    )


_SETTING_FIELDS = (
    schema.TASK,
    schema.DIM,
    schema.CRITIC,
    schema.BATCH_SIZE,
    schema.DTYPE,
    schema.NEGATIVES,
    schema.N_STEPS,
    schema.LR,
    schema.CRITIC_PARAMS,
    "_task_rest",
)
_SWEPT_TASK_PARAMS = ("mi", "rho")  # the table's columns


def _task_rest(task_params: str) -> str:
    params = json.loads(task_params)
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in _SWEPT_TASK_PARAMS)


def is_unstable(row: pd.Series) -> bool:
    """The summary's ``unstable`` flag (False for summaries written before it existed)."""
    return bool(row.get(schema.UNSTABLE, False))


def _differing_task_params(task_params: str, siblings: pd.Series) -> str:
    """``", base=cubic"``: the task parameters (minus the swept MI) that tell this table's task
    apart from its siblings' (two staircases on different bases), not all of them."""
    mine = json.loads(task_params)
    others = [json.loads(text) for text in siblings.unique()]
    keys = [
        k
        for k in sorted(mine)
        if k not in _SWEPT_TASK_PARAMS and len({json.dumps(o.get(k)) for o in others}) > 1
    ]
    return "".join(f", {k}={mine[k]}" for k in keys)


def _cell_text(row: pd.Series) -> str:
    """``bias/std/MSE``; an unstable cell shows its median bias and wild share instead."""
    if is_unstable(row):
        median = _number(row[schema.MEDIAN_BIAS], signed=True)
        return f"unstable: median {median}, wild {_share(row[schema.WILD_FRACTION])}"
    bias, std, mse = row[schema.BIAS], row[schema.STD], row[schema.MSE]
    return f"{_number(bias, signed=True)}/{_number(std)}/{_number(mse)}"


def summary_tables(summary: pd.DataFrame) -> list[Table]:
    """Rich tables estimator x MI level with "bias/std/MSE" per cell, one per setting.

    A setting is everything but the estimator and the MI level (task, dim, critic, K, ...);
    other fields that tell apart tables of one task/dim/critic/K are named in the titles, and an
    estimator that appears with several hyperparameter sets gets one row per set.
    """
    if summary.empty:
        return []
    frame = summary.assign(_task_rest=summary[schema.TASK_PARAMS].map(_task_rest))
    head = list(_SETTING_FIELDS[:4])
    tables = []
    for setting, group in frame.groupby(list(_SETTING_FIELDS), sort=False):
        values = dict(zip(_SETTING_FIELDS, setting, strict=True))
        unit = "KL" if group[schema.TARGET].iloc[0] == "kl" else "I"
        # Name the other fields only where they tell apart tables of one task/dim/critic/K.
        siblings = frame[(frame[head] == pd.Series({f: values[f] for f in head})).all(axis=1)]
        varying = [f for f in _SETTING_FIELDS[4:] if siblings[f].nunique() > 1]
        extras = "".join(
            _differing_task_params(group[schema.TASK_PARAMS].iloc[0], siblings[schema.TASK_PARAMS])
            if f == "_task_rest"
            else f", {f}={values[f]}"
            for f in varying
        )
        title = (
            f"{values[schema.TASK]} (d={values[schema.DIM]}), {values[schema.CRITIC]} critic, "
            f"K={values[schema.BATCH_SIZE]}{extras}: bias/std/MSE (nats), last "
            f"{schema.EVAL_FRACTION:.0%} of steps; unstable = a readout off by > "
            f"max({schema.WILD_NATS:g}, I)"
        )
        levels = sorted(group[schema.MI_LEVEL].unique())
        keys = [schema.ESTIMATOR, schema.ESTIMATOR_PARAMS]
        several = group.groupby(schema.ESTIMATOR)[schema.ESTIMATOR_PARAMS].nunique() > 1
        body = []
        for (estimator, params), rows in group.groupby(keys, sort=False):
            label = f"{estimator} {params}" if several[estimator] else str(estimator)
            by_level = {row[schema.MI_LEVEL]: row for _, row in rows.iterrows()}
            body.append(
                [label, *(_cell_text(by_level[lv]) if lv in by_level else "" for lv in levels)]
            )
        headers = ["estimator", *(f"{unit}={level:.3g}" for level in levels)]
        tables.append(_full_width_table(title, headers, body))
    return tables


def _full_width_table(title: str, headers: list[str], body: list[list[str]]) -> Table:
    """A table whose columns are as wide as their longest cell: printed with ``crop=False`` it
    never truncates a number, however narrow the terminal (or the 80 columns of a log file)."""
    table = Table(title=title, title_justify="left")
    widths = [max([len(h), *(len(row[i]) for row in body)]) for i, h in enumerate(headers)]
    # Borders and padding take 3 characters per column plus 1; widen the first column so that
    # the title fits on one line too.
    widths[0] = max(widths[0], len(title) - sum(widths[1:]) - 3 * len(widths) - 1)
    for index, (header, width) in enumerate(zip(headers, widths, strict=True)):
        justify = "left" if index == 0 else "right"
        table.add_column(header, justify=justify, no_wrap=True, min_width=width)
    for row in body:
        table.add_row(*row)
    return table


def f_value_table(summary: pd.DataFrame) -> Table | None:
    """f-MICL runs: the trained f-value against the task's f-MI (where known), per MI level."""
    if schema.F_VALUE not in summary.columns:
        return None
    rows = summary[summary[schema.F_VALUE].notna()]
    if rows.empty:
        return None
    body = []
    for _, row in rows.iterrows():
        true_f = row[schema.TRUE_F_MI]
        known = true_f is not None and math.isfinite(true_f)
        median = row.get(schema.F_VALUE_MEDIAN, row[schema.F_VALUE])
        body.append(
            [
                str(row[schema.ESTIMATOR]),
                str(row[schema.TASK]),
                f"{row[schema.MI_LEVEL]:.3g}",
                _number(median),
                _number(true_f) if known else "unknown",
                _number(median - true_f, signed=True) if known else "-",
            ]
        )
    headers = ["estimator", "task", "MI level", "f-value (median)", "true f-MI", "gap"]
    title = "f-MICL: f-value / true f-MI (window medians: one exploding batch cannot move them)"
    return _full_width_table(title, headers, body)


_CELL_FIELDS = (
    schema.CRITIC,
    schema.BATCH_SIZE,
    schema.LR,
    schema.DTYPE,
    schema.NEGATIVES,
    schema.N_STEPS,
    schema.ESTIMATOR_PARAMS,
    schema.CRITIC_PARAMS,
)


def diverged_lines(summary: pd.DataFrame) -> list[str]:
    """One line per cell with diverged seeds (its worst segment), naming the fields that tell it
    apart from the other cells of the same estimator and task (e.g. two flo cells at two lr)."""
    if summary.empty or schema.DIVERGED_FRACTION not in summary.columns:
        return []
    lines = []
    diverged = summary[summary[schema.DIVERGED_FRACTION] > 0]
    for _, rows in diverged.groupby(schema.CELL_ID, sort=False):
        row = rows.loc[rows[schema.DIVERGED_FRACTION].idxmax()]
        same = summary[
            (summary[schema.ESTIMATOR] == row[schema.ESTIMATOR])
            & (summary[schema.TASK_ID] == row[schema.TASK_ID])
        ]
        varying = [f for f in _CELL_FIELDS if f in same.columns and same[f].nunique() > 1]
        which = "".join(f", {field}={row[field]}" for field in varying)
        lines.append(
            f"diverged: {row[schema.ESTIMATOR]} on {row[schema.TASK_ID]}{which}: "
            f"{row[schema.DIVERGED_FRACTION]:.0%} of {row[schema.N_SEEDS]} seeds "
            "(left out of that cell's metrics)"
        )
    return lines


def skipped_lines(skipped: Sequence[dict[str, str]]) -> list[str]:
    """One line per task, critic and reason, listing the estimators it applies to."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for item in skipped:
        estimator = item["estimator"]
        reason = item["reason"].removeprefix(f"{estimator} ")  # "sincere needs labels; ..."
        groups.setdefault((item["task"], item["critic"], reason), []).append(estimator)
    return [
        f"{task} with {critic}: {', '.join(names)} - {reason}"
        for (task, critic, reason), names in groups.items()
    ]


def print_wide(console: Console, table: Table) -> None:
    """Print ``table`` at its natural width even when the console is narrower (a log file is 80
    columns): rich would otherwise shrink the columns, squeezing the estimator names to nothing."""
    natural = console.measure(table, options=console.options.update_width(10**4)).maximum
    # print(width=...) is capped at the console's width, so widen the console itself meanwhile.
    width = console.width
    console.width = max(width, natural)
    try:
        console.print(table, crop=False)
    finally:
        console.width = width


def print_report(report: RunReport, console: Console) -> None:
    """Summary tables, skipped combinations and the run totals."""
    for table in summary_tables(report.summary):
        print_wide(console, table)
    f_table = f_value_table(report.summary)
    if f_table is not None:
        print_wide(console, f_table)
    if not report.summary.empty:  # hook: mibench.results.sandwich (lower and upper bounds)
        for line in sandwich_lines(sandwich_intervals(report.summary)):
            console.print(f"sandwich: {line}", soft_wrap=True)
    comparison = truth_comparison_table(report.summary)  # sample estimators beside neural ones
    if comparison is not None:
        print_wide(console, comparison)
    if report.skipped:
        console.print(
            f"skipped {len(report.skipped)} estimator-task-critic combinations that do not "
            f"apply (listed in {report.suite_dir / store.SKIPPED_FILE}):",
            soft_wrap=True,
        )
        for line in skipped_lines(report.skipped):
            console.print(f"  {line}", soft_wrap=True)
    for line in diverged_lines(report.summary):
        console.print(line, soft_wrap=True)
    if report.n_by_others:
        console.print(f"{report.n_by_others} runs were trained by another mibench run meanwhile")
    console.print(
        f"{report.n_cells} runs ({report.n_trained} trained, {report.n_reused} already finished), "
        f"{report.run_steps} run-steps in {report.wall_time_s:.1f} s "
        f"({report.run_steps_per_s:.0f} run-steps/s); results in {report.suite_dir}",
        soft_wrap=True,
    )
    for figure in report.figures:
        console.print(f"figure: {figure}")


def run_suite(
    suite: str | Path | Suite | None = None,
    *,
    overrides: Overrides | None = None,
    out: str | Path = DEFAULT_OUT,
    force: bool = False,
    plots: bool = True,
    console: Console | None = None,
    show_progress: bool = True,
) -> RunReport:
    """Library form of ``mibench run``: :func:`prepare` then :func:`execute`."""
    prepared = prepare(suite, overrides=overrides, out=out)
    return execute(prepared, force=force, console=console, show_progress=show_progress, plots=plots)
