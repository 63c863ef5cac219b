"""The report's blocks as Markdown (``report.md``): figures linked, the appendix collapsed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mibench.report.blocks import (
    Block,
    Bullets,
    Code,
    Contents,
    Details,
    FigureBlock,
    Heading,
    Paragraph,
)
from mibench.report.tables import Table


def md_cell(text: str) -> str:
    """A table cell: ``|`` escaped, line breaks as ``<br>``.

    Examples:
        >>> md_cell("a|b\\nc")
        'a\\\\|b<br>c'
    """
    return text.replace("|", "\\|").replace("\n", "<br>")


def markdown_table(table: Table) -> str:
    """The title in italics, a pipe table, then the notes in italics."""
    lines = []
    if table.title:
        lines.append(f"*{table.title}*\n")
    lines.append("| " + " | ".join(md_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines.append("\n" + "  \n".join(f"*{note}*" for note in table.notes))
    return "\n".join(lines)


def _figure(block: FigureBlock, base_dir: str | Path) -> str:
    figure = block.figure
    link = os.path.relpath(figure.path, base_dir).replace(os.sep, "/")
    return f"![{figure.name}]({link})\n\n{figure.what}  \n{figure.reading}"


def _block(block: Block, base_dir: str | Path) -> list[str]:
    if isinstance(block, Heading):
        return [f"{'#' * block.level} {block.text}"]
    if isinstance(block, Paragraph):
        return [block.text]
    if isinstance(block, Bullets):
        return ["\n".join(f"- {item}" for item in block.items)]
    if isinstance(block, Contents):
        return ["**Contents:** " + " · ".join(f"[{h.text}](#{h.anchor})" for h in block.entries)]
    if isinstance(block, Code):
        return [f"```\n{block.text.rstrip()}\n```"]
    if isinstance(block, Table):
        return [markdown_table(block)]
    if isinstance(block, FigureBlock):
        return [_figure(block, base_dir)]
    if isinstance(block, Details):
        # GitHub renders <details> in Markdown; the blank lines keep the inside Markdown.
        return [
            f"## {block.summary}",
            "<details>\n<summary>show (collapsed)</summary>",
            *markdown_blocks(block.blocks, base_dir),
            "</details>",
        ]
    raise TypeError(f"not a report block: {type(block).__name__}")


def markdown_blocks(blocks: Sequence[Block], base_dir: str | Path) -> list[str]:
    """One Markdown chunk per block (joined by blank lines)."""
    return [chunk for block in blocks for chunk in _block(block, base_dir)]


def to_markdown(blocks: Sequence[Block], *, base_dir: str | Path) -> str:
    """Markdown with figures linked relative to ``base_dir`` (the folder of report.md).

    Examples:
        >>> to_markdown([Heading("Findings"), Paragraph("text")], base_dir=".")
        '## Findings\\n\\ntext\\n'
    """
    return "\n\n".join(markdown_blocks(blocks, base_dir)) + "\n"
