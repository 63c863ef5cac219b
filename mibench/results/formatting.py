"""How numbers of the summary are written out: the console tables, the report and the figure
readings share these, so a cell reads the same everywhere (and never as a bare 1e61)."""

from __future__ import annotations

import math

LARGE_VALUE = 1000.0  # values above this switch to 3 significant digits


def number(value: float | None, *, signed: bool = False) -> str:
    """Two decimals for ordinary values, three significant digits for exploding ones; "-" for
    a missing or non-finite value."""
    if value is None or not math.isfinite(value):
        return "-"
    spec = ".2f" if abs(value) < LARGE_VALUE else ".3g"
    return format(value, ("+" if signed else "") + spec)


def share(value: float) -> str:
    """A share as a percentage that never rounds a non-zero share to 0 % or a partial one to 100 %."""
    percent = 100.0 * value
    if 0 < percent < 0.1:
        return "<0.1%"
    if 99.9 < percent < 100:
        return ">99.9%"
    # Whole percents from 10 % on, except just below 100 %, where they would round up to it.
    return f"{percent:.1f}%" if percent < 10 or 99.5 <= percent < 100 else f"{percent:.0f}%"
