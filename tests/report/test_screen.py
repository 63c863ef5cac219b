"""The answer screen and the --tables views, rendered at 80 and 160 columns: no line wider than the
terminal, no row a duplicate of another, the screen at most 40 lines at 80 columns, sections in
order (a view can be put first)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from mibench.report import console, findings, screen
from mibench.report.screen import Line, ScreenData, read_screen_data, screen_items, table_items
from mibench.report.tables import Table
from mibench.results import store
from tests.report._suites import handmade_summary, write_staircase_suite

WIDTHS = (80, 160)
SCREEN_LINES_AT_80 = 40
SKIPPED = [{"estimator": "nwj", "task": "labeled", "critic": "separable", "reason": "nwj needs y"}]


def render(width: int, items) -> list[str]:
    terminal = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print_items(terminal, items)
    return terminal.export_text().splitlines()


def repeated_rows(lines: list[str], table: Table) -> list[str]:
    """Printed rows that repeat within one block (lines between two rules, headings or titles:
    rows under different group headings may read alike, the heading tells them apart)."""
    breaks = {table.title, *(row[0] for row in table.rows)}
    repeated, seen = [], set()
    for line in lines:
        if "─" in line or line.split(" (")[0] in breaks or line in breaks or not line.strip():
            seen = set()
            continue
        if line in seen:
            repeated.append(line)
        seen.add(line)
    return repeated


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_staircase_suite(tmp_path_factory.mktemp("results"))
    (folder / store.SKIPPED_FILE).write_text(json.dumps(SKIPPED))
    return folder


def views(data: ScreenData) -> list:
    return [*table_items(data), *screen_items(data)]


def handmade(suite_dir: Path = Path("results/default")) -> ScreenData:
    return ScreenData(suite_dir, handmade_summary(), None, SKIPPED)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("source", ["synthetic suite", "handmade summary"])
def test_every_view_fits_and_names_its_rows_apart(suite: Path, width: int, source: str) -> None:
    data = read_screen_data(suite) if source == "synthetic suite" else handmade()
    items = views(data)
    tables = [item for item in items if isinstance(item, Table)]
    assert len(tables) >= 3
    for table in tables:
        assert table.duplicate_keys() == [], table.title
        lines = render(width, [table])
        assert max(len(line) for line in lines) <= width, table.title
        assert repeated_rows(lines, table) == [], table.title
    lines = render(width, items)
    assert max(len(line) for line in lines) <= width


def test_the_f_micl_and_truth_rows_name_their_base() -> None:
    titles = [item.title for item in table_items(handmade()) if isinstance(item, Table)]
    for kind in ("f-MICL on", "estimate vs truth on"):
        assert [t for t in titles if t.startswith(kind)] == [
            f"{kind} staircase (gaussian)" + (": f-value / true f-MI" if "f-MICL" in kind else ""),
            f"{kind} staircase (cubic)" + (": f-value / true f-MI" if "f-MICL" in kind else ""),
        ]
    assert any(t.endswith("K=64, base=cubic") for t in titles)


@pytest.mark.parametrize("source", ["synthetic suite", "handmade summary"])
def test_the_screen_holds_the_findings_in_at_most_40_lines_at_80_columns(
    suite: Path, source: str
) -> None:
    data = read_screen_data(suite) if source == "synthetic suite" else handmade()
    lines = render(80, screen_items(data))
    assert len(lines) <= SCREEN_LINES_AT_80, "\n".join(lines)
    text = "\n".join(lines)
    assert lines[0].startswith("Best stable estimator per level")
    assert "of " in text and "stable" in text  # "k of n stable"
    assert "saturating at log K or unstable, by family" in text
    assert "contrastive: at log K infonce" in text
    assert "written to" in text


def test_the_screen_lists_the_result_claims_one_line_each(suite: Path) -> None:
    data = read_screen_data(suite)
    assert data.verdicts is not None and len(data.verdicts) >= 5
    lines = render(160, screen.verdict_section(data))
    assert lines[0].startswith("result claims on these runs (")
    judged = [v.claim_id for v in data.verdicts if v.verdict != findings.NOT_APPLICABLE]
    lacking = [v.claim_id for v in data.verdicts if v.verdict == findings.NOT_APPLICABLE]
    assert judged and lacking
    assert [line.split()[1].rstrip(":") for line in lines[1 : 1 + len(judged)]] == judged
    (rest,) = lines[1 + len(judged) :]  # the claims without data: one line, cut to the width
    full = f"  N/A   no data here for: {', '.join(lacking)}"
    assert full.startswith(rest.removesuffix("…")) and len(rest) <= 160


def test_sections_run_in_order_and_a_view_can_come_first(suite: Path) -> None:
    data = read_screen_data(suite)

    def standing(_: ScreenData) -> list:
        return [Table("standing of the plug-ins", ["estimator", "rank"], [["mine", "1 of 9"]])]

    items = screen_items(data, [standing, *screen.SECTIONS])
    assert items[0].title == "standing of the plug-ins"
    assert items[1:] == screen_items(data)


def test_the_written_section_names_what_the_folder_holds(suite: Path, tmp_path: Path) -> None:
    (written,) = [i for i in screen.written_section(read_screen_data(suite)) if "runs/" in i.text]
    assert "summary.parquet" in written.text and "runs/ (32 runs)" in written.text
    items = screen.written_section(read_screen_data(suite))
    assert items[-1].text.startswith("  no report yet: mibench report")
    empty = ScreenData(tmp_path, None, None)
    assert [i.text for i in screen.findings_section(empty)] == [
        f"no summary in {tmp_path}: nothing to rank yet"
    ]


def test_the_run_totals_come_before_where_it_was_written(suite: Path) -> None:
    from mibench.execute.runner import RunReport

    summary = read_screen_data(suite).summary
    report = RunReport(
        suite_dir=suite, n_cells=32, n_trained=30, n_reused=2, run_steps=3000, wall_time_s=2.0,
        summary=summary, skipped=SKIPPED, figures=[], n_by_others=1,
    )  # fmt: skip
    texts = [item.text for item in screen.written_section(read_screen_data(suite, run=report))]
    assert texts[:3] == [
        "1 runs were trained by another mibench run meanwhile",
        "32 runs (30 trained, 2 already finished): 3000 run-steps in 2.0 s, 1500/s",
        f"written to {suite}/",
    ]
    notes = screen.notes_section(read_screen_data(suite, run=report))
    assert [n.text for n in notes] == ["--tables lists 1 skipped combination"]


def test_a_claim_line_is_cropped_not_wrapped() -> None:
    verdict = findings.Verdict("results-a-claim", "s", "FAIL", "evidence " * 20)
    data = ScreenData(Path("x"), None, [verdict])
    (_, line) = screen.verdict_section(data)
    assert isinstance(line, Line) and line.crop
    (printed,) = render(80, [line])
    assert len(printed) == 80 and printed.endswith("…")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_suite_with_a_plug_in_shows_where_it_stands_first(width: int) -> None:
    summary = handmade_summary()
    plug_in = summary[summary["estimator"] == "nwj"].assign(estimator="my_bound")
    data = ScreenData(Path("results/mine"), pd.concat([summary, plug_in], ignore_index=True), None)
    items = screen_items(data)
    first = items[0]
    assert isinstance(first, Table) and first.title.startswith("where the plug-ins stand")
    assert {row[0] for row in first.rows} == {"my_bound"} and first.duplicate_keys() == []
    lines = render(width, items)
    assert max(len(line) for line in lines) <= width
    assert lines[0].startswith("where the plug-ins stand")
    assert screen_items(ScreenData(Path("x"), summary, None))[0].title.startswith("Best stable")
