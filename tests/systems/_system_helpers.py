"""Shared helpers of the contrastive-system tests (tests/systems/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mibench import estimators, systems
from mibench.core.interface import RunConfig

ENCODER = {"hidden": [8], "embed_dim": 4, "tau": 0.5, "activation": "relu"}


def moco_config(queue: int, momentum: float, *, K: int = 4, seed: int = 0, **extra) -> RunConfig:
    return RunConfig.make(
        estimator="infonce",
        task="gaussian",
        task_params={"dim": 3, "mi": 1.0},
        critic="encoder",
        critic_params=ENCODER,
        batch_size=K,
        seed=seed,
        dtype="float64",
        system="moco",
        system_params={"queue": queue, "momentum": momentum},
        **extra,
    )


def draw(task, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    batch = task.sample(n, torch.Generator().manual_seed(seed), dtype=torch.float64)
    return batch.x.unsqueeze(0), batch.y.unsqueeze(0)


def assert_diagnostics_on_their_rows(frame: pd.DataFrame, columns: list[str]) -> None:
    """Finite in every eval row and in every DIAGNOSTICS_EVERY-th train row and the last; NaN in
    the other train rows (the trainer skips the K^2 diagnostics there)."""
    from mibench.train.stack import DIAGNOSTICS_EVERY

    evals = frame[frame["readout"] == "eval"][columns].to_numpy()
    train = frame[frame["readout"] == "train"][columns].to_numpy()
    rows = np.arange(len(train))
    diagnosed = (rows % DIAGNOSTICS_EVERY == 0) | (rows == len(train) - 1)
    assert np.isfinite(evals).all() and np.isfinite(train[diagnosed]).all()
    assert np.isnan(train[~diagnosed]).all()


def system_reason(config: RunConfig, critic: str | None = None) -> str | None:
    """Why ``config``'s system does not apply to its estimator (and ``critic``), as the planner
    reads it; None when it applies."""
    return systems.system_compatibility(config, estimators.get(config.estimator), critic)
