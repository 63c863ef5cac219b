"""Song & Ermon's self-consistency tests as tasks (mibench.tasks.consistency), on a Gaussian base
whose truth and oracle are closed forms, so every target is checked independently of the digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench.tasks import build
from mibench.tasks.consistency import SelfConsistencyTask, with_consistency_test
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded

BASE = build("gaussian", dim=3, mi=1.5)


@pytest.mark.parametrize(
    ("test", "factor", "dims"),
    [("independence", 0.0, (3, 3)), ("data_processing", 1.0, (6, 3)), ("additivity", 2.0, (6, 6))],
)
def test_targets_dims_ids_and_oracle_mean(test: str, factor: float, dims: tuple) -> None:
    task = SelfConsistencyTask(BASE, test)
    assert task.true_mi() == pytest.approx(factor * 1.5) and (task.dim_x, task.dim_y) == dims
    assert task.id == f"{BASE.id}-{test}" and task.name == "gaussian" and task.target == "mi"
    assert task.f_mi("kl") == task.true_mi() and task.f_mi("pearson") is None
    batch = task.sample(2**15, seeded(0), dtype=torch.float64)
    assert batch.x.shape == (2**15, dims[0]) and batch.y.shape == (2**15, dims[1])
    values = task.log_ratio(batch.x, batch.y)
    if test == "independence":
        assert bool((values == 0).all())
    else:
        assert_close_in_standard_errors(*mean_and_standard_error(values), task.true_mi())


def test_independence_pairs_are_uncorrelated() -> None:
    """Each base coordinate pair has correlation rho; the test's pairs have none (SE 1/sqrt(n))."""
    n = 2**15
    batch = SelfConsistencyTask(BASE, "independence").sample(n, seeded(1), dtype=torch.float64)
    correlation = np.corrcoef(batch.x[:, 0].numpy(), batch.y[:, 0].numpy())[0, 1]
    assert abs(correlation) < 4 / math.sqrt(n)


def test_data_processing_appends_h_of_the_same_draw() -> None:
    task = SelfConsistencyTask(BASE, "data_processing")
    batch, plain = task.sample(16, seeded(2)), BASE.sample(16, seeded(2))
    assert torch.equal(batch.x, torch.cat([plain.x, -plain.x], dim=-1))
    assert torch.equal(batch.y, plain.y)


def test_additivity_concatenates_two_independent_draws() -> None:
    generator = seeded(3)
    first, second = BASE.sample(16, generator), BASE.sample(16, generator)
    batch = SelfConsistencyTask(BASE, "additivity").sample(16, seeded(3))
    assert torch.equal(batch.x, torch.cat([first.x, second.x], -1))
    assert torch.equal(batch.y, torch.cat([first.y, second.y], -1))


def test_oracle_of_additivity_is_the_sum_of_the_blocks() -> None:
    task = SelfConsistencyTask(BASE, "additivity")
    batch = task.sample(8, seeded(4), dtype=torch.float64)
    scores = task.log_ratio(batch.x[:, None], batch.y[None])
    expected = BASE.log_ratio(batch.x[:, None, :3], batch.y[None, :, :3]) + BASE.log_ratio(
        batch.x[:, None, 3:], batch.y[None, :, 3:]
    )
    assert scores.shape == (8, 8) and torch.allclose(scores, expected)


def test_none_is_the_base_task_and_unknown_tests_are_refused() -> None:
    assert (
        with_consistency_test(BASE, "none", processing=torch.neg, processing_formula="-x") is BASE
    )
    with pytest.raises(ValueError, match="consistency test must be one of independence, data_pro"):
        SelfConsistencyTask(BASE, "none")
