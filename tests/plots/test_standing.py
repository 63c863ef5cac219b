"""The standing figure: plug-in curves over the built-in band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mibench.plots.standing import binned_medians, standing_curves, standing_reading
from mibench.results import schema
from mibench.results.selection import FigureNotApplicableError
from tests.plots._plot_fixtures import make_runs


def test_the_figure_needs_a_plugin_and_draws_one_panel_per_task_instance() -> None:
    runs = make_runs(batch_sizes=(16,))
    with pytest.raises(FigureNotApplicableError, match="no plug-in"):
        standing_curves(runs)
    mine = runs[runs[schema.ESTIMATOR] == "infonce"].copy()
    mine[schema.ESTIMATOR] = "mine_x"
    both = pd.concat([runs, mine], ignore_index=True)
    fig = standing_curves(both)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == both[schema.TASK_ID].nunique()
    assert "mine_x" in standing_reading(both) and "3 built-in" in standing_reading(both)


def test_binned_medians_are_medians_per_estimator_and_bin() -> None:
    rows = pd.DataFrame({schema.ESTIMATOR: ["a"] * 4, schema.STEP: [0, 1, 2, 3],
                         schema.ESTIMATE: [1.0, 3.0, np.inf, 10.0],
                         schema.TRUE_MI: [1.0] * 4})  # fmt: skip
    out = binned_medians(rows, np.array([0.0, 2.0, 4.0]))
    assert list(out[schema.ESTIMATE]) == [2.0, 10.0]  # the inf is left out
    assert list(out[schema.STEP]) == [1.0, 3.0]
