"""Orchestration of ``mibench run``: plan -> skip finished cells -> stacks -> store -> summary.

The data flow of DESIGN.md, one direction::

    suite file --prepare()--> Plan (validated cells; nothing written yet)
      --execute()--> pending cells (finished ones skipped unless force)
      --group by (device, train.stack_key)--> stacks --jobs.train_job--> finished runs
         (in this process, or as Dask tasks: see mibench.executor)
      --store.write_run (atomic, in this process, as soon as each stack ends)--> runs/<run_id>.parquet
      --summary.summarize--> summary.parquet (+ manifest.json, suite.json, skipped.json)
      --mibench.plots.draw_all, when that module provides it--> figures/

:func:`prepare` raises :class:`~mibench.suite.SuiteError` for every bad input before any
directory exists; :func:`execute` is the only function that writes, and it reaches its executor
(starts a LocalCluster, connects to ``scheduler``, starts a job-queue cluster) before it creates
anything, so an unreachable cluster leaves no file.

Parallel runs. ``workers > 1`` trains the stacks as tasks of a Dask ``LocalCluster`` of that many
single-thread processes; ``scheduler``/``cluster`` use a cluster of other machines
(:mod:`mibench.executor`). Workers return the finished runs and this process writes them, so
resume by config hash works the same everywhere. In-flight stacks checkpoint every
``checkpoint_every_s`` seconds (:mod:`mibench.jobs`). Every run's numbers depend only on its
config and the torch thread count of the process that trains it, never on which stack it shares
or on which worker trains it; a stack trained in this process uses
:func:`mibench.executor.in_process_threads` threads unless ``threads`` is given.
A run's numbers are bit-identical whatever its stack (size, stack-mates) and whatever the
worker count: see ``tests/train/test_stack_independence.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
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

from mibench import checks, jobs
from mibench.comparison import truth_comparison_table
from mibench.executor import Target, open_executor
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
MAX_BARS_KEPT = 8  # with more stacks than this, finished stacks' bars are removed
DEFAULT_WORKERS = 1
PARALLEL_MIN_RUN_STEPS = 100_000  # below this, starting worker processes costs more than it saves


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


def _store_job(
    suite_dir: Path, job: jobs.StackJob, runs: Sequence[jobs.FinishedRun], claims: lock.Claims
) -> None:
    """Write a finished stack's runs (this process owns the results folder) while our claims
    hold them, release them, then drop the stack's checkpoint: from now on the run files are
    what a rerun finds."""
    for run in runs:
        if not lock.holds(suite_dir, run.run_id, claims.token):
            # Our claim was taken over (we stalled for longer than lock.STALE_S): the process
            # that took it writes this run; writing too could mix its sidecar with our Parquet.
            logger.warning(
                "run %s: claim taken over by another process; result dropped", run.run_id
            )
            continue
        store.write_run(suite_dir, run.run_id, run.frame, run.sidecar)
        claims.release(run.run_id)
    jobs.remove_checkpoint(job)


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
    scheduler: str | None = None,
    cluster: str | None = None,
    threads: int | None = None,
    checkpoint_every_s: float | None = jobs.DEFAULT_CHECKPOINT_EVERY_S,
) -> RunReport:
    """Train the pending cells of a prepared plan, store them, and write the summary.

    ``workers > 1``: a Dask LocalCluster of that many one-thread processes; ``scheduler``: the
    Dask cluster at that address; ``cluster``: a dask-jobqueue cluster of that kind (slurm, ...).
    Raises :class:`~mibench.executor.ExecutorError` (a ValueError) for a bad or unreachable
    target before anything is written. CUDA runs on a LocalCluster train in this process (one
    process per GPU); on a scheduler or job-queue cluster they go to workers with the ``GPU``
    resource. ``threads``: torch threads for stacks trained in this process (None: the idle
    cores, see :func:`mibench.executor.in_process_threads`). ``checkpoint_every_s`` None turns
    checkpoints off.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    target = Target(workers=workers, scheduler=scheduler, cluster=cluster)
    target.validate()
    console = console or Console(stderr=True)
    started = time.perf_counter()
    suite_dir = prepared.suite_dir
    from mibench.train import sample_runs

    # Sample estimators (KSG, CCA, ...) need no critic and no stack: their own fast path.
    sample_pending, pending = sample_runs.split(pending_configs(prepared, force=force))
    if (
        target.scheduler is None
        and target.cluster is None
        and any(c.device.startswith("cuda") for c in pending)
    ):
        target = Target(workers=1)  # one process per GPU: the stacks already fill it
    planned = make_stacks(pending, max_stack=max_stack, workers=target.workers)
    by_id = {c.cell_hash(): c for c in pending}
    every = {**by_id, **{c.cell_hash(): c for c in sample_pending}}
    trained: list[RunConfig] = []
    with open_executor(target, len(planned), threads=threads) as executor:
        runs = store.runs_dir(suite_dir)
        runs.mkdir(parents=True, exist_ok=True)
        store.clean_leftovers(suite_dir)
        store.clean_partials(jobs.checkpoint_dir(suite_dir))
        lock.remove_dead_claims(suite_dir)  # claims a killed run left on cells it had finished
        if executor.dashboard or executor.description != "this process":
            where = f"training on {executor.description}"
            where += f"; dashboard {executor.dashboard}" if executor.dashboard else ""
            console.print(where, soft_wrap=True)
        # One claim per cell (mibench.results.lock): cells another mibench run is training are
        # left to it and waited for; a cell whose holder dies is taken over and trained here.
        claims = lock.Claims(suite_dir)

        def sample_now(configs: list[RunConfig]) -> list[RunConfig]:
            """Estimate the sample cells nobody else holds; returns the held ones."""
            ours, held_configs = _claim(claims, configs, force)
            for run_id in sample_runs.run_and_store(suite_dir, ours):
                claims.release(run_id)
            trained.extend(ours)
            return held_configs

        def train_now(configs: list[RunConfig]) -> list[RunConfig]:
            """Train the cells nobody else holds on the executor; returns the held ones."""
            ours, held_configs = _claim(claims, configs, force)
            stacks = make_stacks(ours, max_stack=max_stack, workers=executor.parallelism)
            stack_jobs = jobs.make_jobs(stacks, suite_dir, checkpoint_every_s=checkpoint_every_s)
            with Progress(*_Bars.COLUMNS, console=console, disable=not show_progress) as progress:
                bars = _Bars(progress, stacks)

                def done(job: jobs.StackJob, finished: list[jobs.FinishedRun]) -> None:
                    _store_job(suite_dir, job, finished, claims)
                    bars.finish(job.index)

                if stack_jobs:
                    executor.train(stack_jobs, bars.update, done)
            trained.extend(ours)
            return held_configs

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
            for taken in claims.wait_for(held):  # holders that died or stalled: train theirs
                samples, stacked = sample_runs.split([every[r] for r in taken])
                held_again = sample_now(samples) + train_now(stacked)
                if held_again:  # claimed by wait_for, so ours: cannot be held by others
                    raise RuntimeError(f"claimed runs held by another process: {held_again}")
    _remove_empty_dir(jobs.checkpoint_dir(suite_dir))
    total_run_steps = sum(c.n_steps for c in trained)
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    store.write_manifest(suite_dir, run_ids)
    store.write_suite_record(suite_dir, suite_record(prepared.plan.suite))
    skipped = [s.as_dict() for s in prepared.plan.skipped]
    store.write_skipped(suite_dir, skipped)
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


def _remove_empty_dir(directory: Path) -> None:
    # Absent, or still holding checkpoints of stacks that did not finish: leave it.
    with contextlib.suppress(OSError):
        directory.rmdir()


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


def _task_rest(task_params: str) -> str:
    params = json.loads(task_params)
    return ", ".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in schema.SWEPT_TASK_PARAMS
    )


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
        if k not in schema.SWEPT_TASK_PARAMS and len({json.dumps(o.get(k)) for o in others}) > 1
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
            f"apply (listed in {store.skipped_path(report.suite_dir)}):",
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
