"""Figure scaffolding shared by every plot: faceted grids and legends kept outside the axes.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through ``pyplot``: no
GUI backend is touched (the Agg canvas renders them), and nothing accumulates in pyplot's global
figure list when many figures are drawn in one process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DEFAULT_COL_WRAP = 5
PANEL_WIDTH_IN = 3.1
PANEL_HEIGHT_IN = 2.3
TITLE_FONTSIZE = 13
PANEL_TITLE_FONTSIZE = 10
LEGEND_FONTSIZE = 9
LEGEND_MAX_COLS = 6
MIN_FACET_WIDTH_IN = 10.0


def new_figure(width_in: float, height_in: float) -> Figure:
    """A constrained-layout figure attached to an Agg canvas (renders without a display)."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def facet_grid(
    n_panels: int,
    *,
    col_wrap: int = DEFAULT_COL_WRAP,
    panel_size: tuple[float, float] = (PANEL_WIDTH_IN, PANEL_HEIGHT_IN),
    sharey: bool = True,
    extra_height_in: float = 0.9,
) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes wrapped into rows of ``col_wrap``; spare cells are hidden.

    ``extra_height_in`` leaves room for the title and a legend under the grid.
    """
    if n_panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {n_panels}")
    ncols = min(n_panels, col_wrap)
    nrows = math.ceil(n_panels / ncols)
    # A minimum width keeps the title and the legend under the grid inside the canvas.
    width = max(panel_size[0] * ncols, MIN_FACET_WIDTH_IN)
    fig = new_figure(width, panel_size[1] * nrows + extra_height_in)
    grid = fig.subplots(nrows, ncols, sharex=True, sharey=sharey, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    panels = axes[:n_panels]
    for index, ax in enumerate(panels):
        # With shared x, hidden spare cells would swallow the tick labels of the panel above them.
        below = index + ncols
        if below >= n_panels:
            ax.xaxis.set_tick_params(labelbottom=True)
    return fig, panels


def label_outer(
    axes: Sequence[Axes], *, ncols: int, xlabel: str, ylabel: str, n_panels: int | None = None
) -> None:
    """Axis labels on the bottom panel of each column and the first panel of each row only."""
    n = len(axes) if n_panels is None else n_panels
    for index, ax in enumerate(axes):
        if index % ncols == 0:
            ax.set_ylabel(ylabel)
        if index + ncols >= n:
            ax.set_xlabel(xlabel)


def figure_title(fig: Figure, title: str, setting: str = "") -> None:
    """Figure title, with the drawn setting (K, d, ...) on a smaller second line."""
    text = title if not setting else f"{title}\n{setting}"
    fig.suptitle(text, fontsize=TITLE_FONTSIZE, linespacing=1.5)


def legend_below(fig: Figure, handles: Sequence[Artist], labels: Sequence[str]) -> None:
    """One figure-level legend centred under the panels (outside every axes)."""
    if not handles:
        return
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(handles), LEGEND_MAX_COLS),
        fontsize=LEGEND_FONTSIZE,
        frameon=False,
    )


def legend_right(fig: Figure, handles: Sequence[Artist], labels: Sequence[str], title: str) -> None:
    """One figure-level legend to the right of the panels (for long estimator lists)."""
    if not handles:
        return
    ncols = 1 if len(handles) <= 16 else 2
    fig.legend(
        handles,
        labels,
        loc="outside right center",
        ncols=ncols,
        fontsize=LEGEND_FONTSIZE,
        title=title,
        frameon=False,
    )
