r"""What the figures, their readings and the report show for a summary cell.

A cell is *unstable* when some of its window readouts are wild (non-finite or farther than
max(10 nats, I) from the truth; ``schema.WILD_NATS``, ``schema.WILD_THRESHOLD``): one exploding
batch then decides its mean, variance and MSE (a single 1e61 among 10^4 readouts moves the mean by
1e57). So wherever a mean-based number would be shown, an unstable cell shows a robust one instead:

* bias → ``median_bias`` (the median of :math:`\hat I - I` over the window readouts);
* estimate → :math:`I` + ``median_bias``;
* variance and MSE → no value: the figures put the cell on the axis edge, the tables say
  "unstable" with the wild share.

Rankings across cells use the **robust MSE**

.. math::  \mathrm{MSE}_{\mathrm{robust}} = b_{\mathrm{med}}^2 + \big(\mathrm{IQR} / 1.349\big)^2,

the MSE of a normal distribution with the cell's median and interquartile range (a normal's IQR
is 1.349 σ). It is computed the same way for every cell, stable or not, so two cells compare on one
scale, and one exploding readout cannot move it. Summaries written before the robust columns
existed have no unstable cells here: every function falls back to the mean-based columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mibench.results import schema

NORMAL_IQR_IN_SIGMA = 1.349  # q75 - q25 of a standard normal: 2 x 0.6745
ROBUST_COLUMNS: tuple[str, ...] = (
    schema.MEDIAN_BIAS,
    schema.IQR,
    schema.WILD_FRACTION,
    schema.UNSTABLE,
)


def has_robust_columns(summary: pd.DataFrame) -> bool:
    """True when ``summary`` carries the robust columns (results written since they exist)."""
    return all(c in summary.columns for c in ROBUST_COLUMNS)


def unstable_mask(summary: pd.DataFrame) -> np.ndarray:
    """The summary's ``unstable`` flag as a bool array (all False without the column)."""
    if schema.UNSTABLE not in summary.columns:
        return np.zeros(len(summary), dtype=bool)
    return summary[schema.UNSTABLE].fillna(False).to_numpy(dtype=bool)


def wild_share(summary: pd.DataFrame) -> np.ndarray:
    """``wild_fraction`` as floats (zeros without the column)."""
    if schema.WILD_FRACTION not in summary.columns:
        return np.zeros(len(summary))
    return summary[schema.WILD_FRACTION].to_numpy(dtype=float)


def shown_bias(summary: pd.DataFrame) -> np.ndarray:
    """``bias``, or ``median_bias`` where the cell is unstable."""
    bias = summary[schema.BIAS].to_numpy(dtype=float)
    unstable = unstable_mask(summary)
    if not unstable.any():
        return bias
    return np.where(unstable, summary[schema.MEDIAN_BIAS].to_numpy(dtype=float), bias)


def shown_estimate(summary: pd.DataFrame, truth: str) -> np.ndarray:
    """The window mean of the estimate (``mean_estimate``, else truth + bias), or truth +
    ``median_bias`` where the cell is unstable."""
    truths = summary[truth].to_numpy(dtype=float)
    if schema.MEAN_ESTIMATE in summary.columns:
        mean = summary[schema.MEAN_ESTIMATE].to_numpy(dtype=float)
    else:
        mean = truths + summary[schema.BIAS].to_numpy(dtype=float)
    unstable = unstable_mask(summary)
    if not unstable.any():
        return mean
    return np.where(unstable, truths + summary[schema.MEDIAN_BIAS].to_numpy(dtype=float), mean)


def robust_mse(summary: pd.DataFrame) -> np.ndarray:
    """median_bias² + (IQR / 1.349)² per cell (see the module docstring); the mean-based ``mse``
    where the summary has no robust columns."""
    if schema.MEDIAN_BIAS not in summary.columns or schema.IQR not in summary.columns:
        return summary[schema.MSE].to_numpy(dtype=float)
    median = summary[schema.MEDIAN_BIAS].to_numpy(dtype=float)
    spread = summary[schema.IQR].to_numpy(dtype=float) / NORMAL_IQR_IN_SIGMA
    return median**2 + spread**2
