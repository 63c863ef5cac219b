"""The two point marks of the summary figures, drawn and explained the same way everywhere.

* A value beyond the axis range (a few exploding estimators would otherwise flatten the rest) is
  drawn on the axis edge and *circled*.
* An *unstable* cell (some window readout wild, :mod:`mibench.results.robust`) gets an ``X``: at
  its robust value, or where a figure has none to show (variance, MSE) on the axis edge.

:func:`mark_points` draws both for one estimator's points; :func:`mark_legend` gives the legend
rows of the marks a figure used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

CLIPPED_MARKER = "o"
UNSTABLE_MARKER = "X"
LEGEND_COLOUR = "0.3"
CLIPPED_LABEL = "beyond the axis (drawn at its edge)"
_CLIPPED_STYLE: dict[str, Any] = {"ls": "none", "marker": CLIPPED_MARKER, "ms": 9, "mfc": "none",
                                  "mew": 1.6}  # fmt: skip
_UNSTABLE_STYLE: dict[str, Any] = {"ls": "none", "marker": UNSTABLE_MARKER, "ms": 8,
                                   "mfc": "white", "mew": 1.4}  # fmt: skip


def mark_points(
    ax: Axes,
    x: np.ndarray,
    values: np.ndarray,
    shown: np.ndarray,
    unstable: np.ndarray,
    *,
    colour: Any,
    unstable_y: float | None = None,
) -> tuple[bool, bool]:
    """Circle the points whose finite ``values`` were clipped to ``shown``; put an ``X`` on the
    ``unstable`` ones, at ``unstable_y`` (e.g. the axis top) or else at their shown value.

    The ``X`` is drawn above the lines and outside the clip box, so one on the axis edge stays
    whole. Returns (any point circled, any point crossed), for :func:`mark_legend`.
    """
    values = np.asarray(values, dtype=float)
    shown = np.asarray(shown, dtype=float)
    unstable = np.asarray(unstable, dtype=bool)
    beyond = np.isfinite(values) & (values != shown)
    if beyond.any():
        ax.plot(x[beyond], shown[beyond], mec=colour, **_CLIPPED_STYLE)
    if unstable.any():
        y = shown[unstable] if unstable_y is None else np.full(unstable.sum(), unstable_y)
        ax.plot(x[unstable], y, mec=colour, clip_on=False, zorder=5, **_UNSTABLE_STYLE)
    return bool(beyond.any()), bool(unstable.any())


def mark_legend(
    *, clipped: bool, unstable: bool, unstable_label: str
) -> tuple[list[Line2D], list[str]]:
    """Legend handles and labels of the marks drawn (none for a mark no point got)."""
    handles: list[Line2D] = []
    labels: list[str] = []
    if clipped:
        handles.append(Line2D([], [], mec=LEGEND_COLOUR, **_CLIPPED_STYLE))
        labels.append(CLIPPED_LABEL)
    if unstable:
        handles.append(Line2D([], [], mec=LEGEND_COLOUR, **_UNSTABLE_STYLE))
        labels.append(unstable_label)
    return handles, labels


__all__ = ["CLIPPED_MARKER", "UNSTABLE_MARKER", "mark_legend", "mark_points"]
