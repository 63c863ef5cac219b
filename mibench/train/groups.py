"""The stack's run axis cut into contiguous slices: estimator groups and dual heads.

Runs are sorted by the dual head their estimator trains (none, x, y, pair, y-density) and then by
estimator, so every dual head serves a slice of the run axis and every estimator group (runs with
one spec: one vectorised loss call) is a slice inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mibench import critics as critic_registry
from mibench import rng
from mibench.critics.base import DEFAULT_ACTIVATION, DEFAULT_HIDDEN
from mibench.interface import Estimator, RunConfig
from mibench.resolve import head_of  # runs come in stack order: mibench.resolve.stack_runs


@dataclass
class Group:
    """Runs [start, stop) of the stack sharing one estimator (one vectorised loss call)."""

    spec: Estimator
    start: int
    stop: int
    head: str | None
    state: Any = None
    uses_state: bool = False
    # Names of the estimator extras this group's spec reports (only its runs' frames get them).
    extra_names: set[str] = field(default_factory=set)


def groups_of(runs: Sequence[Any]) -> list[Group]:
    """Maximal runs of equal specs in stack order (``runs``: items with a ``spec``)."""
    groups: list[Group] = []
    for run_index, run in enumerate(runs):
        same = groups and groups[-1].spec == run.spec
        if same and groups[-1].stop == run_index:
            groups[-1].stop += 1
        else:
            uses_state = run.spec.state_fn is not None or "state" in run.spec.needs
            groups.append(
                Group(run.spec, run_index, run_index + 1, head_of(run.spec), None, uses_state)
            )
    return groups


def build_heads(
    runs: Sequence[Any],
    first: RunConfig,
    dim_x: int,
    dim_y: int,
    dtype: torch.dtype,
    device: torch.device,
) -> dict[str, tuple[slice, critic_registry.DualHead]]:
    """Per dual kind in use, the slice of runs it serves and its stacked head (each run's head
    drawn from its own ``dual-<kind>`` stream; hidden sizes and activation are the critic's)."""
    critic_params = critic_registry.resolve_params(first.critic, first.kwargs("critic"))
    hidden = critic_params.get("hidden", DEFAULT_HIDDEN)
    activation = critic_params.get("activation", DEFAULT_ACTIVATION)
    heads: dict[str, tuple[slice, critic_registry.DualHead]] = {}
    for kind in critic_registry.DUAL_KINDS:
        members = [i for i, r in enumerate(runs) if head_of(r.spec) == kind]
        if not members:
            continue
        span = slice(members[0], members[-1] + 1)
        head = critic_registry.DualHead(
            kind,
            dim_x,
            dim_y,
            generators=[rng.generator(runs[i].config, f"dual-{kind}") for i in members],
            dtype=dtype,
            device=device,
            hidden=hidden,
            activation=activation,
        )
        heads[kind] = (span, head)
    return heads


def split_parts(
    groups: Sequence[Group],
    heads: dict[str, Any],
    scores: Tensor,
    duals: dict[str, Tensor],
) -> tuple[Sequence[Tensor], dict[int, Tensor]]:
    """Each group's rows of ``scores`` and of its dual head's output, as one ``split``.

    ``split`` instead of one slice per group: its backward is one concatenation of the
    groups' gradients, where each slice's backward writes its gradient into a zero tensor of
    the whole stack's size (8 groups: 8 full-size zero fills and sums per step). The
    gradients are the same numbers (the other slices' contributions are exact zeros).
    """
    sizes = [g.stop - g.start for g in groups]
    score_parts = scores.split(sizes) if len(sizes) > 1 else (scores,)
    dual_parts: dict[int, Tensor] = {}
    for kind in heads:
        members = [i for i, g in enumerate(groups) if g.head == kind]
        pieces = duals[kind].split([sizes[i] for i in members], dim=-2)
        dual_parts.update(zip(members, pieces, strict=True))
    return score_parts, dual_parts
