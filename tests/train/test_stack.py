from __future__ import annotations

import math

from mibench.interface import RunConfig
from mibench.results import schema
from mibench.train import train_stack


def _config(**overrides: object) -> RunConfig:
    base: dict[str, object] = {
        "estimator": "infonce",
        "task": "gaussian",
        "task_params": {"dim": 3, "mi": 1.0},
        "critic_params": {"hidden": (16,), "embed_dim": 8},
        "batch_size": 16,
        "n_steps": 12,
        "eval_every": 5,
        "lr": 1e-3,
    }
    base.update(overrides)
    return RunConfig.make(**base)


def test_frame_follows_the_schema() -> None:
    (result,) = train_stack([_config()])
    frame = result.frame
    assert list(frame.columns[: len(schema.COLUMNS)]) == list(schema.COLUMNS)
    train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
    evals = frame[frame[schema.READOUT] == schema.READOUT_EVAL]
    assert train[schema.STEP].tolist() == list(range(12))
    assert evals[schema.STEP].tolist() == [0, 5, 10, 11]
    assert (train[schema.LOG_K] == math.log(16)).all()
    assert (evals[schema.LOG_K] == math.log(64)).all()
    assert result.diverged_step is None
