"""Building verdict rows: a paper's number against ours, or a paper's statement checked on ours.

A numeric verdict agrees when ours lies within a stated tolerance of the paper's number (the
tolerance is part of the row's text, so a reader sees what "agrees" meant). A qualitative verdict
is for a statement the paper makes without a number (a direction, an ordering, a shape); it
agrees when ours shows it, and the row says the verdict is qualitative. Missing data (a cell the
budget did not train, every readout non-finite) gives ``n/a``, never a verdict.
"""

from __future__ import annotations

import math

import pandas as pd

from mibench.reproduce.base import AGREES, DIFFERS, NOT_AVAILABLE, Verdict


def fmt(value: float, digits: int = 2) -> str:
    """A number for a verdict cell: fixed digits, ``nan`` for a missing one, ``±inf`` kept.

    Examples:
        >>> fmt(4.15888), fmt(float("nan")), fmt(-0.004), fmt(1234.5)
        ('4.16', 'nan', '-0.00', '1.23e+03')
    """
    if value is None or not math.isfinite(value):
        return "nan" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    if abs(value) >= 1000:
        return f"{value:.{digits}e}"
    return f"{value:.{digits}f}"


def numeric(
    statement: str,
    source: str,
    *,
    paper: float,
    ours: float,
    tolerance: float,
    paper_text: str | None = None,
    ours_text: str | None = None,
) -> Verdict:
    """``agrees`` when ``|ours − paper| <= tolerance``; ``n/a`` when ours is not finite.

    Examples:
        >>> numeric("InfoNCE at I = 10", "Fig. 2", paper=4.16, ours=4.05, tolerance=0.3).verdict
        'agrees'
        >>> numeric("InfoNCE at I = 10", "Fig. 2", paper=4.16, ours=3.1, tolerance=0.3).verdict
        'differs'
    """
    close = math.isfinite(ours) and abs(ours - paper) <= tolerance
    verdict = NOT_AVAILABLE if not math.isfinite(ours) else (AGREES if close else DIFFERS)
    return Verdict(
        statement=statement,
        source=source,
        paper=paper_text or fmt(paper),
        ours=(ours_text or fmt(ours)) + f" (tolerance ±{fmt(tolerance)})",
        verdict=verdict,
        kind="numeric",
    )


def qualitative(
    statement: str, source: str, *, paper: str, ours: str, holds: bool | None
) -> Verdict:
    """``agrees`` when ours shows the statement (``holds``), ``n/a`` when it cannot be judged.

    Examples:
        >>> qualitative("NWJ's variance grows with I", "§4", paper="grows", ours="0.1 -> 9",
        ...             holds=True).verdict
        'agrees'
    """
    verdict = NOT_AVAILABLE if holds is None else (AGREES if holds else DIFFERS)
    return Verdict(
        statement=statement,
        source=source,
        paper=paper,
        ours=ours,
        verdict=verdict,
        kind="qualitative",
    )


def compare(left: float, right: float) -> bool | None:
    """``left < right``, or None when either is not a finite number.

    Examples:
        >>> compare(1.0, 2.0), compare(2.0, 1.0), compare(float("nan"), 1.0)
        (True, False, None)
    """
    if left is None or right is None or not (math.isfinite(left) and math.isfinite(right)):
        return None
    return bool(left < right)


def pick(stats: pd.DataFrame, column: str, **where: object) -> float:
    """One value of ``column`` from the rows of ``stats`` matching ``where`` (their mean; NaN
    when none match).

    Examples:
        >>> frame = pd.DataFrame({"label": ["a", "b"], "true_mi": [2.0, 2.0], "mean": [1.0, 3.0]})
        >>> pick(frame, "mean", label="b"), pick(frame, "mean", label="c")
        (3.0, nan)
    """
    mask = pd.Series(True, index=stats.index)
    for key, value in where.items():
        mask &= stats[key] == value
    values = pd.to_numeric(stats.loc[mask, column], errors="coerce")
    return float(values.mean()) if len(values) else math.nan
