"""The one number formatter: the console tables, the report, the readings and the claims."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mibench.results import formatting
from mibench.results.formatting import LARGE_VALUE, number, share, significant, value


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [
        (0.0, False, "0.00"),
        (1.23456, False, "1.23"),
        (-2.005, False, "-2.00"),  # binary 2.005 is 2.00499...: rounds down
        (0.5, True, "+0.50"),
        (-0.5, True, "-0.50"),
        (999.994, False, "999.99"),
        (LARGE_VALUE, False, "1e+03"),  # at the threshold: 3 significant digits
        (12345.0, False, "1.23e+04"),
        (-1e61, False, "-1e+61"),
        (1e61, True, "+1e+61"),
    ],
)
def test_number(value: float, signed: bool, text: str) -> None:
    assert number(value, signed=signed) == text


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf])
def test_number_of_a_missing_or_non_finite_value_is_a_dash(missing: float | None) -> None:
    assert number(missing) == "-"
    assert number(missing, signed=True) == "-"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0%"),
        (0.0004, "<0.1%"),  # non-zero never shows as 0 %
        (0.001, "0.1%"),
        (0.0567, "5.7%"),
        (0.1, "10%"),
        (0.456, "46%"),
        (0.994, "99%"),
        (0.996, "99.6%"),  # whole percents would round a partial share up to 100 %
        (0.999, "99.9%"),
        (0.9994, ">99.9%"),  # partial never shows as 100 %
        (1.0, "100%"),
    ],
)
def test_share(value: float, text: str) -> None:
    assert share(value) == text


def test_no_partial_share_reads_as_none_or_all() -> None:
    for step in range(1, 100_000):
        text = share(step / 100_000)
        assert text not in {"0%", "0.0%", "100%", "100.0%"}, (step, text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.012345, "0.0123"),
        (-0.5, "-0.5"),
        (40.0, "40"),
        (1e-3, "0.001"),  # the lower edge is still plain
        (9.99e-4, "9.99e-04"),  # below it: scientific
        (2e-9, "2.00e-09"),
        (9999.0, "1e+04"),  # .3g rounds it up, still below the switch
        (1e4, "1.00e+04"),
        (123456.0, "1.23e+05"),
        (0.0, "0.0"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
    ],
)
def test_significant(value: float, text: str) -> None:
    assert significant(value) == text


def test_significant_digits() -> None:
    assert significant(3.14159, digits=5) == "3.1416"
    assert significant(3.14159e-7, digits=2) == "3.1e-07"


@pytest.mark.parametrize(
    ("item", "text"),
    [
        (None, "–"),
        (math.nan, "–"),
        (np.float32("nan"), "–"),
        (True, "True"),
        (np.bool_(False), "False"),
        (7, "7"),
        (np.int64(12000), "12000"),
        (12000.0, "12000"),  # integer-valued floats whole, below 1e6
        (2e6, "2.00e+06"),
        (0.123456, "0.123"),
        (1.5e-5, "1.50e-05"),
        ({"b": 1, "a": [1, 2]}, '{"a": [1, 2], "b": 1}'),
        ("text", "text"),
    ],
)
def test_value(item: object, text: str) -> None:
    assert value(item) == text
