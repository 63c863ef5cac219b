"""The sandwich figure: drawn when a suite has both bound kinds, not applicable otherwise."""

from __future__ import annotations

import pandas as pd
import pytest

from mibench.plots import FigureNotApplicableError
from mibench.plots.brackets import sandwich_figure, sandwich_reading
from mibench.plots.drawing import FIGURES
from mibench.results import schema


def _summary(with_upper: bool) -> pd.DataFrame:
    rows = []
    for truth in (1.0, 2.0, 4.0):
        for est, value in (("ba", truth - 0.1), ("l1out", truth * 1.3)):
            if est == "l1out" and not with_upper:
                continue
            rows.append(
                {
                    schema.ESTIMATOR: est, schema.TASK: "gaussian", schema.TASK_ID: f"gaussian-d5-mi{truth:g}",
                    schema.SEGMENT: 0, schema.BATCH_SIZE: 64, schema.DIM: 5,
                    schema.MI_LEVEL: truth, schema.TRUE_MI: truth, schema.MEAN_ESTIMATE: value,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_figure_has_one_panel_per_task_family_with_the_band() -> None:
    fig = sandwich_figure(_summary(with_upper=True))
    (ax,) = fig.axes
    assert ax.get_title() == "gaussian (d=5)"
    assert len(ax.collections) >= 2  # the band and the error bars
    assert "3 of 3 levels" in sandwich_reading(_summary(with_upper=True))


def test_not_applicable_without_an_upper_bound_and_listed_in_the_catalogue() -> None:
    with pytest.raises(FigureNotApplicableError):
        sandwich_figure(_summary(with_upper=False))
    assert "No task/level" in sandwich_reading(_summary(with_upper=False))
    assert "sandwich" in [spec.name for spec in FIGURES]
