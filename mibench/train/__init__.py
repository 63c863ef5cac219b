"""Stacked training: R runs of equal shapes as one computation (see :mod:`mibench.train.stack`).

``train_stack(configs, device=..., progress=...) -> list[RunResult]``. The planner-side helpers it
relies on live in :mod:`mibench.plan.resolve` and are re-exported here: ``stack_key(config)`` groups
configs that can share a stack; ``compatibility(estimator, task, critic)`` says why a triple cannot
be trained (None when it can).
"""

from __future__ import annotations

from mibench.plan.resolve import (
    ResolvedRun,
    build_task,
    compatibility,
    default_critic_for,
    resolve_estimator,
    resolve_run,
    stack_key,
)
from mibench.train.adam import StackedAdam
from mibench.train.record import RunResult
from mibench.train.stack import train_stack

__all__ = [
    "ResolvedRun",
    "RunResult",
    "StackedAdam",
    "build_task",
    "compatibility",
    "default_critic_for",
    "resolve_estimator",
    "resolve_run",
    "stack_key",
    "train_stack",
]
