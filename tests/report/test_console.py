"""Console rendering: a table wider than the terminal is split into blocks of columns (rich's own
measurement) or grouped under its first key, never wrapped cell by cell; cropped lines end in
"…"; ``print_report``/``print_show`` print the answer screen, after the tables with ``tables``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from mibench.report import console
from mibench.report.screen import Line
from mibench.report.tables import Table
from tests.report._suites import write_staircase_suite

WIDTHS = (80, 160)


def terminal(width: int) -> Console:
    return Console(width=width, record=True, file=io.StringIO(), color_system=None)


def printed(width: int, draw) -> list[str]:
    screen = terminal(width)
    draw(screen)
    return screen.export_text().splitlines()


def wide_table() -> Table:
    """Nine columns of ~30-character cells, each cell different: ~270 characters wide."""
    cell = "+2.41e+11/3.05e+10/5.92e+22"
    rows = [[name, *(f"{cell}{name}{i}" for i in range(8))] for name in ("alpha", "dv", "flatnce")]
    return Table("wide", ["estimator", *(f"I={i}" for i in range(8))], rows, ["a note"])


@pytest.mark.parametrize("width", WIDTHS)
def test_a_wide_table_splits_into_blocks_that_fit_and_keep_every_cell(width: int) -> None:
    table = wide_table()
    blocks = console.fit_to_width(terminal(width), table)
    assert len(blocks) > 1
    assert [b.title for b in blocks][:1] == [f"wide (1/{len(blocks)})"]
    shown = [c for b in blocks for c in b.columns[1:]]
    assert shown == list(table.columns[1:])  # each column once, in order
    assert all(b.columns[0] == "estimator" for b in blocks)  # the key repeated in each
    lines = printed(width, lambda screen: console.print_table(screen, table))
    assert max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    for row in table.rows:
        for cell in row[1:]:
            assert text.count(cell) == 1  # never cut, never wrapped, never repeated
    assert text.count("│") == 0 and lines.count("a note") == 1  # the note once, after all blocks


def test_a_table_that_fits_prints_whole_with_its_title_and_notes() -> None:
    table = Table("levels", ["estimator", "I=2"], [["infonce", "+0.10/0.20/0.05"]], ["n"])
    assert console.fit_to_width(terminal(80), table) == [table]
    lines = printed(80, lambda screen: console.print_table(screen, table))
    assert lines[0] == "levels"
    assert lines[-1] == "n"
    assert any(line.startswith("infonce") and line.endswith("+0.10/0.20/0.05") for line in lines)


def test_a_wide_first_key_becomes_a_heading_per_group() -> None:
    """A table keyed by (task, level) too wide for the terminal prints one heading per task over
    aligned rows, before any block split."""
    task = "a task label that is long enough to matter"
    rows = [[task, f"I={i}", "x" * 20, "y" * 12] for i in (2, 4)] + [["other", "I=2", "z", "w"]]
    table = Table("best", ["task", "level", "best", "runner-up"], rows, key_columns=2)
    lines = printed(60, lambda screen: console.print_table(screen, table))
    assert max(len(line) for line in lines) <= 60
    assert lines[0] == "best" and lines[1] == task
    assert sum(line.startswith("level") for line in lines) == 1  # the header once
    assert lines.index("other") > lines.index(task)
    starts = {line.index("x" * 20) for line in lines if "x" * 20 in line}
    assert len(starts) == 1  # the groups' columns line up


def test_cropped_lines_end_in_an_ellipsis_and_others_wrap_at_spaces() -> None:
    text = "PASS  a-claim: " + " ".join(["evidence"] * 30)
    lines = printed(80, lambda screen: console.print_line(screen, Line(text, crop=True)))
    assert len(lines) == 1 and len(lines[0]) == 80 and lines[0].endswith("…")
    lines = printed(80, lambda screen: console.print_line(screen, Line(text)))
    assert len(lines) > 1 and max(map(len, lines)) <= 80
    assert " ".join(lines).split() == text.split()


def test_cells_are_text_not_markup_and_verdicts_are_coloured() -> None:
    table = Table("claims", ["claim", "verdict"], [["[bold]x[/bold]", "FAIL"]])
    rich_table = console.to_rich(table)
    screen = Console(width=80, record=True, file=io.StringIO(), force_terminal=True)
    screen.print(rich_table)
    text = screen.export_text(styles=True)
    assert "[bold]x[/bold]" in text and re.search(r"\x1b\[1;31m *FAIL", text)


def test_crop_last_cuts_the_last_column_to_fit() -> None:
    rows = [["a-claim", "PASS", "e " * 60], ["another-claim", "N/A", "short"]]
    table = Table("verify", ["claim", "verdict", "evidence"], rows)
    lines = printed(80, lambda screen: console.print_table(screen, table, crop_last=True))
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("a-claim") and line.endswith("…") for line in lines)
    assert any(line.rstrip().endswith("short") for line in lines)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_staircase_suite(tmp_path_factory.mktemp("results"))


@pytest.mark.parametrize("width", WIDTHS)
def test_show_prints_the_screen_and_with_tables_every_table_first(suite: Path, width: int) -> None:
    screen = printed(width, lambda s: console.print_show(suite, s))
    full = printed(width, lambda s: console.print_show(suite, s, tables=True))
    assert max(len(line) for line in full) <= width
    assert screen[0].startswith("Best stable estimator per level")
    assert full[-len(screen) + 1 :] == screen[-len(screen) + 1 :]  # the screen comes last
    assert any(line.startswith("written to") for line in screen[-5:])
    tables_part = "\n".join(full[: len(full) - len(screen)])
    assert "staircase (d=5), separable critic, K=64" in tables_part
    assert "--tables lists" not in "\n".join(full)  # the pointer is left out when they are shown
