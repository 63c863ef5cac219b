"""The systems package (mibench.systems): the summary's system columns."""

from __future__ import annotations

import math

import pytest

from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.train import train_stack
from tests.systems._system_helpers import (
    moco_config,
)


def test_run_frames_carry_their_system_and_the_summary_its_ceiling() -> None:
    from mibench.results.summary import summarize

    configs = [
        moco_config(queue=8, momentum=0.5, n_steps=4, eval_every=2),
        RunConfig.make(**{**moco_config(8, 0.5, n_steps=4, eval_every=2).as_dict(),
                          "system": "inbatch", "system_params": {}}),
    ]  # fmt: skip
    results = [train_stack([c])[0] for c in configs]
    frames = {r.config.cell_hash(): r.frame for r in results}
    sidecars = {r.config.cell_hash(): {"config": r.config.as_dict()} for r in results}
    # Each run's frame carries its system and K_eff; the summary's ceiling is log K_eff.
    by_system = {str(r.frame[schema.SYSTEM].iloc[0]): r for r in results}
    assert {s: int(r.frame[schema.K_EFF].iloc[0]) for s, r in by_system.items()} == {
        "inbatch": 4,
        "moco": 9,
    }
    summary = summarize(frames, sidecars)
    assert sorted(summary["ceiling"]) == pytest.approx([math.log(4), math.log(9)])
