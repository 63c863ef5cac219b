"""``mibench.run``: a suite from Python, with your own estimators beside the built-in ones.

The same planner, store, resume and locking rules as ``mibench run`` (it is the same
:func:`mibench.execute.runner.prepare` and :func:`~mibench.execute.runner.execute`): finished
runs in ``out`` are reused, a killed run loses only the runs in flight, two processes on one
results folder share the work. Estimators may be given as names (built-in, entry point,
``package.module:attribute``) or as objects (:class:`~mibench.core.interface.Estimator`,
:class:`~mibench.core.interface.SampleEstimator`, a plain function ``f(x, y) -> float``, an
object with ``estimate(x, y)``; see :mod:`mibench.plan.plugins`).

Progress bars are rich's: live bars in a terminal, and in a Jupyter notebook through
``ipywidgets`` (the ``notebook`` extra); without ``ipywidgets`` a notebook gets no bars and one
line saying so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from mibench.api.results import Results
from mibench.execute import runner
from mibench.plan import suite as suite_schema

NOTEBOOK_NOTE = (
    'progress bars in Jupyter need ipywidgets (pip install "mibench[notebook]"); training '
    "without them"
)


def _estimators(value: Any) -> str | tuple[Any, ...] | None:
    """``estimators=``: None, ``"all"``, a comma-separated string, one object or a list."""
    if value is None:
        return None
    if isinstance(value, str):
        return suite_schema.parse_estimators_option(value)
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("estimators: give at least one estimator (a name or an object)")
        return tuple(value)
    return (value,)


def _tasks(value: Any) -> tuple[Any, ...] | None:
    """``tasks=``: None, the ``--tasks`` text, or a list of names or ``{"name": ..., ...}``."""
    if value is None:
        return None
    if isinstance(value, str):
        return suite_schema.parse_task_option(value)
    if not isinstance(value, list | tuple) or not value:
        raise TypeError(f"tasks must be a string or a non-empty list, got {value!r}")
    if all(isinstance(v, str) for v in value):
        return tuple(value)
    items = [{"name": v} if isinstance(v, str) else v for v in value]
    if not all(isinstance(v, Mapping) for v in items):
        raise TypeError(f"tasks must hold names or {{'name': ...}} mappings, got {value!r}")
    return suite_schema.check_task_entries("tasks", items)


def _seeds(value: Any) -> int | tuple[int, ...] | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        return suite_schema.parse_seeds_option(value)
    return tuple(value)


def _show_progress(console: Console, progress: bool) -> bool:
    """Whether to draw bars: in Jupyter only where ipywidgets is importable (rich needs it)."""
    if progress and console.is_jupyter and importlib.util.find_spec("ipywidgets") is None:
        console.print(NOTEBOOK_NOTE, markup=False)
        return False
    return progress


def run(
    suite: str | Path = suite_schema.DEFAULT_SUITE,
    *,
    estimators: str | Sequence[Any] | Any | None = None,
    tasks: str | Sequence[str | Mapping[str, Any]] | None = None,
    out: str | Path = runner.DEFAULT_OUT,
    steps: int | None = None,
    seeds: int | Sequence[int] | str | None = None,
    batch_sizes: Sequence[int] | None = None,
    device: str | None = None,
    workers: int | None = None,
    force: bool = False,
    figures: bool = True,
    progress: bool = True,
    console: Console | None = None,
) -> Results:
    """Train a suite's pending runs and return its :class:`~mibench.api.results.Results`.

    Args:
        suite: a suite name (``./tasks/NAME.toml`` or a shipped one) or a ``.toml`` path.
        estimators: replaces every grid's list: ``"all"`` (the built-in estimators), names,
            objects, or a mix: ``["infonce", my_bound, my_ksg]``.
        tasks: task names to keep (or add), or task tables replacing every grid's tasks:
            ``[{"name": "gaussian", "dim": 5, "mi": [2, 4]}]`` (or the ``--tasks`` text).
        out: the results root; results go to ``out/<suite name>/``.
        steps: training steps per run (None: the suite's; so for the next three).
        seeds: a count, a list of seeds, or the ``--seeds`` text.
        batch_sizes: batch sizes K.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        workers: Dask workers (None: as ``mibench run``, one per core for large plans).
        force: recompute finished runs.
        figures: draw the figures into ``out/<suite>/figures/`` at the end.
        progress: progress bars (terminal, or Jupyter with ipywidgets).
        console: where bars and notes go (default: standard error).
    Raises:
        ValueError: a bad suite, name, setting or estimator (one line naming it); nothing is
            written.
        TypeError: an argument of the wrong type, or an object that is not an estimator.
    """
    overrides = suite_schema.Overrides(
        estimators=_estimators(estimators),
        tasks=_tasks(tasks),
        steps=steps,
        seeds=_seeds(seeds),
        batch_sizes=None if batch_sizes is None else tuple(batch_sizes),
        device=device,
    )
    prepared = runner.prepare(suite, overrides=overrides, out=out)
    if workers is None:
        workers = runner.default_workers(prepared, force=force)
    console = console or Console(stderr=True)
    figure_hook = None
    if figures:
        from mibench.plots import draw_all

        figure_hook = draw_all
    report = runner.execute(
        prepared,
        force=force,
        console=console,
        show_progress=_show_progress(console, progress),
        figures=figure_hook,
        workers=workers,
    )
    return Results(report.suite_dir, report)
