"""Figures over the per-cell summary: bias, variance and MSE against the true MI, and divergence.

All read ``summary.parquet`` (one row per estimator x task x MI level x K x critic; metrics over
the evaluation window, defined in :mod:`mibench.results.schema` and ESTIMATORS.md). The lower
row of Poole et al. 2019, Fig. 2 (bias, variance, MSE vs I) and an estimator x task overview.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mibench.plots.frames import (
    SUMMARY_SETTING_COLUMNS,
    FigureNotApplicableError,
    main_setting,
    require_columns,
    setting_label,
    truth_column,
)
from mibench.plots.layout import (
    LEGEND_FONTSIZE,
    PANEL_TITLE_FONTSIZE,
    TITLE_FONTSIZE,
    legend_right,
    new_figure,
)
from mibench.plots.palette import (
    estimator_colours,
    estimator_linestyles,
    estimator_markers,
    sort_estimators,
)
from mibench.results import schema

SUMMARY_KEY_COLUMNS: tuple[str, ...] = (schema.ESTIMATOR, schema.TASK, schema.MI_LEVEL)
BIAS_VARIANCE_COLUMNS: tuple[str, ...] = (
    *SUMMARY_KEY_COLUMNS,
    schema.BIAS,
    schema.STD,
    schema.MSE,
)
MSE_HEATMAP_COLUMNS: tuple[str, ...] = (*SUMMARY_KEY_COLUMNS, schema.MSE)
DIVERGENCE_COLUMNS: tuple[str, ...] = (
    *SUMMARY_KEY_COLUMNS,
    schema.DIVERGED_FRACTION,
    schema.N_SEEDS,
)
# Non-positive variances/MSEs cannot sit on a log axis; they are drawn at this floor instead.
LOG_FLOOR = 1e-6
HEATMAP_CELL_IN = (0.62, 0.3)  # width, height of one heatmap cell in inches
HEATMAP_ANNOTATE_FONTSIZE = 7
MISSING_CELL_COLOUR = "0.85"
MUTED_TEXT_COLOUR = "0.6"
DARK_LUMINANCE = 0.45  # relative luminance below which a cell gets white text


def _fixed_levels(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows at a fixed, finite MI level (schedule tasks have no such level)."""
    return summary[np.isfinite(summary[schema.MI_LEVEL].astype(float))]


def _level_label(task: str, level: float) -> str:
    return f"{task}\nI = {level:g}"


def bias_variance(summary: pd.DataFrame) -> Figure:
    """Bias, variance (log) and MSE (log) against the true MI, one line per estimator.

    One row of panels per task; the summary is reduced to its most common setting (K, critic),
    named in the title. Variance is ``std**2 = var_within + var_across`` (batch noise plus
    run-to-run spread, the summary's definitions). Poole et al. 2019, Fig. 2 (bottom row).

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no row has a fixed MI level (schedule tasks only).
    """
    require_columns(summary, BIAS_VARIANCE_COLUMNS, what="bias_variance")
    data, setting = main_setting(_fixed_levels(summary), SUMMARY_SETTING_COLUMNS)
    if data.empty:
        raise FigureNotApplicableError("bias_variance: no summary row has a finite mi_level")
    truth = truth_column(data)
    tasks = sorted(map(str, data[schema.TASK].unique()))
    estimators = sort_estimators(data[schema.ESTIMATOR].unique())
    colours = estimator_colours(estimators)
    markers = estimator_markers(estimators)
    styles = estimator_linestyles(estimators)
    fig = new_figure(12.5, 3.1 * len(tasks) + 0.8)
    grid = fig.subplots(len(tasks), 3, squeeze=False, sharex="row")
    columns = (
        ("bias", "bias (nats)", lambda f: f[schema.BIAS]),
        ("variance", "variance (nats²)", lambda f: f[schema.STD] ** 2),
        ("MSE", "MSE (nats²)", lambda f: f[schema.MSE]),
    )
    for row, task in zip(grid, tasks, strict=True):
        cells = data[data[schema.TASK] == task]
        for ax, (name, ylabel, metric) in zip(row, columns, strict=True):
            for estimator in estimators:
                rows = cells[cells[schema.ESTIMATOR] == estimator].sort_values(truth)
                if rows.empty:
                    continue
                values = metric(rows).to_numpy(dtype=float)
                if name != "bias":  # NaN stays a gap; exact zeros sit on the floor
                    values = np.where(values <= 0, LOG_FLOOR, values)
                ax.plot(
                    rows[truth].to_numpy(dtype=float),
                    values,
                    color=colours[estimator],
                    marker=markers[estimator],
                    ls=styles[estimator],
                    ms=4,
                    lw=1.2,
                )
            if name == "bias":
                ax.axhline(0.0, color="black", lw=0.8)
            else:
                ax.set_yscale("log")
            ax.set_title(f"{name} — {task}", fontsize=PANEL_TITLE_FONTSIZE)
            ax.set_xlabel("true MI (nats)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.25, lw=0.5, which="major")
    label = setting_label(setting)
    fig.suptitle(
        "Bias, variance and MSE over the evaluation window" + (f" ({label})" if label else ""),
        fontsize=TITLE_FONTSIZE,
    )
    handles = [
        Line2D([], [], color=colours[e], marker=markers[e], ls=styles[e], ms=5, lw=1.2)
        for e in estimators
    ]
    legend_right(fig, handles, estimators, title="estimator")
    return fig


def _estimator_by_level(summary: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """Pivot ``values`` (indexed like ``summary``) to estimators x (task, MI level) columns."""
    frame = summary.assign(_value=values.to_numpy())
    table = frame.pivot_table(
        index=schema.ESTIMATOR,
        columns=[schema.TASK, schema.MI_LEVEL],
        values="_value",
        aggfunc="mean",
        observed=True,
        dropna=False,
    )
    rows = sort_estimators(map(str, table.index))
    return table.reindex(rows)


def _heatmap(
    table: pd.DataFrame,
    *,
    title: str,
    colourbar: str,
    cmap: str,
    log: bool,
    annotations: np.ndarray,  # (text, muted) per cell
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    n_rows, n_cols = table.shape
    fig = new_figure(
        max(5.5, HEATMAP_CELL_IN[0] * n_cols + 3.2), max(3.0, HEATMAP_CELL_IN[1] * n_rows + 1.6)
    )
    ax = fig.subplots()
    values = table.to_numpy(dtype=float)
    masked = np.ma.masked_invalid(values)
    if log:
        masked = np.ma.masked_less_equal(masked, 0.0)
        finite = masked.compressed()
        norm = LogNorm(
            vmin=float(finite.min()) if finite.size else 1e-3,
            vmax=float(finite.max()) if finite.size else 1.0,
        )
    else:
        norm = None
    colormap = colormaps[cmap].with_extremes(bad=MISSING_CELL_COLOUR)
    image = ax.imshow(
        masked,
        aspect="auto",
        cmap=colormap,
        norm=norm,
        vmin=None if log else vmin,
        vmax=None if log else vmax,
        interpolation="nearest",
    )
    cell_colours = image.to_rgba(masked)
    for i in range(n_rows):
        for j in range(n_cols):
            text, muted = annotations[i, j]
            if not text:
                continue
            r, g, b, _ = cell_colours[i, j]
            dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < DARK_LUMINANCE
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=HEATMAP_ANNOTATE_FONTSIZE,
                color=MUTED_TEXT_COLOUR if muted else ("white" if dark else "black"),
            )
    ax.set_xticks(range(n_cols), [_level_label(t, lvl) for t, lvl in table.columns], fontsize=8)
    ax.set_yticks(range(n_rows), list(table.index), fontsize=LEGEND_FONTSIZE)
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(which="minor", color="white", lw=1.0)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("task and true MI level (nats)")
    colour_bar = fig.colorbar(image, ax=ax, shrink=0.85, pad=0.02)
    colour_bar.set_label(colourbar)
    ax.set_title(title, fontsize=TITLE_FONTSIZE - 1)
    return fig


def mse_heatmap(summary: pd.DataFrame) -> Figure:
    """MSE (log colour scale) as an estimator x (task, MI level) heatmap, values written in.

    Reduced to the most common setting (K, critic); grey cells have no finite MSE (the
    estimator did not run there, or every seed diverged).

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no row has a fixed MI level (schedule tasks only).
    """
    require_columns(summary, MSE_HEATMAP_COLUMNS, what="mse_heatmap")
    data, setting = main_setting(_fixed_levels(summary), SUMMARY_SETTING_COLUMNS)
    if data.empty:
        raise FigureNotApplicableError("mse_heatmap: no summary row has a finite mi_level")
    table = _estimator_by_level(data, data[schema.MSE].astype(float))
    values = table.to_numpy(dtype=float)
    annotations = np.empty(values.shape, dtype=object)
    for index, value in np.ndenumerate(values):
        annotations[index] = (f"{value:.2g}" if math.isfinite(value) else "", False)
    label = setting_label(setting)
    return _heatmap(
        table,
        title="MSE of the estimate over the evaluation window" + (f" ({label})" if label else ""),
        colourbar="MSE (nats², log scale)",
        cmap="viridis",
        log=True,
        annotations=annotations,
    )


def divergence_heatmap(summary: pd.DataFrame) -> Figure:
    """Fraction of runs diverged per estimator x (task, MI level), as "diverged/total" counts.

    Counts are summed over every K and critic in the summary (diverged runs = fraction x
    ``n_seeds`` per cell), so the figure covers the whole suite.

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no row has a fixed MI level (schedule tasks only).
    """
    require_columns(summary, DIVERGENCE_COLUMNS, what="divergence_heatmap")
    data = _fixed_levels(summary)
    if data.empty:
        raise FigureNotApplicableError("divergence_heatmap: no summary row has a finite mi_level")
    n_runs = data[schema.N_SEEDS].astype(float)
    n_diverged = (data[schema.DIVERGED_FRACTION].astype(float) * n_runs).round()
    keys = [schema.ESTIMATOR, schema.TASK, schema.MI_LEVEL]
    counts = (
        data[keys]
        .assign(_diverged=n_diverged.to_numpy(), _runs=n_runs.to_numpy())
        .groupby(keys, observed=True)[["_diverged", "_runs"]]
        .sum()
        .reset_index()
    )
    table = _estimator_by_level(counts, counts["_diverged"] / counts["_runs"])
    diverged = _estimator_by_level(counts, counts["_diverged"]).to_numpy(dtype=float)
    runs = _estimator_by_level(counts, counts["_runs"]).to_numpy(dtype=float)
    annotations = np.empty(table.shape, dtype=object)
    for (i, j), n in np.ndenumerate(runs):
        if not math.isfinite(n):
            annotations[i, j] = ("", False)
        elif diverged[i, j] == 0:
            annotations[i, j] = (f"0/{int(n)}", True)  # muted: nothing to see
        else:
            annotations[i, j] = (f"{int(diverged[i, j])}/{int(n)}", False)
    total = int(np.nansum(diverged))
    return _heatmap(
        table,
        title=f"Diverged runs (NaN/Inf) per cell — {total} of {int(np.nansum(runs))} in all",
        colourbar="fraction of runs diverged",
        cmap="Reds",
        log=False,
        annotations=annotations,
        vmin=0.0,
        vmax=1.0,
    )
