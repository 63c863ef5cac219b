"""Labeled Gaussian classes: simplex means, sampler, and the SINCERE KL against independent Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import pdist
from scipy.special import logsumexp

from mibench.core.interface import Task
from mibench.tasks import build
from mibench.tasks.labeled import LABELED_KL_MC_SAMPLES, helmert_basis, labeled_kl, simplex_means
from tests.tasks._task_stats import (
    Z_TOLERANCE,
    assert_close_in_standard_errors,
    mean_and_standard_error,
    seeded,
)


def independent_kl_estimate(task, n: int, seed: int) -> tuple[float, float]:
    """Class-averaged KL(p(x|c) || p(x|!=c)) from the task's own sampler and scipy densities.

    Labels are drawn uniformly by the sampler, so the mean over samples of
    log p(x|c) - log (1/(C-1)) sum_{c' != c} p(x|c') is the class average. Independent of the
    library's estimate: no symmetry argument, no Jensen-gap identity, scipy's log densities.
    """
    batch = task.sample(n, seeded(seed), dtype=torch.float64)
    x, labels = batch.x.numpy(), batch.labels.numpy()
    means = task.means.numpy()
    log_densities = np.stack(
        [
            stats.multivariate_normal(mean=m, cov=task.sigma**2 * np.eye(task.dim)).logpdf(x)
            for m in means
        ],
        axis=1,
    )
    own = log_densities[np.arange(n), labels]
    others = np.where(np.eye(task.n_classes, dtype=bool)[labels], -np.inf, log_densities)
    log_noise = logsumexp(others, axis=1) - math.log(task.n_classes - 1)
    return mean_and_standard_error(own - log_noise)


def test_simplex_means_are_equidistant_and_centred() -> None:
    for n_classes, dim in ((2, 1), (3, 2), (5, 8), (10, 9)):
        means = simplex_means(n_classes, dim, 2.5)
        assert means.shape == (n_classes, dim)
        np.testing.assert_allclose(pdist(means.numpy()), 2.5, rtol=1e-12)
        np.testing.assert_allclose(means.sum(0).numpy(), 0.0, atol=1e-12)
    basis = helmert_basis(4)
    torch.testing.assert_close(basis @ basis.T, torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(basis.sum(1), torch.zeros(3, dtype=torch.float64))


def test_two_classes_closed_form_against_monte_carlo() -> None:
    task = build("labeled_gaussians", n_classes=2, dim=3, separation=2.0, sigma=0.8)
    assert task.true_mi() == pytest.approx(2.0**2 / (2 * 0.8**2)) and task.kl_standard_error == 0.0
    estimate, standard_error = independent_kl_estimate(task, 100_000, seed=1)
    assert_close_in_standard_errors(estimate, standard_error, task.true_mi())


@pytest.mark.parametrize(("n_classes", "separation"), [(3, 3.0), (5, 2.0)])
def test_many_classes_monte_carlo_against_independent_monte_carlo(
    n_classes: int, separation: float
) -> None:
    task = build("labeled_gaussians", n_classes=n_classes, dim=6, separation=separation, sigma=1.0)
    truth, truth_se = task.true_mi(), task.kl_standard_error
    assert 0 < truth_se < 5e-3
    # Jensen: the KL to the mixture is below the average pairwise KL s^2/(2 sigma^2)
    assert truth < separation**2 / 2
    estimate, standard_error = independent_kl_estimate(task, 100_000, seed=2)
    assert_close_in_standard_errors(estimate, math.hypot(standard_error, truth_se), truth)


def test_kl_monte_carlo_is_deterministic_cached_and_seed_consistent() -> None:
    n = LABELED_KL_MC_SAMPLES // 8  # the default seed and size are exercised by true_mi() above
    first = labeled_kl(4, 5, 2.0, 1.0, n)
    hits = labeled_kl.cache_info().hits
    assert labeled_kl(4, 5, 2.0, 1.0, n) == first
    assert labeled_kl.cache_info().hits == hits + 1
    other = labeled_kl(4, 5, 2.0, 1.0, n, 99)
    assert other != first
    assert abs(other[0] - first[0]) <= Z_TOLERANCE * math.hypot(other[1], first[1])
    # extra dimensions beyond the simplex span carry no signal
    assert labeled_kl(4, 3, 2.0, 1.0, n)[0] == first[0]


def test_sampler_labels_are_uniform_and_class_means_match() -> None:
    task = build("labeled_gaussians", n_classes=4, dim=5, separation=3.0, sigma=0.5)
    n = 40_000
    batch = task.sample(n, seeded(3), dtype=torch.float64)
    assert batch.y is None and batch.x.shape == (n, 5) and batch.labels.dtype == torch.int64
    counts = torch.bincount(batch.labels, minlength=4).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform prior; fixed seed, deterministic
    for c in range(4):
        chosen = batch.x[batch.labels == c]
        # each coordinate mean has standard error sigma / sqrt(n_c)
        error = (chosen.mean(0) - task.means[c]).abs().max()
        assert float(error) <= Z_TOLERANCE * 0.5 / math.sqrt(len(chosen))


def test_class_log_density_matches_scipy() -> None:
    task = build("labeled_gaussians", n_classes=3, dim=2, separation=1.5, sigma=0.7)
    x = torch.randn(5, 2, generator=seeded(4), dtype=torch.float64)
    expected = np.stack(
        [
            stats.multivariate_normal(mean=m, cov=0.49 * np.eye(2)).logpdf(x.numpy())
            for m in task.means.numpy()
        ],
        axis=1,
    )
    np.testing.assert_allclose(task.class_log_density(x).numpy(), expected, rtol=1e-12)


def test_protocol_target_and_absent_ratio() -> None:
    task = build("labeled_gaussians")
    assert isinstance(task, Task) and task.target == "kl" and task.dim_y == 0
    assert task.log_ratio(torch.zeros(1, 8), torch.zeros(1, 8)) is None
    assert task.f_mi("kl") is None
    assert task.id == "labeled_gaussians-c4-d8-sep3-sigma1"
    a, b = task.sample(16, seeded(5)), task.sample(16, seeded(5))
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_classes": 1}, "n_classes must be an integer >= 2, got 1"),
        (
            {"n_classes": 5, "dim": 3},
            "dim must be >= n_classes - 1 = 4 for simplex means, got dim=3",
        ),
        ({"separation": 0.0}, "separation must be a finite number > 0, got 0.0"),
        ({"sigma": -1.0}, "sigma must be a finite number > 0, got -1.0"),
        ({"dim": 0}, "dim must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters_raise_one_line_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        build("labeled_gaussians", **kwargs)
    assert str(error.value) == message
