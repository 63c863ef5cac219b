"""The side-by-side table of ``mibench run``: every estimator's mean estimate beside the truth.

One row per task (task id and MI level), one column per estimator, so neural estimators and the
sample estimators (KSG, CCA, ...) can be read against each other and against the truth on every
task. A cell is the estimator's window mean over seeds (:data:`mibench.results.schema.MEAN_ESTIMATE`;
for sample estimators the one estimate per run, averaged over seeds); where an estimator appears in
several settings of a task (critics, batch sizes, hyperparameters) the cell is the median over
those settings (no selection by closeness to the truth) and the caption says so. Printed when
the summary holds sample estimators.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from mibench.results import schema


def _text(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


def truth_comparison_table(summary: pd.DataFrame) -> Table | None:
    """Estimate vs truth per task and estimator; None when there are no sample-estimator rows."""
    from mibench import estimators

    if summary.empty:
        return None
    present = [e for e in estimators.registration_order() if e in set(summary[schema.ESTIMATOR])]
    if not any(estimators.is_sample(e) for e in present):
        return None
    frame = summary[summary[schema.TARGET] == "mi"].copy()
    several = False
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
        cells = [label, _text(float(rows[schema.TRUE_MI].iloc[0]))]
        for name in present:
            mine = rows[rows[schema.ESTIMATOR] == name]
            several = several or len(mine) > 1
            cells.append(_text(float(mine[schema.MEAN_ESTIMATE].median())) if len(mine) else "")
        table.add_row(*cells)
    if several:
        table.caption = "an estimator with several settings on a task: median over its settings"
    return table
