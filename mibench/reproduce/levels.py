r"""Per-level statistics of staircase curves, as the papers compute them, and EMA smoothing.

For one curve (a run's training readouts, one per step) and one MI level occupying steps
``[start, end)``, the window is the last ``w`` steps of the level, ``w = ⌈fraction · (end −
start)⌉`` (CLUB's notebook: the last 500 of 4 000 steps, fraction 1/8). Over the window's
estimates :math:`\hat I_t`:

.. math::  \text{bias} = \overline{\hat I} - I,\qquad
           \text{variance} = \tfrac{1}{w}\sum_t (\hat I_t - \overline{\hat I})^2,\qquad
           \text{MSE} = \text{bias}^2 + \text{variance}

(the population variance, ``numpy.var``, as in CLUB's notebook). With several seeds the three
numbers are averaged over the seeds. Non-finite readouts are dropped from the window and
counted in ``n_bad``.

The smoothed curve of Poole et al. (2019) and Song & Ermon (2020) is the exponentially weighted
moving average ``pandas.Series.ewm(span=s).mean()`` with weights ``(1 − a)^k``, ``a = 2/(s + 1)``,
normalised over the steps seen so far (``adjust=True``); their span is 200 steps of a 4 000-step
level.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

WINDOW_FRACTION = 500 / 4000  # CLUB's notebook: the last 500 steps of each 4 000-step level
EMA_SPAN = 200  # Poole et al.'s and Song & Ermon's notebooks, at 4 000 steps per level
EMA_REFERENCE_STEPS = 4000
LEVEL_COLUMNS = ("label", "critic", "task_label", "true_mi")
STAT_COLUMNS = ("mean", "bias", "abs_bias", "variance", "mse", "n_bad")


def ema_span(steps_per_level: int) -> int:
    """The papers' span of 200 steps scaled to a level of ``steps_per_level`` steps (>= 2).

    Examples:
        >>> ema_span(4000), ema_span(400), ema_span(10)
        (200, 20, 2)
    """
    return max(2, round(EMA_SPAN * steps_per_level / EMA_REFERENCE_STEPS))


def ema(values: np.ndarray | pd.Series, span: int) -> np.ndarray:
    """Exponentially weighted moving average (``adjust=True``) of a curve, NaNs skipped.

    Examples:
        >>> ema([1.0, 1.0, 1.0], span=5).tolist()
        [1.0, 1.0, 1.0]
        >>> round(float(ema([0.0, 3.0], span=3)[-1]), 6)  # weights 1/2 and 1: (0 * 0.5 + 3) / 1.5
        2.0
    """
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    return pd.Series(np.asarray(values, dtype=float)).ewm(span=span).mean().to_numpy()


def window_bounds(start: int, end: int, fraction: float = WINDOW_FRACTION) -> tuple[int, int]:
    """The last ``⌈fraction · (end − start)⌉`` steps of ``[start, end)`` (at least one).

    Examples:
        >>> window_bounds(0, 4000), window_bounds(4000, 8000), window_bounds(0, 10)
        ((3500, 4000), (7500, 8000), (8, 10))
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    width = max(1, math.ceil(fraction * (end - start)))
    return end - width, end


def level_segments(steps: np.ndarray, truth: np.ndarray) -> list[tuple[int, int, float]]:
    """``(start, end, true_mi)`` for each run of constant truth along sorted ``steps``.

    Examples:
        >>> level_segments(np.arange(6), np.array([2.0, 2, 2, 4, 4, 4]))
        [(0, 3, 2.0), (3, 6, 4.0)]
    """
    segments: list[tuple[int, int, float]] = []
    if len(steps) == 0:
        return segments
    change = np.flatnonzero(np.diff(truth) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(steps)]])
    for first, last in zip(starts, ends, strict=True):
        segments.append((int(steps[first]), int(steps[last - 1]) + 1, float(truth[first])))
    return segments


def curve_level_stats(curve: pd.DataFrame, fraction: float = WINDOW_FRACTION) -> pd.DataFrame:
    """Bias, variance and MSE of one run's curve (columns step, estimate, true_mi) per level."""
    curve = curve.sort_values("step")
    steps = curve["step"].to_numpy()
    estimates = curve["estimate"].to_numpy(dtype=float)
    truth = curve["true_mi"].to_numpy(dtype=float)
    rows = []
    for start, end, true_mi in level_segments(steps, truth):
        low, high = window_bounds(start, end, fraction)
        inside = (steps >= low) & (steps < high)
        values = estimates[inside]
        finite = values[np.isfinite(values)]
        mean = float(np.mean(finite)) if finite.size else math.nan
        variance = float(np.var(finite)) if finite.size else math.nan
        bias = mean - true_mi
        rows.append(
            {
                "true_mi": true_mi,
                "mean": mean,
                "bias": bias,
                "abs_bias": abs(bias),
                "variance": variance,
                "mse": bias**2 + variance,
                "n_bad": int(values.size - finite.size),
            }
        )
    return pd.DataFrame(rows, columns=["true_mi", *STAT_COLUMNS])


def level_stats(train: pd.DataFrame, fraction: float = WINDOW_FRACTION) -> pd.DataFrame:
    """Per (label, critic, task_label, level) window statistics, averaged over the seeds.

    ``train`` has one row per run and step with the columns run_id, label, critic, task_label,
    step, estimate and true_mi.

    Examples:
        >>> frame = pd.DataFrame({
        ...     "run_id": "r", "label": "NWJ", "critic": "concat", "task_label": "Gaussian",
        ...     "step": range(8), "estimate": [0, 0, 1, 3, 2, 2, 3, 5.0],
        ...     "true_mi": [2.0] * 4 + [4.0] * 4})
        >>> level_stats(frame, fraction=0.5)[["true_mi", "mean", "bias", "variance"]].values.tolist()
        [[2.0, 2.0, 0.0, 1.0], [4.0, 4.0, 0.0, 1.0]]
    """
    per_run = []
    for run_id, curve in train.groupby("run_id", sort=False):
        stats = curve_level_stats(curve, fraction)
        first = curve.iloc[0]
        for column in LEVEL_COLUMNS[:-1]:
            stats[column] = first[column]
        stats["run_id"] = run_id
        per_run.append(stats)
    if not per_run:
        return pd.DataFrame(columns=[*LEVEL_COLUMNS, *STAT_COLUMNS, "n_seeds"])
    pooled = pd.concat(per_run, ignore_index=True)
    grouped = pooled.groupby(list(LEVEL_COLUMNS), sort=False)
    out = grouped[list(STAT_COLUMNS)].mean()
    out["n_bad"] = grouped["n_bad"].sum()
    out["n_seeds"] = grouped["run_id"].nunique()
    return out.reset_index()
