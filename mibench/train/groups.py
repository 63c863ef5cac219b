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
from mibench.core import rng
from mibench.core.interface import Estimator, RunConfig
from mibench.critics import dual as dual_module
from mibench.critics.base import DEFAULT_ACTIVATION, DEFAULT_HIDDEN
from mibench.plan.resolve import (
    head_of,  # runs come in stack order: mibench.plan.resolve.stack_runs
)


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


@dataclass
class HeadPass:
    """Dual heads evaluated in one pass: ``head`` serves the runs of ``kinds``, kind ``kinds[k]``
    on the stack's runs ``spans[k]`` (consecutive slices, in order)."""

    kinds: tuple[str, ...]
    spans: tuple[slice, ...]
    head: critic_registry.DualHead

    @property
    def runs(self) -> slice:
        """The stack's runs this pass's parameters belong to (one contiguous slice)."""
        return slice(self.spans[0].start, self.spans[-1].stop)

    def forward(self, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """Each kind's head output ``(R_kind, K)`` for the runs it serves."""
        if len(self.kinds) == 1:
            span = self.spans[0]
            return {self.kinds[0]: self.head.forward(x[span], None if y is None else y[span])}
        inputs = torch.cat(
            [
                dual_module.head_inputs(kind, x[span], None if y is None else y[span])
                for kind, span in zip(self.kinds, self.spans, strict=True)
            ]
        )
        outputs = self.head.evaluate(inputs).split([s.stop - s.start for s in self.spans])
        return dict(zip(self.kinds, outputs, strict=True))


def head_passes(heads: dict[str, tuple[slice, critic_registry.DualHead]]) -> list[HeadPass]:
    """The dual heads in as few passes as their shapes allow: MLP heads of one architecture (input
    width included) whose runs are adjacent in the stack join one stacked MLP
    (:meth:`~mibench.critics.DualHead.joined`): TUBA's a(x) and I_alpha's q(y) when d_x = d_y are
    one 2-run pass, not two lone heads (measured: fwd + bwd 0.65 ms against 2 x 0.93 ms at K = 64,
    hidden 256-256, two threads); the others are one pass each."""
    members: list[list[tuple[str, slice, critic_registry.DualHead]]] = []
    for kind, (span, head) in heads.items():
        last = members[-1] if members else None
        if (
            last is not None
            and last[-1][1].stop == span.start
            and critic_registry.DualHead.joinable([last[-1][2], head])
        ):
            last.append((kind, span, head))
        else:
            members.append([(kind, span, head)])
    return [
        HeadPass(
            tuple(kind for kind, _, _ in group),
            tuple(span for _, span, _ in group),
            group[0][2]
            if len(group) == 1
            else critic_registry.DualHead.joined([head for _, _, head in group]),
        )
        for group in members
    ]


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
