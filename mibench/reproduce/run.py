"""``mibench reproduce NAME``: train a paper's setting like any suite, then judge and draw it.

The flow, reusing the runner (nothing of it is duplicated here)::

    Reproduction.build_suite(budget) --runner.prepare--> Plan (validated; nothing written)
      --mibench.plan.cost.expected_seconds--> the expected time, printed before anything starts
      --runner.execute--> runs/, summary.parquet, manifest.json, ... (resume, claims, as `run`)
      --load_readings--> per-step frames labelled with the paper's curve names
      --Reproduction.verdicts / .draw--> reproduction.md, reproduction.json,
                                         figures/<name>.png, and the suite's report.md/html

A rerun skips finished cells (resume by config hash), and two concurrent reruns on one results
folder split the cells between them (the runner's claims).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from mibench.execute import runner
from mibench.plan import cost
from mibench.reproduce.base import Budget, Difference, Readings, Reproduction, Verdict
from mibench.reproduce.registry import get
from mibench.reproduce.tables import (
    DIFFERENCE_HEADER,
    VERDICT_HEADER,
    difference_markdown,
    difference_rows,
    rich_table,
    verdict_markdown,
    verdict_rows,
)
from mibench.results import schema, store

MARKDOWN_NAME = "reproduction.md"
JSON_NAME = "reproduction.json"


@dataclass(frozen=True)
class ReproductionResult:
    """What :func:`reproduce` wrote and judged."""

    name: str
    budget: Budget
    suite_dir: Path
    verdicts: list[Verdict]
    differences: list[Difference]
    figure: Path
    markdown: Path
    expected_s: float
    wall_s: float


def prepare(
    name: str, budget: str | Budget = "quick", *, out: str | Path = runner.DEFAULT_OUT
) -> tuple[Reproduction, Budget, runner.Prepared]:
    """The reproduction, its budget and its validated plan; nothing is written.

    Raises ReproductionError (a bad name or budget) or SuiteError, each one line.
    """
    reproduction = get(name)
    chosen = budget if isinstance(budget, Budget) else reproduction.budget(budget)
    suite = reproduction.build_suite(chosen)
    return reproduction, chosen, runner.prepare(suite, out=out)


def expected_seconds(prepared: runner.Prepared, *, workers: int, force: bool = False) -> float:
    """Expected wall time of the plan's pending cells (:func:`mibench.plan.cost.expected_seconds`)."""
    tasks = prepared.plan.tasks
    pending = runner.pending_configs(prepared, force=force)
    runs = [(c, tasks[c.cell_hash()].dim_x, tasks[c.cell_hash()].dim_y) for c in pending]
    return cost.expected_seconds(runs, workers=workers)


def contention() -> float:
    """How many times slower than idle this machine runs now: the one-minute load average per
    core, at least 1 (1 where the platform has no load average).

    On the 2-core development machine at load averages of 17-20 the quick budgets ran 7-9 times
    longer than the idle-core estimate (club2020 207 s against 23 s, poole2019 27 min against
    3 min), about the load per core.
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1.0
    return max(1.0, load / max(1, os.cpu_count() or 1))


def duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min"`` or ``"3.4 h"``.

    Examples:
        >>> duration(44.6), duration(720), duration(12240)
        ('45 s', '12 min', '3.4 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def load_readings(
    reproduction: Reproduction, prepared: runner.Prepared, *, finished_only: bool = False
) -> Readings:
    """The plan's per-step frames, each row labelled with its paper curve and task names.

    ``finished_only`` reads the runs that have finished so far (a full budget still training:
    its verdicts then judge only those runs, and a missing curve gives ``n/a``).
    """
    run_ids = [c.cell_hash() for c in prepared.plan.configs]
    if finished_only:
        run_ids = [r for r in run_ids if store.is_finished(prepared.suite_dir, r)]
    if not run_ids:
        empty = pd.DataFrame(columns=[schema.RUN_ID, "readout", "label", "task_label"])
        return Readings(train=empty, heldout=empty, summary=pd.DataFrame())
    frame = store.load_runs(prepared.suite_dir, run_ids)
    labels, task_labels = {}, {}
    for run_id in run_ids:
        config = store.read_sidecar(prepared.suite_dir, run_id)["config"]
        labels[run_id] = reproduction.label_run(config)
        task_labels[run_id] = reproduction.label_task(config)
    frame["label"] = frame[schema.RUN_ID].map(labels)
    frame["task_label"] = frame[schema.RUN_ID].map(task_labels)
    summary = store.read_summary(prepared.suite_dir)
    return Readings(
        train=frame[frame["readout"] == "train"].reset_index(drop=True),
        heldout=frame[frame["readout"] == "eval"].reset_index(drop=True),
        summary=summary if summary is not None else pd.DataFrame(),
    )


def render_markdown(
    reproduction: Reproduction,
    budget: Budget,
    verdicts: Sequence[Verdict],
    differences: Sequence[Difference],
    figure_name: str,
) -> str:
    """``reproduction.md``: title (with the budget label), figure, verdicts, differences."""
    lines = [
        f"# {reproduction.title} — {budget.label}",
        "",
        f"{reproduction.summary} Source: {reproduction.source}.",
        "",
        f"![{reproduction.title}](figures/{figure_name})",
        "",
        f"## Verdicts ({budget.label})",
        "",
        verdict_markdown(verdicts),
        "",
        f"## Setting differences from the authors' code ({budget.label})",
        "",
        difference_markdown(differences),
    ]
    if reproduction.notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in reproduction.notes]]
    return "\n".join(lines) + "\n"


def _write_outputs(
    reproduction: Reproduction,
    budget: Budget,
    readings: Readings,
    suite_dir: Path,
) -> tuple[list[Verdict], list[Difference], Path, Path]:
    from mibench.plots.drawing import save_figure

    verdicts = reproduction.verdicts(readings, budget)
    differences = reproduction.differences(budget)
    figure = reproduction.draw(readings, budget)
    figure_path = save_figure(figure, store.figures_dir(suite_dir) / f"{reproduction.name}.png")
    import matplotlib.pyplot as plt

    plt.close(figure)
    markdown = render_markdown(reproduction, budget, verdicts, differences, figure_path.name)
    markdown_path = suite_dir / MARKDOWN_NAME
    store.write_bytes_atomic(markdown_path, markdown.encode())
    record = {
        "name": reproduction.name,
        "budget": dataclasses.asdict(budget),
        "label": budget.label,
        "verdicts": [dataclasses.asdict(v) for v in verdicts],
        "differences": [dataclasses.asdict(d) for d in differences],
        "figure": f"figures/{figure_path.name}",
    }
    store.write_bytes_atomic(suite_dir / JSON_NAME, json.dumps(record, indent=2).encode())
    return verdicts, differences, figure_path, markdown_path


def reproduce(
    name: str,
    budget: str | Budget = "quick",
    *,
    out: str | Path = runner.DEFAULT_OUT,
    force: bool = False,
    workers: int | None = None,
    console: Console | None = None,
    show_progress: bool = True,
    report: bool = True,
) -> ReproductionResult:
    """Train (or resume) a reproduction, then write its verdicts, figure and report.

    Returns what was written; prints the expected time before training starts. ``report``
    also writes the suite's ``report.md``/``report.html`` (:func:`mibench.report.document.write_report`).
    """
    console = console or Console(stderr=True)
    reproduction, chosen, prepared = prepare(name, budget, out=out)
    if workers is None:
        workers = runner.default_workers(prepared, force=force)
    idle = expected_seconds(prepared, workers=workers, force=force)
    slower = contention()
    expected = idle * slower
    n_pending = len(runner.pending_configs(prepared, force=force))
    busy = (
        f"; {duration(idle)} on idle cores, x{slower:.1f} for the current load"
        if slower > 1.2
        else ""
    )
    console.print(
        f"{reproduction.title} ({chosen.label}): {len(prepared.plan.configs)} runs, "
        f"{n_pending} to train; expected time about {duration(expected)} on {workers} "
        f"worker{'s' if workers > 1 else ''}{busy}",
        markup=False,
        soft_wrap=True,
    )
    started = time.perf_counter()
    runner.execute(
        prepared,
        force=force,
        console=console,
        show_progress=show_progress,
        workers=workers,
    )
    readings = load_readings(reproduction, prepared)
    verdicts, differences, figure, markdown = _write_outputs(
        reproduction, chosen, readings, prepared.suite_dir
    )
    if report:
        from mibench.report.document import write_report

        write_report(prepared.suite_dir)
    return ReproductionResult(
        name=reproduction.name,
        budget=chosen,
        suite_dir=prepared.suite_dir,
        verdicts=verdicts,
        differences=differences,
        figure=figure,
        markdown=markdown,
        expected_s=expected,
        wall_s=time.perf_counter() - started,
    )


def print_result(result: ReproductionResult, console: Console) -> None:
    """The verdict and differences tables (titles carry the budget label) and the paths."""
    label = result.budget.label
    console.print(
        rich_table(
            f"{result.name}: verdicts ({label})", VERDICT_HEADER, verdict_rows(result.verdicts)
        )
    )
    console.print(
        rich_table(
            f"{result.name}: setting differences ({label})",
            DIFFERENCE_HEADER,
            difference_rows(result.differences),
        )
    )
    console.print(
        f"figure: {result.figure}\nverdicts: {result.markdown}\n"
        f"trained in {duration(result.wall_s)} (expected {duration(result.expected_s)})",
        markup=False,
        soft_wrap=True,
    )
