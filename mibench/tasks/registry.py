"""Name -> :class:`TaskSpec` registry; ``mibench list tasks`` reads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mibench.interface import Task, UnknownNameError, over_defaults


@dataclass(frozen=True)
class TaskSpec:
    """How to build a task family: ``build(**params) -> Task`` validates every parameter."""

    name: str
    build: Callable[..., Task]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    truth_source: str = ""


_REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> TaskSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("task", name, names()) from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def build(name: str, **params: Any) -> Task:
    """Build the task ``name`` with ``params`` over its defaults (unknown keys are an error)."""
    spec = get(name)
    return spec.build(**over_defaults("task", name, params, spec.defaults))
