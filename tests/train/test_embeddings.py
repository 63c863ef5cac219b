"""Embedding readouts (mibench.train.embeddings): the SimCLR reading before the projection head."""

from __future__ import annotations

import math

import numpy as np
import torch

from mibench import critics, estimators
from mibench.core import rng
from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.train import train_stack
from mibench.train.embeddings import representation_readout
from tests.systems._system_helpers import (
    ENCODER,
)

PROJECTED = {**ENCODER, "projection_hidden": [6], "projection_dim": 3}


def test_projection_head_and_the_reading_before_it() -> None:
    config = RunConfig.make(estimator="ntxent", task="gaussian", critic="encoder_projection")
    critic = critics.build(
        "encoder_projection",
        3,
        3,
        generators=[rng.generator(config, rng.STREAM_INIT)] * 2,
        dtype=torch.float64,
        params=PROJECTED,
    )
    assert critic.n_parameters == (3 * 8 + 8 + 8 * 4 + 4) + (4 * 6 + 6 + 6 * 3 + 3)
    u = torch.randn(2, 10, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    scores = critic.gram(u)
    # After the head: z = g(f(u)) normalised; before it: h = f(u) normalised (guide §10).
    z = critic.g.forward(critic.f.forward(u))
    z = z / z.norm(dim=-1, keepdim=True)
    assert torch.allclose(scores, z @ z.mT / 0.5, rtol=1e-12)

    class Group:  # the trainer's estimator group: runs [start, stop) with one spec
        spec, start, stop = estimators.get("ntxent"), 0, 2

    before = representation_readout(critic, "views", [Group])[schema.ESTIMATE_BEFORE_HEAD]
    h = critic.f.forward(u)
    h = h / h.norm(dim=-1, keepdim=True)
    expected = estimators.get("ntxent").value(h @ h.mT / 0.5)
    assert torch.allclose(before, expected.detach(), rtol=1e-12)
    assert not torch.allclose(before, estimators.get("ntxent").value(scores).detach())
    assert representation_readout(critic, "pairs", [Group]) == {}


def test_trainer_records_the_estimate_before_the_head() -> None:
    config = RunConfig.make(
        estimator="ntxent", task="gaussian", task_params={"dim": 3, "mi": 1.0},
        critic="encoder_projection", critic_params=PROJECTED, batch_size=6, n_steps=3,
        eval_every=2,
    )  # fmt: skip
    frame = train_stack([config])[0].frame
    values = frame[schema.ESTIMATE_BEFORE_HEAD].to_numpy()
    assert np.isfinite(values).all()
    assert (values <= math.log(2 * 6 - 1) + 1e-12).all()  # same estimator, same ceiling
