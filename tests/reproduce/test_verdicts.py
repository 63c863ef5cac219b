"""Verdict rows: numeric tolerance, qualitative statements, missing data (mibench.reproduce.verdicts)."""

from __future__ import annotations

import math

import pytest

from mibench.reproduce import verdicts
from mibench.reproduce.base import Verdict


def test_numeric_agrees_within_tolerance_only():
    inside = verdicts.numeric("s", "Fig. 1", paper=4.16, ours=3.7, tolerance=0.5)
    outside = verdicts.numeric("s", "Fig. 1", paper=4.16, ours=3.6, tolerance=0.5)
    missing = verdicts.numeric("s", "Fig. 1", paper=4.16, ours=math.nan, tolerance=0.5)
    assert (inside.verdict, outside.verdict, missing.verdict) == ("agrees", "differs", "n/a")
    assert inside.kind == "numeric" and "±0.50" in inside.ours


def test_qualitative_none_is_not_a_verdict():
    row = verdicts.qualitative("s", "§1", paper="p", ours="o", holds=None)
    assert row.verdict == "n/a" and row.kind == "qualitative"


def test_verdict_values_are_checked():
    with pytest.raises(ValueError, match="verdict"):
        Verdict("s", "src", "p", "o", "maybe")


def test_compare_and_fmt_handle_missing_values():
    assert verdicts.compare(math.inf, 1.0) is None
    assert verdicts.fmt(math.inf) == "inf" and verdicts.fmt(-math.inf) == "-inf"
