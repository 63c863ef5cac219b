"""The MI sandwich figure: [best lower bound, best upper bound] against the true MI per level."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mibench.plots.layout import arrange, cell_content, new_figure, panel_title
from mibench.results import brackets as sandwich_math
from mibench.results import schema
from mibench.results.selection import FigureNotApplicableError, label_tasks

TRUTH_COLOUR = "black"
INTERVAL_COLOUR = "tab:blue"
CROSSED_COLOUR = "tab:red"
PANEL_SIZE = (5.5, 4.0)  # wide enough for the title over one panel


def sandwich_figure(summary: pd.DataFrame) -> Figure:
    """One panel per task family and dimension: the interval of :func:`~mibench.results.brackets.sandwich_intervals`
    as a shaded band and error bars at each true MI, the truth as the black diagonal.

    Raises:
        FigureNotApplicableError: no task/level has both a lower and an upper bound.
    """
    intervals = sandwich_math.sandwich_intervals(summary)
    if intervals.empty:
        raise FigureNotApplicableError("no task/level has both a lower and an upper bound")
    intervals = label_tasks(intervals)  # two staircase bases are two panels, not one
    panel = intervals[schema.TASK].astype(str) + " (d=" + intervals[schema.DIM].astype(str) + ")"
    intervals = intervals.assign(_panel=panel.to_numpy()).sort_values(
        ["_panel", schema.TRUE_MI], kind="stable"
    )
    tasks = list(dict.fromkeys(intervals["_panel"]))
    fig = new_figure(PANEL_SIZE[0] * len(tasks), PANEL_SIZE[1])
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    for ax, task_id in zip(axes, tasks, strict=True):
        rows = intervals[intervals["_panel"] == task_id]
        truth = rows[schema.TRUE_MI].to_numpy(dtype=float)
        low = rows[sandwich_math.LOWER].to_numpy(dtype=float)
        high = rows[sandwich_math.UPPER].to_numpy(dtype=float)
        ax.fill_between(truth, low, np.maximum(low, high), color=INTERVAL_COLOUR, alpha=0.2, lw=0)
        half = np.abs(high - low) / 2
        ax.errorbar(
            truth,
            (low + high) / 2,
            yerr=np.vstack([half, half]),
            fmt="none",
            ecolor=INTERVAL_COLOUR,
            capsize=3,
            label="[best lower, best upper]",
        )
        crossed = (
            high < low
        )  # the estimated bounds contradict each other (undertrained q or critic)
        if crossed.any():
            ax.plot(truth[crossed], ((low + high) / 2)[crossed], "x", color=CROSSED_COLOUR, ms=8,
                    mew=2, label="upper below lower (bounds contradict)")  # fmt: skip
        span = np.linspace(0.0, truth.max() * 1.05, 50)
        ax.plot(span, span, color=TRUTH_COLOUR, linewidth=1.0, label="true MI")
        for x, lo, hi, lo_name, hi_name in zip(
            truth, low, high, rows[sandwich_math.LOWER_ESTIMATOR], rows[sandwich_math.UPPER_ESTIMATOR],
            strict=True,
        ):  # fmt: skip
            ax.annotate(lo_name, (x, lo), textcoords="offset points", xytext=(4, -10), fontsize=7)
            ax.annotate(hi_name, (x, hi), textcoords="offset points", xytext=(4, 2), fontsize=7)
        panel_title(ax, task_id, fontsize=9)
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("bound value (nats)")
        finite_high = high[np.isfinite(high)]
        top = max(truth.max(), np.max(finite_high) if finite_high.size else truth.max())
        ax.set_ylim(min(0.0, float(np.min(low))), top * 1.1)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("MI sandwich: best lower and best upper bound per level", va="top")
    arrange(fig, [list(axes)], cell_content(PANEL_SIZE))
    return fig


def sandwich_reading(summary: pd.DataFrame) -> str:
    """One sentence: how many levels the interval covers and its width range."""
    intervals = sandwich_math.sandwich_intervals(summary)
    if intervals.empty:
        return "No task/level has both a lower and an upper bound."
    covered = int(intervals[sandwich_math.COVERS].sum())
    widths = intervals[sandwich_math.WIDTH].astype(float)
    return (
        f"The interval covers the true MI at {covered} of {len(intervals)} levels; its width runs "
        f"from {widths.min():.3g} to {widths.max():.3g} nats."
    )
