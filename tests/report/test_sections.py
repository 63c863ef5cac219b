"""The report's first sections: overview, findings (the console's winner table), training curves
first among the figures, the summary tables as the console prints them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mibench.plots.drawing import DrawnFigure
from mibench.report.blocks import Bullets, FigureBlock, Heading, Paragraph
from mibench.report.findings_views import WINNER_TITLE
from mibench.report.sections import (
    figures_section,
    findings_section,
    headline,
    limit_bullets,
    overview,
    summary_section,
)
from mibench.report.summary_tables import summary_tables
from mibench.report.tables import Table
from tests.plots.synthetic import synthetic_runs
from tests.report._suites import handmade_summary


def test_overview_counts_runs_estimators_and_tasks() -> None:
    runs = synthetic_runs(estimators=("nwj", "infonce"), rng=np.random.default_rng(0),
                          mi_levels=(2.0,), seeds=(0,), n_steps=10, eval_every=5)  # fmt: skip
    title, paragraph = overview("tiny", runs)
    assert title == Heading("mibench report — tiny", level=1)
    assert paragraph.text.startswith("2 runs, 20 logged training steps, 2 estimators (")


def test_findings_hold_the_consoles_winner_table_and_the_limits() -> None:
    summary = handmade_summary()
    blocks = findings_section(summary)
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert table.title == WINNER_TITLE and table.key_columns == 2
    assert table.check() is table
    (bullets,) = [b for b in blocks if isinstance(b, Bullets)]
    assert any(
        item.startswith("staircase (cubic): saturated at log K = 4.16") for item in bullets.items
    )
    assert any("js at 6, 8, 10 nats (wild up to 25%)" in item for item in bullets.items)
    assert findings_section(None)[1] == Paragraph(
        "No `summary.parquet`: the findings need the run summary."
    )


def test_limit_bullets_say_when_nothing_saturates_or_explodes() -> None:
    calm = handmade_summary()
    calm = calm[~calm["estimator"].isin(["infonce", "js"])]
    assert limit_bullets(calm) == [
        "No estimator saturates at log K at any level of this suite.",
        "No cell is unstable: every window readout is within max(10, I) nats.",
    ]


def test_the_training_curves_come_first_and_not_again_among_the_figures() -> None:
    def figure(name: str) -> DrawnFigure:
        return DrawnFigure(name, Path(f"{name}.png"), "what", "reading")

    drawn = [figure("bias_variance"), figure("training_curves_staircase")]
    assert headline(drawn) == [Heading("Training curves"), FigureBlock(drawn[1])]
    blocks = figures_section(drawn, ["estimate_vs_batch_size: skipped (one K)"])
    assert [b for b in blocks if isinstance(b, FigureBlock)] == [FigureBlock(drawn[0])]
    assert blocks[-1] == Paragraph("Not drawn: estimate_vs_batch_size: skipped (one K).")
    assert headline(drawn[:1]) == []


def test_summary_tables_are_the_consoles_kept_on_one_line(tmp_path: Path) -> None:
    summary = handmade_summary()
    tables = [b for b in summary_section(summary, tmp_path) if isinstance(b, Table)]
    console_tables = summary_tables(summary)
    assert [t.rows for t in tables[: len(console_tables)]] == [t.rows for t in console_tables]
    assert all(t.nowrap for t in tables)
    assert any(t.title.startswith("f-MICL on") for t in tables)
    assert summary_section(None, tmp_path)[1] == Paragraph(f"No `summary.parquet` in {tmp_path}.")
