"""A small real stack for the tests of the trainer's parts (groups, readout, snapshots, frames)."""

from __future__ import annotations

import torch

from mibench.core.interface import RunConfig
from mibench.plan.resolve import resolve_runs
from mibench.train.stack import _Stack

SMALL = {"hidden": [8], "embed_dim": 4}


def small_config(estimator: str, seed: int = 0, **overrides: object) -> RunConfig:
    base: dict[str, object] = {"estimator": estimator, "task": "gaussian",
                               "task_params": {"dim": 2, "mi": 1.0}, "critic_params": SMALL,
                               "batch_size": 6, "n_steps": 4, "eval_every": 2, "seed": seed,
                               "dtype": "float64"}  # fmt: skip
    return RunConfig.make(**{**base, **overrides})


def small_stack(*estimators: str) -> _Stack:
    """A built (untrained) stack of one run per estimator, seeds 0, 1, ... in the order given."""
    configs = [small_config(name, seed) for seed, name in enumerate(estimators)]
    return _Stack(resolve_runs(configs), torch.device("cpu"))
