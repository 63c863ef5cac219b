"""The circled (beyond the axis) and crossed (unstable) marks of the summary figures."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from mibench.plots.markers import CLIPPED_MARKER, UNSTABLE_MARKER, mark_legend, mark_points


def test_mark_points_circles_clipped_values_and_crosses_unstable_cells() -> None:
    ax = Figure().subplots()
    x = np.array([1.0, 2.0, 3.0, 4.0])
    values = np.array([1.0, 100.0, np.nan, 2.0])  # 100 beyond the axis; NaN is a gap, not clipped
    shown = np.array([1.0, 10.0, np.nan, 2.0])
    unstable = np.array([False, False, False, True])
    assert mark_points(ax, x, values, shown, unstable, colour="red") == (True, True)
    circle, cross = ax.get_lines()
    assert circle.get_marker() == CLIPPED_MARKER and circle.get_markerfacecolor() == "none"
    np.testing.assert_array_equal(circle.get_xydata(), [[2.0, 10.0]])
    assert cross.get_marker() == UNSTABLE_MARKER
    np.testing.assert_array_equal(cross.get_xydata(), [[4.0, 2.0]])  # at its shown value
    assert not cross.get_clip_on() and cross.get_zorder() > circle.get_zorder()


def test_mark_points_puts_crosses_at_the_given_height_and_draws_nothing_unneeded() -> None:
    ax = Figure().subplots()
    x = np.arange(3.0)
    values = np.array([0.5, 1.0, 2.0])
    assert mark_points(ax, x, values, values, np.array([True, False, True]), colour="k",
                       unstable_y=7.0) == (False, True)  # fmt: skip
    (cross,) = ax.get_lines()
    np.testing.assert_array_equal(cross.get_xydata(), [[0.0, 7.0], [2.0, 7.0]])
    assert mark_points(ax, x, values, values, np.zeros(3, bool), colour="k") == (False, False)
    assert len(ax.get_lines()) == 1


def test_mark_legend_lists_only_the_marks_drawn() -> None:
    assert mark_legend(clipped=False, unstable=False, unstable_label="u") == ([], [])
    handles, labels = mark_legend(clipped=True, unstable=True, unstable_label="unstable cell")
    assert [h.get_marker() for h in handles] == [CLIPPED_MARKER, UNSTABLE_MARKER]
    assert labels == ["beyond the axis (drawn at its edge)", "unstable cell"]
    handles, labels = mark_legend(clipped=False, unstable=True, unstable_label="u")
    assert labels == ["u"]
