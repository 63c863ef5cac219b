"""A run's frame is bit-identical whatever stack it trains in (size, mates, thread count).

The promise of DESIGN.md "Stacked training": each run keeps its own streams, so its numbers do not
depend on which stack it ran in. "Do not depend" means exactly equal here, every numeric column
(gradient norm included) except the wall-clock ``time_s``: a tolerance would hide a reduction
that mixes runs, which is the bug this file guards against (the gradient norm once summed a
stacked ``(leaves, R)`` tensor over the leaves, whose summation order changed with R; and a lone
run's matmuls, one BLAS call each, were threaded and computed by a matrix-vector kernel where a
stack's were not, so the trainer now runs a lone run as a stack of two copies of itself).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from mibench.core.interface import RunConfig
from mibench.execute import runner
from mibench.results import schema, store
from mibench.train import train_stack

# Two hidden layers so that the critic has several leaves per run (the norm sums over them).
CRITIC = {"hidden": (32, 32), "embed_dim": 8}


def _config(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = {
        "estimator": "infonce",
        "task": "gaussian",
        "task_params": {"dim": 3, "mi": 1.0},
        "critic_params": CRITIC,
        "batch_size": 16,
        "n_steps": 10,
        "eval_every": 4,
        "lr": 1e-3,
    }
    base.update(overrides)
    return RunConfig.make(**base)


# Targets: a plain estimator, one with a dual head (its leaves cover only part of the stack) and a
# stateful one (MINE's moving average).
TARGETS = [
    _config(),
    _config(estimator="flo", seed=2, task_params={"dim": 3, "mi": 2.0}),
    _config(estimator="mine", seed=1, lr=2e-3),
]

# Stack-mates: other estimators (with and without dual heads), tasks of equal dims, MI levels,
# seeds and learning rates.
_MATE_SETTINGS = [
    ("nwj", "gaussian", 2.0, 1, 1e-3),
    ("dv", "cubic", 0.5, 2, 3e-3),
    ("tuba", "gaussian", 3.0, 3, 1e-3),
    ("alpha", "gaussian", 1.0, 4, 1e-3),
    ("smile", "cubic", 2.0, 5, 2e-3),
    ("js", "gaussian", 1.0, 6, 1e-3),
    ("infonce", "cubic", 4.0, 7, 1e-3),
    ("flo", "gaussian", 0.5, 8, 3e-3),
    ("flatnce", "gaussian", 2.0, 9, 1e-3),
    ("mine", "cubic", 1.0, 10, 1e-3),
    ("dv", "gaussian", 5.0, 11, 1e-3),
    ("nwj", "cubic", 3.0, 12, 5e-4),
    ("infonce", "gaussian", 1.0, 13, 1e-3),
    ("tuba", "cubic", 2.0, 14, 2e-3),
    ("holder_flatnce", "gaussian", 1.0, 15, 1e-3),
]
MATES = [
    _config(estimator=e, task=t, task_params={"dim": 3, "mi": mi}, seed=seed, lr=lr)
    for e, t, mi, seed, lr in _MATE_SETTINGS
]


# The concat critic ends in a width-1 layer (a matrix-vector product for a lone run).
CONCAT = {"critic": "concat", "critic_params": {"hidden": (16,)}}
CONCAT_TARGET = _config(estimator="nwj", seed=3, **CONCAT)
CONCAT_MATES = [
    _config(estimator=e, seed=seed, task_params={"dim": 3, "mi": mi}, **CONCAT)
    for e, seed, mi in [(e, s, 0.5 + s % 4) for s, e in enumerate(["dv", "infonce", "tuba"] * 5)]
]


def _frame_in(stack: list[RunConfig], target: RunConfig) -> pd.DataFrame:
    (result,) = [r for r in train_stack(stack) if r.config == target]
    frame = result.frame.drop(columns=[schema.TIME_S])
    assert schema.GRAD_NORM in frame.columns
    return frame


def _stacks(target: RunConfig) -> dict[str, list[RunConfig]]:
    """The target alone, in a 3-run stack and in a 16-run stack with different mates."""
    mates = CONCAT_MATES if target.critic == "concat" else MATES
    return {
        "1-run": [target],
        "3-run": [mates[0], target, mates[7]],
        "16-run": [*mates[1:7], target, *mates[8:]],
    }


# Two threads are slow on a loaded 2-core machine (OpenMP threads contend), hence slow-marked.
@pytest.fixture(params=[1, pytest.param(2, marks=pytest.mark.slow)], ids=["1-thread", "2-threads"])
def torch_threads(request: pytest.FixtureRequest) -> Any:
    """Train under 1 and 2 torch threads (a lone run's matmul is threaded by the BLAS)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "target", [*TARGETS, CONCAT_TARGET], ids=lambda c: c.estimator + "-" + c.critic
)
def test_frame_is_bit_identical_in_stacks_of_1_3_and_16_runs(
    target: RunConfig, torch_threads: int
) -> None:
    frames = {name: _frame_in(stack, target) for name, stack in _stacks(target).items()}
    reference = frames.pop("1-run")
    for name, frame in frames.items():
        assert len(frame) == len(reference), name
        pd.testing.assert_frame_equal(reference, frame, check_exact=True, obj=name)


def test_thread_count_does_not_change_a_lone_run(torch_threads: int) -> None:
    """The 1-run stack under N threads equals the same run under one thread."""
    target = TARGETS[0]
    here = _frame_in([target], target)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one_thread = _frame_in([target], target)
    finally:
        torch.set_num_threads(before)
    pd.testing.assert_frame_equal(here, one_thread, check_exact=True)
    assert torch.get_num_threads() == torch_threads  # train_stack restored the thread count


WORKERS_SUITE = """
[suite]
name = "workers"
steps = 20
seeds = 2
batch_sizes = [8, 12]
eval_every = 5

[[grid]]
estimators = ["infonce", "nwj", "flo"]
tasks = [{ name = "gaussian", dim = 2, mi = [0.5, 1.5] }]
critics = [{ name = "separable", hidden = [16], embed_dim = 8 }]
"""


@pytest.mark.integration
def test_one_process_and_two_workers_store_identical_frames(tmp_path: Path) -> None:
    """The issue's measurement: ``--workers 1`` (one 12-run stack per K, two torch threads)
    against ``--workers 2`` (stacks of at most 5 runs over two one-thread processes)."""
    suite = tmp_path / "workers.toml"
    suite.write_text(textwrap.dedent(WORKERS_SUITE))
    folders = {}
    threads = torch.get_num_threads()
    for workers, max_stack, torch_threads in ((1, 256, 2), (2, 5, 1)):
        prepared = runner.prepare(suite, out=tmp_path / f"w{workers}")
        torch.set_num_threads(torch_threads)  # in-process: the machine's threads; workers: 1
        try:
            runner.execute(prepared, workers=workers, show_progress=False, max_stack=max_stack)
        finally:
            torch.set_num_threads(threads)
        folders[workers] = prepared.suite_dir
    ids = store.finished_run_ids(folders[1])
    assert len(ids) == 24 and ids == store.finished_run_ids(folders[2])
    for run_id in ids:
        one, two = (
            store.read_run(folders[w], run_id).drop(columns=[schema.TIME_S]) for w in (1, 2)
        )
        pd.testing.assert_frame_equal(one, two, check_exact=True, obj=run_id)
