"""The per-setting tables of a suite's summary, as :class:`~mibench.report.tables.Table` data.

``mibench run --tables``, ``mibench show DIR --tables`` and the report's "Summary tables" render
these same tables. Each is narrow by construction (one row per estimator, one column per MI
level), and every row and title names what tells it apart from its neighbours: the task label of
:func:`mibench.results.selection.label_tasks` ("staircase (cubic)" beside "staircase
(gaussian)"), the critic, K, and any other field that differs between tables of one task.

* :func:`summary_tables`: estimator x MI level, "bias/std/MSE" per cell (an unstable cell: its
  median bias and wild share), one table per setting;
* :func:`f_value_tables`: f-MICL runs, the trained f-value against the task's f-MI, per task;
* :func:`truth_tables`: estimate vs truth per task, sample estimators beside the neural ones;
* :func:`sandwich_table`: the [best lower bound, best upper bound] bracket per task and level;
* :func:`skipped_lines`, :func:`diverged_lines`: one line per skipped combination or diverged
  cell.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from mibench.report.tables import Table
from mibench.results import schema
from mibench.results.brackets import sandwich_intervals
from mibench.results.formatting import number, share
from mibench.results.selection import label_tasks
from mibench.results.summary import with_fixed_task_params

SUMMARY_LEGEND = (
    f"cells: bias/std/MSE (nats) over the last {schema.EVAL_FRACTION:.0%} of steps at each MI "
    f"level; 'unstable b (w)': a readout off by > max({schema.WILD_NATS:g}, I), so its median "
    "bias b and the share w of such wild readouts instead"
)
UNSTABLE_MARK_NOTE = (
    f"* unstable (a readout off by > max({schema.WILD_NATS:g}, I)): the median readout, "
    "not the mean"
)
SEVERAL_SETTINGS_NOTE = "an estimator with several settings on a task: median over its settings"

# How a column names the level of a target other than I(X; Y).
TARGET_UNITS = {"kl": "KL", "sliced": "SI"}
_SETTING_FIELDS = (
    schema.TASK,
    schema.DIM,
    schema.CRITIC,
    schema.BATCH_SIZE,
    schema.TARGET,  # a sliced-MI estimator is scored on another quantity: a table of its own
    schema.DTYPE,
    schema.NEGATIVES,
    schema.N_STEPS,
    schema.LR,
    schema.CRITIC_PARAMS,
    schema.FIXED_TASK_PARAMS,
)
_HEAD_FIELDS = list(_SETTING_FIELDS[:4])  # task, dim, critic, K: named in every title


def is_unstable(row: pd.Series) -> bool:
    """The summary's ``unstable`` flag (False for summaries written before it existed)."""
    return bool(row.get(schema.UNSTABLE, False))


def cell_text(row: pd.Series) -> str:
    """``bias/std/MSE``; an unstable cell shows its median bias and wild share instead (as short:
    the tables stay narrow).

    Examples:
        >>> cell_text(pd.Series({"bias": -0.5, "std": 0.1, "mse": 0.26}))
        '-0.50/0.10/0.26'
        >>> cell_text(pd.Series({"unstable": True, "median_bias": -1.234, "wild_fraction": 0.004}))
        'unstable -1.23 (0.4%)'
    """
    if is_unstable(row):
        median = number(row[schema.MEDIAN_BIAS], signed=True)
        return f"unstable {median} ({share(row[schema.WILD_FRACTION])})"
    bias, std, mse = row[schema.BIAS], row[schema.STD], row[schema.MSE]
    return f"{number(bias, signed=True)}/{number(std)}/{number(mse)}"


def summary_tables(summary: pd.DataFrame) -> list[Table]:
    """Estimator x MI level with "bias/std/MSE" per cell (:data:`SUMMARY_LEGEND`), one table per
    setting (everything but the estimator and the MI level).

    Titles name the task, d, critic and K, plus the fields that tell apart tables of one
    task/d/critic/K (a base, a learning rate); an estimator with several hyperparameter sets
    gets one row per set, labelled with them.
    """
    if summary.empty:
        return []
    frame = with_fixed_task_params(summary)
    return [
        _setting_table(frame, dict(zip(_SETTING_FIELDS, setting, strict=True)), group)
        for setting, group in frame.groupby(list(_SETTING_FIELDS), sort=False)
    ]


def _setting_table(frame: pd.DataFrame, values: dict, group: pd.DataFrame) -> Table:
    unit = TARGET_UNITS.get(str(group[schema.TARGET].iloc[0]), "I")
    levels = sorted(group[schema.MI_LEVEL].unique())
    keys = [schema.ESTIMATOR, schema.ESTIMATOR_PARAMS]
    several = group.groupby(schema.ESTIMATOR)[schema.ESTIMATOR_PARAMS].nunique() > 1
    body = []
    for (estimator, params), rows in group.groupby(keys, sort=False):
        label = f"{estimator} {params}" if several[estimator] else str(estimator)
        by_level = {row[schema.MI_LEVEL]: row for _, row in rows.iterrows()}
        body.append([label, *(cell_text(by_level[lv]) if lv in by_level else "" for lv in levels)])
    headers = ["estimator", *(f"{unit}={level:.3g}" for level in levels)]
    return Table(_setting_title(frame, values, group), headers, body)


def _setting_title(frame: pd.DataFrame, values: dict, group: pd.DataFrame) -> str:
    """``"staircase (d=5), separable critic, K=64, base=cubic"``: the head fields, then the
    other fields only where they tell apart tables of one task/d/critic/K."""
    same_head = (frame[_HEAD_FIELDS] == pd.Series({f: values[f] for f in _HEAD_FIELDS})).all(axis=1)
    siblings = frame[same_head]
    varying = [f for f in _SETTING_FIELDS[4:] if siblings[f].nunique() > 1]
    extras = "".join(
        _differing_task_params(group[schema.TASK_PARAMS].iloc[0], siblings[schema.TASK_PARAMS])
        if f == schema.FIXED_TASK_PARAMS
        else f", {f}={values[f]}"
        for f in varying
    )
    return (
        f"{values[schema.TASK]} (d={values[schema.DIM]}), {values[schema.CRITIC]} critic, "
        f"K={values[schema.BATCH_SIZE]}{extras}"
    )


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


def f_value_tables(summary: pd.DataFrame) -> list[Table]:
    """f-MICL runs per task: one row per estimator, one column per MI level, each cell the
    trained f-value (window median: one exploding batch cannot move it) over the task's true
    f-MI ("?" where it is not known)."""
    if schema.F_VALUE not in summary.columns:
        return []
    rows = summary[summary[schema.F_VALUE].notna()]
    if rows.empty:
        return []
    rows = label_tasks(rows)
    tables = []
    for task, cells in rows.groupby(schema.TASK, sort=False):
        levels = sorted(cells[schema.MI_LEVEL].unique())
        body = []
        for estimator, mine in cells.groupby(schema.ESTIMATOR, sort=False):
            by_level = {row[schema.MI_LEVEL]: row for _, row in mine.iterrows()}
            body.append(
                [
                    str(estimator),
                    *(_f_cell(by_level[lv]) if lv in by_level else "" for lv in levels),
                ]
            )
        headers = ["estimator", *(f"I={level:.3g}" for level in levels)]
        title = f"f-MICL on {task}: f-value / true f-MI"
        notes = ["f-value: the window median of the trained f-bound; ? = true f-MI not known"]
        tables.append(Table(title, headers, body, notes))
    return tables


def _f_cell(row: pd.Series) -> str:
    true_f = row.get(schema.TRUE_F_MI)
    median = row.get(schema.F_VALUE_MEDIAN, row[schema.F_VALUE])
    known = true_f is not None and math.isfinite(true_f)
    return f"{number(median)}/{number(true_f) if known else '?'}"


def truth_tables(summary: pd.DataFrame) -> list[Table]:
    """Estimate vs truth per task: one row per estimator, one column per level (headed by the
    true value), each cell the estimator's window mean over seeds, or for an unstable cell its
    median readout marked ``*``; empty when the suite has no sample estimator to set beside the
    neural ones. An estimator in several settings of a task shows the median over them (no
    selection by closeness to the truth)."""
    from mibench import estimators
    from mibench.results.robust import shown_estimate, unstable_mask

    if summary.empty:
        return []
    # I(X; Y) rows only: the sliced-MI estimator (target "sliced") measures another quantity.
    frame = summary[summary[schema.TARGET] == "mi"]
    present = [e for e in estimators.registration_order() if e in set(frame[schema.ESTIMATOR])]
    if not any(estimators.is_sample(e) for e in present):
        return []
    frame = label_tasks(frame)
    frame = frame.assign(
        _shown=shown_estimate(frame, schema.TRUE_MI), _unstable=unstable_mask(frame)
    )
    return [
        _truth_table(str(task), cells, present)
        for task, cells in frame.groupby(schema.TASK, sort=False)
    ]


def _truth_table(task: str, cells: pd.DataFrame, present: Sequence[str]) -> Table:
    levels = cells.drop_duplicates([schema.TASK_ID, schema.SEGMENT])
    keys = list(zip(levels[schema.TASK_ID], levels[schema.SEGMENT], strict=True))
    headers = ["estimator", *(f"I={number(float(t))}" for t in levels[schema.TRUE_MI])]
    several = flagged = False
    body = []
    for name in present:
        mine = cells[cells[schema.ESTIMATOR] == name]
        if mine.empty:
            continue
        row = [name]
        for task_id, segment in keys:
            at = mine[(mine[schema.TASK_ID] == task_id) & (mine[schema.SEGMENT] == segment)]
            if at.empty:
                row.append("")
                continue
            several = several or len(at) > 1
            unstable = bool(at["_unstable"].any())
            flagged = flagged or unstable
            row.append(f"{number(float(at['_shown'].median()))}{'*' if unstable else ''}")
        body.append(row)
    notes = [SEVERAL_SETTINGS_NOTE] * several + [UNSTABLE_MARK_NOTE] * flagged
    notes.insert(0, "cells: the mean over seeds of each run's readout (nats)")
    return Table(f"estimate vs truth on {task}", headers, body, notes)


def sandwich_table(summary: pd.DataFrame) -> Table | None:
    """The MI bracket [best lower bound, best upper bound] per task, K and level
    (:mod:`mibench.results.brackets`); None when no level has both kinds of bound."""
    if summary.empty:
        return None
    intervals = sandwich_intervals(summary)
    if intervals.empty:
        return None
    intervals = label_tasks(intervals)
    body = [
        [
            str(row[schema.TASK]),
            str(row[schema.BATCH_SIZE]),
            number(float(row[schema.TRUE_MI])),
            f"{number(float(row[schema.SANDWICH_LOWER]))} ({row[schema.SANDWICH_LOWER_ESTIMATOR]})",
            f"{number(float(row[schema.SANDWICH_UPPER]))} ({row[schema.SANDWICH_UPPER_ESTIMATOR]})",
            number(float(row[schema.SANDWICH_WIDTH])),
            "yes" if row[schema.SANDWICH_COVERS] else "MISSES",
        ]
        for _, row in intervals.iterrows()
    ]
    headers = ["task", "K", "I", "lower bound", "upper bound", "width", "covers I"]
    title = "sandwich: best lower and upper bound per level (window means, nats)"
    return Table(title, headers, body, key_columns=3)


def skipped_lines(skipped: Sequence[dict[str, str]]) -> list[str]:
    """One line per task, critic and reason, listing the estimators it applies to.

    Examples:
        >>> skipped_lines([{"estimator": "nwj", "task": "labeled", "critic": "separable",
        ...                 "reason": "nwj needs paired samples"}])
        ['labeled with separable: nwj - needs paired samples']
    """
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
