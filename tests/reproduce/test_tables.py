"""Verdict and differences tables (mibench.reproduce.tables)."""

from __future__ import annotations

from mibench.reproduce import tables
from mibench.reproduce.base import Difference, Verdict


def test_markdown_marks_qualitative_rows_and_escapes_pipes():
    rows = [
        Verdict("a|b", "Fig. 1", "4.16", "4.0", "agrees", kind="numeric"),
        Verdict("c", "§2", "grows", "1 -> 2", "differs"),
    ]
    text = tables.verdict_markdown(rows)
    assert "a\\|b" in text
    assert "| agrees |" in text
    assert "differs (qualitative: the paper gives no number)" in text
    assert text.count("\n") == 3  # header, rule, two rows


def test_differences_render_three_columns():
    text = tables.difference_markdown([Difference("lr", "5e-4", "1e-3")])
    assert text.splitlines()[2] == "| lr | 5e-4 | 1e-3 |"
