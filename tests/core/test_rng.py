from __future__ import annotations

import torch

from mibench.core import rng
from mibench.core.interface import RunConfig


def test_streams_are_reproducible_and_distinct() -> None:
    config = RunConfig.make(estimator="infonce", task="gaussian")
    seeds = {
        s: rng.stream_seed(config, s) for s in (rng.STREAM_INIT, rng.STREAM_DATA, rng.STREAM_EVAL)
    }
    assert len(set(seeds.values())) == 3
    assert all(0 <= s < 2**63 for s in seeds.values())
    a = torch.rand(4, generator=rng.generator(config, rng.STREAM_DATA))
    b = torch.rand(4, generator=rng.generator(config, rng.STREAM_DATA))
    assert torch.equal(a, b)
    other = RunConfig.make(estimator="infonce", task="gaussian", seed=1)
    assert rng.stream_seed(other, rng.STREAM_DATA) != seeds[rng.STREAM_DATA]
