"""The figure catalogue, atomic saving and :func:`draw_all`.

Every figure is a :class:`FigureSpec`: a plot function (DataFrame -> Figure, no I/O), the frame
it reads (``runs`` or ``summary``), whether it is drawn once per task, and the two lines the report
prints under it (a fixed sentence saying what is plotted, and a reading of this suite's numbers).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
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
    reused: bool = False  # kept from an earlier draw (newer than the summary), not redrawn


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


@dataclass(frozen=True)
class _Job:
    """One figure file to write: the spec, the rows it shows, and where it goes."""

    spec: FigureSpec
    part: pd.DataFrame | None  # None: the frame the figure reads is absent (see ``missing``)
    path: Path
    reuse: bool = False  # the file is newer than the summary: keep it, compute the reading
    missing: str = ""  # why there is no frame, when ``part`` is None


def _jobs(
    frames: dict[str, pd.DataFrame | None], suite_dir: Path, fmt: str, fresh_after: int | None
) -> list[_Job]:
    """The figure files of the catalogue for these frames, in catalogue order.

    ``fresh_after``: a file modified after this time (ns) is reused; None redraws every file.
    """
    out_dir = store.figures_dir(suite_dir)
    jobs: list[_Job] = []
    for spec in FIGURES:
        frame = frames[spec.source]
        if frame is None:
            missing = f"{store.summary_path(suite_dir)} not found"
            jobs.append(_Job(spec, None, out_dir / f"{spec.name}.{fmt}", missing=missing))
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
            path = out_dir / f"{_file_stem(spec, task)}.{fmt}"
            reuse = fresh_after is not None and path.is_file()
            reuse = reuse and path.stat().st_mtime_ns > fresh_after  # type: ignore[operator]
            jobs.append(_Job(spec, part, path, reuse))
    return jobs


def _run_job(job: _Job) -> DrawnFigure | str:
    """Draw and save one figure (or reuse its file); a note when the figure does not apply."""
    stem = job.path.stem
    if job.part is None:
        return f"{stem}: skipped, {job.missing}"
    if not job.reuse:
        try:
            fig = job.spec.draw(job.part)
        except FigureNotApplicableError as error:
            return f"{stem}: skipped, {error}"
        save_figure(fig, job.path)
    reading = job.spec.reading(job.part)
    return DrawnFigure(stem, job.path, job.spec.what, reading, reused=job.reuse)


# The jobs of the draw in progress: forked workers inherit them instead of receiving a pickle.
_FORKED_JOBS: list[_Job] = []


def _run_forked_job(index: int) -> DrawnFigure | str:
    return _run_job(_FORKED_JOBS[index])


def default_workers(n_jobs: int) -> int:
    """Processes drawing figures: one per CPU this process may use, at most one per figure, and
    1 (this process) where ``fork`` is not the safe way to start them (only Linux here)."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), n_jobs))


def _run_jobs(jobs: Sequence[_Job], workers: int) -> list[DrawnFigure | str]:
    """Results of ``jobs`` in their order, drawn by ``workers`` forked processes (1: here).

    Forked workers share the parent's frames (copy-on-write: nothing is pickled but the
    results); a figure function's error is raised here as it would be in one process.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [_run_job(job) for job in jobs]
    global _FORKED_JOBS
    _FORKED_JOBS = list(jobs)
    # The dearest figures first (the per-step curves), so the last one to start is a cheap one.
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i].reuse, jobs[i].spec.source != "runs"))
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {i: pool.submit(_run_forked_job, i) for i in order}
            return [futures[i].result() for i in range(len(jobs))]
    finally:
        _FORKED_JOBS = []


def draw_figures(
    suite_dir: str | Path,
    *,
    fmt: str = "png",
    runs: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
    reuse: bool = False,
    workers: int | None = None,
) -> tuple[list[DrawnFigure], list[str]]:
    """Draw every applicable figure of a suite into ``suite_dir/figures``.

    ``runs``/``summary`` default to the suite's files. With ``reuse``, a figure file modified
    after ``summary.parquet`` (so drawn from the same results) is kept and only its reading is
    computed (``DrawnFigure.reused``); stale or missing files are drawn. Figures are drawn by
    ``workers`` processes (default :func:`default_workers`; 1 draws them in this process).
    Returns the drawn figures and one note per figure skipped (does not apply to this data, or
    ``summary.parquet`` is absent).

    Raises:
        ValueError: bad ``fmt``, no run files, or a frame lacks a column a figure needs.
        FileNotFoundError: the suite has no ``runs`` folder.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unsupported figure format {fmt!r}; valid: {', '.join(FORMATS)}")
    suite_dir = Path(suite_dir)
    runs = load_runs(suite_dir) if runs is None else runs
    summary = load_summary(suite_dir) if summary is None else summary
    summary_file = store.summary_path(suite_dir)
    fresh_after = summary_file.stat().st_mtime_ns if reuse and summary_file.is_file() else None
    jobs = _jobs({"runs": runs, "summary": summary}, suite_dir, fmt, fresh_after)
    drawable = sum(job.part is not None and not job.reuse for job in jobs)
    results = _run_jobs(jobs, default_workers(drawable) if workers is None else workers)
    drawn = [r for r in results if isinstance(r, DrawnFigure)]
    skipped = [r for r in results if isinstance(r, str)]
    for note in skipped:
        logger.info(note)
    return drawn, skipped


def reuse_note(drawn: Sequence[DrawnFigure]) -> str | None:
    """One line on the figures :func:`draw_figures` kept (``reuse``), or None when none was.

    Examples:
        >>> kept = DrawnFigure("mse_heatmap", Path("mse_heatmap.png"), "", "", reused=True)
        >>> drawn = DrawnFigure("divergence", Path("divergence.png"), "", "")
        >>> reuse_note([kept, drawn])
        'reused 1 figure newer than summary.parquet (--redraw draws them again); drew 1'
        >>> reuse_note([drawn]) is None
        True
    """
    kept = [figure for figure in drawn if figure.reused]
    if not kept:
        return None
    redrawn = len(drawn) - len(kept)
    return (
        f"reused {len(kept)} figure{'s' if len(kept) > 1 else ''} newer than "
        f"{store.SUMMARY_FILE} (--redraw draws them again)"
        + (f"; drew {redrawn}" if redrawn else "")
    )


def draw_all(suite_dir: str | Path, *, fmt: str = "png") -> list[Path]:
    """Draw every figure that applies to ``results/<suite>`` and return the written paths.

    Figures that do not apply (one batch size, no ``summary.parquet``) are skipped with a logged
    note. Raises as :func:`draw_figures`.
    """
    drawn, _ = draw_figures(suite_dir, fmt=fmt)
    return [figure.path for figure in drawn]
