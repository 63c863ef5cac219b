"""The figure catalogue, atomic saving and :func:`draw_all`.

Every figure is a :class:`FigureSpec`: a plot function (DataFrame -> Figure, no I/O), the frame
it reads (``runs`` or ``summary``), whether it is drawn once per task, and the two lines the report
prints under it (a fixed sentence saying what is plotted, and a reading of this suite's numbers).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from matplotlib.figure import Figure

from mibench.plots import readings
from mibench.plots.accuracy import bias_variance, divergence_heatmap, mse_heatmap
from mibench.plots.batch_size import estimate_vs_batch_size
from mibench.plots.brackets import sandwich_figure, sandwich_reading
from mibench.plots.consistency import self_consistency_figure, self_consistency_reading
from mibench.plots.curves import ess_curves, training_curves
from mibench.plots.standing import standing_curves, standing_reading
from mibench.results import load_runs, schema, store, tempfiles
from mibench.results.selection import FigureNotApplicableError, label_tasks, load_summary

logger = logging.getLogger(__name__)

FORMATS = ("png", "svg")
DPI = 120  # a 5-column facet figure comes out about 1900 px wide


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the catalogue (see the module docstring)."""

    name: str
    source: Literal["runs", "summary"]
    draw: Callable[[pd.DataFrame], Figure]
    what: str
    reading: Callable[[pd.DataFrame], str]
    per_task: bool = False


@dataclass(frozen=True)
class DrawnFigure:
    """A figure written to ``path``, with the two report lines about it."""

    name: str
    path: Path
    what: str
    reading: str


UNSTABLE_NOTE = (
    f"Unstable cells (a window readout off by more than max({schema.WILD_NATS:g}, I) nats) are "
    "never drawn at their exploded mean"
)

FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        name="training_curves",
        source="runs",
        draw=training_curves,
        what=(
            "Estimate vs training step per estimator: each seed a thin line of step-bin medians, "
            "the median over seeds bold (medians, so one exploding batch cannot decide a bin), "
            "held-out estimates (on the larger eval batch) as circles; black = true MI, dashed = "
            "log K of the training batch; shaded = each level's evaluation window (the steps the "
            "tables read), fixed-MI levels light to dark; '(clipped)' marks panels with values "
            "beyond the shared y-range, drawn along its edge (Poole et al. 2019 Fig. 2, FlatNCE "
            "Fig. 1)."
        ),
        reading=readings.training_curves_reading,
        per_task=True,
    ),
    FigureSpec(
        name="ess",
        source="runs",
        draw=ess_curves,
        what=(
            "Effective sample size of the negatives (FlatNCE Eq. (4), in [1/n, 1]) over training, "
            "one line per MI level, light to dark as MI grows (FlatNCE Fig. 6)."
        ),
        reading=readings.ess_reading,
        per_task=True,
    ),
    FigureSpec(
        name="bias_variance",
        source="summary",
        draw=bias_variance,
        what=(
            "Bias, variance (log scale) and MSE (log scale) over the evaluation window against "
            f"the true MI, one line per estimator: the bias-variance trade-off. {UNSTABLE_NOTE}: "
            "X marks their median bias, and their variance and MSE sit on the top edge."
        ),
        reading=readings.bias_variance_reading,
    ),
    FigureSpec(
        name="mse_heatmap",
        source="summary",
        draw=mse_heatmap,
        what=(
            "MSE per estimator and task/MI level (log colour scale; grey = no finite value; "
            "hatched = unstable, with the share of wild readouts written in)."
        ),
        reading=readings.mse_reading,
    ),
    FigureSpec(
        name="estimate_vs_batch_size",
        source="summary",
        draw=estimate_vs_batch_size,
        what=(
            "Mean estimate (± std) against batch size K with the log K ceiling dashed and the "
            f"true MI solid. {UNSTABLE_NOTE}: X marks their median estimate."
        ),
        reading=readings.batch_size_reading,
    ),
    FigureSpec(
        name="divergence",
        source="summary",
        draw=divergence_heatmap,
        what="Runs that hit NaN/Inf, as diverged/total per estimator and task/MI level.",
        reading=readings.divergence_reading,
    ),
    FigureSpec(  # hook: mibench.plots.brackets (suites with lower and upper bounds)
        name="sandwich",
        source="summary",
        draw=sandwich_figure,
        what="[best lower bound, best upper bound] per level against the true MI (black).",
        reading=sandwich_reading,
    ),
    FigureSpec(  # hook: mibench.plots.consistency (tasks with a consistency parameter: digits)
        name="self_consistency",
        source="summary",
        draw=self_consistency_figure,
        what=(
            "Song & Ermon's (2020, §6) self-consistency tests: each cell's estimate against its "
            "exact truth (one panel per task; marker = test: plain, independence at 0, data "
            "processing at I, additivity at 2I; black = the truth, dashed = log K), then the "
            "data processing ratio Î([X, h(X)]; Y) / Î(X; Y) (target 1) and the additivity "
            "ratio (target 2) per estimator, ±10 % of the target shaded; error bars: standard "
            "errors over seeds."
        ),
        reading=self_consistency_reading,
    ),
    FigureSpec(  # hook: mibench.plots.standing (suites with plug-in estimators)
        name="standing",
        source="runs",
        draw=standing_curves,
        what=(
            "Each plug-in estimator's median estimate over training (markers: one estimate per "
            "level of a sample estimator) over the grey band from the lowest to the highest "
            "median curve of the built-in estimators; black = true MI."
        ),
        reading=standing_reading,
    ),
)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` atomically (:func:`mibench.results.store.write_atomic`).

    The format comes from the suffix (``.png`` or ``.svg``); a reader never sees a half-written
    file, and a failed write leaves no temp file behind. SVGs carry no date, so redrawing the same
    data gives the same bytes.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unsupported figure format {fmt!r}; valid: {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Date": None} if fmt == "svg" else None
    return store.write_atomic(
        path,
        lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata),
        suffix=tempfiles.TMP_SUFFIX,
    )


def _file_stem(spec: FigureSpec, task: str | None) -> str:
    if task is None:
        return spec.name
    # "staircase (cubic)" -> "staircase_cubic": runs of other characters become one "_".
    safe = re.sub(r"[^A-Za-z0-9-]+", "_", task).strip("_")
    return f"{spec.name}_{safe}"


def draw_figures(
    suite_dir: str | Path,
    *,
    fmt: str = "png",
    runs: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
) -> tuple[list[DrawnFigure], list[str]]:
    """Draw every applicable figure of a suite into ``suite_dir/figures``.

    ``runs``/``summary`` default to the suite's files. Returns the drawn figures and one note per
    figure skipped (does not apply to this data, or ``summary.parquet`` is absent).

    Raises:
        ValueError: bad ``fmt``, no run files, or a frame lacks a column a figure needs.
        FileNotFoundError: the suite has no ``runs`` folder.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unsupported figure format {fmt!r}; valid: {', '.join(FORMATS)}")
    suite_dir = Path(suite_dir)
    runs = load_runs(suite_dir) if runs is None else runs
    summary = load_summary(suite_dir) if summary is None else summary
    out_dir = store.figures_dir(suite_dir)
    drawn: list[DrawnFigure] = []
    skipped: list[str] = []
    for spec in FIGURES:
        frame = runs if spec.source == "runs" else summary
        if frame is None:
            skipped.append(f"{spec.name}: skipped, {store.summary_path(suite_dir)} not found")
            logger.info(skipped[-1])
            continue
        if spec.per_task and schema.TASK in frame.columns:
            # One figure per task instance: two staircases on different bases are two figures.
            labelled = label_tasks(frame)
            parts = [
                (str(t), f) for t, f in labelled.groupby(schema.TASK, observed=True, sort=True)
            ]
        else:
            parts = [(None, frame)]
        for task, part in parts:
            stem = _file_stem(spec, task)
            try:
                fig = spec.draw(part)
            except FigureNotApplicableError as error:
                skipped.append(f"{stem}: skipped, {error}")
                logger.info(skipped[-1])
                continue
            path = save_figure(fig, out_dir / f"{stem}.{fmt}")
            drawn.append(DrawnFigure(stem, path, spec.what, spec.reading(part)))
    return drawn, skipped


def draw_all(suite_dir: str | Path, *, fmt: str = "png") -> list[Path]:
    """Draw every figure that applies to ``results/<suite>`` and return the written paths.

    Figures that do not apply (one batch size, no ``summary.parquet``) are skipped with a logged
    note. Raises as :func:`draw_figures`.
    """
    drawn, _ = draw_figures(suite_dir, fmt=fmt)
    return [figure.path for figure in drawn]
