"""What ``mibench run`` prints, and the tables the report reuses: one module for console output.

Read top-down as :func:`print_report` prints: one legend line, the summary tables (estimator x MI
level, one per setting, "bias/std/MSE" per cell or, for an unstable cell, its median bias and
wild share), the f-MICL table, the sandwich lines, the estimate-vs-truth table (sample estimators
beside the neural ones), the skipped combinations, the diverged cells and the run totals. Tables
are as wide as their longest cell and printed at that width (:func:`print_wide`), so a log file of 80 columns
never gets a truncated number. Numbers are written by :mod:`mibench.results.formatting`.

The estimate-vs-truth table (:func:`truth_comparison_table`) has one row per task (task id and
MI level), one column per estimator. A cell is the estimator's window mean over seeds
(:data:`mibench.results.schema.MEAN_ESTIMATE`; for sample estimators the one estimate per run,
averaged over seeds), or for an unstable cell its median readout, marked ``*``. Where an
estimator appears in several settings of a task (critics, batch sizes, hyperparameters) the cell
is the median over those settings (no selection by closeness to the truth) and the caption says
so. Printed when the summary holds sample estimators.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.table import Table

from mibench.results import schema, store
from mibench.results.brackets import sandwich_intervals, sandwich_lines
from mibench.results.formatting import number as _number
from mibench.results.formatting import share as _share
from mibench.results.summary import with_fixed_task_params

if TYPE_CHECKING:
    from mibench.execute.runner import RunReport


def print_report(report: RunReport, console: Console) -> None:
    """Summary tables, skipped combinations and the run totals."""
    from mibench.report import failed, standing  # hook: plug-ins first, their failures below

    ranked = standing.console_table(report.summary)
    if ranked is not None:
        print_wide(console, ranked)
    tables = summary_tables(report.summary)
    if tables:
        console.print(SUMMARY_LEGEND, soft_wrap=True)
    for table in tables:
        print_wide(console, table)
    f_table = f_value_table(report.summary)
    if f_table is not None:
        print_wide(console, f_table)
    if not report.summary.empty:  # hook: mibench.results.brackets (lower and upper bounds)
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
    for line in failed.failed_lines(report.summary):
        console.print(line, soft_wrap=True, markup=False)
    if report.n_by_others:
        console.print(
            f"{report.n_by_others} runs were trained by another mibench run meanwhile",
            soft_wrap=True,
        )
    console.print(
        f"{report.n_cells} runs ({report.n_trained} trained, {report.n_reused} already finished), "
        f"{report.run_steps} run-steps in {report.wall_time_s:.1f} s "
        f"({report.run_steps_per_s:.0f} run-steps/s); results in {report.suite_dir}",
        soft_wrap=True,
    )
    for figure in report.figures:
        console.print(f"figure: {figure}", soft_wrap=True)


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
    schema.FIXED_TASK_PARAMS,
)


SUMMARY_LEGEND = (
    f"cells: bias/std/MSE (nats) over the last {schema.EVAL_FRACTION:.0%} of steps at each MI "
    f"level; unstable = a readout off by > max({schema.WILD_NATS:g}, I): its median bias and "
    "wild share instead"
)


def summary_tables(summary: pd.DataFrame) -> list[Table]:
    """Rich tables estimator x MI level with "bias/std/MSE" per cell, one per setting.

    A setting is everything but the estimator and the MI level (task, dim, critic, K, ...);
    other fields that tell apart tables of one task/dim/critic/K are named in the titles, and an
    estimator that appears with several hyperparameter sets gets one row per set. The titles name
    the setting only: what a cell holds is :data:`SUMMARY_LEGEND`, printed once above them all
    (on every title it made each table as wide as the sentence).
    """
    if summary.empty:
        return []
    frame = with_fixed_task_params(summary)
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
            if f == schema.FIXED_TASK_PARAMS
            else f", {f}={values[f]}"
            for f in varying
        )
        title = (
            f"{values[schema.TASK]} (d={values[schema.DIM]}), {values[schema.CRITIC]} critic, "
            f"K={values[schema.BATCH_SIZE]}{extras}"
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
        tables.append(full_width_table(title, headers, body))
    return tables


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


def is_unstable(row: pd.Series) -> bool:
    """The summary's ``unstable`` flag (False for summaries written before it existed)."""
    return bool(row.get(schema.UNSTABLE, False))


def full_width_table(title: str, headers: list[str], body: list[list[str]]) -> Table:
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
    return full_width_table(title, headers, body)


def truth_comparison_table(summary: pd.DataFrame) -> Table | None:
    """Estimate vs truth per task and estimator; None when there are no sample-estimator rows."""
    from mibench import estimators
    from mibench.results.robust import shown_estimate, unstable_mask  # matplotlib: import late

    if summary.empty:
        return None
    # I(X; Y) rows only: the sliced-MI estimator (target "sliced") measures another quantity.
    frame = summary[summary[schema.TARGET] == "mi"]
    present = [e for e in estimators.registration_order() if e in set(frame[schema.ESTIMATOR])]
    if not any(estimators.is_sample(e) for e in present):
        return None
    # An unstable cell (an exploding readout decides a mean: the default suite printed -4e53)
    # shows its median readout, truth + median bias, as the figures do.
    frame = frame.assign(
        _shown=shown_estimate(frame, schema.TRUE_MI), _unstable=unstable_mask(frame)
    )
    several = flagged = False
    table = Table(
        title="estimate vs truth (nats; mean over seeds of each run's readout)",
        title_justify="left",
    )
    table.add_column("task", no_wrap=True)
    table.add_column("truth", justify="right", no_wrap=True)
    for name in present:
        table.add_column(name, justify="right", no_wrap=True)
    keys = [schema.TASK_ID, schema.SEGMENT]
    for (task_id, segment), rows in frame.groupby(keys, sort=False):
        label = str(task_id) if segment == 0 else f"{task_id} level {segment}"
        cells = [label, _number(float(rows[schema.TRUE_MI].iloc[0]))]
        for name in present:
            mine = rows[rows[schema.ESTIMATOR] == name]
            if mine.empty:
                cells.append("")
                continue
            several = several or len(mine) > 1
            unstable = bool(mine["_unstable"].any())
            flagged = flagged or unstable
            cells.append(f"{_number(float(mine['_shown'].median()))}{'*' if unstable else ''}")
        table.add_row(*cells)
    notes = []
    if several:
        notes.append("an estimator with several settings on a task: median over its settings")
    if flagged:
        notes.append(
            f"* unstable (a readout off by > max({schema.WILD_NATS:g}, I)): the median readout, "
            "not the mean"
        )
    if notes:
        table.caption = "; ".join(notes)
        table.caption_justify = "left"
    return table


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
