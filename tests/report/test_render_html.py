"""report.html: escaped text, code spans, tables with caption and notes, figures inlined."""

from __future__ import annotations

import re
from pathlib import Path

from mibench.plots.drawing import DrawnFigure
from mibench.report.blocks import FigureBlock, Paragraph
from mibench.report.render_html import to_html
from mibench.report.tables import Table


def test_html_escapes_text_and_renders_code_spans() -> None:
    page = to_html([Paragraph("run `mibench verify` & <b>")], title="a < b")
    assert "<title>a &lt; b</title>" in page
    assert "<p>run <code>mibench verify</code> &amp; &lt;b&gt;</p>" in page


def test_a_table_has_its_title_as_caption_and_its_notes_under_it() -> None:
    page = to_html([Table("t <1>", ["a"], [["x\ny"]], ["a note"], nowrap=True)], title="r")
    assert '<table class="nowrap">' in page
    assert "<caption>t &lt;1&gt;</caption>" in page
    assert "<td>x<br>y</td>" in page
    assert '</table>\n<p class="note">a note</p>\n</div>' in page


def test_a_figure_is_inlined_with_its_pixel_size(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "curves.png"
    Image.new("RGB", (100, 50)).save(path)
    drawn = DrawnFigure(name="curves", path=path, what="what it plots", reading="what it shows")
    page = to_html([FigureBlock(drawn)], title="r")
    assert re.search(r'<img alt="curves" width="100" height="50" src="data:image/png;base64,', page)
    assert "what it plots<br>what it shows" in page
