"""Comparison figures drawn from the tidy results frames (never from re-training).

One function per figure, each ``DataFrame -> matplotlib Figure`` with no file I/O;
:func:`save_figure` writes atomically and :func:`draw_all` draws the whole catalogue
(:data:`FIGURES`) for a suite folder into ``results/<suite>/figures/``. Every estimator keeps one
colour across figures (:mod:`mibench.plots.palette`). No pyplot state is used, so no display or
backend choice is needed.
"""

from __future__ import annotations

from mibench.plots.accuracy import bias_variance, divergence_heatmap, mse_heatmap
from mibench.plots.batch_size import estimate_vs_batch_size
from mibench.plots.curves import ess_curves, training_curves
from mibench.plots.drawing import (
    FIGURES,
    DrawnFigure,
    FigureSpec,
    draw_all,
    draw_figures,
    save_figure,
)
from mibench.plots.palette import estimator_colours
from mibench.results.selection import FigureNotApplicableError, load_summary

__all__ = [
    "FIGURES",
    "DrawnFigure",
    "FigureNotApplicableError",
    "FigureSpec",
    "bias_variance",
    "divergence_heatmap",
    "draw_all",
    "draw_figures",
    "ess_curves",
    "estimate_vs_batch_size",
    "estimator_colours",
    "load_summary",
    "mse_heatmap",
    "save_figure",
    "training_curves",
]
