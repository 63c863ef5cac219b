"""Console output: every table fitted to the terminal, and the screens of ``mibench run`` / ``show``.

:func:`print_table` renders a :class:`~mibench.report.tables.Table` with rich. A table wider than
the terminal (rich's own measurement of its natural width) is split into blocks of columns that
each fit, every block repeating the key columns that name the rows, so no cell is ever wrapped
or cut; ``crop_last`` instead cuts the last column's cells to one line with "…" (the one-line
evidence of ``mibench verify``). Notes print under the table as ordinary text.

:func:`print_report` is what ``mibench run`` prints at the end and :func:`print_show` what
``mibench show DIR`` prints: the answer screen of :mod:`mibench.report.screen`, after the full
per-setting tables when ``tables`` is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from mibench.report.screen import (
    SECTIONS,
    Item,
    Line,
    ScreenData,
    notes_section,
    read_screen_data,
    screen_items,
    table_items,
)
from mibench.report.tables import Table

if TYPE_CHECKING:
    from mibench.execute.runner import RunReport

UNBOUNDED_WIDTH = 10**4  # a measuring width no table reaches: gives a table's natural width
VERDICT_STYLES = {"PASS": "green", "FAIL": "bold red", "N/A": "dim"}  # cells reading exactly so


def to_rich(
    table: Table,
    *,
    crop_last: bool = False,
    show_header: bool = True,
    min_widths: Sequence[int] = (),
) -> RichTable:
    """The rich table of ``table`` (its title is printed apart, at the terminal's width): key
    columns left, the others right-aligned, no wrapping; ``min_widths`` aligns the columns of
    several tables printed one under the other."""
    rich_table = RichTable(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_header=show_header,
        collapse_padding=True,
        pad_edge=False,
        expand=False,
    )
    last = len(table.columns) - 1
    for index, header in enumerate(table.columns):
        cropped = crop_last and index == last
        rich_table.add_column(
            header,
            justify="left" if index < table.key_columns or cropped else "right",
            no_wrap=True,
            overflow="ellipsis" if cropped else "fold",
            min_width=min_widths[index] if index < len(min_widths) else None,
        )
    for row in table.rows:
        # Text, not markup: a cell may hold square brackets.
        rich_table.add_row(*(Text(cell, style=VERDICT_STYLES.get(cell, "")) for cell in row))
    return rich_table


def natural_width(console: Console, table: Table | RichTable) -> int:
    """The width rich would give ``table`` on an unbounded terminal."""
    rich_table = to_rich(table) if isinstance(table, Table) else table
    options = console.options.update_width(UNBOUNDED_WIDTH)
    return console.measure(rich_table, options=options).maximum


def column_widths(table: Table) -> list[int]:
    """Each column's width in terminal cells: its longest cell or header."""
    return [
        max(cell_len(text) for text in (header, *(row[i] for row in table.rows)))
        for i, header in enumerate(table.columns)
    ]


def grouped(table: Table) -> list[tuple[str, Table]]:
    """The rows under a heading per value of the first key column, that column dropped: a table
    whose first key (a task label) is wide prints as a heading per task over narrower rows."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    for row in table.rows:
        groups.setdefault(row[0], []).append(row[1:])
    return [
        (name, Table("", table.columns[1:], rows, key_columns=table.key_columns - 1))
        for name, rows in groups.items()
    ]


def fit_to_width(console: Console, table: Table) -> list[Table]:
    """``[table]`` if it fits ``console.width``, else blocks of its columns that each fit, every
    block with the key columns and a title numbered "(1/3)" (a block of one column is kept
    even where it alone is too wide: nothing narrower exists)."""
    width = console.width
    if natural_width(console, table) <= width or len(table.columns) <= table.key_columns + 1:
        return [table]
    blocks: list[list[int]] = []
    current: list[int] = []
    for index in range(table.key_columns, len(table.columns)):
        trial = [*current, index]
        if current and natural_width(console, table.with_columns(trial)) > width:
            blocks.append(current)
            trial = [index]
        current = trial
    blocks.append(current)
    count = len(blocks)
    return [
        table.with_columns(block, title=f"{table.title} ({number}/{count})")
        for number, block in enumerate(blocks, start=1)
    ]


def _print_grouped(console: Console, table: Table) -> bool:
    """Print ``table`` as :func:`grouped` does, if that fits the terminal; False if it does not
    (or the table has fewer than two key columns)."""
    if table.key_columns < 2:
        return False
    groups = grouped(table)
    widths = column_widths(Table("", table.columns[1:], [r[1:] for r in table.rows]))
    parts = [
        to_rich(part, show_header=i == 0, min_widths=widths) for i, (_, part) in enumerate(groups)
    ]
    if any(natural_width(console, part) > console.width for part in parts):
        return False
    if table.title:
        console.print(Text(table.title, style="bold"))
    for (name, _), part in zip(groups, parts, strict=True):
        console.print(Text(name, style="bold"))
        console.print(part)
    return True


CROP_GAP = 2  # the cells between two columns (collapsed padding and the separator)


def _cropped(console: Console, table: Table) -> RichTable:
    """``table`` with every column but the last at its full width and the last one cut to what
    is left of the terminal (rich would otherwise shrink every column, the first ones too)."""
    rich_table = to_rich(table, crop_last=True)
    others = Table("", table.columns[:-1], [row[:-1] for row in table.rows], key_columns=0)
    left = console.width - natural_width(console, others) - CROP_GAP
    rich_table.columns[-1].max_width = max(left, 1)
    return rich_table


def print_table(console: Console, table: Table, *, crop_last: bool = False) -> None:
    """Print ``table`` fitted to the terminal (module docstring), then its notes."""
    if crop_last:
        rich_table = _cropped(console, table)
        if table.title:
            console.print(Text(table.title, style="bold"))
        console.print(rich_table)
    elif natural_width(console, table) > console.width and _print_grouped(console, table):
        pass
    else:
        for part in fit_to_width(console, table):
            if part.title:
                console.print(Text(part.title, style="bold"))
            console.print(to_rich(part))
    for note in table.notes:
        console.print(Text(note, style="dim"))


def print_line(console: Console, line: Line) -> None:
    """One line; a cropped line is cut to the width with "…", others wrap at spaces."""
    text = Text(line.text, style=line.style)
    if line.crop:
        console.print(text, no_wrap=True, overflow="ellipsis", crop=True)
    else:
        console.print(text)


def print_items(console: Console, items: Iterable[Item]) -> None:
    """Print a screen's items in order: tables fitted, lines as :func:`print_line` prints."""
    for item in items:
        if isinstance(item, Table):
            print_table(console, item)
        else:
            print_line(console, item)


def print_screen(console: Console, data: ScreenData, *, tables: bool = False) -> None:
    """With ``tables`` the full per-setting tables, then the answer screen (whose line pointing
    to the tables is then left out)."""
    if tables:
        print_items(console, table_items(data))
        sections = [section for section in SECTIONS if section is not notes_section]
        print_items(console, screen_items(data, sections))
    else:
        print_items(console, screen_items(data))


def print_report(report: RunReport, console: Console, *, tables: bool = False) -> None:
    """What ``mibench run`` prints at the end: the answer screen (findings, families, claim
    verdicts, totals, where it was written), after the per-setting tables with ``tables``."""
    print_screen(console, read_screen_data(report.suite_dir, run=report), tables=tables)


def print_show(suite_dir: str | Path, console: Console, *, tables: bool = False) -> None:
    """What ``mibench show DIR`` prints: the screen of a finished folder (nothing recomputed)."""
    print_screen(console, read_screen_data(Path(suite_dir)), tables=tables)
