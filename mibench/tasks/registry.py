"""Name -> :class:`TaskSpec` registry; ``mibench list tasks`` reads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mibench.interface import Task
from mibench.registry import Registry


@dataclass(frozen=True)
class TaskSpec:
    """How to build a task family: ``build(**params) -> Task`` validates every parameter."""

    name: str
    build: Callable[..., Task]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    truth_source: str = ""


REGISTRY: Registry[TaskSpec] = Registry("task")


def register(spec: TaskSpec) -> TaskSpec:
    """Add ``spec``; a duplicate name is an error."""
    return REGISTRY.register(spec)


def get(name: str) -> TaskSpec:
    """The spec registered as ``name``; an unknown name lists the valid ones."""
    return REGISTRY.get(name)


def names() -> list[str]:
    return REGISTRY.names()


def build(name: str, **params: Any) -> Task:
    """Build the task ``name`` with ``params`` over its defaults (unknown keys are an error)."""
    spec = get(name)
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        valid = ", ".join(sorted(spec.defaults)) or "(none)"
        raise ValueError(f"task {name!r} has no parameter {unknown[0]!r}; valid: {valid}")
    return spec.build(**{**spec.defaults, **params})
