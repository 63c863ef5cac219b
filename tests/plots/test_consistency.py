"""The self-consistency figure (mibench.plots.consistency) on synthetic digits suites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from mibench.plots import FigureNotApplicableError
from mibench.plots.consistency import self_consistency_figure, self_consistency_reading
from mibench.plots.drawing import FIGURES
from tests.results._consistency_suite import consistency_summary, standard_cells


def test_figure_draws_truth_panels_and_both_ratio_panels(
    tmp_path: Path, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    summary = consistency_summary(tmp_path, standard_cells(data_processing=0.95, additivity=1.7))
    fig = self_consistency_figure(summary)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["digits_label", "digits_pixels"]
    assert titles[2].startswith("data processing: target 1") and titles[3].startswith("additivity")
    # the additivity panel: its ratio points sit near 1.7, the target line at 2
    ratio_axes = fig.axes[3]
    lines = [line.get_ydata() for line in ratio_axes.lines]
    points = np.concatenate([np.asarray(y, float) for y in lines if len(y) == 1])
    assert points == pytest.approx(1.7, abs=0.03)
    assert any(np.allclose(np.asarray(y, float), 2.0) for y in lines if len(y) == 2)
    check_png(fig)
    reading = self_consistency_reading(summary)
    assert "additivity ratios 1.7" in reading and "(target 2)" in reading
    assert reading.startswith("Data processing ratios 0.95")


def test_truth_panels_alone_when_no_test_has_a_plain_partner(
    tmp_path: Path, check_png: Callable[[Figure], tuple[int, int]]
) -> None:
    plain = [c for c in standard_cells() if c.consistency in ("none", "independence")]
    summary = consistency_summary(tmp_path, plain)
    fig = self_consistency_figure(summary)
    assert [ax.get_title() for ax in fig.axes] == ["digits_label", "digits_pixels"]
    check_png(fig)
    assert self_consistency_reading(summary).startswith("Independence estimates")


def test_not_applicable_without_a_consistency_task(summary_frame) -> None:
    with pytest.raises(FigureNotApplicableError, match="consistency"):
        self_consistency_figure(summary_frame)
    assert self_consistency_reading(summary_frame).startswith("No self-consistency test")


def test_listed_in_the_catalogue_on_the_summary(tmp_path: Path) -> None:
    (spec,) = [spec for spec in FIGURES if spec.name == "self_consistency"]
    assert spec.source == "summary" and not spec.per_task
    assert spec.draw is self_consistency_figure and spec.reading is self_consistency_reading
