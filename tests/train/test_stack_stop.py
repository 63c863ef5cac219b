"""``train_stack(stop=...)``: early stopping after a data block, the frames a prefix of the full run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.train import train_stack
from mibench.train.stack import MAX_BLOCK_STEPS


def _config(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = {
        "estimator": "infonce",
        "task": "gaussian",
        "task_params": {"dim": 2, "mi": 1.0},
        "critic_params": {"hidden": [8], "embed_dim": 4},
        "batch_size": 8,
        "n_steps": 3 * MAX_BLOCK_STEPS,
        "eval_every": 10,
        "lr": 1e-3,
    }
    base.update(overrides)
    return RunConfig.make(**base)


def test_stop_ends_training_after_the_block_and_keeps_a_prefix_of_the_full_run() -> None:
    configs = [_config(), _config(seed=1)]
    calls: list[tuple[np.ndarray, np.ndarray]] = []

    def stop(steps: np.ndarray, values: np.ndarray) -> bool:
        calls.append((steps.copy(), values.copy()))
        return bool(steps[-1] >= 100)  # true at the end of the first block (128 steps)

    stopped = train_stack(configs, stop=stop)
    full = train_stack(configs)
    # Blocks of this shape hold MAX_BLOCK_STEPS steps (d = 2, K = 8), so the rule is asked once.
    (steps, values), = calls  # fmt: skip
    assert steps.tolist() == list(range(0, MAX_BLOCK_STEPS, 10))
    assert values.shape == (len(steps), 2) and np.isfinite(values).all()
    for short, long in zip(stopped, full, strict=True):
        assert short.frame[schema.STEP].max() == MAX_BLOCK_STEPS - 1
        prefix = long.frame[long.frame[schema.STEP] < MAX_BLOCK_STEPS]
        pd.testing.assert_frame_equal(
            short.frame.drop(columns=schema.TIME_S).reset_index(drop=True),
            prefix.drop(columns=schema.TIME_S).reset_index(drop=True),
        )
        evals = short.frame[short.frame[schema.READOUT] == schema.READOUT_EVAL]
        assert np.allclose(evals[schema.ESTIMATE], values[:, configs.index(short.config)])


def test_a_rule_that_never_fires_changes_nothing() -> None:
    config = _config(n_steps=40)
    (with_rule,) = train_stack([config], stop=lambda steps, values: False)
    (plain,) = train_stack([config])
    pd.testing.assert_frame_equal(
        with_rule.frame.drop(columns=schema.TIME_S), plain.frame.drop(columns=schema.TIME_S)
    )
