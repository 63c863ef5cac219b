"""Figures over the per-cell summary: bias, variance and MSE against the true MI, and divergence.

All read ``summary.parquet`` (one row per estimator x task x MI level x K x critic; metrics over
the evaluation window, defined in :mod:`mibench.results.schema` and ESTIMATORS.md). The lower
row of Poole et al. 2019, Fig. 2 (bias, variance, MSE vs I) and an estimator x task overview.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter

from mibench.plots.layout import (
    LEGEND_FONTSIZE,
    add_colourbar_axes,
    arrange,
    figure_title,
    legend_below,
    legend_right,
    new_figure,
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
from mibench.results.formatting import share
from mibench.results.robust import shown_bias, unstable_mask, wild_share
from mibench.results.selection import (
    SUMMARY_SETTING_COLUMNS,
    FigureNotApplicableError,
    diverged_runs_per_cell,
    label_tasks,
    main_setting,
    require_columns,
    setting_label,
    truth_column,
)

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
HEATMAP_MIN_IN = (1.8, 1.4)  # smallest heatmap (a few cells stay readable)
HEATMAP_ANNOTATE_FONTSIZE = 7
MISSING_CELL_COLOUR = "0.85"
MUTED_TEXT_COLOUR = "0.6"
LOG_SPAN_DECADES = 3.0  # log axes/colours reach at most this many decades above the median
BIAS_SPAN_TRUTHS = 2.0
BIAS_SPAN_MEDIANS = 5.0
UNSTABLE_HATCH_COLOUR = "0.55"
UNSTABLE_LEGEND = (
    f"unstable cell (a window readout off by > max({schema.WILD_NATS:g}, I) nats): "
    "median bias; variance and MSE on the top edge"
)
DARK_LUMINANCE = 0.45  # relative luminance below which a cell gets white text
BIAS_VARIANCE_PANEL_IN = (2.6, 2.4)  # one bias/variance/MSE panel's axes box (inches)


def _fixed_level_rows(summary: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    """The rows at a fixed, finite MI level (schedule tasks have no such level), tasks labelled.

    Raises:
        ValueError: a column of ``columns`` is missing.
        FigureNotApplicableError: no such row.
    """
    require_columns(summary, columns, what=what)
    labelled = label_tasks(summary)
    data = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    if data.empty:
        raise FigureNotApplicableError(f"{what}: no summary row has a finite mi_level")
    return data


def bias_variance(summary: pd.DataFrame) -> Figure:
    """Bias, variance (log) and MSE (log) against the true MI, one line per estimator.

    One row of panels per task; each estimator is drawn at its most common setting (K, critic,
    d, dtype, negatives), named in the title. Where a few estimators explode (values many
    decades beyond the rest) the axis stops short of them and their points sit on its edge,
    circled (see :func:`_display_limits`). Variance is ``std**2 = var_within + var_across`` (batch
    noise plus run-to-run spread, the summary's definitions). An *unstable* cell (some window
    readout wild, :mod:`mibench.results.robust`) is never drawn at its exploded mean: the bias panel
    shows its median bias with an ``X``, the variance and MSE panels an ``X`` on the top edge
    (the line skips it). Poole et al. 2019, Fig. 2 (bottom row).

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no row has a fixed MI level (schedule tasks only).
    """
    fixed = _fixed_level_rows(summary, BIAS_VARIANCE_COLUMNS, "bias_variance")
    data, setting = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    truth = truth_column(data)
    tasks = sorted(map(str, data[schema.TASK].unique()))
    estimators = sort_estimators(data[schema.ESTIMATOR].unique())
    colours = estimator_colours(estimators)
    markers = estimator_markers(estimators)
    styles = estimator_linestyles(estimators)
    fig = new_figure(12.5, 3.1 * len(tasks) + 0.8)
    grid = fig.subplots(len(tasks), 3, squeeze=False, sharex="row")
    columns = (
        ("bias", "bias (nats)", shown_bias),
        ("variance", "variance (nats²)", lambda f: f[schema.STD].to_numpy(dtype=float) ** 2),
        ("MSE", "MSE (nats²)", lambda f: f[schema.MSE].to_numpy(dtype=float)),
    )
    any_clipped = False
    any_unstable = False
    for row, task in zip(grid, tasks, strict=True):
        cells = data[data[schema.TASK] == task]
        unstable = unstable_mask(cells)
        x_all = cells[truth].to_numpy(dtype=float)
        for ax, (name, ylabel, metric) in zip(row, columns, strict=True):
            log = name != "bias"
            values = np.asarray(metric(cells), dtype=float)
            if log:  # NaN stays a gap; exact zeros sit on the floor; unstable cells go on top
                values = np.where(values <= 0, LOG_FLOOR, values)
                values = np.where(unstable, np.nan, values)
            limits = _display_limits(values, log=log, truth=x_all)
            padded = _padded(limits, log=log)
            for estimator in estimators:
                mask = (cells[schema.ESTIMATOR] == estimator).to_numpy()
                if not mask.any():
                    continue
                order = np.argsort(x_all[mask], kind="stable")
                x = x_all[mask][order]
                y = values[mask][order]
                flagged = unstable[mask][order]
                shown = np.clip(y, *limits)
                colour = colours[estimator]
                ax.plot(
                    x,
                    shown,
                    color=colour,
                    marker=markers[estimator],
                    ls=styles[estimator],
                    ms=4,
                    lw=1.2,
                )
                # Bias: at the median bias; variance/MSE: on the top edge of the axis.
                clipped, crossed = mark_points(
                    ax, x, y, shown, flagged, colour=colour, unstable_y=padded[1] if log else None
                )
                any_clipped |= clipped
                any_unstable |= crossed
            if log:
                ax.set_yscale("log")
            else:
                ax.axhline(0.0, color="black", lw=0.8)
            ax.set_ylim(*padded)
            ax.set_xticks(np.unique(x_all))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
            panel_title(ax, f"{name} — {task}")
            ax.set_xlabel("true MI (nats)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.25, lw=0.5, which="major")
    label = setting_label(setting)
    figure_title(fig, "Bias, variance and MSE over the evaluation window", label)
    handles = [
        Line2D([], [], color=colours[e], marker=markers[e], ls=styles[e], ms=5, lw=1.2)
        for e in estimators
    ]
    labels = list(estimators)
    marks = mark_legend(
        clipped=any_clipped, unstable=any_unstable, unstable_label=_wrapped(UNSTABLE_LEGEND)
    )
    handles += marks[0]
    labels += marks[1]
    legend_right(fig, handles, labels, title="estimator")
    arrange(fig, [list(row) for row in grid], BIAS_VARIANCE_PANEL_IN)
    return fig


def _wrapped(text: str, width: int = 34) -> str:
    """``text`` broken into lines of at most ``width`` characters (for a narrow legend)."""
    return "\n".join(textwrap.wrap(text, width))


def _display_limits(values: np.ndarray, *, log: bool, truth: np.ndarray) -> tuple[float, float]:
    """Axis range that keeps the bulk of the estimators readable when a few explode.

    Log axes (variance, MSE) reach at most LOG_SPAN_DECADES above the median; the linear bias
    axis at most max(BIAS_SPAN_TRUTHS x the largest true MI, BIAS_SPAN_MEDIANS x the median
    |bias|). The median, not a high quantile: a family of three exploding estimators is 15 % of
    the points. Values beyond are drawn at the edge with an open circle.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (LOG_FLOOR, 1.0) if log else (-1.0, 1.0)
    if log:
        cap = 10 ** (np.log10(np.median(finite)) + LOG_SPAN_DECADES)
        return float(finite.min()), float(min(finite.max(), cap))
    largest_truth = float(np.nanmax(truth)) if np.isfinite(truth).any() else 1.0
    span = max(
        BIAS_SPAN_TRUTHS * largest_truth, BIAS_SPAN_MEDIANS * float(np.median(np.abs(finite)))
    )
    return float(max(finite.min(), -span)), float(min(finite.max(), span))


def _padded(limits: tuple[float, float], *, log: bool) -> tuple[float, float]:
    lo, hi = limits
    if log:
        return lo / 1.6, hi * 1.6
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.06 * max(hi - lo, 1e-3)
    return lo - pad, hi + pad


def _estimator_by_level(
    summary: pd.DataFrame, values: pd.Series, aggfunc: str = "mean"
) -> pd.DataFrame:
    """Pivot ``values`` (indexed like ``summary``) to estimators x (task, MI level) columns."""
    frame = summary.assign(_value=values.to_numpy())
    table = frame.pivot_table(
        index=schema.ESTIMATOR,
        columns=[schema.TASK, schema.MI_LEVEL],
        values="_value",
        aggfunc=aggfunc,
        observed=True,
        dropna=False,
    )
    # Only (task, level) pairs that exist: levels of one task are not columns of another.
    pairs = set(zip(frame[schema.TASK], frame[schema.MI_LEVEL].astype(float), strict=True))
    columns = [c for c in table.columns if (c[0], float(c[1])) in pairs]
    rows = sort_estimators(map(str, table.index))
    return table.reindex(index=rows, columns=pd.MultiIndex.from_tuples(columns))


def _heatmap(
    table: pd.DataFrame,
    *,
    title: str,
    setting: str = "",
    colourbar: str,
    cmap: str,
    log: bool,
    annotations: np.ndarray,  # (text, muted) per cell
    vmin: float | None = None,
    vmax: float | None = None,
    unstable: np.ndarray | None = None,  # bool per cell: hatched, left out of the colour scale
) -> Figure:
    n_rows, n_cols = table.shape
    flagged = np.zeros(table.shape, dtype=bool) if unstable is None else unstable
    # Two-line annotations ("unstable" + wild share) need taller cells.
    cell_height = HEATMAP_CELL_IN[1] * (1.35 if flagged.any() else 1.0)
    fig = new_figure(1.0, 1.0)  # sized by arrange()
    ax = fig.subplots()
    content = (
        max(HEATMAP_MIN_IN[0], HEATMAP_CELL_IN[0] * n_cols),
        max(HEATMAP_MIN_IN[1], cell_height * n_rows),
    )
    values = table.to_numpy(dtype=float)
    masked = np.ma.masked_invalid(np.where(flagged, np.nan, values))
    clipped = False
    if log:
        masked = np.ma.masked_less_equal(masked, 0.0)
        finite = masked.compressed()
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (1e-3, 1.0)
        # Colour range capped at LOG_SPAN_DECADES above the median, so a few exploding
        # cell does not turn every other cell the same colour; the numbers stay exact.
        if finite.size:
            cap = 10 ** (np.log10(np.median(finite)) + LOG_SPAN_DECADES)
            clipped = high > cap
            high = min(high, cap)
        norm = LogNorm(vmin=low, vmax=max(high, low * 10))
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
    for i, j in zip(*np.nonzero(flagged), strict=True):
        # Neutral: white with grey hatching, never a colour of the scale.
        ax.add_patch(
            Rectangle(
                (j - 0.5, i - 0.5),
                1.0,
                1.0,
                facecolor="white",
                edgecolor=UNSTABLE_HATCH_COLOUR,
                hatch="////",
                lw=0.0,
                zorder=1,
            )
        )
    for i in range(n_rows):
        for j in range(n_cols):
            text, muted = annotations[i, j]
            if not text:
                continue
            r, g, b, _ = cell_colours[i, j]
            dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < DARK_LUMINANCE and not flagged[i, j]
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=HEATMAP_ANNOTATE_FONTSIZE,
                color=MUTED_TEXT_COLOUR if muted else ("white" if dark else "black"),
                zorder=2,
                linespacing=1.0,
                bbox={"facecolor": "white", "lw": 0, "pad": 0.6} if flagged[i, j] else None,
            )
    ax.set_xticks(range(n_cols), [f"{float(lvl):.3g}" for _, lvl in table.columns], fontsize=8)
    ax.set_yticks(range(n_rows), list(table.index), fontsize=LEGEND_FONTSIZE)
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(which="minor", color="white", lw=1.0)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("true MI level (nats)")
    # Task names once per group of columns, on a top axis, with a separator between groups.
    tasks = [str(t) for t, _ in table.columns]
    starts = [j for j in range(n_cols) if j == 0 or tasks[j] != tasks[j - 1]]
    ends = [*starts[1:], n_cols]
    top = ax.secondary_xaxis("top")
    top.set_xticks([(a + b - 1) / 2 for a, b in zip(starts, ends, strict=True)])
    top.set_xticklabels([tasks[a] for a in starts], fontsize=LEGEND_FONTSIZE)
    top.tick_params(length=0)
    for boundary in starts[1:]:
        ax.axvline(boundary - 0.5, color="black", lw=1.5)
    bar_axes = add_colourbar_axes(fig)
    colour_bar = fig.colorbar(image, cax=bar_axes, extend="max" if clipped else "neither")
    colour_bar.set_label(colourbar)
    figure_title(fig, title, setting)
    if flagged.any():
        hatch = Patch(facecolor="white", edgecolor=UNSTABLE_HATCH_COLOUR, hatch="////", lw=0.0)
        text = (
            f"unstable: some window readouts off by > max({schema.WILD_NATS:g}, I) nats "
            "(their share written in; the mean is not shown)"
        )
        legend_below(fig, [hatch], [text])
    arrange(fig, [[ax]], content, colourbar=bar_axes)
    return fig


def mse_heatmap(summary: pd.DataFrame) -> Figure:
    """MSE (log colour scale) as an estimator x (task, MI level) heatmap, values written in.

    Reduced to the most common setting (K, critic); grey cells have no finite MSE (the
    estimator did not run there, or every seed diverged). An unstable cell (some window readout
    wild, :mod:`mibench.results.robust`) is hatched white, says "unstable" with its wild share and is
    left out of the colour scale: its mean-based MSE (up to 1e126) is never shown.

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no row has a fixed MI level (schedule tasks only).
    """
    fixed = _fixed_level_rows(summary, MSE_HEATMAP_COLUMNS, "mse_heatmap")
    data, setting = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    table = _estimator_by_level(data, data[schema.MSE].astype(float))
    values = table.to_numpy(dtype=float)
    # A cell counts as unstable when any of its rows is (several rows: hyperparameter sets).
    flags = pd.Series(unstable_mask(data).astype(float), index=data.index)
    unstable = _estimator_by_level(data, flags, aggfunc="max").to_numpy(dtype=float) > 0
    wild = _estimator_by_level(data, pd.Series(wild_share(data), index=data.index), "max")
    annotations = np.empty(values.shape, dtype=object)
    for index, value in np.ndenumerate(values):
        if unstable[index]:
            annotations[index] = (f"unstable\n{share(wild.to_numpy()[index])} wild", False)
        else:
            annotations[index] = (f"{value:.2g}" if math.isfinite(value) else "", False)
    label = setting_label(setting)
    return _heatmap(
        table,
        title="MSE of the estimate over the evaluation window",
        setting=label,
        colourbar="MSE (nats², log scale)",
        cmap="viridis",
        log=True,
        annotations=annotations,
        unstable=unstable,
    )


def divergence_heatmap(summary: pd.DataFrame) -> Figure:
    """Fraction of runs diverged per estimator x (task, MI level), as "diverged/total" counts.

    Counts are summed over every K and critic in the summary (diverged runs = fraction x
    ``n_seeds`` per cell), so the figure covers the whole suite.

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no row has a fixed MI level (schedule tasks only).
    """
    data = _fixed_level_rows(summary, DIVERGENCE_COLUMNS, "divergence_heatmap")
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
    # The total counts each run once (a staircase cell's runs are in every level's row).
    per_cell = diverged_runs_per_cell(data)
    total, n_total = int(per_cell["diverged"].sum()), int(per_cell["runs"].sum())
    return _heatmap(
        table,
        title="Diverged runs (NaN/Inf) per cell, summed over K and critics",
        setting=f"{total} of {n_total} runs diverged",
        colourbar="fraction of runs diverged",
        cmap="Reds",
        log=False,
        annotations=annotations,
        vmin=0.0,
        vmax=1.0,
    )
