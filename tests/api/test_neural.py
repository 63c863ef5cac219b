"""The neural path: the stack of all rows and two random halves, each with its own split."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mibench.train
from mibench import estimators
from mibench.api import neural

SETTINGS = neural.NeuralSettings(
    spec=estimators.get("infonce"), critic="separable",
    critic_params={"hidden": [8], "embed_dim": 4, "activation": "relu"}, steps=40, batch_size=16,
    lr=2e-3, heldout_fraction=0.3, seed=0, eval_every=5, eval_batch_size=None,
    early_stopping=True, patience=2, window=2, readout="test", mode="gaussianize",
    dtype="float32", device="cpu",
)  # fmt: skip


def gaussian_pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    return x, 0.7 * x + math.sqrt(1 - 0.49) * rng.standard_normal((n, 2))


def test_the_halves_are_disjoint_and_share_one_eval_batch():
    x, y = gaussian_pairs(400, seed=0)
    parts = neural.plan_parts(x, y, SETTINGS, halves=True)
    assert [p.label for p in parts] == list(neural.PARTS)
    assert [p.train.n for p in parts] == [280, 140, 140]
    # The default eval batch: half of the smallest held-out half (30 of 60 rows held out: 15).
    assert {p.config.eval_batch_size for p in parts} == {15}
    assert len({p.config.cell_hash() for p in parts}) == 3  # own seeds per part
    half_rows = [
        np.concatenate([p.train.x.numpy(), *(s.x.numpy() for s in p.heldout.splits)])
        for p in parts[1:]
    ]
    assert len(half_rows[0]) + len(half_rows[1]) == 400


def test_halves_too_small_for_a_batch_are_left_out():
    x, y = gaussian_pairs(40, seed=1)
    parts = neural.plan_parts(x, y, SETTINGS, halves=True)  # halves: 14 training rows < 16
    assert [p.label for p in parts] == ["all"]


def test_one_stack_trains_all_three_and_the_fit_uses_the_halves(monkeypatch):
    real, sizes = mibench.train.train_stack, []

    def spy(runs, **kwargs):
        sizes.append(len(runs))
        return real(runs, **kwargs)

    monkeypatch.setattr(mibench.train, "train_stack", spy)
    x, y = gaussian_pairs(400, seed=2)
    out = neural.neural_estimate(x, y, SETTINGS)
    assert sizes == [3]
    assert out.fit is not None and out.fit.full == out.reading.estimate
    assert out.fit.sd_full >= out.reading.stderr  # the readouts' stderr is the noise floor
    low, high = out.fit.interval
    assert low <= out.reading.estimate <= high


def test_a_bad_estimator_critic_pair_says_why():
    x, y = gaussian_pairs(200, seed=3)
    bad = neural.NeuralSettings(**{**SETTINGS.__dict__, "spec": estimators.get("club")})
    with pytest.raises(ValueError, match="'club' with critic 'separable' does not apply"):
        neural.neural_estimate(x, y, bad, with_interval=False)
