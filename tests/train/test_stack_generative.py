"""The stacked trainer with the generative estimators: auto critic, skips, stacked = looped,
and the bound direction of a short trained run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mibench.core.interface import RunConfig
from mibench.estimators import get as get_estimator
from mibench.results import schema
from mibench.tasks import build as build_task_by_name
from mibench.train import compatibility, default_critic_for, train_stack
from mibench.train.stack import task_entropy_y

METRICS = [schema.ESTIMATE, schema.LOSS, schema.GRAD_NORM]
STACK_TOLERANCE = 1e-5  # as tests/train/test_stack.py: float32 bmm rounding over a short run


def _config(estimator: str, **overrides: Any) -> RunConfig:
    base: dict[str, Any] = {
        "estimator": estimator,
        "task": "gaussian",
        "task_params": {"dim": 3, "mi": 1.0},
        "critic": "gaussian_conditional",
        "critic_params": {"hidden": (16,)},
        "batch_size": 16,
        "n_steps": 12,
        "eval_every": 5,
        "lr": 1e-3,
    }
    base.update(overrides)
    return RunConfig.make(**base)


def test_auto_critic_and_skips() -> None:
    gaussian = build_task_by_name("gaussian", dim=3, mi=1.0)
    cubic = build_task_by_name("cubic", dim=3, mi=1.0)
    for name in ("ba", "club", "l1out", "doe"):
        assert default_critic_for(get_estimator(name), gaussian) == "gaussian_conditional"
        assert "density critic" in compatibility(name, gaussian, "separable")
    assert compatibility("ba", gaussian, "gaussian_conditional") is None
    assert "needs H(Y)" in compatibility("ba", cubic, "gaussian_conditional")
    assert compatibility("club", cubic, "gaussian_conditional") is None
    # A log-density is a valid critic for the discriminative estimators.
    assert compatibility("infonce", gaussian, "gaussian_conditional") is None
    assert task_entropy_y(gaussian) == pytest.approx(1.5 * np.log(2 * np.pi * np.e))
    assert task_entropy_y(cubic) is None
    x_only = build_task_by_name("cubic", dim=3, mi=1.0, apply_to="x")
    assert task_entropy_y(x_only) == task_entropy_y(gaussian)


MIXED = [
    _config("ba"),
    _config("club", task_params={"dim": 3, "mi": 2.0}, seed=2),
    _config("l1out", lr=3e-3),
    _config("doe", seed=4),
    _config("kl_dime", seed=5),
    _config("ba", task="staircase", task_params={"dim": 3, "levels": [1, 2], "steps_per_level": 6}),
]


def test_run_alone_equals_run_inside_a_mixed_stack() -> None:
    stacked = train_stack(MIXED[::-1])
    for result in stacked:
        (alone,) = train_stack([result.config])
        gap = np.nanmax(
            np.abs(
                result.frame[METRICS].to_numpy(np.float64)
                - alone.frame[METRICS].to_numpy(np.float64)
            )
        )
        assert gap <= STACK_TOLERANCE, (result.config.estimator, gap)
        assert alone.critic_architecture == result.critic_architecture
    doe = next(r for r in stacked if r.config.estimator == "doe")
    assert "diagonal Gaussian" in doe.critic_architecture
    assert doe.n_parameters == (3 * 16 + 16) + (16 * 6 + 6) + 2 * 3


def test_trained_bounds_bracket_the_truth() -> None:
    """600 steps on a 5-d Gaussian at I = 2 nats: BA below, CLUB and L1Out above the truth.

    Window: the last 150 train readouts. Their mean has a standard error of about 0.02 nats
    (per-batch sd ≈ sqrt(d/2/K) = 0.2 for BA, correlated over steps); 0.06 is 3 such errors.
    """
    configs = [
        _config(
            name,
            task_params={"dim": 5, "mi": 2.0},
            critic_params={"hidden": (32, 32)},
            batch_size=64,
            n_steps=600,
            eval_every=600,
        )
        for name in ("ba", "club", "l1out")
    ]
    values = {}
    for result in train_stack(configs):
        train = result.frame[result.frame[schema.READOUT] == schema.READOUT_TRAIN]
        values[result.config.estimator] = train[schema.ESTIMATE].iloc[-150:].mean()
    assert values["ba"] <= 2.0 + 0.06
    assert values["ba"] >= 2.0 - 0.3  # and it is close: q has been fitted
    assert values["l1out"] >= 2.0 - 0.06
    assert values["club"] >= values["l1out"] - 1e-9
