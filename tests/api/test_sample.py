"""The sample path: any registered SampleEstimator on user rows, with its subsample fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mibench import estimators
from mibench.api import sample as api_sample
from mibench.core.interface import SampleEstimator


def gaussian_pairs(n: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, 1))


# The flow estimator trains a density model per fit (seconds each; ten fits here): slow.
MI_SAMPLE_ESTIMATORS = [
    pytest.param(name, marks=pytest.mark.slow) if name == "flow" else name
    for name in estimators.sample_names()
    if getattr(estimators.get(name), "target", "mi") == "mi"
]


@pytest.mark.parametrize("name", MI_SAMPLE_ESTIMATORS)
def test_every_sample_estimator_gives_a_finite_estimate_and_interval(name):
    x, y = gaussian_pairs(400, 0.6, seed=0)
    reading = api_sample.sample_estimate(estimators.get(name), x, y, mode="gaussianize", seed=0)
    assert math.isfinite(reading.estimate)
    low, high = reading.fit.interval
    assert low <= reading.estimate <= high and set(reading.fit.means) == {1, 2, 3, 4}


def test_a_user_sample_estimator_runs_generically():
    calls = []

    def mean_product(x, y):
        calls.append(len(x))
        return float(np.mean(x * y))

    spec = SampleEstimator(name="mine_only", family="user", sample_fn=mean_product, citation="-")
    x, y = gaussian_pairs(400, 0.6, seed=1)
    reading = api_sample.sample_estimate(spec, x, y, mode="raw", seed=0)
    assert calls == [400, 200, 200, 134, 133, 133, 100, 100, 100, 100]
    assert reading.estimate == pytest.approx(float(np.mean(x * y)))


def test_few_rows_give_no_fit_and_interval_false_skips_it():
    x, y = gaussian_pairs(99, 0.6, seed=2)
    assert api_sample.sample_estimate(estimators.get("ksg"), x, y, mode="raw", seed=0).fit is None
    x, y = gaussian_pairs(400, 0.6, seed=2)
    reading = api_sample.sample_estimate(
        estimators.get("ksg"), x, y, mode="raw", seed=0, with_interval=False
    )
    assert reading.fit is None


def test_an_estimator_error_names_the_estimator():
    def refuses(x, y):
        raise ValueError("needs more")

    spec = SampleEstimator(name="picky", family="user", sample_fn=refuses, citation="-")
    x, y = gaussian_pairs(200, 0.6, seed=3)
    with pytest.raises(
        ValueError, match="estimator 'picky' cannot estimate these data: needs more"
    ):
        api_sample.sample_estimate(spec, x, y, mode="raw", seed=0)
