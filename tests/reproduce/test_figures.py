"""The papers' figures drawn from synthetic frames (mibench.reproduce.figures)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mibench.reproduce import figures
from mibench.reproduce.levels import level_stats
from tests.reproduce._frames import staircase_frame


def _frame():
    return staircase_frame(
        {
            ("NWJ", "concat", "Gaussian"): lambda i: (i, 0.3),
            ("NWJ", "separable", "Gaussian"): lambda i: (i - 1, 0.3),
        },
        steps_per_level=20,
    )


def test_staircase_panels_draw_raw_ema_truth_and_log_k():
    fig = figures.staircase_panels(
        _frame(),
        labels=["NWJ", "absent"],
        rows=["Gaussian"],
        hues=["separable", "concat"],
        span=5,
        title="t — quick budget",
        log_k=np.log(64),
    )
    first, missing = fig.axes[0], fig.axes[1]
    assert len(first.lines) == 2 * 2 + 2  # raw + EMA per critic, truth, log K
    assert any(t.get_text() == "not trained" for t in missing.texts)
    assert "quick budget" in fig._suptitle.get_text()
    plt.close(fig)


def test_bias_variance_panels_and_combination():
    stats = level_stats(_frame(), fraction=0.5)
    panels = figures.bias_variance_panels(stats, labels=["NWJ"], columns=["Gaussian"], title="x")
    assert [ax.get_yscale() for ax in panels.axes[:3]] == ["linear", "log", "log"]
    combined = figures.combine_vertically(
        [
            panels,
            figures.bias_variance_panels(stats, labels=["NWJ"], columns=["Gaussian"], title="y"),
        ]
    )
    assert len(combined.axes) == 2
    plt.close(combined)


def test_heatmap_clips_colours_and_writes_means():
    means = pd.DataFrame({"A": [1.234, np.nan]}, index=["t1", "t2"])
    ratio = pd.DataFrame({"A": [3.0, np.nan]}, index=["t1", "t2"])
    fig = figures.heatmap(means, ratio, title="BMI — quick budget")
    image = fig.axes[0].images[0]
    assert float(np.nanmax(image.get_array())) == 1.0
    assert [t.get_text() for t in fig.axes[0].texts] == ["1.23", ""]
    plt.close(fig)
