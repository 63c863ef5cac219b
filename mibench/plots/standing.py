"""The ``standing`` figure: each plug-in estimator's training curve over the built-in band.

One panel per task instance (a staircase is one panel; a fixed-MI task one panel per level),
every task of the suite in one figure.
The grey band spans, at each step bin, the lowest to the highest median estimate among the
built-in estimators that train there (median over the seeds' readouts in the bin, so one
exploding batch cannot stretch it); each plug-in's median is drawn over it in its own colour,
the truth in black. A plug-in sample estimator (one estimate per level) is drawn as markers at
the levels' last steps. The rank table beside it is :func:`mibench.report.standing.standing`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mibench.plots.layout import facet_grid, figure_title, label_outer, legend_below
from mibench.plots.palette import estimator_colours, estimator_markers
from mibench.results import schema
from mibench.results.selection import FigureNotApplicableError, require_columns

N_BINS = 60  # step bins per panel
COL_WRAP = 4
MIN_CURVE_STEPS = 10  # fewer logged steps: a sample estimator's points, not a training curve
BAND_COLOUR = "0.75"
Y_MARGIN_NATS = 1.0


def _built_in_names() -> set[str]:
    from mibench import estimators

    return set(estimators.names())


def _train_rows(runs: pd.DataFrame) -> pd.DataFrame:
    if schema.READOUT in runs.columns:
        runs = runs[runs[schema.READOUT] == schema.READOUT_TRAIN]
    columns = [schema.ESTIMATOR, schema.TASK_ID, schema.STEP, schema.ESTIMATE, schema.TRUE_MI]
    require_columns(runs, columns, what="standing")
    frame = runs[columns].copy()
    frame[schema.ESTIMATOR] = frame[schema.ESTIMATOR].astype(str)
    frame[schema.TASK_ID] = frame[schema.TASK_ID].astype(str)
    return frame


def binned_medians(rows: pd.DataFrame, edges: np.ndarray) -> pd.DataFrame:
    """Median estimate and truth per (estimator, step bin) of one panel's training rows;
    ``step`` is each bin's centre. Non-finite estimates are left out."""
    finite = rows[np.isfinite(rows[schema.ESTIMATE].to_numpy(dtype=float))]
    bins = np.clip(np.digitize(finite[schema.STEP], edges) - 1, 0, len(edges) - 2)
    grouped = finite.assign(_bin=bins).groupby([schema.ESTIMATOR, "_bin"], sort=True)
    medians = grouped[[schema.ESTIMATE, schema.TRUE_MI]].median().reset_index()
    centres = (edges[:-1] + edges[1:]) / 2
    return medians.assign(**{schema.STEP: centres[medians["_bin"].to_numpy()]})


def _draw_panel(ax: Axes, rows: pd.DataFrame, plugins: list[str], built_in: set[str]) -> None:
    steps = rows[schema.STEP].to_numpy()
    edges = np.linspace(0, max(1, int(steps.max()) + 1), N_BINS + 1)
    medians = binned_medians(rows, edges)
    counts = rows.groupby(schema.ESTIMATOR)[schema.STEP].nunique()
    curves = [n for n in counts.index if n in built_in and counts[n] >= MIN_CURVE_STEPS]
    band = medians[medians[schema.ESTIMATOR].isin(curves)].groupby("_bin")
    if curves:
        low, high = band[schema.ESTIMATE].min(), band[schema.ESTIMATE].max()
        centres = band[schema.STEP].first()
        ax.fill_between(centres, low, high, color=BAND_COLOUR, alpha=0.6, linewidth=0)
    truth = rows.groupby(schema.STEP)[schema.TRUE_MI].median()
    ax.plot(truth.index, truth.to_numpy(), color="black", linewidth=1.2)
    colours, markers = estimator_colours(plugins), estimator_markers(plugins)
    for name in plugins:
        mine = medians[medians[schema.ESTIMATOR] == name]
        if mine.empty:
            continue
        if counts.get(name, 0) >= MIN_CURVE_STEPS:
            ax.plot(mine[schema.STEP], mine[schema.ESTIMATE], color=colours[name], linewidth=1.6)
        else:
            own = (
                rows[rows[schema.ESTIMATOR] == name].groupby(schema.STEP)[schema.ESTIMATE].median()
            )
            ax.plot(own.index, own.to_numpy(), linestyle="none", marker=markers[name],
                    color=colours[name], markersize=6)  # fmt: skip
    top = float(np.nanmax(truth.to_numpy()))
    ax.set_ylim(
        min(0.0, float(np.nanmin(truth.to_numpy()))) - Y_MARGIN_NATS, 1.5 * top + Y_MARGIN_NATS
    )


def standing_curves(runs: pd.DataFrame) -> Figure:
    """The figure of the module docstring from the long runs frame.

    Raises:
        FigureNotApplicableError: the frame holds no plug-in estimator.
    """
    built_in = _built_in_names()
    rows = _train_rows(runs)
    plugins = sorted(set(rows[schema.ESTIMATOR]) - built_in)
    if not plugins:
        raise FigureNotApplicableError("no plug-in estimator in these results")
    peak = rows.groupby(schema.TASK_ID)[schema.TRUE_MI].max()
    panels = sorted(peak.index, key=lambda task_id: (peak[task_id], task_id))
    fig, axes = facet_grid(len(panels), col_wrap=COL_WRAP, sharey=False)
    for ax, task_id in zip(axes, panels, strict=False):
        _draw_panel(ax, rows[rows[schema.TASK_ID] == task_id], plugins, built_in)
        ax.set_title(task_id, fontsize=9)
    label_outer(axes, ncols=min(len(panels), COL_WRAP), xlabel="training step",
                ylabel="estimate (nats)")  # fmt: skip
    colours = estimator_colours(plugins)
    handles = [Patch(color=BAND_COLOUR, label="built-in estimators (range of medians)"),
               Line2D([], [], color="black", label="true MI"),
               *(Line2D([], [], color=colours[n], label=n) for n in plugins)]  # fmt: skip
    legend_below(fig, handles, [h.get_label() for h in handles])
    figure_title(fig, "plug-in estimators against the built-in band")
    return fig


def standing_reading(runs: pd.DataFrame) -> str:
    """One sentence on what the figure shows for these runs."""
    rows = _train_rows(runs)
    built_in = _built_in_names()
    plugins = sorted(set(rows[schema.ESTIMATOR]) - built_in)
    n_built_in = len(set(rows[schema.ESTIMATOR]) & built_in)
    return (
        f"{', '.join(plugins) or 'no plug-in'} against the range of {n_built_in} built-in "
        "estimators' median curves; the ranks are in the first table of this report."
    )
