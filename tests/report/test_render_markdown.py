"""report.md: tables with their title and notes, escaped cells, the collapsed appendix."""

from __future__ import annotations

from mibench.report.blocks import Bullets, Code, Contents, Details, Heading, Paragraph
from mibench.report.render_markdown import to_markdown
from mibench.report.tables import Table


def test_markdown_table_rendering() -> None:
    md = to_markdown([Table("cap", ["a", "b"], [["1|2", "x\ny"]])], base_dir=".")
    assert md == "*cap*\n\n| a | b |\n|---|---|\n| 1\\|2 | x<br>y |\n"


def test_notes_follow_the_table_in_italics() -> None:
    md = to_markdown([Table("", ["a"], [["1"]], ["first", "second"])], base_dir=".")
    assert md == "| a |\n|---|\n| 1 |\n\n*first*  \n*second*\n"


def test_blocks_in_order_with_contents_links_and_a_collapsed_appendix() -> None:
    findings = Heading("Findings")
    blocks = [
        Contents([findings]),
        findings,
        Paragraph("text"),
        Bullets(["one", "two"]),
        Details("Appendix", [Code("x = 1\n")]),
    ]
    assert to_markdown(blocks, base_dir=".") == (
        "**Contents:** [Findings](#findings)\n\n## Findings\n\ntext\n\n- one\n- two\n\n"
        "## Appendix\n\n<details>\n<summary>show (collapsed)</summary>\n\n```\nx = 1\n```\n\n"
        "</details>\n"
    )
