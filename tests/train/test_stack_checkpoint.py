"""Checkpoints of a stack in flight: a resumed stack equals an uninterrupted one bit for bit."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch

from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.train import stack as stack_module
from mibench.train import train_stack


def _configs() -> list[RunConfig]:
    common = {"task": "gaussian", "task_params": {"dim": 2, "mi": 1.0}, "batch_size": 8,
              "n_steps": 40, "eval_every": 7, "log_every": 3}  # fmt: skip
    # mine carries an estimator state (its moving average), nwj a dual-free bound, a diverging
    # lr stresses the frozen-run path; moco (own stack) carries a momentum encoder and a queue.
    plain = [
        RunConfig.make(estimator="mine", seed=0, **common),
        RunConfig.make(estimator="infonce", seed=1, **common),
        RunConfig.make(estimator="nwj", seed=2, lr=50.0, **common),
    ]
    moco = [
        RunConfig.make(
            estimator="infonce",
            seed=s,
            critic="encoder",
            system="moco",
            system_params={"queue": 16, "momentum": 0.9},
            **common,
        )
        for s in (0, 1)
    ]
    return [plain, moco]


def _frames(results) -> list[pd.DataFrame]:
    return [r.frame.drop(columns=[schema.TIME_S]) for r in results]


@pytest.mark.parametrize("which", [0, 1], ids=["mixed", "moco"])
def test_resume_from_every_block_is_bit_identical(monkeypatch, which):
    monkeypatch.setattr(stack_module, "MAX_BLOCK_STEPS", 9)  # 40 steps = 5 blocks
    configs = _configs()[which]
    reference = train_stack(configs)
    saved: dict[int, bytes] = {}

    def keep(steps_done, state):
        buffer = io.BytesIO()
        torch.save(state(), buffer)  # what a worker writes to disk
        saved[steps_done] = buffer.getvalue()

    again = train_stack(configs, checkpoint=keep)
    assert sorted(saved) == [9, 18, 27, 36]  # every block boundary but the end
    for a, b in zip(_frames(reference), _frames(again), strict=True):
        pd.testing.assert_frame_equal(a, b)  # taking checkpoints changes nothing
    for steps_done, blob in saved.items():
        state = torch.load(io.BytesIO(blob), weights_only=False)
        resumed = train_stack(configs, resume_from=state)
        for a, b in zip(_frames(reference), _frames(resumed), strict=True):
            pd.testing.assert_frame_equal(a, b, obj=f"resumed at step {steps_done}")
        assert [r.diverged_step for r in resumed] == [r.diverged_step for r in reference]


def test_checkpoint_of_other_runs_is_refused(monkeypatch):
    monkeypatch.setattr(stack_module, "MAX_BLOCK_STEPS", 9)
    configs = _configs()[0]
    states = []
    train_stack(configs, checkpoint=lambda n, state: states.append(state()))
    with pytest.raises(ValueError, match="checkpoint belongs to another stack"):
        train_stack(configs[:2], resume_from=states[0])
