"""The float64 readouts (mibench.train.readout): batched train readouts and the first bad step."""

from __future__ import annotations

import math

import torch

from mibench.results import schema
from mibench.train.buffers import Pending, Records
from mibench.train.readout import NEVER
from tests.train._stack_helpers import small_stack


def _pending(stack, scores: list[torch.Tensor], alive: torch.Tensor) -> Pending:
    pending = Pending()
    for row, block in enumerate(scores):
        pending.add(row, 10 + row, block, {}, None, [None] * len(stack.groups), alive)
    pending.diagnosed.append(0)  # only the first row gets the InfoNCE/ESS diagnostics
    return pending


def test_flush_reads_every_pending_step_in_float64_with_each_runs_own_estimator() -> None:
    stack = small_stack("infonce", "dv")
    gen = torch.Generator().manual_seed(0)
    scores = [torch.randn(2, 6, 6, generator=gen, dtype=torch.float32) for _ in range(3)]
    train = Records(3, 2, torch.float64, stack.device)
    alive = torch.ones(2, dtype=torch.bool)
    first_bad = stack._flush(_pending(stack, scores, alive), train)
    assert first_bad.tolist() == [NEVER, NEVER]
    estimate = train.column(schema.ESTIMATE)
    for group in stack.groups:
        for row, block in enumerate(scores):
            expected = group.spec.value(block[group.start : group.stop].double())
            torch.testing.assert_close(
                estimate[row, group.start : group.stop], expected, rtol=0, atol=0
            )
    ess = train.column(schema.ESS)
    assert torch.isfinite(ess[0]).all() and torch.isnan(ess[1:]).all()


def test_flush_reports_the_first_non_finite_estimate_of_live_runs_only() -> None:
    stack = small_stack("infonce", "dv")
    gen = torch.Generator().manual_seed(1)
    scores = [torch.randn(2, 6, 6, generator=gen) for _ in range(3)]
    scores[1][1, 0, 0] = math.inf  # run index 1 (stack order), second pending step = step 11
    scores[2][1, 0, 0] = math.nan
    train = Records(3, 2, torch.float64, stack.device)
    first_bad = stack._flush(_pending(stack, scores, torch.ones(2, dtype=torch.bool)), train)
    assert first_bad.tolist() == [NEVER, 11]
    # A frozen (dead) run's non-finite readout is not a new divergence.
    dead = torch.tensor([True, False])
    first_bad = stack._flush(
        _pending(stack, scores, dead), Records(3, 2, torch.float64, stack.device)
    )
    assert first_bad.tolist() == [NEVER, NEVER]
