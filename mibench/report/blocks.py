"""The report's document model: a list of blocks that the Markdown and HTML renderers both read.

A report is built once as blocks (:func:`mibench.report.document.build_report`) and rendered by
:func:`mibench.report.render_markdown.to_markdown` and :func:`mibench.report.render_html.to_html`,
so the two files always hold the same content. Tables are the plain
:class:`~mibench.report.tables.Table` the console prints too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mibench.plots.drawing import DrawnFigure
from mibench.report.tables import Table


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.

    Examples:
        >>> slug("Diverged runs and unstable cells")
        'diverged-runs-and-unstable-cells'
    """
    kept = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return kept.replace(" ", "-")


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2

    @property
    def anchor(self) -> str:
        return slug(self.text)


@dataclass(frozen=True)
class Paragraph:
    """Text; `backticks` mark code spans."""

    text: str


@dataclass(frozen=True)
class FigureBlock:
    figure: DrawnFigure


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Contents:
    """A table of contents: links to the level-2 headings that follow (filled by
    :func:`mibench.report.document.build_report`)."""

    entries: Sequence[Heading] = ()


@dataclass(frozen=True)
class Details:
    """A collapsed section (HTML ``<details>``): ``summary`` is always shown, ``blocks`` on click."""

    summary: str
    blocks: Sequence[Any]
    anchor: str = ""


Block = Heading | Paragraph | Table | FigureBlock | Code | Bullets | Contents | Details
