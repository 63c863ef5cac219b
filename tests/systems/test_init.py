"""The systems package (mibench.systems): the summary's system columns."""

from __future__ import annotations

import math

import pytest

from mibench import systems
from mibench.interface import RunConfig
from mibench.results import schema
from mibench.train import train_stack
from tests.systems._system_helpers import (
    moco_config,
)


def test_summary_rows_get_their_system_and_k_eff() -> None:
    from mibench.results.summary import summarize

    configs = [
        moco_config(queue=8, momentum=0.5, n_steps=4, eval_every=2),
        RunConfig.make(**{**moco_config(8, 0.5, n_steps=4, eval_every=2).as_dict(),
                          "system": "inbatch", "system_params": {}}),
    ]  # fmt: skip
    results = [train_stack([c])[0] for c in configs]
    frames = {r.config.cell_hash(): r.frame for r in results}
    sidecars = {r.config.cell_hash(): {"config": r.config.as_dict()} for r in results}
    labelled = systems.with_system_columns(summarize(frames, sidecars), sidecars)
    assert sorted(zip(labelled[schema.SYSTEM], labelled[schema.K_EFF], strict=True)) == [
        ("inbatch", 4),
        ("moco", 9),
    ]
    moco = labelled[labelled[schema.SYSTEM] == "moco"].iloc[0]
    assert moco["ceiling"] == pytest.approx(math.log(9))
