"""The sample-estimator path of :func:`mibench.estimate_mi`: any registered ``SampleEstimator``.

A :class:`~mibench.core.interface.SampleEstimator` is a function of n joint samples (KSG, CCA,
histogram, KDE, and any other registered with ``kind == "sample"``); it needs no critic and no
held-out rows. The rows are mapped per coordinate by the same MI-preserving map as the neural path
(:mod:`mibench.api.preprocess`, fitted on all rows here, as nothing is held out), the estimator
runs on all of them, and then on the rows cut into γ = 2, 3, 4 disjoint random parts, which gives
the bias-aware interval of :mod:`mibench.api.interval`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mibench.api import interval as api_interval
from mibench.api import preprocess as api_data
from mibench.core.interface import SampleEstimator

SUBSET_PARTS = (2, 3, 4)  # γ of the subsample fit (γ = 1 is all rows)
MIN_SUBSET_ROWS = 50  # a part smaller than this is not used for the fit


@dataclass(frozen=True)
class SampleReading:
    """One sample estimator on the user's rows: the estimate and its subsample fit (or None)."""

    estimate: float
    fit: api_interval.Extrapolation | None


def mapped(x: np.ndarray, y: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y after the per-coordinate map ``mode`` ("gaussianize", "standardize" or "raw")."""
    if mode == "gaussianize":
        return api_data.gaussianize("x", x, [])[0], api_data.gaussianize("y", y, [])[0]
    if mode == "standardize":
        return (
            api_data.robust_standardize("x", x, [])[0],
            api_data.robust_standardize("y", y, [])[0],
        )
    return x, y


def _run(spec: SampleEstimator, x: np.ndarray, y: np.ndarray) -> float:
    try:
        value = spec.estimate(x, y)
    except ValueError as error:
        raise ValueError(f"estimator {spec.name!r} cannot estimate these data: {error}") from None
    if not np.isfinite(value):
        raise ValueError(f"estimator {spec.name!r} returned {value} on {len(x)} rows")
    return float(value)


def sample_estimate(
    spec: SampleEstimator,
    x: np.ndarray,
    y: np.ndarray,
    *,
    mode: str,
    seed: int,
    with_interval: bool = True,
) -> SampleReading:
    """``spec`` on all rows of (x, y) after the map ``mode``; with the subsample fit if asked.

    The fit uses the parts γ of ``SUBSET_PARTS`` whose parts hold at least ``MIN_SUBSET_ROWS``
    rows; with none of them (n < 100) there is no fit (``fit`` None).

    Examples:
        >>> import numpy as np
        >>> from mibench import estimators
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((2000, 1))
        >>> y = 0.8 * x + 0.6 * rng.standard_normal((2000, 1))  # I = -log(0.6) = 0.511 nats
        >>> reading = sample_estimate(estimators.get("ksg"), x, y, mode="gaussianize", seed=0)
        >>> low, high = reading.fit.interval
        >>> bool(low < 0.511 < high), round(reading.estimate, 1)
        (True, 0.5)
    """
    x, y = mapped(x, y, mode)
    full = _run(spec, x, y)
    usable = [g for g in SUBSET_PARTS if len(x) // g >= MIN_SUBSET_ROWS]
    if not with_interval or not usable:
        return SampleReading(full, None)
    estimates: dict[int, list[float]] = {1: [full]}
    for parts in usable:
        rows = api_interval.subset_rows(len(x), parts, seed=seed + parts)
        estimates[parts] = [_run(spec, x[r], y[r]) for r in rows]
    return SampleReading(full, api_interval.extrapolate(estimates))
