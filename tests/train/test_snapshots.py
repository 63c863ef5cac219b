"""Stack snapshots and checkpoints (mibench.train.snapshots): what a block changes comes back."""

from __future__ import annotations

import pytest
import torch

from mibench.train import snapshots
from mibench.train.buffers import Records
from tests.train._stack_helpers import small_stack


def _records(stack) -> tuple[Records, Records]:
    return (Records(2, stack.n_runs, torch.float64, stack.device),
            Records(2, stack.n_runs, torch.float64, stack.device))  # fmt: skip


def test_restore_puts_back_parameters_moments_states_flags_and_times() -> None:
    stack = small_stack("infonce", "mine")
    train, evals = _records(stack)
    alive = torch.ones(stack.n_runs, dtype=torch.bool)
    diverged = torch.full((stack.n_runs,), -1)
    train.times.append(0.5)
    saved = snapshots.snapshot(stack, alive, diverged, train, evals)
    before = [t.clone() for t in stack.adam.state_tensors()]
    with torch.no_grad():  # what a block does: parameters and moments change in place, ...
        for tensor in stack.adam.state_tensors():
            tensor.add_(1.0)
    stack.adam.t += 3
    stack.groups[-1].state = torch.ones(1, 2)  # ... an estimator state appears, times grow
    train.times.append(0.7)
    alive_back, diverged_back = snapshots.restore(stack, saved, train, evals)
    for tensor, old in zip(stack.adam.state_tensors(), before, strict=True):
        assert torch.equal(tensor, old)
    assert stack.adam.t == saved["t"] and stack.groups[-1].state is None
    assert (
        train.times == [0.5]
        and torch.equal(alive_back, alive)
        and torch.equal(diverged_back, diverged)
    )


def test_a_checkpoint_loads_only_into_the_stack_of_the_same_runs() -> None:
    stack = small_stack("infonce", "dv")
    train, evals = _records(stack)
    train.column("loss")[0] = 1.0
    alive = torch.tensor([True, False])
    state = snapshots.checkpoint_state(stack, 2, alive, torch.tensor([-1, 1]), train, evals, 3.0)
    assert state["format"] == snapshots.CHECKPOINT_FORMAT and state["steps_done"] == 2
    fresh = small_stack("infonce", "dv")
    train2, evals2 = _records(fresh)
    alive2, diverged2, start, elapsed = snapshots.load_checkpoint(fresh, state, train2, evals2)
    assert (start, elapsed) == (2, 3.0) and alive2.tolist() == [True, False]
    assert diverged2.tolist() == [-1, 1] and train2.column("loss")[0].tolist() == [1.0, 1.0]
    other = small_stack("infonce", "nwj")
    with pytest.raises(ValueError, match="checkpoint belongs to another stack"):
        snapshots.load_checkpoint(other, state, *_records(other))
