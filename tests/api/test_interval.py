"""The subsample-and-extrapolate interval: the fit against hand-derived values, its properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mibench.api.interval import Z95, extrapolate, subset_rows


def test_an_exact_one_over_n_bias_is_removed():
    # m_gamma = 0.8 - 0.1 gamma exactly (bias -0.1 gamma, i.e. -0.1 n / N): the OLS intercept is 0.8.
    estimates = {1: [0.7], 2: [0.6, 0.6], 3: [0.5, 0.5, 0.5], 4: [0.4] * 4}
    fit = extrapolate(estimates, rate=1.0)
    assert fit.extrapolated == pytest.approx(0.8)
    assert fit.sd_full == 0.0 and fit.interval == pytest.approx((0.7, 0.8))


def test_pooled_noise_and_the_intercept_variance_by_hand():
    estimates = {1: [1.0], 2: [0.8, 1.0], 3: [0.9, 0.8, 1.0]}
    fit = extrapolate(estimates, rate=1.0)
    # s_2^2 = 0.02 (1 df), s_3^2 = 0.01 (2 df): v = (0.02/2 * 1 + 0.01/3 * 2) / 3.
    v = (0.01 + 0.02 / 3) / 3
    assert fit.sd_full == pytest.approx(math.sqrt(v))
    # OLS over gamma = 1, 2, 3 (mean 2, sum of squares 2): leverage 1/3 + 4/2.
    assert fit.sd_extrapolated == pytest.approx(math.sqrt(v * (1 / 3 + 2)))
    means = [1.0, 0.9, 0.9]
    slope = np.polyfit([1, 2, 3], means, 1)[0]
    intercept = np.mean(means) - slope * 2
    assert fit.extrapolated == pytest.approx(intercept)
    low = min(1.0 - Z95 * fit.sd_full, intercept - Z95 * fit.sd_extrapolated)
    assert fit.interval[0] == pytest.approx(low)


def test_the_noise_floor_applies():
    fit = extrapolate({1: [1.0], 2: [1.0, 1.0]}, noise_floor=0.1, rate=1.0)
    # gamma = 1, 2: leverage 1/2 + 1.5^2 / 0.5 = 5, so sd(I_inf) = 0.1 sqrt 5 sets both ends.
    half_width = Z95 * 0.1 * math.sqrt(5)
    assert fit.sd_full == 0.1 and fit.interval == pytest.approx((1 - half_width, 1 + half_width))


@pytest.mark.parametrize("estimates", [{2: [1.0, 1.0]}, {1: [1.0]}, {1: [1.0, 2.0], 2: [1, 1]}])
def test_a_fit_needs_one_full_estimate_and_a_subset_level(estimates):
    with pytest.raises(ValueError, match="need one estimate at γ = 1"):
        extrapolate(estimates)


@settings(max_examples=50, deadline=None)
@given(
    full=st.floats(-5, 5),
    halves=st.lists(st.floats(-5, 5), min_size=2, max_size=2),
    floor=st.floats(0, 1),
)
def test_the_interval_holds_both_estimates(full, halves, floor):
    fit = extrapolate({1: [full], 2: halves}, noise_floor=floor, rate=1.0)
    low, high = fit.interval
    assert low <= full <= high and low <= fit.extrapolated <= high
    assert fit.extrapolated == pytest.approx(2 * full - np.mean(halves), abs=1e-9)


def test_a_slower_bias_rate_extrapolates_further():
    # bias ~ N^-1/2: m_gamma = I + b sqrt(gamma), so from gamma = 1, 2 the intercept is
    # m_1 + (m_1 - m_2) / (sqrt 2 - 1), 2.41 times the step down instead of 1 time.
    fit = extrapolate({1: [1.0], 2: [0.9, 0.9]}, rate=0.5)
    assert fit.extrapolated == pytest.approx(1.0 + 0.1 / (math.sqrt(2) - 1))
    assert fit.interval == pytest.approx((1.0, fit.extrapolated))


def test_subset_rows_partition_the_rows_reproducibly():
    parts = subset_rows(11, 3, seed=4)
    assert sorted(np.concatenate(parts).tolist()) == list(range(11))
    assert [p.tolist() for p in subset_rows(11, 3, seed=4)] == [p.tolist() for p in parts]
