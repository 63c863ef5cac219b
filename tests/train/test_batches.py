"""Data blocks (mibench.train.batches): one sample call per run, from the run's own generator."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from mibench import tasks
from mibench.train.batches import draw

CPU = torch.device("cpu")


def _runs(*names: str) -> list[SimpleNamespace]:
    built = {
        "gaussian": tasks.build("gaussian", dim=2, mi=1.0),
        "wide": tasks.build("gaussian", dim=2, mi=3.0),
        "labels": tasks.build("labeled_gaussians"),
    }
    return [SimpleNamespace(task=built[n], eval_task=built["wide"]) for n in names]


def _gens(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_a_block_is_each_runs_own_draw_reshaped_per_step() -> None:
    runs = _runs("gaussian", "gaussian")
    x, y, labels, perm = draw(runs, _gens(1, 2), [0, 1, 2], 4, layout="pairs", negatives="offdiag",
                              dtype=torch.float64, device=CPU)  # fmt: skip
    assert x.shape == (3, 2, 4, 2) and y.shape == (3, 2, 4, 2) and labels is None and perm is None
    steps = torch.tensor([0, 1, 2]).repeat_interleave(4)
    own = runs[1].task.sample(12, _gens(2)[0], steps=steps, dtype=torch.float64)
    assert torch.equal(x[:, 1], own.x.reshape(3, 4, 2)) and torch.equal(
        y[:, 1], own.y.reshape(3, 4, 2)
    )
    # Run 1's batches do not depend on its stack-mate: the same with another generator for run 0.
    x_other, *_ = draw(runs, _gens(9, 2), [0, 1, 2], 4, layout="pairs", negatives="offdiag",
                       dtype=torch.float64, device=CPU)  # fmt: skip
    assert torch.equal(x_other[:, 1], x[:, 1]) and not torch.equal(x_other[:, 0], x[:, 0])


def test_held_out_blocks_come_from_the_eval_task() -> None:
    runs = _runs("gaussian")
    x, y, _, _ = draw(runs, _gens(3), [5], 6, layout="pairs", negatives="offdiag",
                      dtype=torch.float64, device=CPU, held_out=True)  # fmt: skip
    own = runs[0].eval_task.sample(6, _gens(3)[0], steps=torch.full((6,), 5), dtype=torch.float64)
    assert torch.equal(x[0, 0], own.x) and torch.equal(y[0, 0], own.y)


def test_derangement_partners_and_the_labels_layout() -> None:
    _, _, _, perm = draw(_runs("gaussian"), _gens(4), [0, 1], 5, layout="pairs",
                         negatives="derangement", dtype=torch.float32, device=CPU)  # fmt: skip
    assert perm.shape == (2, 1, 5)
    for cycle in perm[:, 0]:
        assert (cycle != torch.arange(5)).all()  # no fixed point
        seen, i = set(), 0
        for _ in range(5):  # one 5-cycle: following pi from 0 visits every index
            seen.add(i)
            i = int(cycle[i])
        assert seen == set(range(5))
    x, y, labels, _ = draw(_runs("labels"), _gens(5), [0], 6, layout="labels", negatives="offdiag",
                           dtype=torch.float32, device=CPU)  # fmt: skip
    assert x.shape == (1, 1, 6, 8) and y is None  # labeled_gaussians: x in R^8
    assert labels.shape == (1, 1, 6) and labels.dtype == torch.int64
