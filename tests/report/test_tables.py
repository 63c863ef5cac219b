"""The one table model: rows as text, keys that name rows, blocks of columns."""

from __future__ import annotations

import pytest

from mibench.report.tables import Table


def test_cells_become_text_and_rows_keep_their_order() -> None:
    table = Table("t", ["estimator", "I=2"], [["infonce", 1.5], ["nwj", "x"]])
    assert table.rows == (("infonce", "1.5"), ("nwj", "x"))
    assert table.keys() == [("infonce",), ("nwj",)]


def test_a_row_of_the_wrong_length_names_the_row_and_the_columns() -> None:
    with pytest.raises(ValueError, match=r"row 1 has 1 cells, expected 2 \(a, b\)"):
        Table("t", ["a", "b"], [["x", "1"], ["y"]])
    with pytest.raises(ValueError, match=r"key_columns must be in 0\.\.2, got 3"):
        Table("t", ["a", "b"], [], key_columns=3)


def test_check_names_the_rows_that_share_a_key() -> None:
    table = Table("f", ["estimator", "task", "I"], [["kl", "stair", "2"], ["kl", "stair", "2"]])
    assert table.duplicate_keys() == [("kl",)]
    with pytest.raises(ValueError, match="rows share their key estimator: kl"):
        table.check()
    rows = [["kl", "stair (cubic)", "2"], ["kl", "stair (gauss)", "2"]]
    named = Table("f", table.columns, rows, key_columns=2)
    assert named.check() is named


def test_with_columns_keeps_the_key_columns_in_every_block() -> None:
    table = Table("t", ["task", "I", "a", "b", "c"], [["x", "2", "1", "2", "3"]], ["n"], 2)
    block = table.with_columns([3, 4], title="t (2/2)")
    assert block.columns == ("task", "I", "b", "c")
    assert block.rows == (("x", "2", "2", "3"),)
    assert (block.title, block.notes, block.key_columns) == ("t (2/2)", ("n",), 2)
