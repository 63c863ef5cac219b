"""Bias/variance/MSE lines and the MSE and divergence heatmaps, against the summary frame."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from mibench.plots.accuracy import LOG_FLOOR, bias_variance, divergence_heatmap, mse_heatmap
from mibench.plots.palette import estimator_colours, sort_estimators
from mibench.results import schema
from mibench.results.selection import FigureNotApplicableError
from tests.plots._plot_fixtures import BATCH_SIZES, ESTIMATORS, MI_LEVELS, SEEDS


def _line_of(ax, estimator: str) -> np.ndarray:
    colour = estimator_colours([estimator])[estimator]
    (line,) = [line for line in ax.get_lines() if line.get_color() == colour]
    return np.asarray(line.get_ydata(), dtype=float)


def _drawn_cells(summary: pd.DataFrame, estimator: str) -> pd.DataFrame:
    """The cells a summary figure draws for one estimator: K = 16 wins the tie (sorts first)."""
    rows = summary[
        (summary[schema.ESTIMATOR] == estimator) & (summary[schema.BATCH_SIZE] == min(BATCH_SIZES))
    ]
    return rows.sort_values(schema.TRUE_MI)


def test_bias_variance_lines_are_the_summary_values(
    summary_frame: pd.DataFrame, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    fig = bias_variance(summary_frame)
    bias_ax, variance_ax, mse_ax = [ax for ax in fig.axes if ax.get_visible()][:3]
    assert variance_ax.get_yscale() == "log" and mse_ax.get_yscale() == "log"
    for estimator in ESTIMATORS:
        cells = _drawn_cells(summary_frame, estimator)
        assert np.allclose(_line_of(bias_ax, estimator), cells[schema.BIAS])
        # Variance is std^2 = var_within + var_across (the summary's definition).
        expected = cells[schema.VAR_WITHIN] + cells[schema.VAR_ACROSS].fillna(0.0)
        assert np.allclose(_line_of(variance_ax, estimator), expected)
        assert np.allclose(_line_of(mse_ax, estimator), cells[schema.MSE])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == sort_estimators(ESTIMATORS)
    check_png(fig)


def test_bias_variance_keeps_nan_as_a_gap_and_floors_zero(summary_frame: pd.DataFrame) -> None:
    frame = summary_frame.copy()
    cells = _drawn_cells(frame, "flatnce").index
    frame.loc[cells[0], schema.STD] = np.nan
    frame.loc[cells[1], schema.STD] = 0.0
    fig = bias_variance(frame)
    variance = _line_of(fig.axes[1], "flatnce")
    assert np.isnan(variance[0]) and variance[1] == LOG_FLOOR


def test_summary_figures_do_not_apply_without_fixed_levels(summary_frame: pd.DataFrame) -> None:
    no_levels = summary_frame.assign(**{schema.MI_LEVEL: np.nan})
    for draw in (bias_variance, mse_heatmap, divergence_heatmap):
        with pytest.raises(FigureNotApplicableError):
            draw(no_levels)


@pytest.mark.parametrize(
    ("draw", "column"),
    [(bias_variance, schema.STD), (mse_heatmap, schema.MSE), (divergence_heatmap, schema.N_SEEDS)],
)
def test_summary_figures_name_a_missing_column(
    summary_frame: pd.DataFrame, draw: Callable[[pd.DataFrame], Figure], column: str
) -> None:
    with pytest.raises(ValueError, match=f"missing columns {column}"):
        draw(summary_frame.drop(columns=column))
    with pytest.raises(ValueError, match="empty"):
        draw(summary_frame.iloc[:0])


def test_mse_heatmap_cells_and_annotations(
    summary_frame: pd.DataFrame, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    fig = mse_heatmap(summary_frame)
    ax = fig.axes[0]
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    shown = np.ma.filled(image.get_array().astype(float), np.nan)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == sort_estimators(ESTIMATORS)
    expected = np.array(
        [_drawn_cells(summary_frame, e)[schema.MSE].to_numpy() for e in rows], dtype=float
    )
    assert np.allclose(shown, expected)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{v:.2g}" for v in expected.ravel()]
    check_png(fig)


def test_divergence_counts_come_from_the_runs(
    runs_frame: pd.DataFrame, summary_frame: pd.DataFrame
) -> None:
    fig = divergence_heatmap(summary_frame)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    # Independent count from the per-step frame: runs with any diverged step, over every K.
    per_run = runs_frame.groupby([schema.ESTIMATOR, schema.MI_LEVEL, schema.RUN_ID])[
        schema.DIVERGED
    ].any()
    counts = per_run.groupby(level=[0, 1]).agg(["sum", "size"])
    expected = [
        f"{int(counts.loc[(e, level), 'sum'])}/{int(counts.loc[(e, level), 'size'])}"
        for e in rows
        for level in MI_LEVELS
    ]
    assert [t.get_text() for t in ax.texts] == expected
    assert counts["size"].eq(len(SEEDS) * len(BATCH_SIZES)).all()
    assert counts["sum"].sum() > 0  # the fixture has diverged runs, so the check is not vacuous
    assert (
        f"{int(counts['sum'].sum())} of {int(counts['size'].sum())} runs"
        in fig._suptitle.get_text()
    )


def _exploded(summary: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """nwj's drawn top-level cell exploded (a 1e61 batch) and flagged unstable; its row label."""
    frame = summary.copy()
    cell = _drawn_cells(frame, "nwj").index[-1]  # the highest MI level
    frame.loc[cell, [schema.BIAS, schema.STD, schema.MSE]] = [-9.8e61, 1e62, 1e124]
    frame.loc[cell, [schema.MEDIAN_BIAS, schema.WILD_FRACTION]] = [-1.234, 0.004]
    frame.loc[cell, schema.UNSTABLE] = True
    return frame, cell


def _unstable_markers(ax) -> list:
    return [line for line in ax.get_lines() if line.get_marker() == "X"]


def test_bias_variance_draws_unstable_cells_by_median_and_on_the_top_edge(
    summary_frame: pd.DataFrame, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    frame, _ = _exploded(summary_frame)
    fig = bias_variance(frame)
    bias_ax, variance_ax, mse_ax = [ax for ax in fig.axes if ax.get_visible()][:3]
    # Bias: the line runs through the median bias, marked X there.
    assert _line_of(bias_ax, "nwj")[-1] == pytest.approx(-1.234)
    (marker,) = _unstable_markers(bias_ax)
    assert list(marker.get_ydata()) == pytest.approx([-1.234])
    assert bias_ax.get_ylim()[0] > -100  # not stretched to -1e61
    for ax in (variance_ax, mse_ax):
        assert np.isnan(_line_of(ax, "nwj")[-1])  # the line skips it
        (marker,) = _unstable_markers(ax)
        assert list(marker.get_ydata()) == pytest.approx([ax.get_ylim()[1]])  # on the top edge
        assert ax.get_ylim()[1] < 1e3
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "unstable cell" in legend and "median" in legend
    check_png(fig)


def test_mse_heatmap_hatches_unstable_cells_with_their_wild_share(
    summary_frame: pd.DataFrame,
) -> None:
    frame, _ = _exploded(summary_frame)
    fig = mse_heatmap(frame)
    ax = fig.axes[0]
    (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    shown = np.ma.filled(image.get_array().astype(float), np.nan)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert np.isnan(shown[rows.index("nwj"), -1])  # left out of the colour scale
    assert image.norm.vmax < 1e3
    texts = [t.get_text() for t in ax.texts]
    assert "unstable\n0.4% wild" in texts
    assert not any("e+" in t for t in texts)
    assert any(p.get_hatch() for p in ax.patches)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "unstable" in legend


def test_accuracy_figures_without_robust_columns(summary_frame: pd.DataFrame) -> None:
    """Summaries written before the robust columns: mean-based values, nothing marked."""
    from mibench.results.robust import ROBUST_COLUMNS

    old = summary_frame.drop(columns=list(ROBUST_COLUMNS))
    fig = bias_variance(old)
    bias_ax = fig.axes[0]
    assert np.allclose(_line_of(bias_ax, "nwj"), _drawn_cells(old, "nwj")[schema.BIAS])
    assert _unstable_markers(bias_ax) == []
    assert not any(p.get_hatch() for p in mse_heatmap(old).axes[0].patches)
