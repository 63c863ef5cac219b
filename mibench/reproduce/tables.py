"""The verdict and differences tables of a reproduction, as data, Markdown and rich tables.

One model (:func:`verdict_rows`, :func:`difference_rows`: lists of string tuples) is rendered
twice, so the console and ``reproduction.md`` always show the same cells. Every title carries
the budget label ("quick budget" / "full budget").
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from mibench.reproduce.base import Difference, Verdict

VERDICT_HEADER = ("statement", "source", "paper", "ours", "verdict")
DIFFERENCE_HEADER = ("setting", "authors' code", "ours")


def verdict_rows(verdicts: Sequence[Verdict]) -> list[tuple[str, ...]]:
    """One row per verdict; a qualitative verdict says so in its verdict cell.

    Examples:
        >>> from mibench.reproduce.base import Verdict
        >>> verdict_rows([Verdict("s", "Fig. 1", "rises", "0.1 -> 2", "agrees")])[0][-1]
        'agrees (qualitative: the paper gives no number)'
    """
    rows = []
    for v in verdicts:
        shown = v.verdict
        if v.kind == "qualitative" and v.verdict != "n/a":
            shown += " (qualitative: the paper gives no number)"
        rows.append((v.statement, v.source, v.paper, v.ours, shown))
    return rows


def difference_rows(differences: Sequence[Difference]) -> list[tuple[str, ...]]:
    """One row per setting difference: setting, the authors' code, ours."""
    return [(d.setting, d.theirs, d.ours) for d in differences]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped).

    Examples:
        >>> print(markdown_table(("a", "b"), [("1", "x|y")]))
        | a | b |
        |---|---|
        | 1 | x\\|y |
    """
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_escape(str(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rich_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """The same table for the console."""
    table = Table(title=title, show_lines=True)
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def verdict_markdown(verdicts: Sequence[Verdict]) -> str:
    return markdown_table(VERDICT_HEADER, verdict_rows(verdicts))


def difference_markdown(differences: Sequence[Difference]) -> str:
    return markdown_table(DIFFERENCE_HEADER, difference_rows(differences))
