"""Name -> :class:`TaskSpec` registry; ``mibench list tasks`` reads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mibench.core.interface import Task
from mibench.core.registry import Registry


@dataclass(frozen=True)
class TaskSpec:
    """How to build a task family: ``build(**params) -> Task`` validates every parameter."""

    name: str
    build: Callable[..., Task]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    truth_source: str = ""


REGISTRY: Registry[TaskSpec] = Registry("task")


register = REGISTRY.register  # a duplicate name is an error
get = REGISTRY.get  # an unknown name lists the valid ones
names = REGISTRY.names


def build(name: str, **params: Any) -> Task:
    """Build the task ``name`` with ``params`` over its defaults (unknown keys are an error)."""
    spec = get(name)
    return spec.build(**REGISTRY.with_defaults(spec, params))
