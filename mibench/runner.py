"""Orchestration of ``mibench run``: plan -> skip finished cells -> stacks -> store -> summary.

The data flow of DESIGN.md, one direction::

    suite file --prepare()--> Plan (validated cells; nothing written yet)
      --execute()--> pending cells (finished ones skipped unless force)
      --group by (device, train.stack_key)--> stacks --train.train_stack--> RunResults
      --store.write_run (atomic, as soon as each stack ends)--> runs/<run_id>.parquet
      --summary.summarize--> summary.parquet (+ manifest.json, suite.json, skipped.json)
      --mibench.plots.draw_all, when that module provides it--> figures/

:func:`prepare` raises :class:`~mibench.suite.SuiteError` for every bad input before any
directory exists; :func:`execute` is the only function that writes.
"""

from __future__ import annotations

import logging
import math
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

from mibench.interface import RunConfig
from mibench.results import schema, store
from mibench.results.summary import summarize
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
MAX_BARS_KEPT = 8  # with more stacks than this, finished stacks' bars are removed


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
    configs: Sequence[RunConfig], *, max_stack: int = DEFAULT_MAX_STACK
) -> list[list[RunConfig]]:
    """Group configs that may share one stacked computation, in first-seen order, split to
    at most ``max_stack`` runs per stack."""
    from mibench import train

    groups: dict[tuple[Any, ...], list[RunConfig]] = {}
    for config in configs:
        groups.setdefault((config.device, *train.stack_key(config)), []).append(config)
    stacks = []
    for members in groups.values():
        for start in range(0, len(members), max_stack):
            stacks.append(members[start : start + max_stack])
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


def _store_result(prepared: Prepared, result: Any) -> None:
    config: RunConfig = result.config
    run_id = config.cell_hash()
    frame = _with_f_truth(result.frame, config, prepared.plan.tasks.get(run_id))
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
    store.write_run(prepared.suite_dir, run_id, frame, sidecar)


def build_summary(prepared: Prepared) -> pd.DataFrame:
    """Summary of the plan's cells, read back from the stored run files."""
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    frames = {r: store.read_run(prepared.suite_dir, r) for r in run_ids}
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


def execute(
    prepared: Prepared,
    *,
    force: bool = False,
    console: Console | None = None,
    show_progress: bool = True,
    plots: bool = True,
    max_stack: int = DEFAULT_MAX_STACK,
) -> RunReport:
    """Train the pending cells of a prepared plan, store them, and write the summary."""
    from mibench import train

    console = console or Console(stderr=True)
    started = time.perf_counter()
    suite_dir = prepared.suite_dir
    runs = store.runs_dir(suite_dir)
    runs.mkdir(parents=True, exist_ok=True)
    store.clean_partials(runs)
    store.clean_partials(suite_dir)
    pending = pending_configs(prepared, force=force)
    stacks = make_stacks(pending, max_stack=max_stack)
    total_run_steps = sum(c.n_steps for c in pending)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show_progress) as progress:
        overall = progress.add_task(f"all {len(pending)} runs (run-steps)", total=total_run_steps)
        done_before = 0
        for index, stack in enumerate(stacks, start=1):
            n_steps = stack[0].n_steps
            label = f"stack {index}/{len(stacks)}: {_stack_label(stack)}"
            bar = progress.add_task(label, total=n_steps)
            base = done_before

            def report(
                steps_done: int, bar: Any = bar, base: int = base, width: int = len(stack)
            ) -> None:
                progress.update(bar, completed=steps_done)
                progress.update(overall, completed=base + steps_done * width)

            results = train.train_stack(stack, device=stack[0].device, progress=report)
            for result in results:
                _store_result(prepared, result)
            done_before += n_steps * len(stack)
            progress.update(bar, completed=n_steps)
            progress.update(overall, completed=done_before)
            if len(stacks) > MAX_BARS_KEPT:
                progress.remove_task(bar)  # many stacks: keep the display short
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
        n_trained=len(pending),
        n_reused=len(run_ids) - len(pending),
        run_steps=total_run_steps,
        wall_time_s=time.perf_counter() - started,
        summary=summary,
        skipped=skipped,
        figures=figures,
    )


def _fmt(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.2f}"


def summary_tables(summary: pd.DataFrame) -> list[Table]:
    """Rich tables estimator x MI level with "bias / std / MSE" per cell, one per task setting."""
    if summary.empty:
        return []
    tables = []
    keys = [schema.TASK, schema.CRITIC, schema.BATCH_SIZE]
    for (task, critic, batch_size), group in summary.groupby(keys, sort=False):
        target = group[schema.TARGET].iloc[0] if schema.TARGET in group else "mi"
        unit = "KL" if target == "kl" else "I"
        levels = sorted(group[schema.MI_LEVEL].unique())
        table = Table(
            title=f"{task} - {critic} critic, K={batch_size}: bias / std / MSE (nats) "
            f"over the last {schema.EVAL_FRACTION:.0%} of steps",
            title_justify="left",
        )
        table.add_column("estimator")
        for level in levels:
            table.add_column(f"{unit}={level:.3g}", justify="right")
        for estimator, rows in group.groupby(schema.ESTIMATOR, sort=False):
            cells = []
            for level in levels:
                at = rows[rows[schema.MI_LEVEL] == level]
                if at.empty:
                    cells.append("")
                    continue
                row = at.iloc[0]
                std = row[schema.STD]
                cells.append(
                    f"{_fmt(row[schema.BIAS])} / {'-' if not math.isfinite(std) else f'{std:.2f}'}"
                    f" / {'-' if not math.isfinite(row[schema.MSE]) else f'{row[schema.MSE]:.2f}'}"
                )
            table.add_row(str(estimator), *cells)
        tables.append(table)
    return tables


def print_report(report: RunReport, console: Console) -> None:
    """Summary tables, skipped combinations and the run totals."""
    for table in summary_tables(report.summary):
        console.print(table)
    if report.skipped:
        reasons: dict[str, int] = {}
        for item in report.skipped:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        console.print(
            f"skipped {len(report.skipped)} estimator-task-critic combinations "
            f"that do not apply (listed in {report.suite_dir / store.SKIPPED_FILE}):"
        )
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            console.print(f"  {count} x {reason}")
    diverged = (
        report.summary[report.summary[schema.DIVERGED_FRACTION] > 0]
        if not report.summary.empty
        else report.summary
    )
    if not diverged.empty:
        console.print(f"{len(diverged)} cell windows had diverged runs (column diverged_fraction)")
    console.print(
        f"{report.n_cells} runs ({report.n_trained} trained, {report.n_reused} already finished), "
        f"{report.run_steps} run-steps in {report.wall_time_s:.1f} s "
        f"({report.run_steps_per_s:.0f} run-steps/s); results in {report.suite_dir}"
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
