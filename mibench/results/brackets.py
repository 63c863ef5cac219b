r"""MI sandwiches: the interval [best lower bound, best upper bound] per task and MI level.

A suite that trains lower bounds (``kind == "lower_bound"``: BA, NWJ, InfoNCE, ...) and upper
bounds (``kind == "upper_bound"``: CLUB, L1Out) on the same task and level brackets the MI from
both sides. Per cell group (task id, segment, batch size) of ``summary.parquet``:

.. math::  L = \max_{e \in \text{lower}} \bar I_e, \qquad U = \min_{e \in \text{upper}} \bar I_e,
           \qquad \text{width} = U - L,

with :math:`\bar I_e` the estimator's window mean over seeds (``mean_estimate``, or
``heldout_mean`` with ``metric=``), and ``covers`` = L ≤ I ≤ U. Only estimators whose registered
``kind`` is a bound take part (SMILE, f-DIME, DoE are estimates, not bounds), so the interval is
a sandwich of bounds; both sides are still noisy window means, so a tight sandwich can miss the
truth by their standard error.
"""

from __future__ import annotations

import math

import pandas as pd

from mibench.results import schema

LOWER = schema.SANDWICH_LOWER
UPPER = schema.SANDWICH_UPPER
LOWER_ESTIMATOR = schema.SANDWICH_LOWER_ESTIMATOR
UPPER_ESTIMATOR = schema.SANDWICH_UPPER_ESTIMATOR
WIDTH = schema.SANDWICH_WIDTH
COVERS = schema.SANDWICH_COVERS
GROUP_COLUMNS: tuple[str, ...] = (schema.TASK, schema.TASK_ID, schema.SEGMENT, schema.BATCH_SIZE)
COLUMNS: tuple[str, ...] = (
    *GROUP_COLUMNS,
    schema.DIM,
    schema.MI_LEVEL,
    schema.TRUE_MI,
    LOWER,
    LOWER_ESTIMATOR,
    UPPER,
    UPPER_ESTIMATOR,
    WIDTH,
    COVERS,
)


def bound_kinds(names: list[str]) -> dict[str, str]:
    """``{estimator: "lower" | "upper"}`` for the names the registry knows as bounds."""
    from mibench import estimators

    known = set(estimators.names())
    kinds = {}
    for name in names:
        if name not in known:
            continue
        kind = estimators.get(name).kind
        if kind == "lower_bound":
            kinds[name] = LOWER
        elif kind == "upper_bound":
            kinds[name] = UPPER
    return kinds


def sandwich_intervals(
    summary: pd.DataFrame, *, metric: str = schema.MEAN_ESTIMATE
) -> pd.DataFrame:
    """One row per group with both a lower and an upper bound (columns :data:`COLUMNS`).

    Args:
        summary: the runner's summary frame (one row per cell and segment).
        metric: the column read as each estimator's value (``mean_estimate`` or ``heldout_mean``).
    Returns:
        The intervals, sorted by task and true MI; empty (with the columns) when no group has both.
    Raises:
        ValueError: ``metric`` or a grouping column is missing.
    """
    needed = [*GROUP_COLUMNS, schema.ESTIMATOR, schema.TRUE_MI, schema.DIM, schema.MI_LEVEL, metric]
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ValueError(f"sandwich: summary lacks columns {', '.join(missing)}")
    if summary.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    kinds = bound_kinds(sorted(summary[schema.ESTIMATOR].astype(str).unique()))
    frame = summary[summary[schema.ESTIMATOR].astype(str).isin(kinds)].copy()
    if frame.empty:  # no bound in this suite (e.g. only sample estimators)
        return pd.DataFrame(columns=list(COLUMNS))
    frame["_side"] = frame[schema.ESTIMATOR].astype(str).map(kinds)
    frame = frame[frame[metric].map(lambda v: math.isfinite(float(v)))]
    if schema.UNSTABLE in frame.columns:  # a cell with wild readouts bounds nothing: its mean is
        frame = frame[~frame[schema.UNSTABLE].astype(bool)]  # decided by one exploding batch
    rows = []
    for key, group in frame.groupby(list(GROUP_COLUMNS), sort=True, observed=True):
        lower = group[group["_side"] == LOWER]
        upper = group[group["_side"] == UPPER]
        if lower.empty or upper.empty:
            continue
        best_lower = lower.loc[lower[metric].astype(float).idxmax()]
        best_upper = upper.loc[upper[metric].astype(float).idxmin()]
        truth = float(group[schema.TRUE_MI].iloc[0])
        low, high = float(best_lower[metric]), float(best_upper[metric])
        rows.append(
            {
                **dict(zip(GROUP_COLUMNS, key, strict=True)),
                schema.DIM: group[schema.DIM].iloc[0],
                schema.MI_LEVEL: float(group[schema.MI_LEVEL].iloc[0]),
                schema.TRUE_MI: truth,
                LOWER: low,
                LOWER_ESTIMATOR: str(best_lower[schema.ESTIMATOR]),
                UPPER: high,
                UPPER_ESTIMATOR: str(best_upper[schema.ESTIMATOR]),
                WIDTH: high - low,
                COVERS: bool(low <= truth <= high),
            }
        )
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values([schema.TASK_ID, schema.TRUE_MI], kind="stable").reset_index(drop=True)


def sandwich_lines(intervals: pd.DataFrame) -> list[str]:
    """Plain text rows ``task  I  [L (est), U (est)]  width  covers`` for the run report."""
    lines = []
    for _, row in intervals.iterrows():
        lines.append(
            f"{row[schema.TASK_ID]} segment {row[schema.SEGMENT]}: I = {row[schema.TRUE_MI]:.3g}, "
            f"[{row[LOWER]:.3f} ({row[LOWER_ESTIMATOR]}), {row[UPPER]:.3f} ({row[UPPER_ESTIMATOR]})], "
            f"width {row[WIDTH]:.3f}, {'covers' if row[COVERS] else 'MISSES'} the truth"
        )
    return lines
