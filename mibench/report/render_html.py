"""The report's blocks as one self-contained HTML5 page (``report.html``): figures inlined."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from mibench.plots.drawing import DrawnFigure
from mibench.report.blocks import (
    Block,
    Bullets,
    Code,
    Contents,
    Details,
    FigureBlock,
    Heading,
    Paragraph,
    slug,
)
from mibench.report.png import MIME, png_size
from mibench.report.tables import Table

HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1500px; margin: 1.2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin: 0.2em 0 0.3em; font-size: 1.6em; }
nav.toc { font-size: 0.9em; margin: 0.4em 0 0.8em; }
nav.toc a { margin-right: 0.9em; white-space: nowrap; }
table { border-collapse: collapse; margin: 0.6em 0 0.4em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-style: italic; padding: 4px 0; }
p.note { font-size: 0.85em; font-style: italic; margin: 0 0 1.2em; }
figure { margin: 0.6em 0 1.6em; }
img { display: block; max-width: 100%; height: auto; border: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
ul.findings { margin: 0.3em 0 0.9em; }
details > summary { cursor: pointer; font-size: 1.25em; font-weight: bold; margin: 1em 0; }
.reading { margin-top: 0.3em; }
.table-wrap { overflow-x: auto; margin-bottom: 1em; }
table.nowrap td { white-space: nowrap; }
"""


def inline_code(escaped: str) -> str:
    """Markdown `code` spans of an already escaped paragraph as <code> elements.

    Examples:
        >>> inline_code("run `mibench verify`")
        'run <code>mibench verify</code>'
    """
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def html_cell(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def html_table(table: Table) -> str:
    """A scrollable table: the title as its caption, the notes under it."""
    esc = html.escape
    table_class = ' class="nowrap"' if table.nowrap else ""
    rows = [f'<div class="table-wrap"><table{table_class}>']
    if table.title:
        rows.append(f"<caption>{esc(table.title)}</caption>")
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    rows.append(f"<thead><tr>{head}</tr></thead><tbody>")
    rows += ["<tr>" + "".join(f"<td>{html_cell(c)}</td>" for c in r) + "</tr>" for r in table.rows]
    rows.append("</tbody></table>")
    rows += [f'<p class="note">{esc(note)}</p>' for note in table.notes]
    return "\n".join([*rows, "</div>"])


def html_figure(figure: DrawnFigure) -> str:
    """The figure as a base64 data URI with its size (the browser lays the page out before
    decoding it; CSS scales it down) and its two lines of reading."""
    esc = html.escape
    raw = figure.path.read_bytes()
    data = base64.b64encode(raw).decode("ascii")
    mime = MIME[figure.path.suffix.lower()]
    size = png_size(raw)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<figure id="figure-{esc(slug(figure.name))}"><img alt="{esc(figure.name)}"{dims} '
        f'src="data:{mime};base64,{data}"><figcaption><p class="reading">{esc(figure.what)}'
        f"<br>{esc(figure.reading)}</p></figcaption></figure>"
    )


def _block(block: Block) -> list[str]:
    esc = html.escape
    if isinstance(block, Heading):
        tag = f"h{block.level}"
        return [f'<{tag} id="{esc(block.anchor)}">{esc(block.text)}</{tag}>']
    if isinstance(block, Paragraph):
        return [f"<p>{inline_code(esc(block.text))}</p>"]
    if isinstance(block, Bullets):
        items = "".join(f"<li>{inline_code(esc(item))}</li>" for item in block.items)
        return [f'<ul class="findings">{items}</ul>']
    if isinstance(block, Contents):
        links = "".join(f'<a href="#{esc(h.anchor)}">{esc(h.text)}</a>' for h in block.entries)
        return [f'<nav class="toc" aria-label="contents"><b>Contents:</b> {links}</nav>']
    if isinstance(block, Code):
        return [f"<pre>{esc(block.text)}</pre>"]
    if isinstance(block, Table):
        return [html_table(block)]
    if isinstance(block, FigureBlock):
        return [html_figure(block.figure)]
    if isinstance(block, Details):
        anchor = f' id="{esc(block.anchor or slug(block.summary))}"'
        return [
            f"<details{anchor}><summary>{esc(block.summary)}</summary>",
            *html_blocks(block.blocks),
            "</details>",
        ]
    raise TypeError(f"not a report block: {type(block).__name__}")


def html_blocks(blocks: Sequence[Block]) -> list[str]:
    """One HTML fragment per block."""
    return [fragment for block in blocks for fragment in _block(block)]


def to_html(blocks: Sequence[Block], *, title: str) -> str:
    """One self-contained HTML5 page: figures inlined as base64 data URIs, no external files."""
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{HTML_STYLE}</style></head><body>",
        *html_blocks(blocks),
        "</body></html>",
    ]
    return "\n".join(out) + "\n"
