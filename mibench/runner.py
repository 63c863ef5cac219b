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
processes behind. Numbers may differ from a one-process run in the last float bits (thread
count changes reduction order); each run's numbers never depend on which stack it shares.
"""

from __future__ import annotations

import ctypes
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

from mibench.comparison import truth_comparison_table
from mibench.interface import RunConfig
from mibench.results import schema, store
from mibench.results.summary import SUMMARY_COLUMNS, summarize
from mibench.suite import (
    Overrides,
    Plan,
    Suite,
    SuiteError,
    load_suite,
    plan,
    suite_record,
)

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("results")
DEFAULT_MAX_STACK = 256  # runs per train_stack call: bounds memory; larger stacks gain little
FMICL_PREFIX = "fmicl_"
LARGE_VALUE = 1000.0  # table cells above this switch to 3 significant digits
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
    expanded = plan(loaded, overrides)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SuiteError(f"--out: {str(out)!r} exists and is not a directory")
    return Prepared(plan=expanded, suite_dir=out / expanded.suite.name)


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

    Each group is cut into equal parts of at most ``max_stack`` runs, and into at least
    ``workers`` parts when it is the only group, so that every worker has a stack.
    """
    from mibench import train

    groups: dict[tuple[Any, ...], list[RunConfig]] = {}
    for config in configs:
        groups.setdefault((config.device, *train.stack_key(config)), []).append(config)
    stacks = []
    for members in groups.values():
        parts = math.ceil(len(members) / max_stack)
        if len(groups) == 1:
            parts = max(parts, min(workers, len(members)))
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


def _store_result(suite_dir: Path, result: Any, task: Any) -> None:
    config: RunConfig = result.config
    run_id = config.cell_hash()
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


def train_and_store(
    suite_dir: Path, stack: Sequence[RunConfig], progress: Callable[[int], None] | None = None
) -> list[str]:
    """Train one stack and store each run as it comes back; returns the run ids."""
    from mibench import train

    results = train.train_stack(stack, device=stack[0].device, progress=progress)
    for result in results:
        _store_result(suite_dir, result, train.build_task(result.config))
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


def _worker_stack(index: int, suite_dir: Path, stack: list[RunConfig]) -> list[str]:
    def report(steps_done: int) -> None:
        if os.getppid() != _worker_parent:  # orphaned: stop instead of training for nobody
            os._exit(1)
        _worker_queue.put((index, steps_done))

    report(0)
    return train_and_store(suite_dir, stack, report)


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


def _train_in_process(suite_dir: Path, stacks: list[list[RunConfig]], bars: _Bars) -> None:
    for index, stack in enumerate(stacks):
        bars.update(index, 0)
        train_and_store(suite_dir, stack, lambda n, index=index: bars.update(index, n))
        bars.finish(index)


def _train_in_workers(
    suite_dir: Path, stacks: list[list[RunConfig]], bars: _Bars, workers: int
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
            pool.submit(_worker_stack, i, suite_dir, stacks[i]): i for i in order
        }
        try:
            while pending:
                done, _ = wait(pending, timeout=_PROGRESS_POLL_S, return_when=FIRST_COMPLETED)
                _drain(progress_queue, bars)
                for future in done:
                    index = pending.pop(future)
                    future.result()  # a worker's exception is raised here, with its traceback
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
    store.clean_partials(runs)
    store.clean_partials(suite_dir)
    from mibench.train import sample_runs

    sample_pending, pending = sample_runs.split(pending_configs(prepared, force=force))
    sample_runs.run_and_store(suite_dir, sample_pending)  # no critic, no stacks
    if any(c.device.startswith("cuda") for c in pending):
        workers = 1  # one process per GPU: the stacks already fill it
    stacks = make_stacks(pending, max_stack=max_stack, workers=workers)
    total_run_steps = sum(c.n_steps for c in pending)
    with Progress(*_Bars.COLUMNS, console=console, disable=not show_progress) as progress:
        bars = _Bars(progress, stacks)
        if workers > 1 and len(stacks) > 1:
            _train_in_workers(suite_dir, stacks, bars, min(workers, len(stacks)))
        else:
            _train_in_process(suite_dir, stacks, bars)
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    store.write_json_atomic(suite_dir / store.MANIFEST_FILE, {"run_ids": run_ids})
    store.write_json_atomic(suite_dir / store.SUITE_FILE, suite_record(prepared.plan.suite))
    skipped = [s.as_dict() for s in prepared.plan.skipped]
    store.write_json_atomic(suite_dir / store.SKIPPED_FILE, skipped)
    summary = build_summary(prepared)
    store.write_parquet_atomic(suite_dir / store.SUMMARY_FILE, summary)
    figures = _draw_figures(suite_dir) if plots else []
    return RunReport(
        suite_dir=suite_dir,
        n_cells=len(run_ids),
        n_trained=len(pending) + len(sample_pending),
        n_reused=len(run_ids) - len(pending) - len(sample_pending),
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


def _number(value: float, *, signed: bool = False) -> str:
    """Two decimals for ordinary values, three significant digits for exploding ones."""
    if value is None or not math.isfinite(value):
        return "-"
    spec = ".2f" if abs(value) < LARGE_VALUE else ".3g"
    return format(value, ("+" if signed else "") + spec)


def _cell_text(row: pd.Series) -> str:
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
        extras = "".join(f", {f.strip('_')}={values[f]}" for f in varying)
        title = (
            f"{values[schema.TASK]} (d={values[schema.DIM]}), {values[schema.CRITIC]} critic, "
            f"K={values[schema.BATCH_SIZE]}{extras}: bias/std/MSE (nats), last "
            f"{schema.EVAL_FRACTION:.0%} of steps"
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
        body.append(
            [
                str(row[schema.ESTIMATOR]),
                str(row[schema.TASK]),
                f"{row[schema.MI_LEVEL]:.3g}",
                _number(row[schema.F_VALUE]),
                _number(true_f) if known else "unknown",
                _number(row[schema.F_BIAS], signed=True) if known else "-",
            ]
        )
    headers = ["estimator", "task", "MI level", "f-value", "true f-MI", "gap"]
    return _full_width_table("f-MICL: f-value / true f-MI (window means)", headers, body)


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
    if not report.summary.empty:
        diverged = report.summary[report.summary[schema.DIVERGED_FRACTION] > 0]
        for _, row in diverged.iterrows():
            console.print(
                f"diverged: {row[schema.ESTIMATOR]} on {row[schema.TASK_ID]}: "
                f"{row[schema.DIVERGED_FRACTION]:.0%} of {row[schema.N_SEEDS]} seeds "
                "(left out of that cell's metrics)",
                soft_wrap=True,
            )
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
