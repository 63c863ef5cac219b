"""Figure scaffolding shared by every plot: faceted grids, legends outside the axes, and the
fixed layout that places them.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through ``pyplot``: no
GUI backend is touched (the Agg canvas renders them), and nothing accumulates in pyplot's global
figure list when many figures are drawn in one process.

Layout: every panel keeps a fixed size in inches, and :func:`arrange` grows the figure around the
panels by what their decorations need (tick labels, axis labels, panel titles, the figure title,
the legends, a colour bar). It measures only decorations that are shown: the tick labels of the
outer panels of a shared grid, each panel's title, the figure's legends, so one layout costs a
few text measurements instead of matplotlib's constrained layout, which measures every panel's
full bounding box twice and forces an extra draw before saving (most of a figure's save time in
``benchmarks/bench_plots.py``). Since the panels keep their size, their tick locations (which
depend on the panel's size in pixels) are the same when measured and when drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

DEFAULT_COL_WRAP = 5
PANEL_WIDTH_IN = 3.1
PANEL_HEIGHT_IN = 2.3
TITLE_FONTSIZE = 13
PANEL_TITLE_FONTSIZE = 10
LEGEND_FONTSIZE = 9
LEGEND_MAX_COLS = 6
MIN_FACET_WIDTH_IN = 10.0
# Space between a panel's decorations and its neighbour's, and around the figure's edge.
PAD_IN = 0.1
EDGE_PAD_IN = 0.1
# Space a panel's outer cell gives to its decorations when guessing the first placement: the
# panel content of a facet cell is its size minus this (constrained layout's typical result).
CELL_DECORATION_IN = (0.55, 0.55)
COLOURBAR_WIDTH_IN = 0.22
COLOURBAR_GAP_IN = 0.15
COLOURBAR_SHRINK = 0.85
BELOW, RIGHT = "legend-below", "legend-right"  # gids of the figure legends arrange() places


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure attached to an Agg canvas (renders without a display); :func:`arrange` sizes it."""
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


def cell_content(panel_size: tuple[float, float]) -> tuple[float, float]:
    """The content (axes box) size of a facet cell of ``panel_size`` inches."""
    return (
        max(panel_size[0] - CELL_DECORATION_IN[0], 0.5),
        max(panel_size[1] - CELL_DECORATION_IN[1], 0.5),
    )


def facet_grid(
    n_panels: int,
    *,
    col_wrap: int = DEFAULT_COL_WRAP,
    panel_size: tuple[float, float] = (PANEL_WIDTH_IN, PANEL_HEIGHT_IN),
    sharey: bool = True,
    extra_height_in: float = 0.9,
) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes wrapped into rows of ``col_wrap``; spare cells are hidden.

    ``panel_size`` is a cell's size including its decorations; :func:`arrange_facets` places the
    panels at the content size :func:`cell_content` of it once they are drawn.
    ``extra_height_in`` is the first guess of the height of the title and a legend under the
    grid (the layout measures them).
    """
    if n_panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {n_panels}")
    ncols = min(n_panels, col_wrap)
    nrows = math.ceil(n_panels / ncols)
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


def arrange_facets(
    fig: Figure,
    panels: Sequence[Axes],
    *,
    col_wrap: int = DEFAULT_COL_WRAP,
    panel_size: tuple[float, float] = (PANEL_WIDTH_IN, PANEL_HEIGHT_IN),
) -> None:
    """:func:`arrange` the panels of a :func:`facet_grid` figure (same ``col_wrap`` and
    ``panel_size``) in their rows, at the content size :func:`cell_content` of a cell."""
    ncols = min(len(panels), col_wrap)
    rows = [list(panels[start : start + ncols]) for start in range(0, len(panels), ncols)]
    arrange(fig, rows, cell_content(panel_size))


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


def panel_title(
    ax: Axes, text: str, *, fontsize: float = PANEL_TITLE_FONTSIZE, pad: float = 6.0
) -> None:
    """A panel's title at a fixed height above the axes (``pad`` points).

    The fixed ``y`` turns off matplotlib's automatic title placement, which measures every
    panel's y axis again at each draw to lift the title over top tick labels; no panel here has
    top tick labels, so the title lands where that placement would put it.
    """
    ax.set_title(text, fontsize=fontsize, pad=pad, y=1.0)


def figure_title(fig: Figure, title: str, setting: str = "") -> None:
    """Figure title, with the drawn setting (K, d, ...) on a smaller second line."""
    text = title if not setting else f"{title}\n{setting}"
    fig.suptitle(text, fontsize=TITLE_FONTSIZE, linespacing=1.5, va="top")


def legend_below(fig: Figure, handles: Sequence[Artist], labels: Sequence[str]) -> None:
    """One figure-level legend centred under the panels (outside every axes)."""
    if not handles:
        return
    legend = fig.legend(
        handles,
        labels,
        loc="lower center",
        ncols=min(len(handles), LEGEND_MAX_COLS),
        fontsize=LEGEND_FONTSIZE,
        frameon=False,
    )
    legend.set_gid(BELOW)


def legend_right(fig: Figure, handles: Sequence[Artist], labels: Sequence[str], title: str) -> None:
    """One figure-level legend to the right of the panels (for long estimator lists)."""
    if not handles:
        return
    ncols = 1 if len(handles) <= 16 else 2
    legend = fig.legend(
        handles,
        labels,
        loc="center right",
        ncols=ncols,
        fontsize=LEGEND_FONTSIZE,
        title=title,
        frameon=False,
    )
    legend.set_gid(RIGHT)


def add_colourbar_axes(fig: Figure) -> Axes:
    """An axes for a colour bar beside the grid; :func:`arrange` places it (``colourbar=``)."""
    return fig.add_axes((0.0, 0.0, 0.1, 0.1))


@dataclass(frozen=True)
class _Margins:
    """How far (inches) a panel's decorations reach beyond its axes box on each side."""

    left: float = 0.0
    right: float = 0.0
    top: float = 0.0
    bottom: float = 0.0


def _inches(box: Bbox, dpi: float) -> Bbox:
    return Bbox.from_extents(box.x0 / dpi, box.y0 / dpi, box.x1 / dpi, box.y1 / dpi)


def _reach(ax: Axes, renderer: RendererBase) -> _Margins:
    """The margins of ``ax``: its shown tick labels and axis labels, its title, child axes."""
    dpi = ax.figure.dpi
    own = _inches(ax.get_window_extent(renderer), dpi)
    boxes = []
    for axis, side_labels in (
        (ax.xaxis, ("labelbottom", "labeltop")),
        (ax.yaxis, ("labelleft", "labelright")),
    ):
        params = axis.get_tick_params()
        # An axis with no tick labels and no axis label only shows its tick marks.
        if any(params.get(k, False) for k in side_labels) or axis.label.get_text():
            box = axis.get_tightbbox(renderer, for_layout_only=True)
            if box is not None:
                boxes.append(_inches(box, dpi))
    if ax.title.get_text():
        boxes.append(_inches(ax.title.get_window_extent(renderer), dpi))
    for child in ax.child_axes:
        # A secondary axis is placed relative to its parent only when drawn: place it now.
        locator = child.get_axes_locator()
        if locator is not None:
            child.apply_aspect(locator(child, renderer))
        box = child.xaxis.get_tightbbox(renderer, for_layout_only=True)
        if box is not None:
            boxes.append(_inches(box, dpi))
    tick = 4.0 / 72  # tick marks (3.5 pt) stick out even without labels
    return _Margins(
        left=max([tick, *(own.x0 - b.x0 for b in boxes)]),
        right=max([0.0, *(b.x1 - own.x1 for b in boxes)]),
        top=max([0.0, *(b.y1 - own.y1 for b in boxes)]),
        bottom=max([tick, *(own.y0 - b.y0 for b in boxes)]),
    )


def _guess_positions(
    fig: Figure, rows: Sequence[Sequence[Axes]], content: tuple[float, float]
) -> None:
    """A first placement at the final panel size (ticks depend on it), on a generous canvas."""
    ncols = max(len(r) for r in rows)
    guess_w = (content[0] + 1.0) * ncols + 4.0
    guess_h = (content[1] + 1.0) * len(rows) + 3.0
    fig.set_size_inches(guess_w, guess_h)
    for r, row in enumerate(rows):
        for c, ax in enumerate(row):
            x = 1.5 + c * (content[0] + 1.0)
            y = guess_h - 1.5 - (r + 1) * (content[1] + 1.0)
            ax.set_position((x / guess_w, y / guess_h, content[0] / guess_w, content[1] / guess_h))


def _legend_size(fig: Figure, renderer: RendererBase, gid: str) -> tuple[float, float]:
    """(width, height) in inches of the figure legends tagged ``gid`` (:data:`BELOW` or
    :data:`RIGHT`) plus their distance from the figure's edge; 0 where there is none."""
    width = height = 0.0
    for legend in fig.legends:
        if legend.get_gid() == gid:
            box = _inches(legend.get_window_extent(renderer), fig.dpi)
            edge = legend.borderaxespad * LEGEND_FONTSIZE / 72
            width, height = max(width, box.width + edge), max(height, box.height + edge)
    return width, height


def arrange(
    fig: Figure,
    rows: Sequence[Sequence[Axes]],
    content: tuple[float, float],
    *,
    colourbar: Axes | None = None,
) -> None:
    """Size ``fig`` and place the panels ``rows`` (top row first) at ``content`` inches each.

    Rows and columns are spaced by the largest decoration of their panels (measured once, see
    the module docstring); the figure title sits on top, a legend made by :func:`legend_below`
    underneath, one made by :func:`legend_right` at the right, and ``colourbar`` (from
    :func:`add_colourbar_axes`) right of the grid at :data:`COLOURBAR_SHRINK` of its height.

    Examples:
        >>> fig = new_figure(1.0, 1.0)
        >>> left, right = fig.subplots(1, 2)
        >>> label = left.set_ylabel("estimate (nats)")
        >>> arrange(fig, [[left, right]], (2.0, 1.5))
        >>> float(round(left.get_position().width * fig.get_figwidth(), 6))  # panels keep size
        2.0
        >>> bool(right.get_position().x0 > left.get_position().x1)  # side by side, apart
        True
    """
    _guess_positions(fig, rows, content)
    renderer = fig.canvas.get_renderer()
    reach = [[_reach(ax, renderer) for ax in row] for row in rows]
    ncols = max(len(r) for r in rows)
    left = [max(m[c].left for m in reach if c < len(m)) for c in range(ncols)]
    right = [max(m[c].right for m in reach if c < len(m)) for c in range(ncols)]
    top = [max(m.top for m in row) for row in reach]
    bottom = [max(m.bottom for m in row) for row in reach]
    title = fig._suptitle
    title_h = _inches(title.get_window_extent(renderer), fig.dpi).height if title else 0.0
    title_w = _inches(title.get_window_extent(renderer), fig.dpi).width if title else 0.0
    below_w, below_h = _legend_size(fig, renderer, BELOW)
    right_w, _ = _legend_size(fig, renderer, RIGHT)
    bar_w, bar_h = _colourbar_size(colourbar, renderer) if colourbar is not None else (0.0, 0.0)

    x_starts, grid_w = _offsets(left, right, content[0])
    y_starts, grid_h = _offsets(top, bottom, content[1])
    head = EDGE_PAD_IN + (title_h + PAD_IN if title_h else 0.0)
    foot = below_h + PAD_IN if below_h else EDGE_PAD_IN
    # A colour bar's label longer than the grid is tall: grow the space around the grid.
    spare = max(0.0, bar_h / COLOURBAR_SHRINK - grid_h) / 2
    head, foot = head + spare, foot + spare
    side = bar_w + (right_w + PAD_IN if right_w else 0.0)
    width = max(
        EDGE_PAD_IN * 2 + grid_w + side, title_w + 2 * EDGE_PAD_IN, below_w + 2 * EDGE_PAD_IN
    )
    # Centre the grid when the title or the legend below is the widest part.
    x0 = EDGE_PAD_IN + max(0.0, (width - 2 * EDGE_PAD_IN - grid_w - side) / 2)
    height = head + grid_h + foot
    fig.set_size_inches(width, height)
    for r, row in enumerate(rows):
        for c, ax in enumerate(row):
            x = x0 + x_starts[c]
            y = height - head - y_starts[r] - content[1]
            ax.set_position((x / width, y / height, content[0] / width, content[1] / height))
    if title is not None:
        title.set_y(1.0 - EDGE_PAD_IN / height)
    if colourbar is not None:
        bar_span = grid_h + 2 * spare
        _place_colourbar(colourbar, x0 + grid_w, height - head + spare, bar_span, (width, height))


def _offsets(
    before: Sequence[float], after: Sequence[float], size: float
) -> tuple[list[float], float]:
    """Start of each panel's box along one direction, and the total extent, given the
    decorations ``before`` and ``after`` each panel."""
    starts, position = [], 0.0
    for index, (lead, trail) in enumerate(zip(before, after, strict=True)):
        position += lead + (PAD_IN if index else 0.0)
        starts.append(position)
        position += size + trail
    return starts, position


def _colourbar_size(bar: Axes, renderer: RendererBase) -> tuple[float, float]:
    """Width of a colour bar with its gap, tick labels and label, and the length of its label
    (inches)."""
    box = bar.yaxis.get_tightbbox(renderer, for_layout_only=True)
    labels = _inches(box, bar.figure.dpi).width if box is not None else 0.0
    label = bar.yaxis.label
    length = _inches(label.get_window_extent(renderer), bar.figure.dpi).height
    return COLOURBAR_GAP_IN + COLOURBAR_WIDTH_IN + labels + PAD_IN, length + 2 * PAD_IN


def _place_colourbar(
    bar: Axes, x_in: float, top_in: float, grid_h: float, size: tuple[float, float]
) -> None:
    height = grid_h * COLOURBAR_SHRINK
    y = top_in - grid_h + (grid_h - height) / 2
    x = x_in + COLOURBAR_GAP_IN
    bar.set_position((x / size[0], y / size[1], COLOURBAR_WIDTH_IN / size[0], height / size[1]))
