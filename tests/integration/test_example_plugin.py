"""The example plug-in package (examples/mibench-example-plugin), checked as docs/own-estimator.md
says a new estimator should be: against the analytic optimal critic of a Gaussian task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench import tasks
from tests.plan._plugin_fixtures import EXAMPLE


@pytest.fixture(autouse=True)
def _example_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))


def test_symmetric_infonce_at_the_optimal_critic_is_close_to_the_truth_and_below_log_k() -> None:
    from mibench_example_plugin import symmetric_infonce

    task = tasks.build("gaussian", dim=2, mi=1.0)
    generator = torch.Generator().manual_seed(0)
    K, n_batches = 256, 40
    batch = task.sample(K * n_batches, generator, dtype=torch.float64)
    x = batch.x.reshape(n_batches, K, 1, -1)
    y = batch.y.reshape(n_batches, 1, K, -1)
    scores = task.log_ratio(x, y)  # S_ij = log p(x_i, y_j) / (p(x_i) p(y_j)): the optimum
    values = symmetric_infonce.value(scores)
    assert values.shape == (n_batches,) and (values <= math.log(K)).all()
    mean, se = float(values.mean()), float(values.std() / math.sqrt(n_batches))
    # InfoNCE at the optimal critic is below I by about (e^I - 1)/K = 0.007 nats at K = 256;
    # 0.1 nats leaves room for that gap plus 3 standard errors.
    assert task.true_mi() - 0.1 < mean < task.true_mi() + 3 * se
    assert torch.allclose(symmetric_infonce.loss(scores), -values)


def test_copula_gaussian_is_exact_for_gaussians_and_blind_to_monotone_maps() -> None:
    from mibench_example_plugin import copula_gaussian_mi

    task = tasks.build("gaussian", dim=2, mi=1.0)
    batch = task.sample(5000, torch.Generator().manual_seed(1), dtype=torch.float64)
    x, y = batch.x.numpy(), batch.y.numpy()
    estimate = copula_gaussian_mi(x, y)
    # The Gaussian MI of n = 5000 draws has a standard error of about 0.02 nats here.
    assert abs(estimate - task.true_mi()) < 0.06
    assert copula_gaussian_mi(x**3, np.exp(y)) == pytest.approx(estimate, abs=1e-12)
