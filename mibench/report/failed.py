"""The ``failed:`` lines of ``mibench run`` and the report: one per cell with failed runs.

A failed run is a plug-in that produced no estimate (:mod:`mibench.train.failures`); the summary
counts them in ``failed_fraction`` and keeps the first reason in ``failure``.

Examples:
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"cell_id": ["c1"], "estimator": ["my_cmd"],
    ...     "task_id": ["gaussian-d2-mi1"], "n_seeds": [2], "failed_fraction": [1.0],
    ...     "failure": ["exited with status 1"]})
    >>> failed_lines(summary)
    ['failed: my_cmd on gaussian-d2-mi1: 2 of 2 seeds - exited with status 1 (tried again on the next mibench run)']
"""

from __future__ import annotations

import pandas as pd

from mibench.results import schema


def failed_lines(summary: pd.DataFrame) -> list[str]:
    """One line per cell with failed seeds: estimator, task, how many, the first reason."""
    if summary.empty or schema.FAILED_FRACTION not in summary.columns:
        return []
    failed = summary[summary[schema.FAILED_FRACTION].fillna(0.0) > 0]
    lines = []
    key = schema.CELL_ID if schema.CELL_ID in failed.columns else schema.ESTIMATOR
    for _, rows in failed.groupby(key, sort=False):
        row = rows.iloc[0]
        seeds = int(row[schema.N_SEEDS])
        n_failed = round(float(row[schema.FAILED_FRACTION]) * seeds)
        lines.append(
            f"failed: {row[schema.ESTIMATOR]} on {row[schema.TASK_ID]}: {n_failed} of {seeds} "
            f"seeds - {row.get(schema.FAILURE, '') or 'no reason recorded'} "
            "(tried again on the next mibench run)"
        )
    return lines
