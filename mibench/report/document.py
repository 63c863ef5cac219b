"""The suite report: ``results/<suite>/report.md`` and a self-contained ``report.html``.

Both are rendered from one document model (a list of blocks, :mod:`mibench.report.blocks`), so
they always hold the same content, in the order a reader wants it: a table of contents; where
each plug-in estimator stands against the built-in ones (when the suite holds plug-ins:
:mod:`mibench.report.standing`); **Findings** generated from the data
(:mod:`mibench.report.findings`: the best estimator per MI level by robust MSE, where each
estimator saturates at log K or becomes unstable, the claims' verdicts); the headline figure
(the training curves); the summary tables, the same tables the console prints
(:mod:`mibench.report.summary_tables`); the other figures, each with two lines saying what it
plots and what it shows for this suite; the diverged runs and unstable cells; the claims; and,
collapsed in a ``<details>`` appendix, the configuration, the resolved suite, the environment
and every cell of the summary.

Inputs read from ``results/<suite>/`` (nothing is re-trained):

* the runs of the latest invocation (:func:`mibench.results.load_runs`) and their JSON sidecars
  (:mod:`mibench.report.sidecars`): configuration and environment tables; ``suite.json`` (the
  resolved suite) is quoted when present;
* ``summary.parquet`` (optional): the findings, the summary tables and summary figures;
* ``verify.json`` (optional), the output of ``mibench verify --json``
  (:func:`mibench.report.sidecars.load_verify`);
* the result claims, judged on the stored runs by ``mibench.claims.results.judge(suite_dir)``
  (:func:`mibench.report.findings.result_claim_verdicts`);
* ``skipped.json`` (optional): estimator-task pairs the runner skipped, listed as given.

The Markdown links the figures (``figures/<name>.png``); the HTML embeds them as base64 data
URIs, so the one file can be mailed or archived alone. Both files are written atomically with the
results store's writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mibench.plots import draw_figures, load_summary
from mibench.plots.drawing import DrawnFigure
from mibench.report import findings
from mibench.report.appendix import configuration_section, every_cell_section
from mibench.report.blocks import Block, Contents, Details, Heading
from mibench.report.claims_section import claims_section, verdict_bullets
from mibench.report.divergence import divergence_section
from mibench.report.render_html import to_html
from mibench.report.render_markdown import to_markdown
from mibench.report.sections import (
    figures_section,
    findings_section,
    headline,
    overview,
    standing_section,
    summary_section,
)
from mibench.report.sidecars import load_verify, read_sidecars
from mibench.results import load_runs, store

APPENDIX_TITLE = "Appendix: configuration, resolved suite, environment, every summary cell"


def build_report(
    suite_dir: str | Path,
    *,
    runs: pd.DataFrame,
    summary: pd.DataFrame | None,
    drawn: Sequence[DrawnFigure],
    skipped_figures: Sequence[str] = (),
    sidecars: Sequence[Mapping[str, Any]] = (),
    verify: list[dict[str, Any]] | None = None,
    result_verdicts: Sequence[findings.Verdict] | None = None,
) -> list[Block]:
    """The report as a list of blocks (rendered by :func:`to_markdown` and :func:`to_html`):
    overview, contents, findings, training curves, summary tables, the other figures, diverged
    runs and unstable cells, claims, and the collapsed appendix."""
    suite_dir = Path(suite_dir)
    suite = suite_dir.name
    paper = [findings.verdict_of(c) for c in verify] if verify is not None else None
    body: list[Block] = [
        *standing_section(summary),  # plug-in estimators against the built-in ones, first
        *findings_section(summary),
        *verdict_bullets(result_verdicts, paper, suite),
        *headline(drawn),
        *summary_section(summary, suite_dir),
        *figures_section(drawn, skipped_figures),
        *divergence_section(runs, summary),
        *claims_section(verify, result_verdicts, suite),
    ]
    appendix = Details(
        APPENDIX_TITLE,
        [*configuration_section(sidecars, suite_dir), *every_cell_section(summary, suite_dir)],
    )
    entries = [b for b in body if isinstance(b, Heading) and b.level == 2]
    entries.append(Heading(APPENDIX_TITLE))
    return [*overview(suite, runs), Contents(entries), *body, appendix]


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report_files` wrote: the two reports and the figures they show."""

    markdown: Path
    html: Path
    figures: tuple[Path, ...]


def write_report_files(suite_dir: str | Path, *, fmt: str = "png") -> ReportFiles:
    """Draw the figures and write ``report.md`` and ``report.html`` into ``suite_dir``.

    Raises:
        FileNotFoundError: the suite has no ``runs`` folder.
        ValueError: no run files, a frame lacks a needed column, or a malformed sidecar or
            ``verify.json``.
    """
    suite_dir = Path(suite_dir)
    runs = load_runs(suite_dir)
    summary = load_summary(suite_dir)
    sidecars = read_sidecars(suite_dir)
    verify = load_verify(suite_dir)
    verdicts = findings.result_claim_verdicts(suite_dir)
    drawn, skipped = draw_figures(suite_dir, fmt=fmt, runs=runs, summary=summary)
    blocks = build_report(
        suite_dir,
        runs=runs,
        summary=summary,
        drawn=drawn,
        skipped_figures=skipped,
        sidecars=sidecars,
        verify=verify,
        result_verdicts=verdicts,
    )
    markdown = to_markdown(blocks, base_dir=suite_dir)
    page = to_html(blocks, title=f"mibench report — {suite_dir.name}")
    md_path, html_path = store.write_report(suite_dir, markdown, page)
    return ReportFiles(md_path, html_path, tuple(figure.path for figure in drawn))


def write_report(suite_dir: str | Path, *, fmt: str = "png") -> tuple[Path, Path]:
    """:func:`write_report_files`, returning the paths of the Markdown and HTML reports."""
    files = write_report_files(suite_dir, fmt=fmt)
    return files.markdown, files.html
