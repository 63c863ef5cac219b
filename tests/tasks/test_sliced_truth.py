"""Tests of the Gaussian k-sliced MI truth (mibench.tasks.sliced_truth)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mibench.tasks import build, sliced_truth


@pytest.mark.parametrize(("rho", "dim"), [(0.5, 2), (0.9, 5), (0.99, 10)])
def test_quadrature_matches_an_independent_monte_carlo(rho: float, dim: int) -> None:
    """k = 1 against the mean over 200 000 pairs of uniform directions; tolerance 4 SE."""
    rng = np.random.default_rng(7)
    theta = rng.standard_normal((200_000, dim))
    phi = rng.standard_normal((200_000, dim))
    cosine = (theta * phi).sum(1) / np.linalg.norm(theta, axis=1) / np.linalg.norm(phi, axis=1)
    values = -0.5 * np.log1p(-(rho**2) * cosine**2)
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(sliced_truth.gaussian_sliced_mi(rho, dim).value - values.mean()) <= 4 * se


def test_edges_are_the_mi_and_the_monte_carlo_reports_its_error() -> None:
    mi = -0.5 * 3 * math.log1p(-0.64)
    assert sliced_truth.gaussian_sliced_mi(0.8, 3, 3).value == pytest.approx(mi)
    assert sliced_truth.gaussian_sliced_mi(0.8, 1).value == pytest.approx(mi / 3)
    two = sliced_truth.gaussian_sliced_mi(0.8, 3, 2)
    one = sliced_truth.gaussian_sliced_mi(0.8, 3, 1).value
    assert 0 < two.standard_error < 1e-3 and one < two.value < mi  # SI_k grows with k


def test_tasks_expose_it_where_it_is_known() -> None:
    assert build("gaussian", dim=5, mi=2).sliced_mi() > 0
    stairs = build("staircase", dim=5, steps_per_level=10)
    assert stairs.sliced_mi(0) < stairs.sliced_mi(45)
    assert build("staircase", dim=5, base="cubic").sliced_mi(0) is None


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="slice_dim"):
        sliced_truth.gaussian_sliced_mi(0.5, 2, 3)
