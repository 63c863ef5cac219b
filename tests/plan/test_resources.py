"""Peak-memory estimates of a stack and the one-line refusal of a plan that cannot fit."""

from __future__ import annotations

import pytest

from mibench.core.interface import RunConfig
from mibench.plan import checks, resources
from mibench.plan.suite import SuiteError, parse_suite, plan


def _config(**changes) -> RunConfig:
    return RunConfig.make(
        **{"estimator": "infonce", "task": "gaussian", "batch_size": 64, **changes}
    )


def test_parts_follow_their_formulas() -> None:
    config = _config(critic_params={"hidden": [32], "embed_dim": 8}, dtype="float64")
    estimate = resources.run_estimate(config, 3, 3, stack_runs=4)
    held_out = config.resolved_eval_batch_size
    copies = resources.SCORE_COPIES * 64**2 * 8 + resources.HELDOUT_SCORE_COPIES * held_out**2 * 8
    assert estimate.scores == 4 * copies
    # separable: two towers 3 -> 32 -> 8; weights, gradients and Adam's two moments in float64
    assert estimate.parameters == 4 * 4 * 2 * (3 * 32 + 32 * 8) * 8


def test_score_memory_grows_as_k_squared() -> None:
    small = resources.run_estimate(_config(eval_batch_size=8), 2, 2)
    large = resources.run_estimate(_config(batch_size=128, eval_batch_size=8), 2, 2)
    # float32 training matrices: the difference is the K^2 term alone (same held-out batch)
    assert large.scores - small.scores == resources.SCORE_COPIES * (128**2 - 64**2) * 4


def test_a_concat_critics_pair_activations_are_capped_by_its_tiling() -> None:
    separable = resources.run_estimate(_config(critic="separable"), 2, 2)
    concat = resources.run_estimate(_config(critic="concat"), 2, 2)
    assert concat.activations > separable.activations
    huge = resources.run_estimate(_config(critic="concat", batch_size=4096), 2, 2, stack_runs=64)
    uncapped = 64 * resources.ACTIVATION_COPIES * 4096**2 * 4 * (64 + 1)  # every pair, every layer
    assert huge.activations < uncapped / 10


def test_the_shipped_suites_fit_in_16_gb() -> None:
    from mibench.plan.suite import load_suite

    for name in ("default", "bmi_v1", "poole_staircase", "batch_sweep", "sandwich"):
        checks.check_plan_memory(plan(load_suite(name)), available=16e9)


def _plan(settings: dict, critics: list | None = None):
    grid = {"estimators": ["infonce"], "tasks": [{"name": "gaussian", "dim": 2, "mi": 1}]}
    if critics is not None:
        grid["critics"] = critics
    return plan(parse_suite({"suite": settings, "grid": [grid]}, source="x.toml", name="x"))


@pytest.mark.parametrize(
    ("settings", "critics", "lower"),
    [
        ({"batch_sizes": [100_000], "steps": 5}, None, "lower batch_sizes"),
        ({"steps": 5}, [{"name": "concat", "hidden": [100_000, 100_000]}], "hidden widths ("),
    ],
)
def test_a_plan_that_cannot_fit_is_refused_in_one_line(settings, critics, lower) -> None:
    with pytest.raises(SuiteError) as caught:
        checks.check_plan_memory(_plan(settings, critics), available=16e9)
    message = str(caught.value)
    assert "estimated peak" in message and "limit 12.8 GB" in message and lower in message, message
    assert "\n" not in message


def test_a_small_plan_fits() -> None:
    checks.check_plan_memory(_plan({"steps": 5}), available=16e9)


def test_a_kernel_sample_estimator_on_a_huge_sample_is_refused() -> None:
    config = RunConfig.make(estimator="kde", task="gaussian", batch_size=10**6, critic="none")
    refusal = resources.check_plan_memory([(config, 2, 2, True, ())], available=16e9)
    assert refusal is not None and "lower sample_size" in refusal


def test_available_memory_is_known_here() -> None:
    available = resources.available_bytes()
    assert available is None or available > 0
