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


def test_critic_macs_follow_the_layer_products():
    k, d = 64, 20
    separable = RunConfig.make(
        estimator="infonce",
        task="gaussian",
        critic="separable",
        critic_params={"hidden": [256, 256], "embed_dim": 32},
    )
    tower = d * 256 + 256 * 256 + 256 * 32
    assert cost.critic_macs(separable, d, d) == k * 2 * tower + k * k * 32
    concat = RunConfig.make(
        estimator="infonce", task="gaussian", critic="concat", critic_params={"hidden": [256, 256]}
    )
    # first layer split into 2K products, the rest on all K^2 pairs
    assert cost.critic_macs(concat, d, d) == k * 2 * d * 256 + k * k * (256 * 256 + 256)


def test_expected_seconds_grow_with_steps_and_split_over_workers():
    short = RunConfig.make(estimator="infonce", task="gaussian", n_steps=100)
    long = RunConfig.make(estimator="infonce", task="gaussian", n_steps=1000)
    one = cost.expected_seconds([(short, 5, 5)])
    assert cost.expected_seconds([(long, 5, 5)]) == pytest.approx(10 * one)
    assert cost.expected_seconds([(long, 5, 5)], workers=2) == pytest.approx(5 * one)
    # the measured anchor: a Poole-size concat run-step costs tens of milliseconds
    concat = RunConfig.make(
        estimator="infonce",
        task="gaussian",
        critic="concat",
        critic_params={"hidden": [256, 256]},
        n_steps=1,
    )
    assert 0.01 < cost.run_seconds(concat, 20, 20) < 0.1


def test_sample_runs_cost_by_their_sample_size():
    ksg = RunConfig.make(
        estimator="ksg", task="gaussian", critic="none", batch_size=2000, n_steps=1
    )
    big = RunConfig.make(
        estimator="ksg", task="gaussian", critic="none", batch_size=20000, n_steps=1
    )
    assert cost.run_seconds(big, 5, 5) > 10 * cost.run_seconds(ksg, 5, 5)
