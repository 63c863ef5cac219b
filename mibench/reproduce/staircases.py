"""Shared pieces of the staircase reproductions (Poole et al. 2019, Song & Ermon 2020, CLUB).

All three train on the staircase of Poole et al. (2019): a d = 20 correlated Gaussian (or its
cubic transform y -> y^3) whose MI climbs 2 -> 4 -> 6 -> 8 -> 10 nats, one level every N steps,
K = 64. :func:`staircase_suite` writes that setting in the suite schema (the same document a
``tasks/*.toml`` file holds) and :func:`mibench.plan.suite.parse_suite` validates it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mibench.plan.suite import Suite, parse_suite
from mibench.reproduce.base import Budget, Readings
from mibench.reproduce.levels import level_stats

LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
DIM = 20
BATCH_SIZE = 64
LOG_K = math.log(BATCH_SIZE)
TASK_LABELS = {"gaussian": "Gaussian", "cubic": "Cubic"}


def staircase_task(base: str, steps_per_level: int) -> dict[str, Any]:
    """The staircase task entry (``base`` gaussian or cubic; cubic acts on y, as in the papers)."""
    entry: dict[str, Any] = {
        "name": "staircase",
        "dim": DIM,
        "levels": list(LEVELS),
        "steps_per_level": steps_per_level,
        "base": base,
    }
    if base != "gaussian":
        entry["apply_to"] = "y"
    return entry


def staircase_suite(
    *,
    name: str,
    description: str,
    budget: Budget,
    lr: float,
    grids: Sequence[Mapping[str, Any]],
) -> Suite:
    """A staircase suite: 5 levels of ``budget.steps`` steps, ``budget.seeds`` seeds, K = 64,
    a training readout every step (the papers plot every step) and a held-out readout every
    level's tenth."""
    steps = len(LEVELS) * budget.steps
    document = {
        "suite": {
            "name": name,
            "description": description,
            "steps": steps,
            "seeds": budget.seeds,
            "lr": lr,
            "dtype": "float32",
            "batch_sizes": [BATCH_SIZE],
            "log_every": 1,
            "eval_every": max(1, budget.steps // 10),
        },
        "grid": [dict(grid) for grid in grids],
    }
    return parse_suite(document, source=f"reproduce {name}", name=name)


def task_label(config: Mapping[str, Any]) -> str:
    """``Gaussian`` or ``Cubic`` from a run's config (its staircase base)."""
    base = dict(config.get("task_params", {})).get("base", "gaussian")
    return TASK_LABELS.get(base, base)


def critics_of(budget: Budget, critics: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The paper's critic entries that ``budget`` trains (all of them when it names none)."""
    keep = budget.critics or tuple(critics)
    return [
        {"name": name.split("@")[0], **params} for name, params in critics.items() if name in keep
    ]


def stats_of(readings: Readings, fraction: float) -> Any:
    """Per-level window statistics of the readings' training curves."""
    return level_stats(readings.train, fraction)


def span_of(budget: Budget) -> int:
    from mibench.reproduce.levels import ema_span

    return ema_span(budget.steps)
