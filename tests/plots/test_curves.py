"""Training-curve and ESS figures: what is drawn matches the frame, bad input raises clearly."""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from mibench.plots.curves import ess_curves, training_curves
from mibench.plots.palette import sort_estimators
from mibench.results import schema
from mibench.results.selection import FigureNotApplicableError
from tests.plots._plot_fixtures import BATCH_SIZES, ESTIMATORS, MI_LEVELS, SEEDS


def _panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_visible()]


def _panel(fig: Figure, estimator: str) -> Axes:
    (ax,) = [a for a in _panels(fig) if a.get_title().split()[0] == estimator]
    return ax


def _hlines(ax: Axes, linestyle: str) -> list[float]:
    """y of the horizontal lines of a style (axhline draws x in axes coordinates 0..1)."""
    return [
        float(line.get_ydata()[0])
        for line in ax.get_lines()
        if line.get_linestyle() == linestyle and list(line.get_xdata()) == [0, 1]
    ]


@pytest.fixture(scope="module")
def curves_figure(runs_frame: pd.DataFrame) -> Figure:
    """Drawn once and only inspected by the tests below."""
    return training_curves(runs_frame)


def test_training_curves_one_panel_per_estimator_in_registry_order(
    curves_figure: Figure, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    fig = curves_figure
    titles = [ax.get_title().split()[0] for ax in _panels(fig)]
    assert titles == sort_estimators(ESTIMATORS)
    check_png(fig)


def test_training_curves_draws_the_tied_setting_that_sorts_first(curves_figure: Figure) -> None:
    # Both K have the same number of runs, so K = 16 (sorted first) is drawn, with log 16 dashed.
    fig = curves_figure
    k = min(BATCH_SIZES)
    assert f"K = {k}" in fig._suptitle.get_text()
    for ax in _panels(fig):
        assert _hlines(ax, "--") == pytest.approx([math.log(k)])


def test_training_curves_seed_lines_and_divergence_count(
    runs_frame: pd.DataFrame, curves_figure: Figure
) -> None:
    fig = curves_figure
    ax = _panel(fig, "nwj")
    collections = [c for c in ax.collections if isinstance(c, LineCollection)]
    # One collection per MI level, one segment per seed.
    assert len(collections) == len(MI_LEVELS)
    assert all(len(c.get_segments()) == len(SEEDS) for c in collections)
    runs = runs_frame[
        (runs_frame[schema.ESTIMATOR] == "nwj")
        & (runs_frame[schema.BATCH_SIZE] == min(BATCH_SIZES))
    ]
    per_run = runs.groupby(schema.RUN_ID)[schema.DIVERGED].any()
    assert per_run.sum() >= 1
    assert f"({int(per_run.sum())}/{len(per_run)} diverged)" in ax.get_title()
    assert "diverged" not in _panel(fig, "infonce").get_title()


def test_training_curves_staircase_truth_keeps_its_edges(staircase_frame: pd.DataFrame) -> None:
    fig = training_curves(staircase_frame)
    ax = _panel(fig, "infonce")
    (truth,) = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    one_run = staircase_frame[
        (staircase_frame[schema.RUN_ID] == staircase_frame[schema.RUN_ID].iloc[0])
        & (staircase_frame[schema.READOUT] == schema.READOUT_TRAIN)
    ].sort_values(schema.STEP)
    levels = one_run[schema.TRUE_MI].to_numpy()
    changes = np.flatnonzero(np.r_[True, levels[1:] != levels[:-1]])
    expected_x = [*one_run[schema.STEP].to_numpy()[changes], one_run[schema.STEP].max()]
    expected_y = [*levels[changes], levels[-1]]
    assert list(truth.get_xdata()) == expected_x
    assert list(truth.get_ydata()) == pytest.approx(expected_y)
    assert len(set(expected_y)) == 5  # the five staircase levels


def test_training_curves_draws_an_own_ceiling_that_differs_from_log_k(
    runs_frame: pd.DataFrame,
) -> None:
    frame = runs_frame.copy()
    own = frame[schema.LOG_K] + 1.0
    frame[schema.CEILING] = np.where(frame[schema.ESTIMATOR] == "infonce", own, np.nan)
    fig = training_curves(frame)
    expected = math.log(min(BATCH_SIZES)) + 1.0
    assert _hlines(_panel(fig, "infonce"), ":") == pytest.approx([expected])
    assert _hlines(_panel(fig, "nwj"), ":") == []
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "estimator's own ceiling" in labels


def test_training_curves_eval_markers_are_optional(
    runs_frame: pd.DataFrame, curves_figure: Figure
) -> None:
    def markers(fig: Figure) -> int:
        return sum(line.get_marker() == "o" for line in _panel(fig, "infonce").get_lines())

    assert markers(curves_figure) == len(MI_LEVELS)
    assert markers(training_curves(runs_frame, show_eval=False)) == 0


@pytest.mark.parametrize("column", [schema.ESTIMATE, schema.TRUE_MI, schema.LOG_K])
def test_training_curves_missing_column(runs_frame: pd.DataFrame, column: str) -> None:
    with pytest.raises(ValueError, match=f"training_curves: missing columns {column}"):
        training_curves(runs_frame.drop(columns=column))


def test_training_curves_empty_and_eval_only_frames(runs_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="empty"):
        training_curves(runs_frame.iloc[:0])
    eval_only = runs_frame[runs_frame[schema.READOUT] == schema.READOUT_EVAL]
    with pytest.raises(ValueError, match="no rows with readout 'train'"):
        training_curves(eval_only)


def test_training_curves_panel_for_runs_without_a_system_column(runs_frame: pd.DataFrame) -> None:
    # InfoNCE under two systems beside a sample estimator (no `system` column): the sample
    # runs' key holds NaN after the concatenation and must still get its panel.
    infonce = runs_frame[runs_frame[schema.ESTIMATOR] == "infonce"]
    systems = [infonce.assign(system=name, run_id=infonce[schema.RUN_ID] + name)
               for name in ("clip", "moco")]  # fmt: skip
    nwj = runs_frame[runs_frame[schema.ESTIMATOR] == "nwj"]
    fig = training_curves(pd.concat([*systems, nwj], ignore_index=True))
    titles = sorted(ax.get_title() for ax in _panels(fig))
    assert [t.split(" (")[0] for t in titles] == ["infonce · clip", "infonce · moco", "nwj · none"]


def test_ess_curves_one_line_per_mi_level_on_a_log_axis(
    runs_frame: pd.DataFrame, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    fig = ess_curves(runs_frame)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == sort_estimators(ESTIMATORS)
    for ax in panels:
        assert ax.get_yscale() == "log"
        assert len(ax.get_lines()) == len(MI_LEVELS)
    # The line is the seed mean of binned ESS: its mean over the run is close to the raw mean
    # (binning only averages; 1e-9 relative is float round-off of two mean orders).
    raw = runs_frame[
        (runs_frame[schema.ESTIMATOR] == "infonce")
        & (runs_frame[schema.BATCH_SIZE] == min(BATCH_SIZES))
        & (runs_frame[schema.READOUT] == schema.READOUT_TRAIN)
        & (runs_frame[schema.MI_LEVEL] == min(MI_LEVELS))
    ]
    line = panels[0].get_lines()[0]
    assert np.mean(line.get_ydata()) == pytest.approx(raw[schema.ESS].mean(), rel=1e-9)
    check_png(fig)


def test_ess_curves_bad_input(runs_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="ess_curves: missing columns ess"):
        ess_curves(runs_frame.drop(columns=schema.ESS))
    with pytest.raises(FigureNotApplicableError, match="no finite 'ess'"):
        ess_curves(runs_frame.assign(**{schema.ESS: np.nan}))


def test_shared_ylim_is_not_stretched_by_exploding_runs() -> None:
    from mibench.plots.curves import (
        YLIM_MAX_OVER_TRUTH,
        YLIM_MIN_UNDER_ZERO,
        YLIM_PAD_FRACTION,
        _shared_ylim,
    )

    healthy = np.linspace(0.0, 6.0, 100)
    exploding = np.r_[healthy, np.full(30, 1e9), np.full(30, -1e9)]
    truth_top = 6.0
    lo, hi = _shared_ylim(exploding, [0.0, truth_top])
    span = YLIM_MAX_OVER_TRUTH * truth_top + YLIM_MIN_UNDER_ZERO * truth_top
    pad = YLIM_PAD_FRACTION * span
    assert (lo, hi) == pytest.approx((-YLIM_MIN_UNDER_ZERO * truth_top - pad, 9.0 + pad))
    # Without outliers the range is the data and references only.
    lo, hi = _shared_ylim(healthy, [0.0, truth_top])
    assert (lo, hi) == pytest.approx((-YLIM_PAD_FRACTION * 6.0, 6.0 + YLIM_PAD_FRACTION * 6.0))


def test_training_curves_shade_and_label_every_staircase_level(
    staircase_frame: pd.DataFrame,
) -> None:
    from matplotlib.collections import PolyCollection

    from mibench.results.summary import segments, window_start

    fig = training_curves(staircase_frame)
    panels = _panels(fig)
    first = panels[0]
    labels = [t.get_text() for t in first.texts]
    assert labels == [f"I = {v:g}" for v in (2, 4, 6, 8, 10)]
    run = staircase_frame[staircase_frame[schema.RUN_ID] == staircase_frame[schema.RUN_ID].iloc[0]]
    train = run[run[schema.READOUT] == schema.READOUT_TRAIN]
    expected = [(window_start(a, b), b) for a, b, _ in segments(train)]
    for ax in panels:
        # One shaded evaluation window per level, spanning the window's steps and the full height.
        (shading,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
        spans = [p.vertices for p in shading.get_paths()]
        assert [(v[:, 0].min(), v[:, 0].max()) for v in spans] == expected
        assert all((v[:, 1].min(), v[:, 1].max()) == (0.0, 1.0) for v in spans)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "evaluation window (last 20% of each level)" in legend
    assert "median over seeds" in legend


def test_training_curves_fixed_levels_light_to_dark_with_a_legend(curves_figure: Figure) -> None:
    legend = [t.get_text() for t in curves_figure.legends[0].get_texts()]
    assert [t for t in legend if t.startswith("gaussian I =")] == [
        f"gaussian I = {v:g} nats" for v in MI_LEVELS
    ]
    ax = _panel(curves_figure, "infonce")
    bold = [line for line in ax.get_lines() if line.get_linewidth() > 1.5]
    colours = [tuple(np.round(matplotlib.colors.to_rgb(line.get_color()), 6)) for line in bold]
    assert len(set(colours)) == len(MI_LEVELS)  # one shade per level


def test_training_curves_median_line_ignores_one_exploding_batch(runs_frame: pd.DataFrame) -> None:
    exploding = runs_frame.copy()
    nwj = (exploding[schema.ESTIMATOR] == "nwj") & (exploding[schema.STEP] == 30)
    exploding.loc[nwj, schema.ESTIMATE] = -9.8e61
    # 10-step bins: the bin median of ten readouts, one of them -1e61, is a healthy readout.
    fig = training_curves(exploding, n_bins=6)
    clean = training_curves(runs_frame, n_bins=6)
    ax, reference = _panel(fig, "nwj"), _panel(clean, "nwj")
    assert ax.get_title() == reference.get_title()  # no "(clipped)" added
    assert ax.get_ylim() == pytest.approx(reference.get_ylim())
    bold = [line.get_ydata() for line in ax.get_lines() if line.get_linewidth() > 1.5]
    assert np.isfinite(np.concatenate(bold)).all() and np.abs(np.concatenate(bold)).max() < 20


def test_a_curve_of_one_point_per_run_draws_beside_the_staircase(
    staircase_frame: pd.DataFrame,
) -> None:
    """A sample estimator reads each level once: its runs are one row each. Its panel draws
    without level windows, and the other panels keep theirs (a one-point curve used to crash
    the level shading)."""
    from mibench.plots.curves import _segments

    assert _segments(np.array([2000]), np.array([2.0])) == []
    assert _segments(np.array([0, 500, 999]), np.array([2.0, 4.0, 4.0])) == [
        (0, 500, 2.0),
        (500, 1000, 4.0),
    ]
    frame = staircase_frame.copy()
    first = sort_estimators(frame[schema.ESTIMATOR].unique())[0]
    own = frame[schema.ESTIMATOR] == first
    last_steps = frame.groupby(schema.RUN_ID)[schema.STEP].transform("max")
    frame = frame[~own | (frame[schema.STEP] == last_steps)]
    fig = training_curves(frame)
    assert _panel(fig, first).get_lines()
