"""Tests of the k-NN sample estimators ksg2, kl and wkl (mibench.estimators.knn)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import digamma, gammaln

import mibench.estimators as estimators
from mibench.core.interface import SampleEstimator
from mibench.estimators import knn
from tests.estimators._gaussian_samples import correlated, replicate_gap

# Bias budget of the k-NN family at n = 2000 in a joint dimension D <= 4: the leading bias of a
# k-NN entropy estimate is of order (k/n)^{2/D} (Berrett, Samworth & Yuan 2019, Thm. 1), 0.039
# for k = 3, D = 4; KSG's cancellations make it smaller. 0.05 nats covers it.
KNN_BIAS_BUDGET = 0.05


def test_registered_with_kind_readout_and_citation() -> None:
    for name in ("ksg2", "kl", "wkl"):
        spec = estimators.get(name)
        assert isinstance(spec, SampleEstimator) and spec.kind == "sample"
        assert spec.citation and spec.readout and spec.target == "mi"
        x, y = correlated(300, 0.6, 1, seed=0)
        assert math.isfinite(spec.estimate(x, y))


def ksg2_loop_reference(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """KSG Eq. (9) as loops over points from the paper's definitions (O(n^2))."""
    x = x / x.std(axis=0, ddof=1)
    y = y / y.std(axis=0, ddof=1)
    n = len(x)
    total = 0.0
    for i in range(n):
        dx = np.abs(x - x[i]).max(axis=1)
        dy = np.abs(y - y[i]).max(axis=1)
        joint = np.maximum(dx, dy)
        joint[i] = np.inf
        nearest = np.argsort(joint, kind="stable")[:k]
        eps_x, eps_y = dx[nearest].max(), dy[nearest].max()
        n_x = int((dx <= eps_x).sum()) - 1
        n_y = int((dy <= eps_y).sum()) - 1
        total += digamma(n_x) + digamma(n_y)
    return float(digamma(k) - 1 / k + digamma(n) - total / n)


def kl_entropy_reference(v: np.ndarray, k: int) -> float:
    """ψ(n) − ψ(k) + log V_d + (d/n) Σ log ρ_k,i with brute-force Euclidean distances."""
    n, d = v.shape
    distances = np.sqrt(((v[:, None, :] - v[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(distances, np.inf)
    rho = np.sort(distances, axis=1)[:, k - 1]
    log_volume = 0.5 * d * math.log(math.pi) - gammaln(1 + d / 2)
    return float(digamma(n) - digamma(k) + log_volume + d * np.log(rho).mean())


@pytest.mark.parametrize(("dim_x", "dim_y", "k"), [(1, 1, 3), (2, 3, 1), (3, 2, 5)])
def test_ksg2_and_kl_match_loop_references(dim_x: int, dim_y: int, k: int) -> None:
    rng = np.random.default_rng(dim_x * 10 + k)
    x = rng.standard_normal((150, dim_x))
    y = x[:, :1] + rng.standard_normal((150, dim_y))
    assert knn.ksg2_mi(x, y, k=k) == pytest.approx(ksg2_loop_reference(x, y, k), abs=1e-12)
    xs, ys = x / x.std(axis=0, ddof=1), y / y.std(axis=0, ddof=1)
    expected = (
        kl_entropy_reference(xs, k)
        + kl_entropy_reference(ys, k)
        - kl_entropy_reference(np.hstack([xs, ys]), k)
    )
    assert knn.kl_mi(x, y, k=k) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("k", "dim"), [(10, 4), (20, 8), (40, 12), (16, 16)])
def test_wkl_weights_lie_in_the_class_of_berrett_et_al(k: int, dim: int) -> None:
    weights = knn.wkl_weights(k, dim)
    support = set(knn.weight_support(k, dim))
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert all(weights[j - 1] == 0 for j in range(1, k + 1) if j not in support)
    j = np.arange(1, k + 1)
    for ell in range(1, dim // 4 + 1):
        ratio = np.exp(gammaln(j + 2 * ell / dim) - gammaln(j))
        assert abs(weights @ ratio) < 1e-6 * np.abs(weights) @ ratio


def test_wkl_with_no_constraint_is_the_mean_of_its_support() -> None:
    # d <= 3: floor(d/4) = 0 constraints, so the least-norm weights are uniform on the support.
    x, y = correlated(500, 0.7, 1, seed=3)
    xs, ys = x / x.std(ddof=1), y / y.std(ddof=1)
    k = 20
    mean = [knn.kl_entropies(v, k)[np.array(knn.weight_support(k, v.shape[1])) - 1].mean()
            for v in (xs, ys, np.hstack([xs, ys]))]  # fmt: skip
    assert knn.wkl_mi(x, y, k=k) == pytest.approx(mean[0] + mean[1] - mean[2], abs=1e-12)


@pytest.mark.parametrize("name", ["ksg2", "kl", "wkl"])
@pytest.mark.parametrize(("rho", "dim"), [(0.5, 1), (0.9, 1), (0.6, 2)])
def test_gaussian_closed_form(name: str, rho: float, dim: int) -> None:
    """|mean Î − I| <= 4 SE + KNN_BIAS_BUDGET over 4 replicates of n = 2000 (joint D <= 4)."""
    spec = estimators.get(name)
    gap, four_se = replicate_gap(spec.estimate, rho, dim, n=2000, replicates=4)
    assert gap <= four_se + KNN_BIAS_BUDGET, (gap, four_se)


def test_ksg2_ensemble_is_the_mean_over_k_5_and_10() -> None:
    x, y = correlated(400, 0.7, 2, seed=1)
    mean = (knn.ksg2_mi(x, y, k=5) + knn.ksg2_mi(x, y, k=10)) / 2
    assert knn.ksg2_mi(x, y, ensemble=1) == pytest.approx(mean, abs=1e-12)


@given(st.integers(0, 10_000), st.floats(0.1, 50.0), st.sampled_from(["ksg2", "kl", "wkl"]))
def test_symmetric_and_unit_free(seed: int, scale: float, name: str) -> None:
    """I(X; Y) = I(Y; X) and a positive rescaling of one coordinate changes nothing."""
    x, y = correlated(120, 0.6, 2, seed)
    f = estimators.get(name).estimate
    value = f(x, y)
    assert f(y, x) == pytest.approx(value, abs=1e-9)
    assert f(x * np.array([scale, 1.0]), y) == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, y: knn.ksg2_mi(x, y, k=200), "k must be < n"),
        (lambda x, y: knn.ksg2_mi(x, y, ensemble=2), "ensemble must be 0"),
        (lambda x, y: knn.kl_mi(x, y, k=0), "k must be an integer >= 1"),
        (lambda x, y: knn.kl_mi(np.zeros((100, 1)), y), "repeated samples"),
        (lambda x, y: knn.wkl_mi(x, y, k=2.5), "k must be an integer"),
    ],
)
def test_bad_input_names_the_argument(call, message: str) -> None:
    x, y = correlated(100, 0.5, 1, seed=0)
    with pytest.raises(ValueError, match=message):
        call(x, y)


def test_wkl_refuses_a_support_too_small_for_its_constraints() -> None:
    with pytest.raises(ValueError, match="support points"):
        knn.wkl_weights(2, 12)
