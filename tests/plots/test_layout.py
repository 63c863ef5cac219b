"""The fixed layout: after a real draw, every decoration is inside the canvas and nothing overlaps.

The layout measures a few decorations before the figure is drawn (see mibench.plots.layout); these
tests check its result against what a full draw renders: each panel's complete bounding box
(ticks, tick labels, axis labels, title), the figure title, the legends and the colour bar.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from mibench.plots import (
    bias_variance,
    divergence_heatmap,
    ess_curves,
    estimate_vs_batch_size,
    mse_heatmap,
    training_curves,
)
from mibench.plots.layout import arrange, facet_grid, legend_below, new_figure

# Rendered text can differ from the measured one by anti-aliasing and rounding to pixels.
TOLERANCE_PX = 2.0


def _boxes(fig: Figure) -> tuple[list[Bbox], list[Bbox], Bbox | None]:
    """(panel boxes with decorations, legend boxes, figure title box) after a full draw."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panels = [
        ax.get_tightbbox(renderer)
        for ax in fig.axes
        if ax.get_visible() and ax.get_label() != "<colorbar>"
    ]
    legends = [legend.get_window_extent(renderer) for legend in fig.legends]
    title = fig._suptitle.get_window_extent(renderer) if fig._suptitle is not None else None
    return panels, legends, title


def _overlap(a: Bbox, b: Bbox) -> float:
    """Pixels by which two boxes overlap in their narrower direction (0 when apart)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, min(width, height))


def _assert_laid_out(fig: Figure) -> None:
    panels, legends, title = _boxes(fig)
    canvas = fig.bbox
    for box in [*panels, *legends, *([title] if title is not None else [])]:
        assert box.x0 >= canvas.x0 - TOLERANCE_PX and box.x1 <= canvas.x1 + TOLERANCE_PX
        assert box.y0 >= canvas.y0 - TOLERANCE_PX and box.y1 <= canvas.y1 + TOLERANCE_PX
    for a, b in combinations(panels, 2):
        assert _overlap(a, b) <= TOLERANCE_PX, (a, b)
    for box in [*legends, *([title] if title is not None else [])]:
        for panel in panels:
            assert _overlap(box, panel) <= TOLERANCE_PX, (box, panel)


FigureFromFrames = Callable[[pd.DataFrame, pd.DataFrame], Figure]
FIGURES: dict[str, FigureFromFrames] = {
    "training_curves": lambda runs, summary: training_curves(runs),
    "ess_curves": lambda runs, summary: ess_curves(runs),
    "bias_variance": lambda runs, summary: bias_variance(summary),
    "mse_heatmap": lambda runs, summary: mse_heatmap(summary),
    "divergence_heatmap": lambda runs, summary: divergence_heatmap(summary),
    "estimate_vs_batch_size": lambda runs, summary: estimate_vs_batch_size(summary),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_is_inside_its_canvas_without_overlaps(
    name: str, runs_frame: pd.DataFrame, summary_frame: pd.DataFrame
) -> None:
    _assert_laid_out(FIGURES[name](runs_frame, summary_frame))


def test_long_tick_labels_widen_the_margin_instead_of_overlapping() -> None:
    fig, axes = facet_grid(4, col_wrap=2, sharey=False)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
    axes[1].set_yticks([0, 1], ["a very long tick label", "another long one"])
    fig.suptitle("title")
    legend_below(fig, [axes[0].lines[0]], ["a legend entry"])
    from mibench.plots.layout import arrange_facets

    arrange_facets(fig, axes, col_wrap=2)
    _assert_laid_out(fig)
    # The second column starts after the first column's panel and the long labels.
    first, second = axes[0].get_position(), axes[1].get_position()
    labels_in = max(t.get_window_extent().width for t in axes[1].get_yticklabels()) / fig.dpi
    assert (second.x0 - first.x1) * fig.get_figwidth() >= labels_in


def test_panels_keep_their_size_in_inches() -> None:
    fig = new_figure(1.0, 1.0)
    axes: list[Axes] = list(fig.subplots(2, 3).ravel())
    for ax in axes:
        ax.set_title("a title")
        ax.set_xlabel("x")
    arrange(fig, [axes[:3], axes[3:]], (2.0, 1.5))
    for ax in axes:
        box = ax.get_position()
        assert box.width * fig.get_figwidth() == pytest.approx(2.0)
        assert box.height * fig.get_figheight() == pytest.approx(1.5)
    _assert_laid_out(fig)


def test_the_pmi_histogram_is_laid_out() -> None:
    import numpy as np

    from mibench.plots.pmi import pmi_histogram
    from mibench.tasks.pmi import profile

    values = np.random.default_rng(0).normal(2.0, 1.0, 5_000)
    _assert_laid_out(pmi_histogram(values, profile(values, 2.0), title="N(2, 1)"))


def test_the_self_consistency_figure_is_laid_out(tmp_path) -> None:
    from mibench.plots.consistency import self_consistency_figure
    from tests.results._consistency_suite import consistency_summary, standard_cells

    summary = consistency_summary(tmp_path, standard_cells(data_processing=0.95, additivity=1.7))
    _assert_laid_out(self_consistency_figure(summary))


def test_the_standing_figure_is_laid_out() -> None:
    from mibench.plots.standing import standing_curves
    from mibench.results import schema
    from tests.plots._plot_fixtures import make_runs

    runs = make_runs(batch_sizes=(16,))
    mine = runs[runs[schema.ESTIMATOR] == "infonce"].copy()
    mine[schema.ESTIMATOR] = "mine_x"
    _assert_laid_out(standing_curves(pd.concat([runs, mine], ignore_index=True)))
