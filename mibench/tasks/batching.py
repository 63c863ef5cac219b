"""Draw for a stack of runs: one generator per run, results stacked on a leading run axis.

Each run keeps its own RNG stream (DESIGN.md, "Stacked training"), so run r's data are exactly
``task.sample(n, generators[r], ...)`` whatever else is in the stack: a run's numbers do not
depend on which stack it ran in. The loop is over runs (R calls), never over samples; each call
draws a whole block of T steps × K pairs at once when ``n = T * K`` and ``steps`` says which step
each sample belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from mibench.core.interface import Batch, Task


def sample_stacked(
    task: Task,
    n: int,
    generators: Sequence[torch.Generator],
    *,
    steps: Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> Batch:
    """``R = len(generators)`` independent draws of ``n`` samples, stacked on a leading run axis.

    Args:
        task: any task.
        n: samples per run.
        generators: one generator per run (all on the same device).
        steps: ``(n,)`` shared by every run, or ``(R, n)`` one row per run; None for step 0.
        dtype: floating dtype of ``x`` and ``y``.
    Returns:
        ``Batch(x (R, n, dim_x), y (R, n, dim_y) or None, labels (R, n) or None)``.
    """
    if len(generators) == 0:
        raise ValueError("generators must hold at least one generator (one per run), got none")
    n_runs = len(generators)
    if steps is not None and steps.shape not in {(n,), (n_runs, n)}:
        raise ValueError(
            f"steps must have shape ({n},) or ({n_runs}, {n}), got {tuple(steps.shape)}"
        )
    draws = []
    for run, generator in enumerate(generators):
        run_steps = steps if steps is None or steps.dim() == 1 else steps[run]
        draws.append(task.sample(n, generator, steps=run_steps, dtype=dtype))
    return Batch(
        x=torch.stack([draw.x for draw in draws]),
        y=_stack_present([draw.y for draw in draws]),
        labels=_stack_present([draw.labels for draw in draws]),
    )


def _stack_present(parts: Sequence[Tensor | None]) -> Tensor | None:
    """Stack the per-run tensors; None when the task returns none (y of a labeled task)."""
    tensors = [part for part in parts if part is not None]
    return torch.stack(tensors) if tensors else None
