"""The report's "Diverged runs and unstable cells": which runs hit NaN/Inf and at which step, and
which summary cells are unstable (a window readout off by more than max(10, I) nats)."""

from __future__ import annotations

import pandas as pd

from mibench.plots.palette import sort_estimators
from mibench.report.blocks import Block, Bullets, Heading, Paragraph
from mibench.report.summary_tables import diverged_lines
from mibench.report.tables import Table
from mibench.results import schema
from mibench.results.formatting import share, value
from mibench.results.robust import unstable_mask
from mibench.results.selection import label_tasks

_RUN_KEYS = (
    schema.RUN_ID,
    schema.ESTIMATOR,
    schema.TASK,
    schema.TASK_ID,
    schema.MI_LEVEL,
    schema.BATCH_SIZE,
    schema.CRITIC,
    schema.SEED,
)
_UNSTABLE_COLUMNS = (
    schema.ESTIMATOR,
    schema.TASK,
    schema.MI_LEVEL,
    schema.BATCH_SIZE,
    schema.CRITIC,
    schema.MEDIAN_BIAS,
    schema.IQR,
    schema.WILD_FRACTION,
)


def frame_table(frame: pd.DataFrame, title: str = "") -> Table:
    """A frame as a table, every value written by :func:`mibench.results.formatting.value`."""
    rows = [[value(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return Table(title, [str(c) for c in frame.columns], rows, key_columns=0)


def diverged_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run that hit NaN/Inf: its cell and the first diverged step."""
    if schema.DIVERGED not in runs or not runs[schema.DIVERGED].any():
        return pd.DataFrame()
    hit = runs[runs[schema.DIVERGED].astype(bool)]
    keys = [c for c in _RUN_KEYS if c in runs]
    first = hit.groupby(keys, observed=True, dropna=False)[schema.STEP].min().reset_index()
    first = first.rename(columns={schema.STEP: "first_diverged_step"})
    return first.sort_values(keys[1:] + keys[:1], kind="stable").reset_index(drop=True)


def unstable_cells(summary: pd.DataFrame | None) -> pd.DataFrame:
    """The unstable summary cells: estimator, task, level, K, critic, median bias, wild share."""
    if summary is None or summary.empty:
        return pd.DataFrame()
    flagged = label_tasks(summary)[unstable_mask(summary)]
    if flagged.empty:
        return pd.DataFrame()
    columns = [c for c in _UNSTABLE_COLUMNS if c in flagged.columns]
    rank = {e: i for i, e in enumerate(sort_estimators(map(str, flagged[schema.ESTIMATOR])))}
    order = flagged.assign(_rank=flagged[schema.ESTIMATOR].astype(str).map(rank))
    order = order.sort_values([schema.TASK, "_rank", schema.MI_LEVEL], kind="stable")
    table = order[columns].reset_index(drop=True)
    if schema.WILD_FRACTION in table:
        table[schema.WILD_FRACTION] = table[schema.WILD_FRACTION].map(share)
    return table


def divergence_section(runs: pd.DataFrame, summary: pd.DataFrame | None) -> list[Block]:
    """The diverged runs (with one line per affected cell) and the unstable cells."""
    blocks: list[Block] = [Heading("Diverged runs and unstable cells")]
    table = diverged_runs(runs)
    if table.empty:
        blocks.append(Paragraph("No run produced a NaN/Inf."))
    else:
        n_runs = runs[schema.RUN_ID].nunique()
        blocks.append(
            Paragraph(f"{len(table)} of {n_runs} runs diverged (frozen at the step shown).")
        )
        lines = diverged_lines(summary) if summary is not None else []
        if lines:
            blocks.append(Bullets(lines))
        blocks.append(frame_table(table))
    flagged = unstable_cells(summary)
    if not flagged.empty:
        blocks.append(
            Paragraph(
                f"{len(flagged)} unstable cells: some window readout is non-finite or off by "
                f"more than max({schema.WILD_NATS:g}, I) nats (wild_fraction = their share), so "
                "the mean-based metrics of these cells are left out of the tables and figures."
            )
        )
        blocks.append(frame_table(flagged, title="Unstable cells (median bias, IQR in nats)"))
    return blocks
