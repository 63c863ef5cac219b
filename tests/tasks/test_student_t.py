"""Student-t task: closed-form MI against Monte Carlo, oracle against scipy, sampler laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mibench.core.interface import Task
from mibench.tasks.gaussian import mi_from_rho
from mibench.tasks.student_t import (
    build_student_t,
    sample_mixing_scale,
    student_t_log_ratio,
    student_t_mi_correction,
)
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded

KS_SIGNIFICANCE = 1e-3
"""Kolmogorov-Smirnov checks reject at p < 1e-3; with fixed seeds they are deterministic."""


def test_oracle_log_ratio_matches_scipy_multivariate_t() -> None:
    rho, nu, dim = 0.6, 3.0, 2
    generator = seeded(0)
    x = 2 * torch.randn(3, dim, generator=generator, dtype=torch.float64)
    y = 2 * torch.randn(4, dim, generator=generator, dtype=torch.float64)
    scores = student_t_log_ratio(x[:, None, :], y[None, :, :], rho, nu)  # S_ij = log r(x_i, y_j)
    eye = np.eye(dim)
    joint = stats.multivariate_t(shape=np.block([[eye, rho * eye], [rho * eye, eye]]), df=nu)
    marginal = stats.multivariate_t(shape=eye, df=nu)
    for i in range(3):
        for j in range(4):
            xi, yj = x[i].numpy(), y[j].numpy()
            expected = (
                joint.logpdf(np.concatenate([xi, yj])) - marginal.logpdf(xi) - marginal.logpdf(yj)
            )
            assert float(scores[i, j]) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(
    ("nu", "dim", "rho"), [(1.0, 2, 0.5), (3.0, 5, 0.3), (10.0, 3, 0.8), (2.5, 1, 0.0)]
)
def test_true_mi_matches_monte_carlo_of_oracle_log_ratio(nu: float, dim: int, rho: float) -> None:
    """E_p[log r] with the density-based oracle is independent of the entropy-based closed form."""
    task = build_student_t(dim=dim, nu=nu, rho=rho)
    batch = task.sample(100_000, seeded(int(10 * nu) + dim), dtype=torch.float64)
    estimate, standard_error = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    assert_close_in_standard_errors(estimate, standard_error, task.true_mi())


def test_correction_is_positive_and_vanishes_as_nu_grows() -> None:
    corrections = [student_t_mi_correction(nu, 4, 4) for nu in (1.0, 3.0, 10.0, 100.0, 1e4)]
    assert all(c > 0 for c in corrections)
    assert corrections == sorted(corrections, reverse=True)
    # large nu: the t task tends to the Gaussian one; the correction is O(d^2/nu^2)
    assert corrections[-1] < 1e-6


def test_full_mi_target_is_met_and_rho_zero_gives_the_correction() -> None:
    task = build_student_t(dim=5, nu=5.0, mi=2.0)
    assert task.true_mi() == pytest.approx(2.0, rel=1e-12)
    assert task.true_mi() == pytest.approx(
        mi_from_rho(task.rho, 5) + student_t_mi_correction(5.0, 5, 5)
    )
    assert build_student_t(dim=5, nu=5.0, rho=0.0).true_mi() == pytest.approx(
        student_t_mi_correction(5.0, 5, 5)
    )
    assert task.f_mi("kl") == task.true_mi() and task.f_mi("pearson") is None
    assert task.id == "student_t-d5-nu5-mi2" and isinstance(task, Task)


def test_mixing_scale_is_inverse_root_chi_square_over_nu() -> None:
    nu = 3.0
    scale = sample_mixing_scale(50_000, nu, seeded(4))
    assert scale.shape == (50_000, 1) and scale.dtype == torch.float64
    w = (1.0 / scale.square()).squeeze(1).numpy()
    assert stats.kstest(nu * w, stats.chi2(df=nu).cdf).pvalue > KS_SIGNIFICANCE


def test_sample_margins_are_student_t_and_shared_scale_couples_x_and_y() -> None:
    nu, dim, n = 4.0, 2, 50_000
    task = build_student_t(dim=dim, nu=nu, rho=0.0)
    batch = task.sample(n, seeded(5), dtype=torch.float64)
    for values in (batch.x[:, 0], batch.y[:, 1]):
        assert stats.kstest(values.numpy(), stats.t(df=nu).cdf).pvalue > KS_SIGNIFICANCE
    # rho = 0 yet dependent: |x| and |y| share the scale, so their log-magnitudes correlate
    r = np.corrcoef(batch.x[:, 0].abs().log().numpy(), batch.y[:, 0].abs().log().numpy())[0, 1]
    assert r > 4 / math.sqrt(n)


def test_sampler_is_reproducible_and_dtype_follows() -> None:
    task = build_student_t()
    a, b = task.sample(32, seeded(1)), task.sample(32, seeded(1))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.x.dtype == torch.float32
    assert not torch.equal(a.x, task.sample(32, seeded(2)).x)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nu": 0.0}, "nu must be a finite number > 0, got 0.0"),
        ({"nu": -2}, "nu must be a finite number > 0, got -2"),
        ({"dim": 0}, "dim must be an integer >= 1, got 0"),
        ({"rho": 1.0}, "rho must lie in the open interval (-1, 1), got 1.0"),
        ({"mi": -0.5}, "mi must be a number >= 0 (nats), got -0.5"),
    ],
)
def test_bad_parameters_raise_one_line_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        build_student_t(**kwargs)
    assert str(error.value) == message


def test_mi_below_the_rho_zero_floor_is_rejected_with_the_floor() -> None:
    floor = student_t_mi_correction(1.0, 10, 10)
    with pytest.raises(ValueError) as error:
        build_student_t(dim=10, nu=1.0, mi=0.5)
    assert str(error.value) == (
        f"mi must be >= {floor:.6g} for a Student-t with nu=1, dim=10 (its MI at rho=0), got 0.5"
    )
