"""The answer screen: what ``mibench run`` prints last and ``mibench show DIR`` reprints.

The screen is a list of sections (:data:`SECTIONS`), each a function of the finished folder's
:class:`ScreenData` returning items (a :class:`~mibench.report.tables.Table` or a
:class:`Line`), printed in order by :func:`mibench.report.console.print_items`:

1. where each plug-in estimator stands against the built-in ones, when the suite holds plug-ins
   (:func:`mibench.report.standing.standing_table`);
2. the findings (:func:`mibench.report.findings_views.winner_table`): per task and level the best
   stable estimator, its robust MSE and median bias, the runner-up, "k of n stable";
3. one line per estimator family that saturates at log K or turns unstable;
4. the result claims judged on the suite's own runs, one line each;
5. what was skipped or diverged (one line, the details with ``--tables``) and each failed
   plug-in cell with its reason;
6. the run's totals (after a run) and where everything was written.

Everything is read from the folder (``summary.parquet``, ``skipped.json``, the report and the
figures on disk) or from the run just finished, so ``mibench show`` prints the same screen
without recomputing anything. A section that has nothing to say returns no items; a view that
must come first is a function put at the head of the list, as the plug-in ranking is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mibench.report import findings
from mibench.report.findings_views import family_lines, verdict_line, winner_table
from mibench.report.tables import Table
from mibench.results import store

if TYPE_CHECKING:
    from mibench.execute.runner import RunReport


@dataclass(frozen=True)
class Line:
    """One line of text; ``crop`` cuts it to the terminal width (with "…") instead of wrapping
    it, for lines whose end is detail (a claim's evidence); paths are never cropped."""

    text: str
    crop: bool = False
    style: str = ""


Item = Table | Line


@dataclass(frozen=True)
class ScreenData:
    """What the screen reads: a finished folder and, right after ``mibench run``, its report."""

    suite_dir: Path
    summary: pd.DataFrame | None
    verdicts: Sequence[findings.Verdict] | None
    skipped: Sequence[dict[str, str]] = ()
    run: RunReport | None = None


def read_screen_data(suite_dir: str | Path, run: RunReport | None = None) -> ScreenData:
    """The folder's summary, its result-claim verdicts and skipped list (no training)."""
    from mibench.results.selection import load_summary

    suite_dir = Path(suite_dir)
    summary = run.summary if run is not None else load_summary(suite_dir)
    has_rows = summary is not None and not summary.empty
    verdicts = findings.result_claim_verdicts(suite_dir) if has_rows else None
    skipped = run.skipped if run is not None else (store.read_skipped(suite_dir) or [])
    return ScreenData(suite_dir, summary, verdicts, skipped, run)


def standing_section(data: ScreenData) -> list[Item]:
    """Where each plug-in estimator ranks against the built-in ones (nothing without plug-ins)."""
    from mibench.report.standing import standing_table

    if data.summary is None or data.summary.empty:
        return []
    table = standing_table(data.summary)
    return [table] if table is not None else []


def findings_section(data: ScreenData) -> list[Item]:
    """The best stable estimator per task and level."""
    if data.summary is None or data.summary.empty:
        return [Line(f"no summary in {data.suite_dir}: nothing to rank yet")]
    winners = findings.best_per_level(data.summary)
    return [winner_table(winners)] if winners else []


def family_section(data: ScreenData) -> list[Item]:
    """One line per estimator family that saturates at log K or turns unstable."""
    if data.summary is None or data.summary.empty:
        return []
    lines = family_lines(findings.saturation(data.summary), findings.instability(data.summary))
    if not lines:
        return [Line("no estimator saturates at log K or turns unstable")]
    return [Line("saturating at log K or unstable, by family (MI levels I):", style="bold")] + [
        Line(f"  {line}") for line in lines
    ]


def verdict_section(data: ScreenData) -> list[Item]:
    """The result claims judged on this suite's runs: one line per PASS or FAIL (evidence
    cropped), then one line naming those the suite has no data for."""
    if not data.verdicts:
        return []
    counts = findings.verdict_counts(data.verdicts)
    tally = ", ".join(f"{n} {k}" for k, n in counts.items())
    judged = [v for v in data.verdicts if v.verdict != findings.NOT_APPLICABLE]
    lacking = [v.claim_id for v in data.verdicts if v.verdict == findings.NOT_APPLICABLE]
    items: list[Item] = [Line(f"result claims on these runs ({tally}):", style="bold")]
    items += [Line(f"  {verdict_line(v)}", crop=True) for v in judged]
    if lacking:
        items.append(Line(f"  N/A   no data here for: {', '.join(lacking)}", crop=True))
    return items


def notes_section(data: ScreenData) -> list[Item]:
    """How many combinations were skipped and how many cells have diverged seeds (one line)."""
    from mibench.report.summary_tables import diverged_lines

    said = []
    if data.skipped:
        said.append(_count(len(data.skipped), "skipped combination"))
    if data.summary is not None and not data.summary.empty:
        n_diverged = len(diverged_lines(data.summary))
        if n_diverged:
            said.append(
                f"{n_diverged} {'cell' if n_diverged == 1 else 'cells'} with diverged seeds"
            )
    return [Line(f"--tables lists {' and '.join(said)}")] if said else []


def failed_section(data: ScreenData) -> list[Item]:
    """One line per cell with failed (plug-in) runs, and why."""
    from mibench.report.failed import failed_lines

    if data.summary is None or data.summary.empty:
        return []
    return [Line(line) for line in failed_lines(data.summary)]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def written_section(data: ScreenData) -> list[Item]:
    """The run's totals (after a run) and where the results, figures and report are."""
    items: list[Item] = []
    run = data.run
    if run is not None:
        if run.n_by_others:
            items.append(
                Line(f"{run.n_by_others} runs were trained by another mibench run meanwhile")
            )
        items.append(
            Line(
                f"{run.n_cells} runs ({run.n_trained} trained, {run.n_reused} already finished): "
                f"{run.run_steps} run-steps in {run.wall_time_s:.1f} s, "
                f"{run.run_steps_per_s:.0f}/s"
            )
        )
    items.append(Line(f"written to {data.suite_dir}/"))
    items.append(Line("  " + "  ".join(written_parts(data.suite_dir))))
    if not store.report_paths(data.suite_dir)[1].is_file():
        items.append(Line(f"  no report yet: mibench report {data.suite_dir} writes it"))
    return items


def written_parts(suite_dir: Path) -> list[str]:
    """What the folder holds, by name: report, figures, summary, runs."""
    markdown, page = store.report_paths(suite_dir)
    figures = store.figures_dir(suite_dir)
    n_figures = sum(1 for p in figures.iterdir() if p.is_file()) if figures.is_dir() else 0
    n_runs = len(list(store.runs_dir(suite_dir).glob("*.parquet")))
    parts = [path.name for path in (page, markdown) if path.is_file()]
    parts += [f"{figures.name}/ ({n_figures})"] if n_figures else []
    parts += [store.summary_path(suite_dir).name] if store.has_summary(suite_dir) else []
    return [*parts, f"{store.RUNS_DIR}/ ({n_runs} runs)"]


Section = Callable[[ScreenData], list[Item]]
SECTIONS: list[Section] = [
    standing_section,
    findings_section,
    family_section,
    verdict_section,
    notes_section,
    failed_section,
    written_section,
]


def screen_items(data: ScreenData, sections: Sequence[Section] | None = None) -> list[Item]:
    """The items of every section in order (:data:`SECTIONS` unless ``sections`` is given)."""
    return [
        item for section in (SECTIONS if sections is None else sections) for item in section(data)
    ]


def table_items(data: ScreenData) -> list[Item]:
    """The full per-setting tables (``--tables``): the legend, bias/std/MSE per setting, f-MICL,
    estimate vs truth, the sandwich, then the skipped combinations and diverged cells."""
    from mibench.report import summary_tables as views

    summary = data.summary
    items: list[Item] = []
    if summary is not None and not summary.empty:
        tables = views.summary_tables(summary)
        if tables:
            items.append(Line(views.SUMMARY_LEGEND))
        items += tables
        items += views.f_value_tables(summary)
        items += views.truth_tables(summary)
        sandwich = views.sandwich_table(summary)
        items += [sandwich] if sandwich is not None else []
    if data.skipped:
        items.append(
            Line(
                f"skipped {len(data.skipped)} estimator-task-critic combinations that do not "
                f"apply (listed in {store.skipped_path(data.suite_dir)}):"
            )
        )
        items += [Line(f"  {line}") for line in views.skipped_lines(data.skipped)]
    if summary is not None and not summary.empty:
        items += [Line(line) for line in views.diverged_lines(summary)]
    return items
