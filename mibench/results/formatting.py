"""How mibench writes numbers: the console tables, the report, the figure readings and the claims'
evidence all format through this module, so a value reads the same everywhere (and never as a
bare 1e61).

Two rules, one per kind of number:

* :func:`number`: a quantity in nats or nats² (a bias, an MSE, an estimate): two decimals, or
  three significant digits from :data:`LARGE_VALUE` on (an exploding readout stays short);
* :func:`significant`: a measured quantity of any scale (a gradient error of 1e-9, a variance
  ratio of 40): three significant digits, scientific outside [1e-3, 1e4).

:func:`share` writes a fraction as a percentage and :func:`value` any table value (integers
whole, floats by :func:`significant`, mappings as JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

LARGE_VALUE = 1000.0  # values above this switch to 3 significant digits
SCIENTIFIC_BELOW = 1e-3  # significant(): smaller magnitudes are written in scientific notation
SCIENTIFIC_FROM = 1e4  # significant(): and so are these or larger ones
WHOLE_BELOW = 1e6  # value(): integer-valued floats below this are written whole ("12000")
MISSING = "–"  # value(): a missing number in a table


def number(value: float | None, *, signed: bool = False) -> str:
    """Two decimals for ordinary values, three significant digits for exploding ones; "-" for
    a missing or non-finite value.

    Examples:
        >>> number(1.23456), number(-0.5, signed=True), number(-4.08e8), number(float("nan"))
        ('1.23', '-0.50', '-4.08e+08', '-')
    """
    if value is None or not math.isfinite(value):
        return "-"
    spec = ".2f" if abs(value) < LARGE_VALUE else ".3g"
    return format(value, ("+" if signed else "") + spec)


def significant(value: float, digits: int = 3) -> str:
    """``digits`` significant digits, scientific below 1e-3 or from 1e4; 0 and non-finite values
    as Python writes them ("0.0", "nan", "inf").

    Examples:
        >>> significant(0.012345), significant(2e-9), significant(40.0), significant(123456.0)
        ('0.0123', '2.00e-09', '40', '1.23e+05')
    """
    if value == 0 or not math.isfinite(value):
        return str(value)
    if SCIENTIFIC_BELOW <= abs(value) < SCIENTIFIC_FROM:
        return f"{value:.{digits}g}"
    return f"{value:.{max(digits - 1, 1)}e}"


def value(item: Any) -> str:
    """A table cell for any value: integers (and integer-valued floats below 1e6) whole, other
    floats by :func:`significant`, a missing number as an en dash, mappings and lists as JSON.

    Examples:
        >>> value(32.0), value(0.123456), value(None), value(float("nan")), value({"a": 1})
        ('32', '0.123', '–', '–', '{"a": 1}')
    """
    if item is None:
        return MISSING
    if isinstance(item, bool | np.bool_):
        return str(bool(item))
    if isinstance(item, int | np.integer):
        return str(int(item))
    if isinstance(item, float | np.floating):
        number_ = float(item)
        if math.isnan(number_):
            return MISSING
        if number_.is_integer() and abs(number_) < WHOLE_BELOW:
            return str(int(number_))
        return significant(number_)
    if isinstance(item, Mapping | list | tuple):
        return json.dumps(item, default=str, sort_keys=True)
    return str(item)


def share(value: float) -> str:
    """A share as a percentage that never rounds a non-zero share to 0 % or a partial one to 100 %.

    Examples:
        >>> share(0.0004), share(0.456), share(0.9994)
        ('<0.1%', '46%', '>99.9%')
    """
    percent = 100.0 * value
    if 0 < percent < 0.1:
        return "<0.1%"
    if 99.9 < percent < 100:
        return ">99.9%"
    # Whole percents from 10 % on, except just below 100 %, where they would round up to it.
    return f"{percent:.1f}%" if percent < 10 or 99.5 <= percent < 100 else f"{percent:.0f}%"
