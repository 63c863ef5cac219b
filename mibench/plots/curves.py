"""Figures over training steps: the estimate curves (Poole et al. Fig. 2, FlatNCE Fig. 1) and ESS.

Both read the per-step *runs* frame and draw one panel per estimator (plus critic/system where
those vary), seeds as thin lines and their median bold, with the training-batch readout
downsampled into bins of medians (:func:`mibench.results.selection.bin_steps`) and the held-out
readout as markers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from mibench.estimators import get as get_estimator
from mibench.estimators import registration_order
from mibench.plots.layout import (
    DEFAULT_COL_WRAP,
    arrange_facets,
    facet_grid,
    figure_title,
    label_outer,
    legend_below,
    panel_title,
)
from mibench.plots.palette import estimator_colours, sort_estimators
from mibench.results import schema
from mibench.results.selection import (
    PANEL_EXTRA_COLUMNS,
    SETTING_COLUMNS,
    STEP_BIN,
    FigureNotApplicableError,
    bin_steps,
    label_tasks,
    main_setting,
    panel_columns,
    project,
    require_columns,
    setting_label,
)
from mibench.results.summary import window_start

DEFAULT_N_BINS = 150
SEED_LINEWIDTH = 0.6
SEED_ALPHA = 0.35
MEAN_LINEWIDTH = 1.7
TRUTH_COLOUR = "black"
LOG_K_COLOUR = "0.45"
# Shared y-range of the estimate panels: see _shared_ylim.
YLIM_QUANTILES = (0.005, 0.995)
YLIM_PAD_FRACTION = 0.06
YLIM_MAX_OVER_TRUTH = 1.5
YLIM_MIN_UNDER_ZERO = 0.5
WINDOW_COLOUR = "0.92"  # shading of a level's evaluation window
LEVEL_EDGE_COLOUR = "0.8"
LEVEL_LABEL_COLOUR = "0.3"
LEVEL_LABEL_FONTSIZE = 8
LEVEL_TITLE_PAD = 14.0  # points between a first-row panel and its title (level labels between)
WIDE_COL_WRAP = 6
WIDE_FROM_PANELS = 16
ESS_FLOOR = 1e-3  # lower y-limit of the log-scale ESS axis when the data go no lower

TRAINING_CURVE_COLUMNS: tuple[str, ...] = (
    schema.RUN_ID,
    schema.ESTIMATOR,
    schema.TASK,
    schema.STEP,
    schema.READOUT,
    schema.ESTIMATE,
    schema.TRUE_MI,
    schema.LOG_K,
)
# Used where present: the per-estimator ceiling, divergence, curve ids, setting and panel columns.
OPTIONAL_CURVE_COLUMNS: tuple[str, ...] = (
    schema.CEILING,
    schema.DIVERGED,
    schema.TASK_ID,
    schema.MI_LEVEL,
    schema.TRUE_MI,
    *SETTING_COLUMNS,
    *PANEL_EXTRA_COLUMNS,
)
ESS_CURVE_COLUMNS: tuple[str, ...] = (
    schema.RUN_ID,
    schema.ESTIMATOR,
    schema.TASK,
    schema.STEP,
    schema.READOUT,
    schema.ESS,
)


def truth_label(estimators: Sequence[str]) -> str:
    """Legend text of the ground-truth line: KL for supervised estimators (SINCERE Thm. 3)."""
    registered = set(registration_order())
    kinds = {get_estimator(e).kind if e in registered else "" for e in estimators}
    if kinds == {"supervised"}:
        return "true KL"
    return "true MI (KL for supervised)" if "supervised" in kinds else "true MI"


CURVE = "_curve"  # helper column: one id per task instance / MI level (NaN-safe for grouping)


def _with_curve_id(frame: pd.DataFrame) -> pd.DataFrame:
    """Add :data:`CURVE`, telling apart the curves drawn in one panel (task instance / MI level)."""
    by = [c for c in (schema.TASK, schema.TASK_ID, schema.MI_LEVEL) if c in frame.columns]
    ids = frame.groupby(by, dropna=False, observed=True, sort=True).ngroup()
    return frame.assign(**{CURVE: ids.to_numpy()})


def _panels(frame: pd.DataFrame) -> tuple[list[str], list[tuple]]:
    by = panel_columns(frame)
    keys = frame[by].astype(object).drop_duplicates()
    order = {name: i for i, name in enumerate(sort_estimators(keys[schema.ESTIMATOR]))}
    rows = sorted(map(tuple, keys.to_numpy()), key=lambda k: (order[k[0]], tuple(map(str, k[1:]))))
    return by, rows


def _groups(frame: pd.DataFrame, by: Sequence[str]) -> dict[tuple, pd.DataFrame]:
    """``{key tuple: rows}`` of ``frame`` grouped by ``by`` (one pass instead of a mask per key).

    NaN groups are kept (``dropna=False``): a key column that some runs lack is
    :data:`~mibench.results.selection.MISSING_KEY` after :func:`project`, and a frame that did
    not come through it must not lose those runs silently either.
    """
    return {
        (k if isinstance(k, tuple) else (k,)): g
        for k, g in frame.groupby(list(by), sort=False, observed=True, dropna=False)
    }


def _curve_order(frame: pd.DataFrame) -> list[int]:
    """Curve ids sorted by their final true value, then by id."""
    last = frame.sort_values(schema.STEP).groupby(CURVE)[schema.TRUE_MI].last()
    return sorted(last.index, key=lambda c: (last[c], c))


def _panel_title(key: tuple, frame: pd.DataFrame) -> str:
    title = " · ".join(str(k) for k in key)
    if schema.DIVERGED in frame.columns:
        per_run = frame.groupby(schema.RUN_ID, observed=True)[schema.DIVERGED].any()
        if per_run.any():
            title += f" ({int(per_run.sum())}/{len(per_run)} diverged)"
    return title


def _truth_steps(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Change points of one run's true-MI trajectory (a staircase keeps its edges exactly)."""
    first = group[group[schema.RUN_ID] == group[schema.RUN_ID].iloc[0]].sort_values(schema.STEP)
    steps = first[schema.STEP].to_numpy()
    values = first[schema.TRUE_MI].to_numpy(dtype=float)
    keep = np.r_[True, values[1:] != values[:-1]]
    keep[-1] = True
    return steps[keep], values[keep]


def _shared_ylim(values: np.ndarray, references: Sequence[float]) -> tuple[float, float]:
    """Shared y-range: the central 99 % of the binned values, but never beyond
    YLIM_MAX_OVER_TRUTH x the top reference (true MI or log K) above nor YLIM_MIN_UNDER_ZERO x it
    below zero, so exploding estimators cannot squash the others flat."""
    finite = values[np.isfinite(values)]
    refs = [r for r in references if math.isfinite(r)]
    lo_q, hi_q = np.quantile(finite, YLIM_QUANTILES) if finite.size else (0.0, 0.0)
    top = max(refs) if refs else max(hi_q, 1.0)
    scale = max(top, 1.0)
    hi = min(max(hi_q, top), YLIM_MAX_OVER_TRUTH * scale)
    lo = max(min(lo_q, 0.0, *refs), -YLIM_MIN_UNDER_ZERO * scale)
    pad = YLIM_PAD_FRACTION * max(hi - lo, 1.0)
    return lo - pad, hi + pad


def _off_scale(values: np.ndarray, ylim: tuple[float, float]) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size and ((finite < ylim[0]).any() or (finite > ylim[1]).any()))


def _is_schedule(train: pd.DataFrame) -> bool:
    """True when some run's true MI changes over its steps (a staircase-type task)."""
    per_run = train.groupby(schema.RUN_ID, observed=True)[schema.TRUE_MI].nunique()
    return bool((per_run > 1).any())


def _segments(steps: np.ndarray, truth: np.ndarray) -> list[tuple[int, int, float]]:
    """``(start, end, level)`` of each level from :func:`_truth_steps`' change points (whose
    last entry is the run's final step); none for a curve of one point (a sample estimator's
    single readout at a level)."""
    if len(steps) < 2:
        return []
    ends = [*steps[1:-1], steps[-1] + 1]
    return [
        (int(a), int(b), float(v)) for a, b, v in zip(steps[:-1], ends, truth[:-1], strict=True)
    ]


def _draw_levels(ax: Axes, segments: list[tuple[int, int, float]], *, label: bool) -> None:
    """Shade each level's evaluation window (the steps the summary tables read) and write the
    level above its block (on the panels of the first row, ``label``)."""
    # One collection each for the windows and the level edges (x in data, y in axes units):
    # one artist per panel instead of two per level, and no autoscaling per artist.
    spans = [
        [(window_start(a, b), 0.0), (window_start(a, b), 1.0), (b, 1.0), (b, 0.0)]
        for a, b, _ in segments
    ]
    edges = [[(a, 0.0), (a, 1.0)] for a, _, _ in segments if a > 0]
    blended = ax.get_xaxis_transform()
    ax.add_collection(
        PolyCollection(spans, facecolors=WINDOW_COLOUR, linewidths=0, transform=blended, zorder=0),
        autolim=False,
    )
    ax.add_collection(
        LineCollection(
            edges, colors=LEVEL_EDGE_COLOUR, linewidths=0.6, transform=blended, zorder=0
        ),
        autolim=False,
    )
    for start, end, level in segments:
        if label:
            ax.text(
                (start + end) / 2,
                1.01,
                f"I = {level:g}",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=LEVEL_LABEL_FONTSIZE,
                color=LEVEL_LABEL_COLOUR,
            )


def _curve_positions(curve_ids: Sequence[int]) -> dict[int, float]:
    """Light-to-dark position in [0, 1] of each curve (by increasing true MI)."""
    n = len(curve_ids)
    return {c: (i / (n - 1) if n > 1 else 0.5) for i, c in enumerate(curve_ids)}


def training_curves(
    runs: pd.DataFrame,
    *,
    n_bins: int = DEFAULT_N_BINS,
    show_eval: bool = True,
    col_wrap: int | None = None,
) -> Figure:
    """Estimate vs training step, one panel per estimator, with the true MI and log K.

    Each seed is a thin line of bin medians of its training-batch readout (``n_bins`` step
    bins) and the bold line is the median over seeds per bin; the held-out readout is drawn as
    open markers (median over seeds) when ``show_eval``. Medians, not means: one exploding batch
    (an NWJ/JS estimate of -1e61) would otherwise decide the bin. The true MI is a solid black
    line (a staircase for schedule tasks), log K a dashed grey line and an estimator's own
    ceiling, where it differs from log K, a dotted line in its colour.

    Levels: for a schedule task each level's evaluation window (the last ``EVAL_FRACTION`` of
    the level, the steps the summary tables and the other figures read) is shaded and the
    level is written above the first row of panels; for fixed-MI tasks every level is its own
    run, drawn from light (lowest MI) to dark (highest) in the estimator's colour with a legend
    of the shades. The frame is reduced to its most common setting (K, d, dtype, negatives),
    named in the title. The figure of Poole et al. 2019, Fig. 2 and FlatNCE (Chen et al. 2021),
    Fig. 1.

    Args:
        runs: the runs frame (columns in :data:`TRAINING_CURVE_COLUMNS`; ``ceiling``,
            ``diverged``, ``task_id``, ``mi_level`` are used where present).
        col_wrap: panels per row (default: :func:`curve_col_wrap` of the panel count).
    Raises:
        ValueError: a required column is missing or no training-batch row is left.
    """
    require_columns(runs, TRAINING_CURVE_COLUMNS, what="training_curves")
    projected = label_tasks(project(runs, TRAINING_CURVE_COLUMNS, OPTIONAL_CURVE_COLUMNS))
    data, setting = main_setting(projected)
    data = _with_curve_id(data)
    train = data[data[schema.READOUT] == schema.READOUT_TRAIN]
    if train.empty:
        raise ValueError("training_curves: no rows with readout 'train'")
    evals = data[data[schema.READOUT] == schema.READOUT_EVAL] if show_eval else data.iloc[:0]
    panel_by, panel_keys = _panels(train)
    binned = bin_steps(train, [schema.ESTIMATE], [*panel_by, CURVE, schema.RUN_ID], n_bins=n_bins)
    colours = estimator_colours(k[0] for k in panel_keys)
    train_panels = _groups(train, panel_by)
    binned_panels = _groups(binned, panel_by)
    eval_panels = _groups(evals, panel_by) if not evals.empty else {}
    schedule = _is_schedule(train)
    curve_ids = _curve_order(train)
    positions = _curve_positions(curve_ids)
    # Fixed-MI levels are separate curves in one colour: shaded light to dark by level.
    shaded = not schedule and len(curve_ids) > 1

    # The y-range is shared (see _shared_ylim); a panel with values beyond it says "(clipped)".
    references = np.r_[train[schema.TRUE_MI].to_numpy(float), train[schema.LOG_K].to_numpy(float)]
    ylim = _shared_ylim(
        binned[schema.ESTIMATE].to_numpy(dtype=float),
        [float(np.nanmin(references)), float(np.nanmax(references))],
    )

    wrap = curve_col_wrap(len(panel_keys)) if col_wrap is None else col_wrap
    fig, axes = facet_grid(len(panel_keys), col_wrap=wrap)
    has_own_ceiling = False
    for index, (ax, key) in enumerate(zip(axes, panel_keys, strict=True)):
        colour = colours[key[0]]
        panel = train_panels[key]
        curves = _groups(panel, [CURVE])
        curves_binned = _groups(binned_panels[key], [CURVE])
        curves_eval = _groups(eval_panels[key], [CURVE]) if key in eval_panels else {}
        levels_drawn = False
        for curve in _curve_order(panel):
            shade = _shade(colour, positions[curve]) if shaded else colour
            group_binned = curves_binned[(curve,)]
            # All seeds of a curve as one LineCollection: one artist instead of one per run.
            seeds = [
                np.column_stack(
                    [
                        run[schema.STEP].to_numpy(float),
                        np.clip(run[schema.ESTIMATE].to_numpy(float), *ylim),
                    ]
                )
                for _, run in group_binned.groupby(schema.RUN_ID, sort=True, observed=True)
            ]
            ax.add_collection(
                LineCollection(seeds, colors=[shade], linewidths=SEED_LINEWIDTH, alpha=SEED_ALPHA),
                autolim=True,
            )
            # Median over seeds per bin: bin edges are global, so the seeds share them.
            centre = group_binned.groupby(STEP_BIN)[[schema.STEP, schema.ESTIMATE]].median()
            # Values beyond the shared range run along the panel's edge ("(clipped)" in the title).
            shown = np.clip(centre[schema.ESTIMATE].to_numpy(float), *ylim)
            ax.plot(centre[schema.STEP], shown, color=shade, lw=MEAN_LINEWIDTH)
            steps, truth = _truth_steps(curves[(curve,)])
            ax.plot(steps, truth, color=TRUTH_COLOUR, lw=1.0, drawstyle="steps-post")
            segments = _segments(steps, truth) if schedule and not levels_drawn else []
            if segments:
                _draw_levels(ax, segments, label=index < wrap)
                levels_drawn = True
            if (curve,) in curves_eval:
                held = curves_eval[(curve,)].groupby(schema.STEP)[schema.ESTIMATE].median()
                ax.plot(
                    held.index,
                    np.clip(held.to_numpy(float), *ylim),
                    ls="none",
                    marker="o",
                    ms=3.2,
                    mfc="white",
                    mec=shade,
                    mew=0.9,
                )
        for log_k in np.unique(panel[schema.LOG_K].dropna().astype(float)):
            ax.axhline(log_k, color=LOG_K_COLOUR, ls="--", lw=1.0)
        if schema.CEILING in panel.columns:
            ceilings = panel[schema.CEILING].to_numpy(float)
            log_ks = panel[schema.LOG_K].to_numpy(float)
            own = np.unique(ceilings[np.isfinite(ceilings) & ~np.isclose(ceilings, log_ks)])
            for ceiling in own:
                ax.axhline(ceiling, color=colour, ls=":", lw=1.3)
                has_own_ceiling = True
        title = _panel_title(key, panel)
        if _off_scale(binned_panels[key][schema.ESTIMATE].to_numpy(dtype=float), ylim):
            title += " (clipped)"
        # Room above the first row for the level labels.
        pad = LEVEL_TITLE_PAD if schedule and index < wrap else 6.0
        panel_title(ax, title, pad=pad)
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.25, lw=0.5)

    ncols = min(len(panel_keys), wrap)
    label_outer(axes, ncols=ncols, xlabel="training step", ylabel="estimate (nats)")
    tasks = ", ".join(sorted(map(str, train[schema.TASK].unique())))
    label = setting_label(setting)
    figure_title(fig, f"Training curves — {tasks}", label)
    grey = "0.35"
    handles: list[Artist] = [
        Line2D([], [], color=grey, lw=SEED_LINEWIDTH * 1.5),
        Line2D([], [], color=grey, lw=MEAN_LINEWIDTH),
        Line2D([], [], color=TRUTH_COLOUR, lw=1.0),
        Line2D([], [], color=LOG_K_COLOUR, ls="--", lw=1.0),
    ]
    width = int(train[schema.STEP].max() + 1) / n_bins
    labels = [
        f"one seed (training batch, {max(1, math.ceil(width))}-step median)",
        "median over seeds",
        truth_label([k[0] for k in panel_keys]),
        "log K",
    ]
    if has_own_ceiling:
        handles.append(Line2D([], [], color=grey, ls=":", lw=1.3))
        labels.append("estimator's own ceiling")
    if not evals.empty:
        handles.append(Line2D([], [], ls="none", marker="o", ms=4, mfc="white", mec=grey))
        labels.append("held-out estimate (median over seeds)")
    if schedule:
        handles.append(Patch(color=WINDOW_COLOUR))
        labels.append(f"evaluation window (last {schema.EVAL_FRACTION:.0%} of each level)")
    if shaded:
        for curve in curve_ids:
            handles.append(Line2D([], [], color=_shade((0.35, 0.35, 0.35), positions[curve]), lw=2))
            labels.append(_curve_label(train, curve))
    legend_below(fig, handles, labels)
    arrange_facets(fig, axes, col_wrap=wrap)
    return fig


def curve_col_wrap(n_panels: int) -> int:
    """Panels per row of the curve figures: 5, or 6 from 16 panels on (17 estimators then fill
    three rows instead of four, so the figure stays about as tall as it is wide)."""
    return WIDE_COL_WRAP if n_panels >= WIDE_FROM_PANELS else DEFAULT_COL_WRAP


def _shade(colour: tuple[float, float, float], position: float) -> tuple[float, float, float]:
    """``colour`` lightened towards white at ``position`` 0 and darkened at 1 (MI level order)."""
    base = np.asarray(to_rgb(colour))
    if position < 0.5:
        mix = (0.5 - position) * 1.2  # up to 60 % white
        out = base + (1.0 - base) * mix
    else:
        mix = (position - 0.5) * 0.8  # up to 40 % black
        out = base * (1.0 - mix)
    return tuple(float(v) for v in np.clip(out, 0.0, 1.0))  # type: ignore[return-value]


def _curve_label(frame: pd.DataFrame, curve: int) -> str:
    """Legend text of one curve id: ``"gaussian I = 4 nats"`` or the task id of a schedule task."""
    first = frame[frame[CURVE] == curve].iloc[0]
    level = first.get(schema.MI_LEVEL, math.nan)
    if level is not None and math.isfinite(float(level)):
        return f"{first[schema.TASK]} I = {float(level):g} nats"
    return str(first.get(schema.TASK_ID, first[schema.TASK]))


def ess_curves(
    runs: pd.DataFrame, *, n_bins: int = DEFAULT_N_BINS, col_wrap: int = DEFAULT_COL_WRAP
) -> Figure:
    """Effective sample size over training, one panel per estimator, one line per MI level.

    The ESS is the FlatNCE Eq. (4) mean over rows of 1 / (n sum_j w_ij^2), w the softmax of
    ``S_ij - S_ii`` over the n negatives, recorded by the runner for every estimator's score
    matrix, so it lies in [1/n, 1]. Lines are the mean over seeds of the binned training-batch
    readout, light to dark with increasing MI, on a log axis. FlatNCE (Chen et al. 2021), Fig. 6.

    Raises:
        ValueError: a required column is missing.
        FigureNotApplicableError: no finite training-batch ESS (e.g. SINCERE's labels layout,
            whose score matrix has no single positive per row).
    """
    require_columns(runs, ESS_CURVE_COLUMNS, what="ess_curves")
    projected = label_tasks(project(runs, ESS_CURVE_COLUMNS, OPTIONAL_CURVE_COLUMNS))
    data, setting = main_setting(projected)
    train = data[data[schema.READOUT] == schema.READOUT_TRAIN]
    train = train[np.isfinite(train[schema.ESS].astype(float))]
    if train.empty:
        raise FigureNotApplicableError("ess_curves: no finite 'ess' values in the 'train' readout")
    train = _with_curve_id(train)
    panel_by, panel_keys = _panels(train)
    # ESS lies in [1/n, 1]: nothing explodes, so bins and seeds are averaged.
    binned = bin_steps(
        train, [schema.ESS], [*panel_by, CURVE, schema.RUN_ID], n_bins=n_bins, statistic="mean"
    )
    colours = estimator_colours(k[0] for k in panel_keys)
    if schema.TRUE_MI not in train.columns:
        train = train.assign(**{schema.TRUE_MI: 0.0})
    curve_ids = _curve_order(train)
    positions = {
        c: (i / (len(curve_ids) - 1) if len(curve_ids) > 1 else 0.5)
        for i, c in enumerate(curve_ids)
    }
    binned_panels = _groups(binned, panel_by)

    fig, axes = facet_grid(len(panel_keys), col_wrap=col_wrap)
    for ax, key in zip(axes, panel_keys, strict=True):
        for (curve,), group in _groups(binned_panels[key], [CURVE]).items():
            mean = group.groupby(STEP_BIN)[[schema.STEP, schema.ESS]].mean()
            ax.plot(
                mean[schema.STEP],
                mean[schema.ESS],
                color=_shade(colours[key[0]], positions[curve]),
                lw=1.4,
            )
        panel_title(ax, " · ".join(map(str, key)))
        ax.grid(alpha=0.25, lw=0.5, which="both")
    floor = float(np.nanmin(binned[schema.ESS]))
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylim(min(max(floor * 0.8, ESS_FLOOR), 0.5), 1.05)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ncols = min(len(panel_keys), col_wrap)
    label_outer(axes, ncols=ncols, xlabel="training step", ylabel="ESS (fraction of negatives)")
    tasks = ", ".join(sorted(map(str, train[schema.TASK].unique())))
    label = setting_label(setting)
    figure_title(fig, f"Effective sample size of the negatives — {tasks}", label)
    handles = [
        Line2D([], [], color=_shade((0.35, 0.35, 0.35), positions[c]), lw=1.6) for c in curve_ids
    ]
    labels = [_curve_label(train, c) for c in curve_ids]
    legend_below(fig, handles, labels)
    arrange_facets(fig, axes, col_wrap=col_wrap)
    return fig
