"""Stacked training: R runs of equal shapes as one computation (see :mod:`mibench.train.stack`).

``train_stack(configs, device=..., progress=...) -> list[RunResult]``; ``stack_key(config)`` groups
configs that can share a stack; ``compatibility(estimator, task, critic)`` says why a triple cannot
be trained (None when it can).
"""

from __future__ import annotations

from mibench.train.adam import StackedAdam
from mibench.train.record import RunResult
from mibench.train.stack import (
    build_task,
    compatibility,
    default_critic_for,
    resolve_estimator,
    stack_key,
    train_stack,
)

__all__ = [
    "RunResult",
    "StackedAdam",
    "build_task",
    "compatibility",
    "default_critic_for",
    "resolve_estimator",
    "stack_key",
    "train_stack",
]
