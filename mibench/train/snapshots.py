"""Snapshots of a stack (for the replay of a block) and checkpoints (to resume a stack later).

A snapshot holds everything one data block changes: the optimiser's tensors (parameters and Adam
moments, copied back in place: the per-run row views of the fused Adam step point at them) and
step counts, the estimator groups' states, the system's state (e.g. MoCo's key encoder and queue),
the alive and diverged-at flags and how many readout times were recorded. A checkpoint adds the
records so far, the per-run data and eval generators and the elapsed time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from mibench.train import trees
from mibench.train.buffers import Records

if TYPE_CHECKING:
    from mibench.train.stack import _Stack

CHECKPOINT_FORMAT = 1  # bump when the state dict of checkpoint_state changes


def snapshot(
    stack: _Stack, alive: Tensor, diverged_at: Tensor, train: Records, evals: Records
) -> dict[str, Any]:
    """Everything a block changes, so it can be replayed exactly."""
    return {
        "optimizer": [t.detach().clone() for t in stack.adam.state_tensors()],
        "step_count": stack.adam.step_count.clone(),
        "t": stack.adam.t,
        "states": [trees.clone(g.state) for g in stack.groups],
        "alive": alive.clone(),
        "diverged_at": diverged_at.clone(),
        "times": (len(train.times), len(evals.times)),
        "system": stack.system.state(),
    }


def checkpoint_state(
    stack: _Stack,
    steps_done: int,
    alive: Tensor,
    diverged_at: Tensor,
    train: Records,
    evals: Records,
    elapsed_s: float,
) -> dict[str, Any]:
    """Everything the steps after ``steps_done`` (a block boundary) read: parameters, Adam
    moments and count, estimator and system state, per-run generators, the records so far."""
    return {
        "format": CHECKPOINT_FORMAT,
        "run_ids": [r.config.cell_hash() for r in stack.runs],
        "steps_done": steps_done,
        "snapshot": snapshot(stack, alive, diverged_at, train, evals),
        "train": {k: v.clone() for k, v in train.columns.items()},
        "evals": {k: v.clone() for k, v in evals.columns.items()},
        "train_times": list(train.times),
        "eval_times": list(evals.times),
        "elapsed_s": elapsed_s,
        "data_gens": [g.get_state() for g in stack.data_gens],
        "eval_gens": [g.get_state() for g in stack.eval_gens],
    }


def load_checkpoint(
    stack: _Stack, state: dict[str, Any], train: Records, evals: Records
) -> tuple[Tensor, Tensor, int, float]:
    """Inverse of :func:`checkpoint_state`: alive, diverged_at, the next step, the seconds spent."""
    run_ids = [r.config.cell_hash() for r in stack.runs]
    if state.get("format") != CHECKPOINT_FORMAT or state.get("run_ids") != run_ids:
        raise ValueError("checkpoint belongs to another stack (run ids or format differ)")
    snapshot = trees.to_device(state["snapshot"], stack.device)
    train.times[:] = state["train_times"]
    evals.times[:] = state["eval_times"]
    alive, diverged_at = restore(stack, snapshot, train, evals)
    train.columns = trees.to_device(state["train"], stack.device)
    evals.columns = trees.to_device(state["evals"], stack.device)
    for gen, saved in zip(stack.data_gens, state["data_gens"], strict=True):
        gen.set_state(saved)
    for gen, saved in zip(stack.eval_gens, state["eval_gens"], strict=True):
        gen.set_state(saved)
    return alive, diverged_at, int(state["steps_done"]), float(state["elapsed_s"])


def restore(
    stack: _Stack, snapshot: dict[str, Any], train: Records, evals: Records
) -> tuple[Tensor, Tensor]:
    """Put back what :func:`snapshot` saved; returns its alive and diverged_at."""
    with torch.no_grad():
        # In place: the optimiser's per-run row views must keep pointing at these tensors.
        for tensor, saved in zip(stack.adam.state_tensors(), snapshot["optimizer"], strict=True):
            tensor.copy_(saved)
        stack.adam.step_count.copy_(snapshot["step_count"])
    stack.adam.t = snapshot["t"]
    for group, state in zip(stack.groups, snapshot["states"], strict=True):
        group.state = state
    stack.system.load(snapshot["system"])
    n_train, n_eval = snapshot["times"]
    del train.times[n_train:], evals.times[n_eval:]
    return snapshot["alive"], snapshot["diverged_at"]
