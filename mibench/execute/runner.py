"""Orchestration of ``mibench run``: plan -> skip finished cells -> stacks -> store -> summary.

The data flow of DESIGN.md, one direction::

    suite file --prepare()--> Plan (validated cells; nothing written yet)
      --execute()--> pending cells (finished ones skipped unless force)
      --group by (device, resolve.stack_key)--> stacks --jobs.train_job--> finished runs
         (in this process, or as Dask tasks: see mibench.execute.executor)
      --store.write_run (atomic, in this process, as soon as each stack ends)--> runs/<run_id>.parquet
      --summary.summarize--> summary.parquet (+ manifest.json, suite.json, skipped.json)
      --the caller's ``figures`` hook (the CLI passes mibench.plots.draw_all)--> figures/

What ``mibench run`` then prints (tables, skipped and diverged lines, totals) is
:func:`mibench.report.console.print_report` of the :class:`RunReport` that :func:`execute` returns.

:func:`prepare` raises :class:`~mibench.plan.suite.SuiteError` for every bad input before any
directory exists; :func:`execute` is the only function that writes, and it reaches its executor
(starts a LocalCluster, connects to ``scheduler``, starts a job-queue cluster) before it creates
anything, so an unreachable cluster leaves no file.

Parallel runs. ``workers > 1`` trains the stacks as tasks of a Dask ``LocalCluster`` of that many
single-thread processes; ``scheduler``/``cluster`` use a cluster of other machines
(:mod:`mibench.execute.executor`). Workers return the finished runs and this process writes them, so
resume by config hash works the same everywhere. In-flight stacks checkpoint every
``checkpoint_every_s`` seconds (:mod:`mibench.execute.jobs`). Every run's numbers depend only on its
config and the torch thread count of the process that trains it, never on which stack it shares
or on which worker trains it; a stack trained in this process uses
:func:`mibench.execute.executor.in_process_threads` threads unless ``threads`` is given.
A run's numbers are bit-identical whatever its stack (size, stack-mates) and whatever the
worker count: see ``tests/train/test_stack_independence.py``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
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

from mibench.core.interface import RunConfig
from mibench.execute import jobs
from mibench.execute.executor import Target, open_executor
from mibench.plan import checks, cost, resolve
from mibench.plan.suite import (
    Overrides,
    Plan,
    Suite,
    SuiteError,
    load_suite,
    plan,
    suite_record,
)
from mibench.results import integrity, lock, store, views
from mibench.results.summary import SUMMARY_COLUMNS, summarize

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("results")
DEFAULT_MAX_STACK = 256  # runs per train_stack call: bounds memory; larger stacks gain little
MAX_BARS_KEPT = 8  # with more stacks than this, finished stacks' bars are removed
DEFAULT_WORKERS = 1
# Plans of at least this much work (mibench.plan.cost.work: run-steps weighted by their K-dependent step
# cost; 24 000 run-steps at K = 64) train on one one-thread worker per core by default, smaller ones
# in this process on every idle core. Measured on 2 cores, mibench run wall: the Poole staircase
# (8 runs, K = 64) at 3000 steps (work 30 000): 2 workers 30.2-30.9 s, in-process 32.0-32.4 s; the
# bench_vs_bmi plan (16 runs, K = 256, concat critic) at 500 steps (work 40 000): 24.1 s against
# 30.3 s. Below that, starting the workers (3-4 s) costs about what they save.
PARALLEL_MIN_WORK = 30_000


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
    checks.check_plan_memory(expanded)
    suite_dir = checks.check_out(out) / expanded.suite.name
    checks.check_results_folder(suite_dir)
    problems = store.layout_problems(suite_dir) if suite_dir.is_dir() else []
    if problems:
        raise SuiteError(f"--out: {problems[0]}")
    return Prepared(plan=expanded, suite_dir=suite_dir)


def space_needed(prepared: Prepared) -> tuple[int, int]:
    """(runs of the plan still to train, bytes their files will take): the median size of the
    stored run files and sidecars times the runs left (2 MB per run where none is stored yet)."""
    left = pending_configs(prepared)
    sizes = []
    for run_id in store.finished_run_ids(prepared.suite_dir)[:200]:
        with contextlib.suppress(OSError):
            sizes.append(
                store.run_path(prepared.suite_dir, run_id).stat().st_size
                + store.sidecar_path(prepared.suite_dir, run_id).stat().st_size
            )
    per_run = sorted(sizes)[len(sizes) // 2] if sizes else 2_000_000
    return len(left), len(left) * per_run


def pending_configs(prepared: Prepared, *, force: bool = False) -> list[RunConfig]:
    """Cells of the plan that still need training (all of them with ``force``): those without a
    trusted run file (:class:`mibench.results.integrity.TrustedRuns`; a damaged one is
    quarantined and retrained by :func:`execute`)."""
    configs = list(prepared.plan.configs)
    if force:
        return configs
    trusted = integrity.TrustedRuns(prepared.suite_dir)
    return [c for c in configs if not _is_done(prepared.suite_dir, c.cell_hash(), trusted)]


def _is_done(suite_dir: Path, run_id: str, trusted: integrity.TrustedRuns) -> bool:
    """Stored, trusted (:mod:`mibench.results.integrity`) and not failed: a failed run
    (mibench.train.failures) is trained again, a damaged one quarantined and trained again."""
    from mibench.train import failures

    return trusted(run_id) and not failures.is_failed(suite_dir, run_id)


def make_stacks(
    configs: Sequence[RunConfig], *, max_stack: int = DEFAULT_MAX_STACK, workers: int = 1
) -> list[list[RunConfig]]:
    """Group configs that may share one stacked computation; the costliest stacks first.

    Each group is cut into equal parts of at most ``max_stack`` runs (fewer for large score
    matrices: :func:`mibench.plan.cost.max_stack_runs`); with ``workers > 1`` a group
    whose work (:func:`mibench.plan.cost.work`: run-steps weighted by their K-dependent step cost)
    exceeds a worker's fair share (all work / workers) is also cut into that many parts, so that no
    worker is left with one big stack while the others idle (a plan of 8 equal runs on 4 workers
    is 4 stacks, not one of 8; a K = 512 group is split where the small-K groups are not). Stacks
    come out costliest first, the order the executors start them in, so the last to finish is a
    short one.
    """
    groups: dict[tuple[Any, ...], list[RunConfig]] = {}
    for config in configs:
        # A plug-in trains in stacks of its own, so that its failure fails its runs only.
        key = (config.device, config.estimator_fingerprint, *resolve.stack_key(config))
        groups.setdefault(key, []).append(config)
    share = cost.work(configs) / max(1, workers)
    stacks = []
    for members in groups.values():
        parts = math.ceil(len(members) / min(max_stack, cost.max_stack_runs(members[0])))
        if workers > 1:
            parts = max(parts, min(len(members), math.ceil(cost.work(members) / share - 1e-9)))
        size = math.ceil(len(members) / parts)
        stacks.extend(members[start : start + size] for start in range(0, len(members), size))
    return sorted(stacks, key=lambda stack: -cost.work(stack))


def _stack_label(stack: Sequence[RunConfig]) -> str:
    estimators = sorted({c.estimator for c in stack})
    shown = ", ".join(estimators[:3]) + (f" +{len(estimators) - 3}" if len(estimators) > 3 else "")
    first = stack[0]
    return f"{first.critic} K={first.batch_size} {shown} ({len(stack)} runs)"


def build_summary(prepared: Prepared) -> pd.DataFrame:
    """Summary of the plan's cells, read back from the stored run files."""
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    frames = store.read_columns_of_runs(prepared.suite_dir, run_ids, SUMMARY_COLUMNS)
    sidecars = {r: store.read_sidecar(prepared.suite_dir, r) for r in run_ids}
    targets = {r: getattr(prepared.plan.tasks[r], "target", "mi") for r in run_ids}
    return summarize(frames, sidecars, targets=targets, tasks=dict(prepared.plan.tasks))


class _Bars:
    """Rich progress: one bar for all run-steps, one per stack (added when the stack starts).

    The planned stacks set the totals; a stack whose cells another ``mibench run`` claimed first
    shrinks (:meth:`resize`) to the runs trained here, so the overall bar ends at 100 %.
    """

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
        self.stacks = [list(s) for s in stacks]
        self.overall = progress.add_task("", total=0)
        self._retitle()
        self.bars: dict[int, Any] = {}
        self.done: dict[int, int] = {}

    def _retitle(self) -> None:
        total = sum(len(s) * s[0].n_steps for s in self.stacks if s)
        n_runs = sum(len(s) for s in self.stacks)
        self.progress.update(
            self.overall, description=f"all {n_runs} runs (run-steps)", total=total
        )

    def resize(self, index: int, stack: Sequence[RunConfig]) -> None:
        """Stack ``index`` trains ``stack`` here (its part nobody else had claimed)."""
        if len(stack) != len(self.stacks[index]):
            self.stacks[index] = list(stack)
            self._retitle()

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


class _Finished:
    """Which cells count as finished for this invocation.

    Without ``force``: a cell whose run file exists. With ``force`` (recompute finished cells):
    a cell whose run file appeared or changed since this invocation started, i.e. one another
    ``mibench run`` on the folder trained meanwhile (a snapshot of the files' modification
    times, so no two machines' clocks are compared).
    """

    def __init__(self, suite_dir: Path, configs: Sequence[RunConfig], force: bool) -> None:
        self.suite_dir = suite_dir
        self.force = force
        self.trusted = integrity.TrustedRuns(suite_dir)
        self.before = (
            {c.cell_hash(): _mtime_ns(store.run_path(suite_dir, c.cell_hash())) for c in configs}
            if force
            else {}
        )

    def __call__(self, run_id: str) -> bool:
        if not self.force:
            return _is_done(self.suite_dir, run_id, self.trusted)
        now = _mtime_ns(store.run_path(self.suite_dir, run_id))
        return now is not None and now != self.before.get(run_id) and self.trusted(run_id)


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _claim(
    claims: lock.CellLocks,
    configs: Sequence[RunConfig],
    finished: _Finished,
    say: Callable[[str], None],
) -> tuple[list[RunConfig], list[RunConfig]]:
    """(claimed for training here, held by another process) among ``configs``.

    Called right before the cells train (per stack), so that concurrent runs on one folder
    split the work. A cell claimed after another process finished it (it writes, then
    releases) is released again and in neither list. A claimed cell whose run file is damaged
    (:func:`mibench.results.integrity.run_damage`) has the pair moved to ``runs/quarantine/``
    (``say`` gets the line naming the file) and is trained again.
    """
    ours, held = [], []
    for config in configs:
        run_id = config.cell_hash()
        if not claims.try_claim(run_id):
            held.append(config)
            continue
        damage = finished.trusted.damage(run_id)
        if damage is not None:
            folder = integrity.quarantine_run(claims.suite_dir, run_id)
            say(integrity.quarantine_note(damage, folder, retrained=True))
            ours.append(config)
        elif finished(run_id):
            claims.release(run_id)
        else:
            ours.append(config)
    return ours, held


def _store_job(
    suite_dir: Path, job: jobs.StackJob, runs: Sequence[jobs.FinishedRun], claims: lock.CellLocks
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
    """Workers ``mibench run`` uses unless told: one per CPU core for a plan whose pending neural
    runs hold at least ``PARALLEL_MIN_WORK`` of work (:func:`mibench.plan.cost.work`), else 1
    (starting a worker costs seconds). Sample estimators run in this process either way."""
    from mibench.train import sample_runs

    _, neural = sample_runs.split(pending_configs(prepared, force=force))
    return max(1, os.cpu_count() or 1) if cost.work(neural) >= PARALLEL_MIN_WORK else 1


def execute(
    prepared: Prepared,
    *,
    force: bool = False,
    console: Console | None = None,
    show_progress: bool = True,
    figures: Callable[[Path], Sequence[Path]] | None = None,
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
    Raises :class:`~mibench.execute.executor.ExecutorError` (a ValueError) for a bad or unreachable
    target before anything is written. CUDA runs on a LocalCluster train in this process (one
    process per GPU); on a scheduler or job-queue cluster they go to workers with the ``GPU``
    resource. ``threads``: torch threads for stacks trained in this process (None: the idle
    cores, see :func:`mibench.execute.executor.in_process_threads`). ``checkpoint_every_s`` None turns
    checkpoints off. ``figures``: called with the suite folder once the summary is written; it
    returns the figure files it drew (the runner imports no plotting: plots sit above it).
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
        # One claim per cell (mibench.results.lock), taken right before the cell trains (per
        # stack): cells another mibench run holds are left to it and waited for at the end; a
        # cell whose holder dies is taken over and trained here.
        claims = lock.CellLocks(suite_dir)
        finished = _Finished(suite_dir, list(every.values()), force)

        def say(line: str) -> None:
            console.print(line, markup=False, soft_wrap=True)

        def sample_now(configs: list[RunConfig]) -> list[RunConfig]:
            """Estimate the sample cells nobody else holds, each claimed just before it runs;
            returns the held ones."""
            held_configs = []
            for config in configs:
                ours, held_here = _claim(claims, [config], finished, say)
                held_configs.extend(held_here)
                for run_id in sample_runs.run_and_store(suite_dir, ours):
                    claims.release(run_id)
                trained.extend(ours)
            return held_configs

        def train_now(configs: list[RunConfig]) -> list[RunConfig]:
            """Train the cells nobody else holds on the executor; returns the held ones."""
            stacks = make_stacks(configs, max_stack=max_stack, workers=executor.parallelism)
            held_configs: list[RunConfig] = []
            with Progress(*_Bars.COLUMNS, console=console, disable=not show_progress) as progress:
                bars = _Bars(progress, stacks)

                def claimed_jobs() -> Iterator[jobs.StackJob]:
                    # A generator: the executor asks for the next stack when it can start it,
                    # and only then are its cells claimed.
                    for index, stack in enumerate(stacks):
                        ours, held_here = _claim(claims, stack, finished, say)
                        held_configs.extend(held_here)
                        bars.resize(index, ours)
                        if ours:
                            trained.extend(ours)
                            yield jobs.make_job(
                                index, ours, suite_dir, checkpoint_every_s=checkpoint_every_s
                            )

                def done(job: jobs.StackJob, finished_runs: list[jobs.FinishedRun]) -> None:
                    _store_job(suite_dir, job, finished_runs, claims)
                    bars.finish(job.index)

                executor.train(claimed_jobs(), bars.update, done)
            return held_configs

        with claims.holding():
            held = [c.cell_hash() for c in sample_now(sample_pending)]
            held += [c.cell_hash() for c in train_now(list(by_id.values()))]
            if held:
                holders = (claims.holder_of(r) for r in held)
                holder = next((h for h in holders if h is not None), None)
                who = "another mibench run" if holder is None else holder.describe()
                console.print(
                    f"waiting for {len(held)} runs that {who} is training (in this results folder)",
                    markup=False,
                    soft_wrap=True,
                )
            for taken in claims.wait_for(
                held, finished=finished
            ):  # holders that died or stalled: train theirs
                samples, stacked = sample_runs.split([every[r] for r in taken])
                held_again = sample_now(samples) + train_now(stacked)
                if held_again:  # claimed by wait_for, so ours: cannot be held by others
                    raise RuntimeError(f"claimed runs held by another process: {held_again}")
    _remove_empty_dir(jobs.checkpoint_dir(suite_dir))
    total_run_steps = sum(c.n_steps for c in trained)
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    store.write_manifest(suite_dir, run_ids)
    store.write_suite_record(suite_dir, suite_record(prepared.plan.suite))
    store.write_plugins(suite_dir, [p.record() for p in prepared.plan.plugins.values()])
    skipped = [s.as_dict() for s in prepared.plan.skipped]
    store.write_skipped(suite_dir, skipped)
    summary = build_summary(prepared)
    views.write_summary(suite_dir, summary)  # records the manifest it describes
    drawn = list(figures(suite_dir)) if figures is not None else []
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
        figures=drawn,
    )


def _remove_empty_dir(directory: Path) -> None:
    # Absent, or still holding checkpoints of stacks that did not finish: leave it.
    with contextlib.suppress(OSError):
        directory.rmdir()


def run_suite(
    suite: str | Path | Suite | None = None,
    *,
    overrides: Overrides | None = None,
    out: str | Path = DEFAULT_OUT,
    force: bool = False,
    figures: Callable[[Path], Sequence[Path]] | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> RunReport:
    """Library form of ``mibench run``: :func:`prepare` then :func:`execute`."""
    prepared = prepare(suite, overrides=overrides, out=out)
    return execute(
        prepared, force=force, console=console, show_progress=show_progress, figures=figures
    )
