"""The trainer's device-side buffers: the readout records and the logged train steps whose
float64 readout is still to be computed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor


@dataclass
class Pending:
    """Logged train steps whose float64 readout is still to be computed (in one batched pass)."""

    rows: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    scores: list[Tensor] = field(default_factory=list)
    duals: list[dict[str, Tensor]] = field(default_factory=list)
    labels: list[Tensor | None] = field(default_factory=list)
    states: list[list[Any]] = field(default_factory=list)
    alive: list[Tensor] = field(default_factory=list)
    # Positions (in ``rows``) of the rows that also get the diagnostics, and their embeddings.
    diagnosed: list[int] = field(default_factory=list)
    embeddings: list[tuple[Tensor, ...]] = field(default_factory=list)

    def add(
        self,
        row: int,
        step: int,
        scores: Tensor,
        duals: dict[str, Tensor],
        labels: Tensor | None,
        states: list[Any],
        alive: Tensor,
    ) -> None:
        self.rows.append(row)
        self.steps.append(step)
        self.scores.append(scores)
        self.duals.append(duals)
        self.labels.append(labels)
        self.states.append(states)
        self.alive.append(alive)

    def clear(self) -> None:
        for values in (
            self.rows,
            self.steps,
            self.scores,
            self.duals,
            self.labels,
            self.states,
            self.alive,
            self.diagnosed,
            self.embeddings,
        ):
            values.clear()


@dataclass
class Records:
    """One readout's records for R runs: float64 ``(n_rows, R)`` columns, created NaN on first
    use, on the stack's device (they reach the host once, at the end), and the row times."""

    n_rows: int
    n_runs: int
    dtype: torch.dtype
    device: torch.device
    columns: dict[str, Tensor] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)

    def column(self, name: str) -> Tensor:
        if name not in self.columns:
            self.columns[name] = torch.full(
                (self.n_rows, self.n_runs), math.nan, dtype=self.dtype, device=self.device
            )
        return self.columns[name]

    def keep_trained(self, steps: list[int], last: int) -> list[int]:
        """Keep the rows of ``steps`` (the records' steps, in row order) up to ``last`` and return
        those steps: the preallocated rows of steps never trained go (training stopped early)."""
        kept = [s for s in steps if s <= last]
        self.columns = {name: values[: len(kept)] for name, values in self.columns.items()}
        self.n_rows = len(kept)
        return kept
