"""Estimate against batch size: the plotted means are the summary's, log K is log K."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mibench.plots.batch_size import estimate_vs_batch_size
from mibench.plots.palette import estimator_colours, estimator_markers
from mibench.results import schema
from mibench.results.selection import FigureNotApplicableError
from tests.plots._plot_fixtures import BATCH_SIZES, ESTIMATORS, MI_LEVELS


def _panels(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _estimator_line(ax, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    colour = estimator_colours([estimator])[estimator]
    marker = estimator_markers([estimator])[estimator]  # error-bar caps are lines too
    (line,) = [
        line
        for line in ax.get_lines()
        if line.get_color() == colour
        and line.get_marker() == marker
        and line.get_markerfacecolor() != "none"  # not the open "beyond the axis" circles
    ]
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_means_against_k_are_the_summary_means(
    summary_frame: pd.DataFrame, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    fig = estimate_vs_batch_size(summary_frame)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == [f"gaussian, I = {m:g} nats" for m in MI_LEVELS]
    for ax, level in zip(panels, MI_LEVELS, strict=True):
        for estimator in ESTIMATORS:
            cells = summary_frame[
                (summary_frame[schema.ESTIMATOR] == estimator)
                & (summary_frame[schema.MI_LEVEL] == level)
            ].sort_values(schema.BATCH_SIZE)
            x, y = _estimator_line(ax, estimator)
            assert list(x) == list(BATCH_SIZES)
            assert np.allclose(y, cells[schema.MEAN_ESTIMATE])
        (log_k,) = [
            line
            for line in ax.get_lines()
            if line.get_linestyle() == "--" and line.get_marker() in ("None", "")
        ]
        assert np.allclose(log_k.get_ydata(), np.log(log_k.get_xdata()))
        assert log_k.get_xdata()[0] == min(BATCH_SIZES) and log_k.get_xdata()[-1] == max(
            BATCH_SIZES
        )
    check_png(fig)


def test_falls_back_to_truth_plus_bias(summary_frame: pd.DataFrame) -> None:
    # mean_estimate = mean_s m_s and bias = mean_s (m_s - I): the two routes agree to round-off.
    fig = estimate_vs_batch_size(summary_frame.drop(columns=schema.MEAN_ESTIMATE))
    reference = estimate_vs_batch_size(summary_frame)
    for ax, ref in zip(_panels(fig), _panels(reference), strict=True):
        for estimator in ESTIMATORS:
            assert np.allclose(
                _estimator_line(ax, estimator)[1], _estimator_line(ref, estimator)[1]
            )


def test_only_levels_with_several_k_get_a_panel(summary_frame: pd.DataFrame) -> None:
    single_k = summary_frame[summary_frame[schema.BATCH_SIZE] == max(BATCH_SIZES)].assign(
        **{schema.TASK: "cubic"}
    )
    fig = estimate_vs_batch_size(pd.concat([summary_frame, single_k], ignore_index=True))
    assert all(ax.get_title().startswith("gaussian") for ax in _panels(fig))


def test_one_batch_size_does_not_apply(summary_frame: pd.DataFrame) -> None:
    one_k = summary_frame[summary_frame[schema.BATCH_SIZE] == max(BATCH_SIZES)]
    with pytest.raises(FigureNotApplicableError, match="two batch sizes"):
        estimate_vs_batch_size(one_k)


def test_missing_column(summary_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="estimate_vs_batch_size: missing columns bias"):
        estimate_vs_batch_size(summary_frame.drop(columns=schema.BIAS))


def test_an_exploding_estimator_is_drawn_on_the_edge(summary_frame: pd.DataFrame) -> None:
    from mibench.plots.batch_size import YLIM_OVER_REFERENCE

    frame = summary_frame.copy()
    exploding = frame[schema.ESTIMATOR] == "flatnce"
    frame.loc[exploding, schema.MEAN_ESTIMATE] = 1e6
    fig = estimate_vs_batch_size(frame)
    ax = _panels(fig)[-1]  # I = 6 nats; log K_max = log 64 < 6, so the reference is 6
    edge = YLIM_OVER_REFERENCE * max(MI_LEVELS)
    _, y = _estimator_line(ax, "flatnce")
    assert np.allclose(y, edge)
    # The healthy estimators are untouched.
    infonce = summary_frame[
        (summary_frame[schema.ESTIMATOR] == "infonce")
        & (summary_frame[schema.MI_LEVEL] == max(MI_LEVELS))
    ].sort_values(schema.BATCH_SIZE)
    assert np.allclose(_estimator_line(ax, "infonce")[1], infonce[schema.MEAN_ESTIMATE])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "beyond the axis (drawn at its edge)" in labels


def test_an_unstable_cell_is_drawn_at_its_median_estimate(summary_frame: pd.DataFrame) -> None:
    frame = summary_frame.copy()
    top = frame[schema.MI_LEVEL] == frame[schema.MI_LEVEL].max()
    cell = frame.index[top & (frame[schema.ESTIMATOR] == "nwj") & (frame[schema.BATCH_SIZE] == 64)]
    frame.loc[cell, [schema.MEAN_ESTIMATE, schema.BIAS, schema.STD]] = [-9.8e61, -9.8e61, 1e62]
    frame.loc[cell, [schema.MEDIAN_BIAS, schema.UNSTABLE]] = [-1.5, True]
    fig = estimate_vs_batch_size(frame)
    level = float(frame[schema.MI_LEVEL].max())
    (ax,) = [a for a in _panels(fig) if a.get_title().endswith(f"I = {level:g} nats")]
    (marker,) = [line for line in ax.get_lines() if line.get_marker() == "X"]
    assert list(marker.get_xdata()) == [64.0]
    assert list(marker.get_ydata()) == pytest.approx([level - 1.5])
    assert ax.get_ylim()[0] > -100
