"""The system protocol and its registry (mibench.train.systems.base), from outside: a toy system
written in the test trains through train_stack."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

from mibench import estimators, system_specs
from mibench.estimators import infonce_value
from mibench.interface import RunConfig
from mibench.results import schema
from mibench.system_specs import SystemSpec
from mibench.train import systems, train_stack


def _pairs_only(config, spec, critic_name):
    return None if spec.layout == "pairs" else f"transposed needs pairs, got {spec.layout}"


class _Transposed:
    """A toy system written against the protocol alone: in-batch scores read in the y -> x
    direction (S^T: anchor y_j, candidates x_i), and a per-run count of the steps taken as its
    state. It only registers itself and its spec; the trainer is not touched."""

    spec: ClassVar[SystemSpec] = SystemSpec("transposed", compatibility=_pairs_only)
    built: ClassVar[list[_Transposed]] = []

    def __init__(self, inputs: systems.SystemInputs) -> None:
        self.critic = inputs.critic
        self.steps = torch.zeros(len(inputs.configs), dtype=torch.int64, device=inputs.device)
        self.train_scores: list[torch.Tensor] = []
        self.batch = inputs.configs[0].batch_size
        _Transposed.built.append(self)

    @classmethod
    def wrap_estimator(cls, spec):
        return spec

    @classmethod
    def k_eff(cls, config, layout, batch):
        return batch

    def scores(self, x, y, perm, eye):
        scores = self.critic.scores(x, y).mT
        if eye.shape[0] == self.batch:  # a training batch (eval batches are 4K)
            self.train_scores.append(scores.detach().clone())
        return scores

    def matrix_size(self, batch):
        return batch

    def diagnostics(self, scores64):
        return estimators.infonce_value(scores64), estimators.ess(scores64)

    def embeddings(self):
        return ()

    def after_step(self, alive):
        self.steps = self.steps + alive.long()  # a new tensor: snapshots keep the old one

    def state(self):
        return self.steps

    def load(self, state):
        self.steps = state


@pytest.fixture
def transposed(monkeypatch):
    monkeypatch.setattr(_Transposed, "built", [])
    with (
        system_specs.REGISTRY.registered(_Transposed.spec),
        systems.REGISTRY.registered(_Transposed),
    ):
        yield _Transposed


def _toy_configs(**extra) -> list[RunConfig]:
    common = {"estimator": "infonce", "task": "gaussian", "task_params": {"dim": 3, "mi": 1.0},
              "batch_size": 6, "n_steps": 9, "eval_every": 4, "dtype": "float64",
              "system": "transposed", **extra}  # fmt: skip
    return [RunConfig.make(seed=s, **common) for s in (0, 1)]


def test_a_system_written_outside_the_trainer_trains_through_train_stack(transposed) -> None:
    configs = _toy_configs()
    results = train_stack(configs)
    (system,) = transposed.built
    assert system.steps.tolist() == [9, 9]  # after_step once per step, for each live run
    assert len(system.train_scores) == 9
    for r, result in enumerate(results):
        frame = result.frame
        assert set(frame[schema.SYSTEM]) == {"transposed"}
        train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
        assert set(train[schema.K_EFF]) == {6}
        # Every train estimate is InfoNCE of the scores the system handed the trainer (S^T) ...
        expected = [infonce_value(s[r].double()).item() for s in system.train_scores]
        np.testing.assert_allclose(train[schema.ESTIMATE], expected, rtol=1e-12)
        # ... which is not the plain x -> y reading of the same critic (the check can fail).
        plain = [infonce_value(s[r].double().mT).item() for s in system.train_scores]
        assert not np.allclose(train[schema.ESTIMATE], plain, rtol=1e-6)
        assert np.isfinite(train[schema.ESS].iloc[0])


def test_a_system_state_goes_through_checkpoints(transposed, monkeypatch) -> None:
    from mibench.train import stack as stack_module

    monkeypatch.setattr(stack_module, "MAX_BLOCK_STEPS", 3)  # 9 steps = 3 blocks
    configs = _toy_configs()
    saved = {}
    reference = train_stack(configs, checkpoint=lambda n, state: saved.setdefault(n, state()))
    assert sorted(saved) == [3, 6]
    assert saved[3]["snapshot"]["system"].tolist() == [3, 3]  # the system's state() was saved
    resumed = train_stack(configs, resume_from=saved[6])
    assert transposed.built[-1].steps.tolist() == [9, 9]  # load() put back 6, three steps ran
    for a, b in zip(reference, resumed, strict=True):
        pd.testing.assert_frame_equal(
            a.frame.drop(columns=[schema.TIME_S]), b.frame.drop(columns=[schema.TIME_S])
        )


def test_unknown_systems_name_the_registered_ones(transposed) -> None:
    assert systems.names()[:3] == ["inbatch", "clip", "moco"] and "transposed" in systems.names()
    with pytest.raises(ValueError, match="valid choices: inbatch, clip, moco, transposed"):
        systems.get("byol")
