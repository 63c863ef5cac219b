"""The self-consistency figure: estimates against the exact truth, and Song & Ermon's two ratios.

Reads the summary rows of tasks with a ``consistency`` parameter (the ``digits`` suite; pairing
and ratios in :mod:`mibench.results.consistency`). One panel per task: every cell's estimate
against its exact truth (plain task, and the tests at their own targets: 0, I, 2I), one colour per
estimator, one marker per test. Then the data processing ratio (target 1) and the additivity ratio
(target 2) per estimator, with the claims' ±10 % band shaded around each target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mibench.plots.layout import figure_title, legend_below, new_figure
from mibench.plots.palette import estimator_colours, sort_estimators
from mibench.results import consistency, schema
from mibench.results.formatting import number
from mibench.results.selection import FigureNotApplicableError

TEST_MARKERS = {"none": "o", "independence": "X", "data_processing": "s", "additivity": "^"}
TEST_NAMES = {"none": "plain", "independence": "independence (0)",
              "data_processing": "data processing (I)", "additivity": "additivity (2I)"}  # fmt: skip
BASE_MARKERS = ("D", "P", "v", "h", "*")  # unlike TEST_MARKERS: the legend keeps both
PANEL_SIZE_IN = (3.6, 3.3)
TRUTH_COLOUR = "black"
BAND_ALPHA = 0.08
DODGE = 0.12  # horizontal offset between the base tasks of one estimator in the ratio panels


def _truth_panel(ax: Axes, cells: pd.DataFrame, colours: dict) -> None:
    for (estimator, test), rows in cells.groupby([schema.ESTIMATOR, consistency.TEST]):
        ax.errorbar(rows[schema.TRUE_MI], rows[consistency.ESTIMATE],
                    yerr=np.nan_to_num(rows[consistency.ESTIMATE_SE].to_numpy(float)),
                    fmt=TEST_MARKERS.get(str(test), "o"), color=colours[estimator], ms=5,
                    capsize=2, alpha=0.85, linestyle="none")  # fmt: skip
    top = float(np.nanmax(cells[[schema.TRUE_MI, consistency.ESTIMATE]].to_numpy(float)))
    span = np.array([0.0, 1.05 * max(top, 0.1)])
    ax.plot(span, span, color=TRUTH_COLOUR, lw=1.0)
    log_k = cells[schema.LOG_K].dropna().unique() if schema.LOG_K in cells.columns else []
    for value in log_k:
        if value <= span[1]:
            ax.axhline(float(value), color="grey", ls="--", lw=0.8)
    ax.set_xlabel("exact I (nats)")
    ax.set_ylabel("estimate (nats)")


def _ratio_panel(ax: Axes, table: pd.DataFrame, test: str, colours: dict) -> list[str]:
    target = consistency.RATIO_TARGETS[test]
    band = consistency.RATIO_TOLERANCE * target
    ax.axhspan(target - band, target + band, color=TRUTH_COLOUR, alpha=BAND_ALPHA, lw=0)
    ax.axhline(target, color=TRUTH_COLOUR, lw=1.0)
    rows = table[table[consistency.TEST] == test]
    estimators = sort_estimators(rows[schema.ESTIMATOR].unique())
    bases = sorted(rows[consistency.BASE].unique())
    for b, base in enumerate(bases):
        for e, estimator in enumerate(estimators):
            cell = rows[(rows[schema.ESTIMATOR] == estimator) & (rows[consistency.BASE] == base)]
            offset = (b - (len(bases) - 1) / 2) * DODGE
            ax.errorbar(np.full(len(cell), e + offset), cell[consistency.RATIO],
                        yerr=np.nan_to_num(cell[consistency.RATIO_SE].to_numpy(float)),
                        fmt=BASE_MARKERS[b % len(BASE_MARKERS)], color=colours[estimator],
                        ms=6, capsize=2, linestyle="none")  # fmt: skip
    ax.set_xticks(range(len(estimators)), estimators, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(estimators) - 0.4)
    ax.set_ylabel("ratio to the plain estimate")
    ax.set_title(f"{test.replace('_', ' ')}: target {target:g} (±{consistency.RATIO_TOLERANCE:.0%})",
                 fontsize=10)  # fmt: skip
    return bases


def self_consistency_figure(summary: pd.DataFrame) -> Figure:
    """Estimate against exact truth per task, then the data processing and additivity ratios.

    Raises:
        FigureNotApplicableError: the summary has no task with a ``consistency`` parameter.
    """
    cells = consistency.consistency_cells(summary)
    if cells.empty:
        raise FigureNotApplicableError("no task with a consistency parameter (digits_label, ...)")
    table = consistency.ratio_table(summary)
    tests = [t for t in consistency.RATIO_TARGETS if (table[consistency.TEST] == t).any()]
    tasks = sorted(cells[schema.TASK].unique())
    colours = estimator_colours(cells[schema.ESTIMATOR].unique())
    n_panels = len(tasks) + len(tests)
    fig = new_figure(PANEL_SIZE_IN[0] * n_panels, PANEL_SIZE_IN[1] + 1.2)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    for ax, task in zip(axes, tasks, strict=False):
        _truth_panel(ax, cells[cells[schema.TASK] == task], colours)
        ax.set_title(str(task), fontsize=10)
    bases: list[str] = []
    for ax, test in zip(axes[len(tasks) :], tests, strict=True):
        bases = _ratio_panel(ax, table, test, colours)
    handles = [Line2D([], [], color=colours[e], marker="o", ls="none")
               for e in sort_estimators(colours)]  # fmt: skip
    labels = sort_estimators(colours)
    present = [t for t in TEST_MARKERS if t in set(cells[consistency.TEST])]
    handles += [Line2D([], [], color="grey", marker=TEST_MARKERS[t], ls="none") for t in present]
    labels += [TEST_NAMES[t] for t in present]
    if tests:
        handles += [Line2D([], [], color="grey", marker=BASE_MARKERS[i % len(BASE_MARKERS)],
                           ls="none") for i in range(len(bases))]  # fmt: skip
        labels += [f"ratio on {base}" for base in bases]
    legend_below(fig, handles, labels)
    figure_title(fig, "Self-consistency (Song & Ermon 2020, §6): estimate vs exact truth, ratios",
                 "black: exact truth / target; dashed: log K; shaded: ±10 % of the target")  # fmt: skip
    return fig


def self_consistency_reading(summary: pd.DataFrame) -> str:
    """One sentence: the range of each ratio and of the independence estimates, against targets."""
    table = consistency.ratio_table(summary)
    independent = consistency.independence_table(summary)
    parts = []
    for test, target in consistency.RATIO_TARGETS.items():
        ratios = table.loc[table[consistency.TEST] == test, consistency.RATIO].to_numpy(float)
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size:
            parts.append(f"{test.replace('_', ' ')} ratios {number(ratios.min())} to "
                         f"{number(ratios.max())} (target {target:g})")  # fmt: skip
    if not independent.empty:
        values = independent[consistency.ESTIMATE].to_numpy(float)
        parts.append(f"independence estimates {number(np.nanmin(values))} to "
                     f"{number(np.nanmax(values))} nats (target 0)")  # fmt: skip
    if not parts:
        return "No self-consistency test has both its cell and its plain cell."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
