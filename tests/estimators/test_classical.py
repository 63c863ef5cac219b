"""Tests of the sample estimators (KSG, Gaussian/CCA, histogram, KDE) in mibench.estimators.classical."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma
from scipy.stats import gaussian_kde

import mibench.estimators as estimators
from mibench.core.interface import SampleEstimator
from mibench.estimators import classical

SAMPLE_ESTIMATORS = {"ksg", "cca", "histogram", "kde", "ksg2", "kl", "wkl", "sliced", "gmm", "flow"}
# Symmetric functions of the n pairs (gmm's EM start and flow's split and batches depend on the
# rows' order, so they are order-free only in distribution).
ORDER_FREE = SAMPLE_ESTIMATORS - {"gmm", "flow"}


def correlated(n: int, rho: float, dim: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``dim`` independent pairs with correlation ``rho``; true MI = -(dim/2) log(1 - rho^2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    return x, rho * x + math.sqrt(1 - rho * rho) * rng.standard_normal((n, dim))


def gaussian_truth(rho: float, dim: int = 1) -> float:
    return -0.5 * dim * math.log1p(-rho * rho)


def test_registered_as_the_sample_kind() -> None:
    assert set(estimators.sample_names()) == SAMPLE_ESTIMATORS
    assert not SAMPLE_ESTIMATORS & set(estimators.score_names())
    assert set(estimators.names()) == set(estimators.sample_names()) | set(estimators.score_names())
    for name in SAMPLE_ESTIMATORS:
        spec = estimators.get(name)
        assert isinstance(spec, SampleEstimator) and spec.kind == "sample"
        assert estimators.is_sample(name)
        assert spec.citation.strip() and spec.ceiling(64) is None
    assert not estimators.is_sample("infonce")


def ksg_loop_reference(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """KSG Eq. (8) written as loops over points from the paper's definitions (O(n^2))."""
    x = x / x.std(axis=0, ddof=1)
    y = y / y.std(axis=0, ddof=1)
    n = len(x)
    total = 0.0
    for i in range(n):
        dx = np.abs(x - x[i]).max(axis=1)
        dy = np.abs(y - y[i]).max(axis=1)
        joint = np.maximum(dx, dy)
        joint[i] = np.inf
        eps = np.sort(joint)[k - 1]
        n_x = int((dx < eps).sum()) - 1  # minus the point itself
        n_y = int((dy < eps).sum()) - 1
        total += digamma(n_x + 1) + digamma(n_y + 1)
    return float(digamma(k) + digamma(n) - total / n)


@pytest.mark.parametrize(("dim_x", "dim_y", "k"), [(1, 1, 3), (2, 3, 1), (3, 2, 5)])
def test_ksg_matches_a_loop_reference(dim_x: int, dim_y: int, k: int) -> None:
    rng = np.random.default_rng(dim_x * 10 + k)
    x = rng.standard_normal((150, dim_x))
    y = x[:, :1] + rng.standard_normal((150, dim_y))
    assert classical.ksg_mi(x, y, k=k) == pytest.approx(ksg_loop_reference(x, y, k), abs=1e-12)


def test_ksg_agrees_with_scikit_learn_on_1x1() -> None:
    """scikit-learn's ``mutual_info_regression`` is KSG algorithm 1 with unit-variance scaling and
    noise of relative size 1e-10 added to break ties; on continuous data the noise changes no
    neighbour count, so the two agree to float rounding (tolerance 1e-6 nats)."""
    feature_selection = pytest.importorskip("sklearn.feature_selection")
    for seed, rho in [(0, 0.5), (1, 0.9)]:
        x, y = correlated(2000, rho, seed=seed)
        theirs = feature_selection.mutual_info_regression(x, y[:, 0], n_neighbors=3, random_state=0)
        assert classical.ksg_mi(x, y, k=3) == pytest.approx(float(theirs[0]), abs=1e-6)


@pytest.mark.parametrize(("rho", "dim"), [(0.5, 1), (0.8, 2), (0.9, 1)])
def test_ksg_close_to_the_gaussian_truth(rho: float, dim: int) -> None:
    """At n = 4000 KSG's standard deviation is about 0.01-0.02 nats and its bias on these
    low-dimensional Gaussians under 0.03 (Kraskov et al. Fig. 4-5); tolerance 0.06."""
    x, y = correlated(4000, rho, dim, seed=3)
    assert classical.ksg_mi(x, y) == pytest.approx(gaussian_truth(rho, dim), abs=0.06)


def test_gaussian_estimator_equals_the_canonical_correlation_form() -> None:
    """½ log-det formula vs −½ Σ log(1 − ρ̂_i²) with ρ̂_i from an SVD of the whitened
    cross-covariance (an independent computation), to float rounding."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((500, 3))
    y = x @ rng.standard_normal((3, 2)) + rng.standard_normal((500, 2))
    cov = np.cov(np.hstack([x, y]), rowvar=False)
    sxx, syy, sxy = cov[:3, :3], cov[3:, 3:], cov[:3, 3:]

    def inv_sqrt(m: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(m)
        return v @ np.diag(w**-0.5) @ v.T

    rhos = np.linalg.svd(inv_sqrt(sxx) @ sxy @ inv_sqrt(syy), compute_uv=False)
    expected = -0.5 * np.log1p(-(rhos**2)).sum()
    assert classical.gaussian_mi(x, y) == pytest.approx(expected, abs=1e-10)


def test_gaussian_estimator_close_to_the_truth() -> None:
    """On Gaussian data the estimator is the MLE plug-in: its bias is O(d_x d_y / n) and its
    standard deviation sqrt(d) rho / sqrt(n)-sized; at n = 5000, d = 3, rho = 0.8: SD ~ 0.02,
    tolerance 0.06 (3 SD)."""
    x, y = correlated(5000, 0.8, dim=3, seed=5)
    assert classical.gaussian_mi(x, y) == pytest.approx(gaussian_truth(0.8, 3), abs=0.06)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-5, 5))
def test_gaussian_estimator_is_invariant_under_invertible_affine_maps(
    seed: int, shift: float
) -> None:
    """MI of the sample-covariance Gaussian: log det(A Σ Aᵀ) − log det A² cancels exactly in the
    formula, so only float rounding (1e-8 at these condition numbers) separates the two."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((300, 2))
    y = x[:, :1] + rng.standard_normal((300, 2))
    a = rng.standard_normal((2, 2)) + 2 * np.eye(2)
    b = rng.standard_normal((2, 2)) + 2 * np.eye(2)
    moved = classical.gaussian_mi(x @ a + shift, y @ b - shift)
    assert moved == pytest.approx(classical.gaussian_mi(x, y), abs=1e-8)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), powers=st.lists(st.integers(-8, 8), min_size=3, max_size=3))
def test_ksg_is_exactly_invariant_under_power_of_two_rescaling(
    seed: int, powers: list[int]
) -> None:
    """KSG divides each coordinate by its standard deviation; scaling a coordinate by 2^p is exact
    in binary floating point and so is that division, so the estimate is bit-for-bit the same."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, 2))
    y = x[:, :1] + 0.5 * rng.standard_normal((200, 1))
    scaled_x = x * np.exp2(powers[:2])
    scaled_y = y * np.exp2(powers[2])
    assert classical.ksg_mi(scaled_x, scaled_y) == classical.ksg_mi(x, y)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_estimates_do_not_depend_on_the_order_of_the_samples(seed: int) -> None:
    """Every estimator is a symmetric function of the n pairs: permuting rows changes only the
    summation order (tolerance 1e-10; the histogram's counts are order-free, so exact)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((120, 2))
    y = x[:, :1] + rng.standard_normal((120, 1))
    order = rng.permutation(120)
    for name in ORDER_FREE:
        spec = estimators.get(name)
        assert spec.estimate(x[order], y[order]) == pytest.approx(spec.estimate(x, y), abs=1e-10)


def test_histogram_equals_a_histogram2d_plugin() -> None:
    """1 x 1 with 8 bins: the same plug-in from numpy's histogram2d cell counts."""
    x, y = correlated(3000, 0.7, seed=6)
    counts, _, _ = np.histogram2d(x[:, 0], y[:, 0], bins=8)
    p = counts / counts.sum()
    px, py = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    expected = float((p[nz] * np.log(p[nz] / np.outer(px, py)[nz])).sum())
    assert classical.histogram_mi(x, y, bins=8) == pytest.approx(expected, abs=1e-12)


def test_histogram_default_bins_rule() -> None:
    assert classical.default_bins(5000, 2) == 31  # floor(sqrt(1000))
    assert classical.default_bins(5000, 50) == 2
    assert classical.default_bins(10, 1) == 2


def test_kde_resubstitution_equals_scipy_and_leave_one_out_removes_the_self_term() -> None:
    """Resubstitution: scipy.stats.gaussian_kde (Scott's rule, data covariance) is an independent
    implementation (1e-10). Leave-one-out: n p̂ = (n − 1) p̂_{−i} + K_h(0), K_h(0) the kernel's
    peak (2π)^{-d/2} det(h²Σ̂)^{-1/2}."""
    x, y = correlated(400, 0.6, dim=1, seed=7)
    v = np.hstack([x, y])
    ours = classical.kde_log_density(v, leave_one_out=False)
    assert ours == pytest.approx(gaussian_kde(v.T).logpdf(v.T), abs=1e-10)
    n, d = v.shape
    h = n ** (-1 / (d + 4))
    peak = (2 * math.pi) ** (-d / 2) / math.sqrt(np.linalg.det(h * h * np.cov(v, rowvar=False)))
    loo = classical.kde_log_density(v, leave_one_out=True)
    assert (n - 1) * np.exp(loo) + peak == pytest.approx(n * np.exp(ours), rel=1e-10)


def test_kde_close_to_the_truth_in_one_dimension() -> None:
    """Leave-one-out KDE plug-in on a 1 x 1 Gaussian at n = 3000: its smoothing bias is under
    0.03 nats at rho = 0.6 (measured: mean error -0.001, SD 0.005 over seeds 0-4); tolerance 0.05."""
    x, y = correlated(3000, 0.6, seed=8)
    assert classical.kde_mi(x, y) == pytest.approx(gaussian_truth(0.6), abs=0.05)


def test_bad_inputs_name_the_value() -> None:
    x, y = correlated(50, 0.5)
    with pytest.raises(ValueError, match=r"same number of rows.*\(50, 1\) and \(49, 1\)"):
        classical.ksg_mi(x, y[:49])
    with pytest.raises(ValueError, match=r"k must be < n = 50"):
        classical.ksg_mi(x, y, k=50)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1, got 2.5"):
        classical.ksg_mi(x, y, k=2.5)
    with pytest.raises(ValueError, match=r"non-finite"):
        classical.gaussian_mi(np.full((50, 1), np.nan), y)
    with pytest.raises(ValueError, match=r"needs n > d_x \+ d_y = 60"):
        classical.gaussian_mi(np.zeros((50, 30)), np.zeros((50, 30)))
    with pytest.raises(ValueError, match=r"bins must be 0 \(automatic\) or an integer >= 2"):
        classical.histogram_mi(x, y, bins=1)
    with pytest.raises(ValueError, match=r"leave_one_out must be 0 or 1, got 2"):
        classical.kde_mi(x, y, leave_one_out=2)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        classical.ksg_mi(np.zeros((2, 2, 2)), y)
    with pytest.raises(ValueError, match=r"no hyperparameter 'kk'; valid: ensemble, k"):
        estimators.get("ksg").with_hyper(kk=3)
