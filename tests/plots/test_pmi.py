"""Tests of the PMI histogram (mibench.plots.pmi)."""

from __future__ import annotations

import numpy as np

from mibench.plots import pmi as pmi_plot
from mibench.tasks.pmi import profile


def test_marks_the_mean_and_the_truth_and_ignores_infinite_values() -> None:
    values = np.r_[np.random.default_rng(0).normal(1.0, 0.5, 5000), -np.inf]
    finite = values[np.isfinite(values)]
    fig = pmi_plot.pmi_histogram(values, profile(finite, 1.0), title="t")
    ax = fig.axes[0]
    lines = [line.get_xdata()[0] for line in ax.get_lines()]
    assert np.allclose(sorted(lines), sorted([finite.mean(), 1.0]))
    assert "std" in ax.get_title()
