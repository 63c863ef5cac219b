"""The failed: lines, one per cell with failed runs."""

from __future__ import annotations

import pandas as pd

from mibench.report.failed import failed_lines


def test_one_line_per_cell_with_failed_seeds_and_none_otherwise() -> None:
    summary = pd.DataFrame(
        {
            "cell_id": ["a", "a", "b"],
            "estimator": ["cmd", "cmd", "infonce"],
            "task_id": ["staircase-x", "staircase-x", "gaussian"],
            "n_seeds": [3, 3, 3],
            "failed_fraction": [2 / 3, 2 / 3, 0.0],
            "failure": ["printed 'abc', not a number", "printed 'abc', not a number", ""],
        }
    )
    lines = failed_lines(summary)
    assert lines == [
        "failed: cmd on staircase-x: 2 of 3 seeds - printed 'abc', not a number (tried again on "
        "the next mibench run)"
    ]
    assert failed_lines(summary.drop(columns=["failed_fraction"])) == []
