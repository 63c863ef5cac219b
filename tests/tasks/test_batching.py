"""Stacked draws: one generator per run, so a run's data do not depend on its stack."""

from __future__ import annotations

import pytest
import torch

from mibench.tasks import build
from mibench.tasks.batching import sample_stacked
from tests.tasks._task_stats import seeded


@pytest.mark.parametrize("name", ["gaussian", "student_t", "staircase", "labeled_gaussians"])
def test_each_run_equals_its_own_single_draw_whatever_the_stack(name: str) -> None:
    task = build(name)
    seeds = [3, 11, 7]
    stacked = sample_stacked(task, 10, [seeded(s) for s in seeds])
    alone = sample_stacked(task, 10, [seeded(11)])
    assert stacked.x.shape == (3, 10, task.dim_x)
    for run, seed in enumerate(seeds):
        single = task.sample(10, seeded(seed))
        assert torch.equal(stacked.x[run], single.x)
        if single.y is not None:
            assert torch.equal(stacked.y[run], single.y)
        if single.labels is not None:
            assert torch.equal(stacked.labels[run], single.labels)
    assert torch.equal(alone.x[0], stacked.x[1])  # run 11 is the same alone or in a stack
    assert (stacked.y is None) == (task.target == "kl") and (stacked.labels is None) == (
        task.target == "mi"
    )


def test_shared_and_per_run_steps() -> None:
    task = build("staircase", levels=[1.0, 9.0], steps_per_level=1, dim=2)
    shared = torch.tensor([0, 1, 1, 0])
    per_run = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1]])
    out_shared = sample_stacked(task, 4, [seeded(0), seeded(1)], steps=shared, dtype=torch.float64)
    out_rows = sample_stacked(task, 4, [seeded(0), seeded(1)], steps=per_run, dtype=torch.float64)
    assert torch.equal(
        out_shared.y[1], task.sample(4, seeded(1), steps=shared, dtype=torch.float64).y
    )
    assert torch.equal(
        out_rows.y[1], task.sample(4, seeded(1), steps=per_run[1], dtype=torch.float64).y
    )
    assert not torch.equal(out_rows.y[0], out_shared.y[0])  # run 0 at level 0 throughout differs


def test_bad_arguments() -> None:
    task = build("gaussian")
    with pytest.raises(ValueError, match="at least one generator"):
        sample_stacked(task, 4, [])
    with pytest.raises(ValueError, match=r"steps must have shape \(4,\) or \(2, 4\), got \(3,\)"):
        sample_stacked(task, 4, [seeded(0), seeded(1)], steps=torch.zeros(3, dtype=torch.int64))
