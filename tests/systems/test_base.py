"""The system protocol, its spec and its registry (mibench.systems.base), from outside: a toy
system written in the test plans through the suite planner and trains through train_stack, with
its one registration and no other edit; so does one written to a new module file of the package.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

from mibench import estimators, systems
from mibench.core.interface import RunConfig
from mibench.estimators import infonce_value
from mibench.plan.suite import SuiteError, parse_suite, plan
from mibench.results import schema
from mibench.systems import SystemSpec
from mibench.train import train_stack


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
    with systems.registered(_Transposed):  # the one registration (class and spec together)
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


def _suite(grid: dict) -> dict:
    base = {"estimators": ["infonce"], "tasks": [{"name": "gaussian", "dim": 3, "mi": 1.0}]}
    return {"suite": {"name": "s", "steps": 2}, "grid": [{**base, **grid}]}


def test_a_registered_system_plans_through_the_suite_planner(transposed) -> None:
    grid = {"estimators": ["infonce", "ntxent"], "critics": [{"name": "encoder"}],
            "batch_sizes": [6], "systems": ["inbatch", "transposed"]}  # fmt: skip
    planned = plan(parse_suite(_suite(grid)))
    assert sorted((c.estimator, c.system) for c in planned.configs) == [
        ("infonce", "inbatch"), ("infonce", "transposed"), ("ntxent", "inbatch"),
    ]  # fmt: skip
    # its compatibility rule, read by the planner: NT-Xent (views layout) is skipped, with why
    assert any("transposed needs pairs, got views" in s.reason for s in planned.skipped)
    (config,) = [c for c in planned.configs if c.system == "transposed"]
    (result,) = train_stack([config])
    assert set(result.frame[schema.SYSTEM]) == {"transposed"}
    assert len(transposed.built) == 1


def test_default_system_keeps_existing_hashes() -> None:
    def dv(**extra: object) -> RunConfig:
        return RunConfig.make(estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0},
                              **extra)  # fmt: skip

    assert dv().cell_hash() == dv(system="inbatch").cell_hash()
    assert dv().system == systems.DEFAULT_SYSTEM == "inbatch"
    moco = {"queue": 256, "momentum": 0.99}
    assert (
        dv(system="moco", system_params=moco).cell_hash()
        != dv(system="moco", system_params={**moco, "queue": 4096}).cell_hash()
    )


def test_the_registry_holds_each_class_with_its_spec_in_registration_order() -> None:
    assert systems.names() == ["inbatch", "clip", "moco"]  # the default first
    for name in systems.names():
        assert systems.get(name).spec is systems.get_spec(name)
        assert systems.get_spec(name).name == name
    with pytest.raises(ValueError, match="system 'moco' is already registered"):
        systems.register(systems.get("moco"))
    assert systems.names() == ["inbatch", "clip", "moco"]  # the refused one changed nothing


def test_params_and_compatibility_go_through_the_spec() -> None:
    with pytest.raises(ValueError, match="valid choices: inbatch, clip, moco"):
        systems.resolve_system_params("byol", {})
    with pytest.raises(
        ValueError, match=r"system 'clip' has no parameter 'queue'; valid: \(none\)"
    ):
        systems.resolve_system_params("clip", {"queue": 3})
    sincere = RunConfig.make(estimator="sincere", task="gaussian", critic="encoder")
    assert systems.system_compatibility(sincere, estimators.get("sincere")) is None  # inbatch
    ntxent = RunConfig.make(estimator="ntxent", task="gaussian", system="clip")
    assert systems.pairs_offdiag_reason("clip", ntxent, estimators.get("ntxent")) == (
        "system 'clip' needs a pairs-layout estimator; ntxent is views"
    )


def test_suite_systems_sweep_skip_and_errors() -> None:
    grid = {"critics": [{"name": "encoder"}], "batch_sizes": [8],
            "systems": ["inbatch", {"name": "moco", "queue": [16, 32]}]}  # fmt: skip
    configs = plan(parse_suite(_suite(grid))).configs
    assert [(c.system, c.kwargs("system").get("queue")) for c in configs] == [
        ("inbatch", None),
        ("moco", 16),
        ("moco", 32),
    ]
    skipped = plan(parse_suite(_suite({"systems": ["inbatch", "moco"]}))).skipped
    assert any("shared-encoder critic" in s.reason for s in skipped)
    with pytest.raises(SuiteError, match="valid choices: inbatch, clip, moco"):
        plan(parse_suite(_suite({"systems": ["byol"]})))
    with pytest.raises(SuiteError, match="queue must be an integer"):
        plan(parse_suite(_suite({"systems": [{"name": "moco", "queue": 0}]})))


# A whole new system, as a newcomer would write it: one file in mibench/systems/.
NEW_MODULE = '''
from typing import ClassVar

from mibench.systems.base import SystemSpec, register
from mibench.systems.in_batch import InBatch


def _pairs_only(config, spec, critic_name):
    return None if spec.layout == "pairs" else f"reversed needs pairs, got {spec.layout}"


@register
class Reversed(InBatch):
    """In-batch scores read from y to x."""

    spec: ClassVar[SystemSpec] = SystemSpec("reversed", compatibility=_pairs_only)

    def scores(self, x, y, perm, eye):
        return super().scores(x, y, perm, eye).mT
'''

# Imports mibench.systems with the folder of the new file as a second folder of the package (as if
# the file were in mibench/systems/), then plans and trains a suite that names the new system.
NEW_MODULE_RUN = """
import importlib.util, json, sys
import mibench

spec = importlib.util.find_spec("mibench.systems")
spec.submodule_search_locations.append(sys.argv[1])
package = importlib.util.module_from_spec(spec)
sys.modules["mibench.systems"] = package
spec.loader.exec_module(package)
mibench.systems = package

from mibench.plan.suite import parse_suite, plan
from mibench.train import train_stack

grid = {"estimators": ["infonce", "ntxent"], "critics": [{"name": "encoder"}],
        "tasks": [{"name": "gaussian", "dim": 3, "mi": 1.0}], "batch_sizes": [6],
        "systems": ["reversed"]}
planned = plan(parse_suite({"suite": {"name": "s", "steps": 3}, "grid": [grid]}))
results = train_stack(planned.configs)
print(json.dumps({
    "names": package.names(),
    "planned": [(c.estimator, c.system) for c in planned.configs],
    "skipped": [s.reason for s in planned.skipped],
    "frame_systems": sorted({s for r in results for s in r.frame["system"]}),
    "estimates_finite": bool(all(r.frame["estimate"].notna().all() for r in results)),
}))
"""


@pytest.mark.integration
def test_a_new_module_in_the_package_is_a_new_system_with_no_other_edit(tmp_path) -> None:
    (tmp_path / "reversed.py").write_text(textwrap.dedent(NEW_MODULE))
    out = subprocess.run(
        [sys.executable, "-c", NEW_MODULE_RUN, str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["names"] == ["inbatch", "clip", "moco", "reversed"]
    assert seen["planned"] == [["infonce", "reversed"]]
    assert any("reversed needs pairs, got views" in reason for reason in seen["skipped"])
    assert seen["frame_systems"] == ["reversed"] and seen["estimates_finite"]
