"""One colour, marker and line style per estimator, the same in every figure.

The order that fixes them is :func:`mibench.estimators.registration_order` (names found in a
results frame but not registered, e.g. an estimator since removed, follow in sorted order), so an
estimator keeps its style whichever subset of estimators a figure shows.

Twenty-odd estimators cannot all get clearly different hues, so the palette is the nine
saturated tab10 colours (tab10's grey is left out: grey and black are the reference lines) used
five times: plain with solid lines, darkened with dashed lines, lightened with dotted lines,
slightly darkened with dash-dot lines, tinted with densely dashed lines (45 looks).
Line plots use the line style too, so two estimators never look alike.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from matplotlib.colors import to_rgb

from mibench.estimators import registration_order

BASE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#bcbd22", "#17becf",
)  # fmt: skip
DARKEN = 0.55  # second cycle: colour * DARKEN
LIGHTEN = 0.5  # third cycle: colour mixed halfway with white
SHADE = 0.8  # fourth cycle: colour * SHADE
TINT = 0.25  # fifth cycle: colour mixed a quarter with white
LINESTYLES: tuple[str | tuple[int, tuple[int, ...]], ...] = ("-", "--", ":", "-.", (0, (5, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*")

RGB = tuple[float, float, float]


def colour_order(names: Iterable[str] = ()) -> list[str]:
    """Registered estimators in registration order, then any other ``names`` sorted."""
    order = registration_order()
    known = set(order)
    return order + sorted({n for n in names if n not in known})


def _colour(index: int) -> RGB:
    base = np.asarray(to_rgb(BASE_COLOURS[index % len(BASE_COLOURS)]))
    cycle = (index // len(BASE_COLOURS)) % len(LINESTYLES)
    if cycle == 1:
        base = base * DARKEN
    elif cycle == 2:
        base = base + (1.0 - base) * LIGHTEN
    elif cycle == 3:
        base = base * SHADE
    elif cycle == 4:
        base = base + (1.0 - base) * TINT
    r, g, b = (float(v) for v in np.clip(base, 0.0, 1.0))
    return (r, g, b)


def _positions(names: Iterable[str]) -> dict[str, int]:
    names = list(dict.fromkeys(names))
    order = colour_order(names)
    return {n: order.index(n) for n in names}


def estimator_colours(names: Iterable[str]) -> dict[str, RGB]:
    """``{name: rgb}``; a name's colour depends only on its place in :func:`colour_order`,
    never on which other names are plotted."""
    return {n: _colour(i) for n, i in _positions(names).items()}


def estimator_linestyles(names: Iterable[str]) -> dict[str, str | tuple[int, tuple[int, ...]]]:
    """``{name: line style}``: solid, dashed, dotted, dash-dot, densely dashed for the five
    colour cycles."""
    return {
        n: LINESTYLES[(i // len(BASE_COLOURS)) % len(LINESTYLES)]
        for n, i in _positions(names).items()
    }


def estimator_markers(names: Iterable[str]) -> dict[str, str]:
    """``{name: matplotlib marker}``, cycled over :data:`MARKERS` in :func:`colour_order`."""
    return {n: MARKERS[i % len(MARKERS)] for n, i in _positions(names).items()}


def sort_estimators(names: Iterable[str]) -> list[str]:
    """``names`` (deduplicated) in colour order, the order every legend and facet uses."""
    names = set(names)
    return [n for n in colour_order(names) if n in names]
