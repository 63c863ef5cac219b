"""Colour, marker and line style per estimator: stable across figures, distinct across estimators."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb

from mibench.estimators import registration_order
from mibench.plots.palette import (
    BASE_COLOURS,
    DARKEN,
    LINESTYLES,
    colour_order,
    estimator_colours,
    estimator_linestyles,
    estimator_markers,
    sort_estimators,
)


def test_colour_does_not_depend_on_the_other_names_plotted() -> None:
    everyone = estimator_colours(registration_order())
    for name in registration_order():
        assert estimator_colours([name])[name] == everyone[name]
        assert estimator_colours([name, "not_registered"])[name] == everyone[name]


def test_every_registered_estimator_has_its_own_colour_and_line_style() -> None:
    names = registration_order()
    colours = estimator_colours(names)
    styles = estimator_linestyles(names)
    looks = {(colours[n], styles[n]) for n in names}
    assert len(looks) == len(names)


def test_cycles_follow_the_documented_rule() -> None:
    # Position len(BASE_COLOURS) starts the second cycle: the first base colour, darkened, dashed.
    # Unregistered padding names make sure the order is long enough whatever is registered.
    order = colour_order([f"zz{i:02d}" for i in range(len(BASE_COLOURS) + 1)])
    name = order[len(BASE_COLOURS)]
    expected = tuple(np.asarray(to_rgb(BASE_COLOURS[0])) * DARKEN)
    assert np.allclose(estimator_colours(order)[name], expected)
    assert estimator_linestyles(order)[name] == LINESTYLES[1]
    assert np.allclose(estimator_colours(order)[order[0]], to_rgb(BASE_COLOURS[0]))
    assert estimator_linestyles(order)[order[0]] == LINESTYLES[0]


def test_unregistered_names_follow_the_registry_sorted() -> None:
    order = colour_order(["zeta_unknown", "alpha_unknown"])
    assert order[: len(registration_order())] == registration_order()
    assert order[-2:] == ["alpha_unknown", "zeta_unknown"]


def test_sort_estimators_uses_registration_order() -> None:
    registered = registration_order()
    shuffled = [*reversed(registered[:4]), "unknown_b", "unknown_a"]
    assert sort_estimators(shuffled) == [*registered[:4], "unknown_a", "unknown_b"]


def test_markers_are_stable() -> None:
    names = registration_order()
    assert estimator_markers(names[:1]) == {names[0]: estimator_markers(names)[names[0]]}
