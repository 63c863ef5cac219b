"""Estimate against batch size K with the log K ceiling (the ``batch_sweep`` suite's figure)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mibench.plots.layout import (
    DEFAULT_COL_WRAP,
    arrange_facets,
    facet_grid,
    figure_title,
    label_outer,
    legend_right,
    panel_title,
)
from mibench.plots.markers import mark_legend, mark_points
from mibench.plots.palette import (
    estimator_colours,
    estimator_linestyles,
    estimator_markers,
    sort_estimators,
)
from mibench.results import schema
from mibench.results.robust import shown_estimate, unstable_mask
from mibench.results.selection import (
    BATCH_SWEEP_SETTING_COLUMNS,
    FigureNotApplicableError,
    label_tasks,
    main_setting,
    require_columns,
    setting_label,
    truth_column,
)

PANEL_SIZE = (3.4, 2.8)  # a panel's cell in inches (see mibench.plots.layout.facet_grid)
BATCH_SIZE_COLUMNS: tuple[str, ...] = (
    schema.ESTIMATOR,
    schema.TASK,
    schema.MI_LEVEL,
    schema.BATCH_SIZE,
    schema.BIAS,
    schema.STD,
)
LOG_K_POINTS = 200
ERRORBAR_CAPSIZE = 2.0
YLIM_OVER_REFERENCE = 1.5
YLIM_UNDER_ZERO = 0.5


def _panel_ylim(cells: pd.DataFrame, level: float, k_max: float) -> tuple[float, float]:
    """From min(0, lowest mean - std) to the highest mean + std, but at most YLIM_OVER_REFERENCE
    x the larger of the true MI and log K_max, so one exploding estimator cannot flatten the
    others (its points are drawn on the edge, circled)."""
    reference = max(level, math.log(k_max), 1.0)
    mean = cells["_mean"].to_numpy(dtype=float)
    std = np.nan_to_num(cells["_spread"].to_numpy(dtype=float))
    finite = np.isfinite(mean)
    top = float(np.max(mean[finite] + std[finite])) if finite.any() else reference
    bottom = float(np.min(mean[finite] - std[finite])) if finite.any() else 0.0
    return (
        max(min(0.0, bottom), -YLIM_UNDER_ZERO * reference),
        min(max(top, reference), YLIM_OVER_REFERENCE * reference),
    )


def estimate_vs_batch_size(summary: pd.DataFrame, *, col_wrap: int = DEFAULT_COL_WRAP) -> Figure:
    """Mean estimate over the evaluation window against K, one panel per (task, MI level).

    The mean estimate is the summary's ``mean_estimate`` (or ``truth + bias``; truth is
    ``true_mi`` where the summary has it, else ``mi_level``) with error bars of one ``std``
    (within-run and across-seed spread); the dashed curve is log K, the ceiling of InfoNCE-type
    bounds (FlatNCE Eq. (1)), and the black line the true MI. Each estimator is drawn at its most
    common critic, d, dtype and negatives (named in the title). An unstable cell (some window
    readout wild, :mod:`mibench.results.robust`) is drawn at its median estimate, truth +
    ``median_bias``, with an ``X`` and no error bar.

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: fewer than two batch sizes at a fixed MI level.
    """
    require_columns(summary, BATCH_SIZE_COLUMNS, what="estimate_vs_batch_size")
    labelled = label_tasks(summary)
    fixed = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    data, setting = main_setting(fixed, BATCH_SWEEP_SETTING_COLUMNS)
    # Only (task, MI level) pairs that ran at two or more K have a curve to show.
    sizes_per_panel = data.groupby([schema.TASK, schema.MI_LEVEL], observed=True)[
        schema.BATCH_SIZE
    ].transform("nunique")
    data = data[sizes_per_panel.to_numpy() >= 2]
    if data.empty:
        raise FigureNotApplicableError(
            "estimate_vs_batch_size: needs at least two batch sizes at a fixed MI level"
        )
    truth = truth_column(data)
    # Unstable cells: the median estimate and no error bar (their std is the exploded one).
    unstable = unstable_mask(data)
    data = data.assign(
        _mean=shown_estimate(data, truth),
        _spread=np.where(unstable, 0.0, data[schema.STD].to_numpy(dtype=float)),
        _unstable=unstable,
    )
    panels = sorted(
        {(str(t), float(m)) for t, m in zip(data[schema.TASK], data[schema.MI_LEVEL], strict=True)}
    )
    estimators = sort_estimators(data[schema.ESTIMATOR].unique())
    colours = estimator_colours(estimators)
    markers = estimator_markers(estimators)
    styles = estimator_linestyles(estimators)
    sizes = np.sort(data[schema.BATCH_SIZE].astype(float).unique())
    k_grid = np.geomspace(sizes[0], sizes[-1], LOG_K_POINTS)

    fig, axes = facet_grid(len(panels), col_wrap=col_wrap, panel_size=PANEL_SIZE, sharey=False)
    any_clipped = False
    any_unstable = False
    for ax, (task, level) in zip(axes, panels, strict=True):
        cells = data[(data[schema.TASK] == task) & (data[schema.MI_LEVEL] == level)]
        ylim = _panel_ylim(cells, level, float(sizes[-1]))
        for estimator in estimators:
            rows = cells[cells[schema.ESTIMATOR] == estimator].sort_values(schema.BATCH_SIZE)
            if rows.empty:
                continue
            k = rows[schema.BATCH_SIZE].to_numpy(dtype=float)
            mean = rows["_mean"].to_numpy(dtype=float)
            shown = np.clip(mean, *ylim)
            ax.errorbar(
                k,
                shown,
                yerr=np.where(shown == mean, rows["_spread"].to_numpy(dtype=float), 0.0),
                color=colours[estimator],
                marker=markers[estimator],
                ls=styles[estimator],
                ms=4,
                lw=1.2,
                elinewidth=0.8,
                capsize=ERRORBAR_CAPSIZE,
            )
            flagged = rows["_unstable"].to_numpy(dtype=bool)
            clipped, crossed = mark_points(ax, k, mean, shown, flagged, colour=colours[estimator])
            any_clipped |= clipped
            any_unstable |= crossed
        ax.plot(k_grid, np.log(k_grid), color="0.45", ls="--", lw=1.0)
        true_values = cells[truth].astype(float).unique()
        for value in true_values[np.isfinite(true_values)]:
            ax.axhline(value, color="black", lw=1.0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [f"{int(k)}" for k in sizes])
        ax.minorticks_off()
        panel_title(ax, f"{task}, I = {level:g} nats")
        ax.grid(alpha=0.25, lw=0.5)
        pad = 0.06 * (ylim[1] - ylim[0])
        ax.set_ylim(ylim[0] - pad, ylim[1] + pad)
    ncols = min(len(panels), col_wrap)
    label_outer(axes, ncols=ncols, xlabel="batch size K", ylabel="mean estimate (nats)")
    label = setting_label(setting)
    figure_title(fig, "Mean estimate against batch size", label)
    handles = [
        Line2D([], [], color=colours[e], marker=markers[e], ls=styles[e], ms=5, lw=1.2)
        for e in estimators
    ]
    handles += [Line2D([], [], color="black", lw=1.0), Line2D([], [], color="0.45", ls="--")]
    labels = [*estimators, "true MI", "log K"]
    marks = mark_legend(
        clipped=any_clipped,
        unstable=any_unstable,
        unstable_label=(
            f"unstable cell: median estimate\n(a readout off by > max({schema.WILD_NATS:g}, I))"
        ),
    )
    handles += marks[0]
    labels += marks[1]
    legend_right(fig, handles, labels, title="estimator")
    arrange_facets(fig, axes, col_wrap=col_wrap, panel_size=PANEL_SIZE)
    return fig
