"""The correlated Gaussian task: truth, oracle critic, sampler, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mibench.core.interface import Task
from mibench.tasks.gaussian import (
    GaussianTask,
    build_gaussian,
    gaussian_log_ratio,
    mi_from_rho,
    rho_from_mi,
    sample_correlated_gaussian,
)
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded


def joint_covariance(rho: float, dim: int) -> np.ndarray:
    """Covariance of (x, y) in R^{2d}: identity blocks, rho I off the diagonal."""
    eye = np.eye(dim)
    return np.block([[eye, rho * eye], [rho * eye, eye]])


@pytest.mark.parametrize(("true_mi", "dim"), [(0.5, 1), (2.0, 5), (10.0, 20)])
def test_rho_from_mi_inverts_mi_from_rho_and_matches_scipy_entropies(
    true_mi: float, dim: int
) -> None:
    rho = rho_from_mi(true_mi, dim)
    assert mi_from_rho(rho, dim) == pytest.approx(true_mi, rel=1e-12)
    # independent oracle: I = H(X) + H(Y) - H(X, Y) from scipy's Gaussian entropies
    h_joint = stats.multivariate_normal(cov=joint_covariance(rho, dim)).entropy()
    h_marginal = stats.multivariate_normal(cov=np.eye(dim)).entropy()
    assert 2 * h_marginal - h_joint == pytest.approx(true_mi, rel=1e-9)


def test_log_ratio_matches_scipy_densities_in_score_orientation() -> None:
    rho, dim = 0.7, 3
    generator = seeded(0)
    x = torch.randn(4, dim, generator=generator, dtype=torch.float64)
    y = torch.randn(5, dim, generator=generator, dtype=torch.float64)
    scores = gaussian_log_ratio(x[:, None, :], y[None, :, :], rho)  # S_ij = log r(x_i, y_j)
    joint = stats.multivariate_normal(cov=joint_covariance(rho, dim))
    marginal = stats.multivariate_normal(cov=np.eye(dim))
    for i in range(4):
        for j in range(5):
            xy = np.concatenate([x[i].numpy(), y[j].numpy()])
            expected = (
                joint.logpdf(xy) - marginal.logpdf(x[i].numpy()) - marginal.logpdf(y[j].numpy())
            )
            assert float(scores[i, j]) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("true_mi", "dim"), [(1.0, 1), (2.0, 5), (6.0, 20)])
def test_true_mi_matches_monte_carlo_of_oracle_log_ratio(true_mi: float, dim: int) -> None:
    task = build_gaussian(dim=dim, mi=true_mi)
    batch = task.sample(100_000, seeded(1), dtype=torch.float64)
    estimate, standard_error = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    assert_close_in_standard_errors(estimate, standard_error, task.true_mi())


def test_sample_has_unit_margins_and_correlation_rho() -> None:
    rho, dim, n = 0.6, 4, 200_000
    x, y = sample_correlated_gaussian(n, dim, rho, seeded(2), dtype=torch.float64)
    # the sample correlation has standard error (1 - rho^2)/sqrt(n) for a bivariate normal
    for k in range(dim):
        r = float(np.corrcoef(x[:, k].numpy(), y[:, k].numpy())[0, 1])
        assert abs(r - rho) <= 4 * (1 - rho**2) / math.sqrt(n)
    # coordinates are independent across k: off-diagonal correlations have SE 1/sqrt(n)
    cross = float(np.corrcoef(x[:, 0].numpy(), y[:, 1].numpy())[0, 1])
    assert abs(cross) <= 4 / math.sqrt(n)
    assert abs(float(y.var()) - 1.0) <= 4 * math.sqrt(2.0 / (n * dim))


def test_per_sample_rho_tensor_broadcasts() -> None:
    rho = torch.tensor([[0.0], [0.9]], dtype=torch.float64).repeat_interleave(50_000, dim=0)
    x, y = sample_correlated_gaussian(100_000, 1, rho, seeded(3), dtype=torch.float64)
    low = float(np.corrcoef(x[:50_000, 0], y[:50_000, 0])[0, 1])
    high = float(np.corrcoef(x[50_000:, 0], y[50_000:, 0])[0, 1])
    assert abs(low) <= 4 / math.sqrt(50_000)
    assert abs(high - 0.9) <= 4 * (1 - 0.81) / math.sqrt(50_000)


def test_sampler_is_reproducible_and_respects_dtype() -> None:
    task = build_gaussian(dim=3, mi=1.0)
    a = task.sample(16, seeded(7))
    b = task.sample(16, seeded(7))
    c = task.sample(16, seeded(8))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert a.x.dtype == torch.float32 and a.x.shape == (16, 3) and a.labels is None
    assert task.sample(4, seeded(7), dtype=torch.float64).y.dtype == torch.float64


def test_build_from_rho_overrides_mi_and_records_params() -> None:
    task = build_gaussian(dim=2, mi=5.0, rho=0.5)
    assert isinstance(task, GaussianTask) and isinstance(task, Task)
    assert task.true_mi() == pytest.approx(-math.log(1 - 0.25))
    assert task.params == {"dim": 2, "mi": task.true_mi(), "rho": 0.5}
    assert build_gaussian(dim=5, mi=2.0).id == "gaussian-d5-mi2"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 0}, "dim must be an integer >= 1, got 0"),
        ({"dim": 2.5}, "dim must be an integer >= 1, got 2.5"),
        ({"dim": True}, "dim must be an integer >= 1, got True"),
        ({"mi": -1.0}, "mi must be a number >= 0 (nats), got -1.0"),
        ({"mi": math.inf}, "mi must be finite, got inf"),
        ({"rho": 1.0}, "rho must lie in the open interval (-1, 1), got 1.0"),
        ({"rho": -1.5}, "rho must lie in the open interval (-1, 1), got -1.5"),
    ],
)
def test_bad_parameters_raise_one_line_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        build_gaussian(**kwargs)
    assert str(error.value) == message
