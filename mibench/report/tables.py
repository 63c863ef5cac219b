"""The one table model: a table as plain data, rendered by the console and by the report.

A :class:`Table` holds text only (every number already written by
:mod:`mibench.results.formatting`): a title, column headers, rows of cells and notes (what a
mark or a cell means). The console (:mod:`mibench.report.console`) fits it to the terminal,
splitting wide tables into blocks of columns that repeat the ``key_columns``; the report renders
it to Markdown (:mod:`mibench.report.render_markdown`) and HTML
(:mod:`mibench.report.render_html`). The builders never produce a rich object, so nothing has to
be read back out of one.

The leading ``key_columns`` name a row: no two rows of a table share them (:meth:`Table.check`
says which do), so every row says what tells it apart from its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """A titled table of text cells.

    Args:
        title: one line saying what the table holds (the setting it belongs to).
        columns: the column headers.
        rows: one sequence of cells per row, as many as ``columns``.
        notes: lines printed under the table (what a mark means, how cells were chosen).
        key_columns: how many leading columns name a row; a split keeps them in every block.
        nowrap: the report keeps each cell on one line (the HTML table scrolls sideways).

    Raises:
        ValueError: a row with a different number of cells than ``columns``, or
            ``key_columns`` outside ``0..len(columns)``.

    Examples:
        >>> table = Table("levels", ["estimator", "I=2"], [["infonce", "+0.10"]])
        >>> table.rows, table.keys()
        ((('infonce', '+0.10'),), [('infonce',)])
    """

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = field(default=())
    key_columns: int = 1
    nowrap: bool = False

    def __post_init__(self) -> None:
        columns = tuple(str(c) for c in self.columns)
        rows = tuple(tuple(str(c) for c in row) for row in self.rows)
        for index, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(
                    f"table {self.title!r}: row {index} has {len(row)} cells, "
                    f"expected {len(columns)} ({', '.join(columns)})"
                )
        if not 0 <= self.key_columns <= len(columns):
            raise ValueError(
                f"table {self.title!r}: key_columns must be in 0..{len(columns)}, "
                f"got {self.key_columns}"
            )
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    def keys(self) -> list[tuple[str, ...]]:
        """Each row's key cells (its leading ``key_columns``)."""
        return [row[: self.key_columns] for row in self.rows]

    def duplicate_keys(self) -> list[tuple[str, ...]]:
        """The keys that more than one row carries (empty when every row is named apart)."""
        seen: set[tuple[str, ...]] = set()
        repeated: list[tuple[str, ...]] = []
        for key in self.keys():
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        return repeated

    def check(self) -> Table:
        """``self``, or ValueError naming the rows whose keys repeat (they would read as one).

        Examples:
            >>> Table("t", ["a", "b"], [["x", "1"], ["x", "2"]]).check()
            Traceback (most recent call last):
            ...
            ValueError: table 't': rows share their key a: x
        """
        repeated = self.duplicate_keys()
        if repeated:
            names = "; ".join(", ".join(key) for key in repeated)
            key_names = ", ".join(self.columns[: self.key_columns])
            raise ValueError(f"table {self.title!r}: rows share their key {key_names}: {names}")
        return self

    def with_columns(self, indices: Sequence[int], *, title: str | None = None) -> Table:
        """The key columns and the columns at ``indices`` (a block of a split table)."""
        chosen = [*range(self.key_columns), *(i for i in indices if i >= self.key_columns)]
        return Table(
            self.title if title is None else title,
            [self.columns[i] for i in chosen],
            [[row[i] for i in chosen] for row in self.rows],
            self.notes,
            key_columns=self.key_columns,
            nowrap=self.nowrap,
        )

    def transposed(self, corner: str = "") -> Table:
        """Rows become columns: the first column's cells become the headers, the headers the
        first column (headed ``corner``); needs one key column.

        Examples:
            >>> Table("t", ["task", "a", "b"], [["x", "1", "2"]]).transposed("column").rows
            (('a', '1'), ('b', '2'))
        """
        if self.key_columns != 1:
            raise ValueError(f"table {self.title!r}: only a table with one key column transposes")
        headers = [corner, *(row[0] for row in self.rows)]
        body = [
            [column, *(row[index] for row in self.rows)]
            for index, column in enumerate(self.columns)
            if index > 0
        ]
        return Table(self.title, headers, body, self.notes, key_columns=1, nowrap=self.nowrap)
