"""Tests of the PMI profiles (mibench.tasks.pmi): E[PMI] = I on every task with a density ratio,
and the Gaussian closed form Var[PMI] = Σ ρ_i²."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench import tasks
from mibench.tasks import pmi

N = 40_000


def _supported() -> list[str]:
    out = []
    for name in tasks.names():
        task = tasks.build(name)
        try:
            pmi.pmi_sample(task, 4, torch.Generator().manual_seed(0))
        except ValueError:
            continue
        out.append(name)
    return out


SUPPORTED = _supported()


def test_every_paired_task_with_a_density_ratio_is_supported() -> None:
    assert {"gaussian", "student_t", "cubic", "mixture_x", "mixture_ai", "staircase"} <= set(
        SUPPORTED
    )


@pytest.mark.parametrize("name", SUPPORTED)
def test_mean_pmi_is_the_mi(name: str) -> None:
    """|mean PMI − I| <= 4 sqrt(SE² + SE_truth²) over N draws (SE_truth: Monte Carlo truths)."""
    task = tasks.build(name)
    profile, _ = pmi.task_profile(task, n=N, seed=1)
    se_truth = task.true_mi_standard_error() if hasattr(task, "true_mi_standard_error") else 0.0
    assert abs(profile.mean - task.true_mi()) <= 4 * math.hypot(
        profile.mean_standard_error, se_truth
    )


@pytest.mark.parametrize(("dim", "mi"), [(1, 0.5), (5, 2.0), (5, 8.0)])
def test_gaussian_variance_closed_form(dim: int, mi: float) -> None:
    """Sample Var[PMI] within 4 SE of d ρ², SE(var) = sqrt((m4 − s⁴)/n) from the sample."""
    task = tasks.build("gaussian", dim=dim, mi=mi)
    values = pmi.pmi_sample(task, N, torch.Generator().manual_seed(2))
    centred = values - values.mean()
    se_var = math.sqrt(((centred**4).mean() - centred.var() ** 2) / N)
    assert abs(centred.var() - pmi.gaussian_pmi_variance([task.rho] * dim)) <= 4 * se_var


def test_variance_closed_form_on_a_dense_multinormal() -> None:
    """Σ ρ_i² with ρ_i the canonical correlations of the covariance (singular values of
    Σxx^{-1/2} Σxy Σyy^{-1/2}) against the sampled variance, 4 SE."""
    task = tasks.build("multinormal_dense")
    cov = np.asarray(task.covariance, dtype=float)
    d = task.dim_x

    def inv_sqrt(m: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(m)
        return (v / np.sqrt(w)) @ v.T

    whitened = inv_sqrt(cov[:d, :d]) @ cov[:d, d:] @ inv_sqrt(cov[d:, d:])
    rhos = np.linalg.svd(whitened, compute_uv=False)
    values = pmi.pmi_sample(task, N, torch.Generator().manual_seed(3))
    centred = values - values.mean()
    se_var = math.sqrt(((centred**4).mean() - centred.var() ** 2) / N)
    assert abs(centred.var() - pmi.gaussian_pmi_variance(rhos)) <= 4 * se_var


def test_transforms_are_profiled_in_the_base_space() -> None:
    base = tasks.build("gaussian", dim=3, mi=1.0)
    for name in ("cubic", "uniform_margins", "random_linear"):
        assert pmi.base_space(tasks.build(name, dim=3, mi=1.0)).id == base.id
    stairs = tasks.build("staircase", dim=3, base="cubic", steps_per_level=10)
    assert pmi.base_space(stairs).transform_y is None
    same = pmi.pmi_sample(tasks.build("cubic", dim=3, mi=1.0), 50, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(same, pmi.pmi_sample(base, 50, torch.Generator().manual_seed(0)))


def test_pmi_std_follows_the_staircase_level_and_is_nan_without_a_ratio() -> None:
    stairs = tasks.build("staircase", dim=5, steps_per_level=10)
    low, high = pmi.pmi_std(stairs, 0), pmi.pmi_std(stairs, 45)
    assert low == pytest.approx(math.sqrt(5 * stairs.rhos[0] ** 2), rel=0.03)  # 6 SE of 0.5 %
    assert high > low
    assert math.isnan(pmi.pmi_std(tasks.build("labeled_gaussians")))
