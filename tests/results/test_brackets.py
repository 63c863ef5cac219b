"""Sandwich intervals from a summary frame: best lower, best upper, width, coverage."""

from __future__ import annotations

import pandas as pd
import pytest

from mibench.results import brackets as sandwich
from mibench.results import schema


def _summary(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    """(estimator, task_id, true_mi, mean_estimate) rows in the summary's columns."""
    return pd.DataFrame(
        [
            {
                schema.ESTIMATOR: est,
                schema.TASK: "gaussian",
                schema.TASK_ID: task_id,
                schema.SEGMENT: 0,
                schema.BATCH_SIZE: 64,
                schema.DIM: 5,
                schema.MI_LEVEL: truth,
                schema.TRUE_MI: truth,
                schema.MEAN_ESTIMATE: value,
                schema.HELDOUT_MEAN: value + 0.5,
            }
            for est, task_id, truth, value in rows
        ]
    )


def test_best_lower_is_the_largest_and_best_upper_the_smallest_bound() -> None:
    summary = _summary(
        [
            ("ba", "g1", 2.0, 1.9),
            ("infonce", "g1", 2.0, 1.7),
            ("club", "g1", 2.0, 5.0),
            ("l1out", "g1", 2.0, 2.2),
            ("smile", "g1", 2.0, 2.1),  # a surrogate: never an end of the sandwich
            ("kl_dime", "g1", 2.0, 1.95),  # an estimate: idem
            ("ba", "g2", 4.0, 4.2),
            ("club", "g2", 4.0, 9.0),
            ("infonce", "g3", 6.0, 3.0),  # no upper bound here: no row
        ]
    )
    out = sandwich.sandwich_intervals(summary)
    assert list(out.columns) == list(sandwich.COLUMNS)
    assert out[schema.TASK_ID].tolist() == ["g1", "g2"]
    first, second = out.iloc[0], out.iloc[1]
    assert (first[sandwich.LOWER_ESTIMATOR], first[sandwich.UPPER_ESTIMATOR]) == ("ba", "l1out")
    assert first[sandwich.WIDTH] == pytest.approx(0.3) and bool(first[sandwich.COVERS])
    assert second[sandwich.LOWER] == pytest.approx(4.2) and not bool(second[sandwich.COVERS])
    held = sandwich.sandwich_intervals(summary, metric=schema.HELDOUT_MEAN)
    assert held.iloc[0][sandwich.LOWER] == pytest.approx(2.4)
    lines = sandwich.sandwich_lines(out)
    assert "covers" in lines[0] and "MISSES" in lines[1]


def test_no_bounds_gives_an_empty_frame_and_a_missing_column_is_named() -> None:
    summary = _summary([("infonce", "g1", 2.0, 1.7), ("unknown_old_name", "g1", 2.0, 9.0)])
    assert sandwich.sandwich_intervals(summary).empty
    with pytest.raises(ValueError, match="heldout_std"):
        sandwich.sandwich_intervals(summary, metric=schema.HELDOUT_STD)


def test_unstable_cells_bound_nothing_and_crossed_intervals_still_draw() -> None:
    from mibench.plots.brackets import sandwich_figure

    summary = _summary(
        [
            ("nwj", "g1", 8.0, 1e61),  # one exploding batch decided this mean
            ("ba", "g1", 8.0, 7.0),
            ("l1out", "g1", 8.0, 6.5),  # an undertrained q: upper below lower
        ]
    )
    summary[schema.UNSTABLE] = [True, False, False]
    out = sandwich.sandwich_intervals(summary)
    assert out.iloc[0][sandwich.LOWER_ESTIMATOR] == "ba"
    assert out.iloc[0][sandwich.WIDTH] == pytest.approx(-0.5)
    assert sandwich_figure(summary).axes  # no negative error bar: the crossing is marked instead


def test_a_suite_without_bounds_has_no_intervals() -> None:
    summary = _summary([("smile", "g1", 2.0, 1.9), ("ksg", "g1", 2.0, 2.0)])
    assert sandwich.sandwich_intervals(summary).empty
