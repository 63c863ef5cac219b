"""Nested states (estimator and system states: tensors in dicts, tuples and lists) handled as a
whole, leaf tensor by leaf tensor; anything that is not a tensor or a container passes through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def map_tensors(fn: Callable[[Tensor], Tensor], state: Any) -> Any:
    """``state`` with every tensor leaf replaced by ``fn(leaf)`` (containers rebuilt, same type)."""
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {k: map_tensors(fn, v) for k, v in state.items()}
    if isinstance(state, tuple | list):
        return type(state)(map_tensors(fn, v) for v in state)
    return state


def clone(state: Any) -> Any:
    return map_tensors(Tensor.clone, state)


def detach(state: Any) -> Any:
    return map_tensors(Tensor.detach, state)


def to_device(state: Any, device: torch.device) -> Any:
    """Tensors of a loaded checkpoint moved to ``device``."""
    return map_tensors(lambda tensor: tensor.to(device), state)


def stack_steps(states: list[Any]) -> Any:
    """Stack per-step states (equal structure) along a new leading (step) axis."""
    first = states[0]
    if isinstance(first, Tensor):
        return torch.stack(states)
    if isinstance(first, dict):
        return {k: stack_steps([s[k] for s in states]) for k in first}
    if isinstance(first, tuple | list):
        return type(first)(stack_steps(list(parts)) for parts in zip(*states, strict=True))
    return first


def where_runs(keep_new: Tensor, new: Any, old: Any) -> Any:
    """Per-run select between two states (tensors with a leading run axis, or containers):
    ``new`` for the runs where ``keep_new`` is True, ``old`` for the others."""
    if old is None:
        return new
    if isinstance(new, Tensor):
        return torch.where(keep_new.view(-1, *([1] * (new.dim() - 1))), new, old)
    if isinstance(new, dict):
        return {k: where_runs(keep_new, v, old[k]) for k, v in new.items()}
    if isinstance(new, tuple | list):
        return type(new)(where_runs(keep_new, n, o) for n, o in zip(new, old, strict=True))
    return new
