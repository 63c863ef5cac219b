"""The scheduler's cost model (mibench.plan.cost)."""

from __future__ import annotations

import pytest

from mibench.core.interface import RunConfig
from mibench.plan import cost


def config(estimator: str = "infonce", batch_size: int = 64, n_steps: int = 100) -> RunConfig:
    return RunConfig.make(
        estimator=estimator, task="gaussian", batch_size=batch_size, n_steps=n_steps
    )


@pytest.mark.parametrize(("batch_size", "expected"), [(8, 1 + 1 / 256), (128, 2.0), (512, 17.0)])
def test_step_cost_grows_with_the_score_matrix(batch_size, expected):
    assert cost.run_step_cost(config(batch_size=batch_size)) == pytest.approx(expected)


def test_views_layout_sees_both_views():
    # NT-Xent's matrix holds both augmented views: 2K x 2K.
    assert cost.matrix_size(config("ntxent", batch_size=64)) == 128
    assert cost.matrix_size(config("infonce", batch_size=64)) == 64


def test_work_weights_run_steps_by_their_cost():
    small, large = config(batch_size=128, n_steps=10), config(batch_size=512, n_steps=3)
    assert cost.work([small, large]) == pytest.approx(10 * 2.0 + 3 * 17.0)
    assert cost.work([]) == 0


@pytest.mark.parametrize(
    ("batch_size", "runs"), [(64, 512), (128, 128), (256, 32), (512, 8), (4096, 2)]
)
def test_large_matrices_make_small_stacks(batch_size, runs):
    assert cost.max_stack_runs(config(batch_size=batch_size)) == runs
