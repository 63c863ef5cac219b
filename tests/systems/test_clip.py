"""CLIP's symmetric system (mibench.systems.clip): both directions, averaged."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench import critics, estimators
from mibench.core import rng
from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.systems.clip import symmetric_estimator
from mibench.train import train_stack
from tests.systems._system_helpers import (
    ENCODER,
    system_reason,
)

COMMON = {"task": "gaussian", "task_params": {"dim": 3, "mi": 1.0}, "critic": "encoder",
          "critic_params": ENCODER, "n_steps": 3, "eval_every": 2}  # fmt: skip


def _row_infonce(scores: np.ndarray) -> float:
    """Loop reference of Eq. (5) of the guide: anchor = row."""
    K = scores.shape[0]
    return float(
        np.mean([scores[i, i] - math.log(np.sum(np.exp(scores[i]))) for i in range(K)])
        + math.log(K)
    )


def test_clip_directions_loop_reference_and_mean() -> None:
    scores = torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    spec = symmetric_estimator(estimators.get("infonce"))
    extras = spec.extras(scores)
    for r in range(2):
        s = scores[r].numpy()
        assert extras[schema.ESTIMATE_XY][r].item() == pytest.approx(_row_infonce(s), rel=1e-12)
        # y -> x: anchor y_j, candidates x_i, i.e. the softmax runs down column j.
        assert extras[schema.ESTIMATE_YX][r].item() == pytest.approx(_row_infonce(s.T), rel=1e-12)
    mean = 0.5 * (extras[schema.ESTIMATE_XY] + extras[schema.ESTIMATE_YX])
    assert torch.allclose(spec.value(scores), mean, rtol=1e-12)
    base = estimators.get("infonce")
    both = 0.5 * (base.loss(scores) + base.loss(scores.mT))
    assert torch.allclose(spec.loss(scores), both, rtol=1e-12)
    # An asymmetric matrix really gives two different directions (the check above is not vacuous).
    assert not torch.allclose(extras[schema.ESTIMATE_XY], extras[schema.ESTIMATE_YX])


def test_clip_directions_agree_on_a_symmetric_critic() -> None:
    # The siamese encoder critic scores S_ij = z(x_i).z(y_j)/tau; fed the same inputs on both
    # sides it is symmetric (S = S^T), so x -> y and y -> x must read the same value.
    config = RunConfig.make(
        estimator="infonce", task="gaussian", critic="encoder", critic_params=ENCODER
    )
    critic = critics.build(
        "encoder", 3, 3, generators=[rng.generator(config, rng.STREAM_INIT)], params=ENCODER
    )
    u = torch.randn(1, 7, 3, generator=torch.Generator().manual_seed(4))
    scores = critic.scores(u, u).detach().double()
    extras = symmetric_estimator(estimators.get("infonce")).extras(scores)
    assert torch.allclose(extras[schema.ESTIMATE_XY], extras[schema.ESTIMATE_YX], rtol=1e-12)


def test_trainer_records_system_columns_for_clip() -> None:
    clip = train_stack([RunConfig.make(estimator="infonce", system="clip", batch_size=5, **COMMON)])
    frame = clip[0].frame
    assert set(frame[schema.SYSTEM]) == {"clip"}
    np.testing.assert_allclose(
        frame["estimate"], 0.5 * (frame[schema.ESTIMATE_XY] + frame[schema.ESTIMATE_YX])
    )


def test_clip_applies_to_pairs_layout_estimators_of_the_scores_alone() -> None:
    def clip(estimator: str = "infonce", **extra: object) -> RunConfig:
        return RunConfig.make(estimator=estimator, system="clip", **{**COMMON, **extra})

    assert system_reason(clip()) is None
    assert "needs a pairs-layout estimator; ntxent is views" in system_reason(clip("ntxent"))
    assert "needs negatives = 'offdiag'" in system_reason(clip(negatives="derangement"))
    assert "of the scores alone; ba needs entropy_y" in system_reason(clip("ba"))
