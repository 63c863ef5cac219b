"""A stack's data blocks: T steps of batches for every run, drawn with one ``sample`` call per run.

Run r's batches come from its own generator (its ``data`` or ``eval`` stream), so they do not
depend on the other runs of the stack: a block of T steps of n samples is one
``task.sample(T * n, generator, steps=...)`` call (each sample drawn at the step it is used in,
for tasks whose MI changes with the step), reshaped to ``(T, n, d)`` and stacked over the runs.
Under ``negatives="derangement"`` the run's shuffled partners (a random n-cycle per step) are drawn
from the same generator, after the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from mibench.systems.in_batch import random_cycles

#: ``(x, y, labels, perm)``, each ``(T, R, n, ...)`` (None where the layout has no such part).
Block = tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]


def draw(
    runs: Sequence[Any],
    gens: Sequence[torch.Generator],
    steps: list[int],
    n: int,
    *,
    layout: str,
    negatives: str,
    dtype: torch.dtype,
    device: torch.device,
    held_out: bool = False,
) -> Block:
    """One ``sample`` call per run for ``len(steps)`` batches of ``n``: ``(T, R, n, d)`` tensors.

    ``runs`` are the stack's runs (items with ``task`` and ``eval_task``; ``held_out`` draws from
    the latter), ``gens`` their generators, in the same order.
    """
    T = len(steps)
    step_ids = torch.tensor(steps, dtype=torch.int64).repeat_interleave(n)
    xs, ys, labels, perms = [], [], [], []
    for run, gen in zip(runs, gens, strict=True):
        task = run.eval_task if held_out else run.task
        batch = task.sample(T * n, gen, steps=step_ids, dtype=dtype)
        xs.append(batch.x.reshape(T, n, -1))
        if layout != "labels":
            ys.append(batch.y.reshape(T, n, -1))
        if layout == "labels":
            labels.append(batch.labels.reshape(T, n))
        if negatives == "derangement":
            perms.append(random_cycles(T, n, gen))

    def stack(parts: list[Tensor]) -> Tensor | None:
        return torch.stack(parts, dim=1).to(device) if parts else None

    return stack(xs), stack(ys), stack(labels), stack(perms)  # type: ignore[return-value]
