"""Resolving names once: records, user-written estimators, declared compatibility rules."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import Tensor

from mibench import api, critics, estimators
from mibench.core.interface import Estimator, RunConfig
from mibench.plan import resolve
from mibench.results import schema
from mibench.train import train_stack

SMALL = {"hidden": [8], "embed_dim": 4}


def _my_infonce_value(scores: Tensor) -> Tensor:
    """InfoNCE written here, independently of the package: mean_i (S_ii - logsumexp_j S_ij) + log K."""
    diagonal = scores.diagonal(dim1=-2, dim2=-1)
    return (diagonal - scores.logsumexp(dim=-1)).mean(dim=-1) + math.log(scores.shape[-1])


def _my_infonce_loss(scores: Tensor) -> Tensor:
    return -_my_infonce_value(scores)


def user_estimator(name: str) -> Estimator:
    return Estimator(
        name=name,
        family="user",
        value_fn=_my_infonce_value,
        loss_fn=_my_infonce_loss,
        citation="van den Oord et al. 2018, arXiv:1807.03748, Eq. (4) (written in the test)",
        caps_at_log_k=True,
    )


def _config(**overrides) -> RunConfig:
    base = dict(estimator="infonce", task="gaussian", task_params={"dim": 2, "mi": 1.0},
                critic_params=SMALL, batch_size=8, n_steps=12, eval_every=6, dtype="float64")  # fmt: skip
    return RunConfig.make(**{**base, **overrides})


def test_train_stack_trains_a_user_estimator_without_registering_it() -> None:
    before = estimators.names()
    config = _config()
    (registered,) = train_stack([config])
    # Same config (so the same seeds), the user's object instead of the registry's InfoNCE.
    (own,) = train_stack([config], estimators=[user_estimator("infonce")])
    # Float64 and 12 steps: the two InfoNCE implementations differ by summation order only
    # (~1e-16 per step), far below 1e-9 after 12 Adam steps.
    np.testing.assert_allclose(
        own.frame[schema.ESTIMATE].to_numpy(), registered.frame[schema.ESTIMATE].to_numpy(),
        rtol=1e-9,
    )  # fmt: skip
    (named,) = train_stack(
        [_config(estimator="my_infonce")], estimators=[user_estimator("my_infonce")]
    )
    assert set(named.frame[schema.ESTIMATOR]) == {"my_infonce"}
    assert np.isfinite(named.frame[schema.ESTIMATE]).all()
    assert estimators.names() == before  # nothing was registered
    with pytest.raises(ValueError, match="estimators needs one estimator per config"):
        train_stack([config], estimators=[])


def test_estimate_mi_takes_an_estimator_object(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 1))
    y = 0.8 * x + 0.6 * rng.normal(size=(400, 1))
    fast = dict(method="neural", interval=False, steps=40, batch_size=32, eval_every=5,
                early_stopping=False)  # fmt: skip
    by_name = api.estimate_mi(x, y, **fast)
    by_object = api.estimate_mi(x, y, estimator=user_estimator("infonce"), **fast)
    # float32 training: the two implementations may differ in the last bits of each step.
    assert by_object.estimate == pytest.approx(by_name.estimate, abs=1e-3)
    own = api.estimate_mi(x, y, estimator=user_estimator("my_infonce"), **fast)
    assert own.config.estimator == "my_infonce" and math.isfinite(own.estimate)
    assert "my_infonce" not in estimators.names()
    # The name is looked up once on the way from estimate_mi to the loss.
    lookups: list[str] = []

    class Counting(dict):
        def __getitem__(self, name: str) -> Estimator:
            lookups.append(name)
            return super().__getitem__(name)

    registry = estimators.registry.REGISTRY
    monkeypatch.setattr(registry, "_entries", Counting(registry._entries))
    api.estimate_mi(x, y, **fast)
    assert lookups == ["infonce"]


def test_resolve_run_checks_the_config_once_and_carries_the_objects() -> None:
    config = _config(estimator_params={}, critic="separable")
    run = resolve.resolve_run(config)
    assert run.estimator == estimators.get("infonce") and run.critic is critics.get("separable")
    assert run.task is resolve.build_task(config)  # cached: one task object per config
    assert run.key == resolve.stack_key(config)
    with pytest.raises(ValueError, match="n_steps must be >= 1, got 0"):
        resolve.resolve_run(_config(n_steps=0))
    with pytest.raises(ValueError, match="needs labels"):
        resolve.resolve_run(_config(estimator="sincere", critic="encoder"))
    with pytest.raises(ValueError, match="system 'moco' trains InfoNCE"):
        resolve.resolve_run(_config(estimator="nwj", critic="encoder", system="moco",
                                    system_params={"queue": 16}))  # fmt: skip
    unchecked = resolve.resolve_run(_config(n_steps=0), checked=True)  # a plan's cell, on a worker
    assert unchecked.config.n_steps == 0


def test_compatibility_reads_the_declared_specs_by_name_or_object() -> None:
    task = resolve.build_task(_config())
    assert resolve.compatibility("infonce", task, "separable") is None
    assert resolve.compatibility(estimators.get("infonce"), task, critics.get("separable")) is None
    views = replace(user_estimator("mine"), layout="views")
    reason = resolve.compatibility(views, task, "separable")
    assert reason == "views-layout estimators need the encoder critic; 'separable' supports pairs"


@pytest.mark.parametrize("name", critics.names())
def test_every_critic_declares_a_check_for_each_parameter(name: str) -> None:
    spec = critics.get(name)
    assert list(spec.param_checks) == [k for k in spec.param_checks if k in spec.defaults]
    assert set(spec.param_checks) == set(spec.defaults)
    critics.check_params(name, {})  # the defaults pass


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("separable", {"hidden": [0]}),
        ("separable", {"embed_dim": 0}),
        ("separable", {"activation": "sigmoidish"}),
        ("cosine", {"tau": -1.0}),
        ("gaussian_kernel", {"sigma": math.inf}),
        ("encoder", {"tau": 0}),
        ("encoder_projection", {"projection_dim": 0}),
        ("concat", {"hidden": "wide"}),
    ],
)
def test_declared_checks_reject_what_the_build_rejects(name: str, params: dict) -> None:
    with pytest.raises(ValueError) as built:
        critics.build(name, 3, 3, generators=[torch.Generator()], params=params)
    with pytest.raises(ValueError) as checked:
        critics.check_params(name, params)
    assert str(checked.value) == str(built.value)


@pytest.mark.integration
def test_the_planner_imports_nothing_from_the_trainer() -> None:
    script = textwrap.dedent(
        """
        import sys
        import mibench.plan.suite as suite
        plan = suite.plan(suite.load_suite("default"))
        assert plan.configs and all(run.task is plan.tasks[i] for i, run in plan.runs.items())
        print(sorted(m for m in sys.modules if m == "mibench.train" or m.startswith("mibench.train.")))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stack_runs_orders_by_dual_head_then_estimator_and_presents_each_spec() -> None:
    configs = [_config(estimator=name, seed=seed)
               for seed, name in enumerate(["tuba", "infonce", "dv", "tuba"])]  # fmt: skip
    runs = resolve.resolve_runs(configs)
    seen = []

    def present(spec, config):
        seen.append(config.seed)
        return replace(spec, description=f"presented {config.seed}")

    ordered = resolve.stack_runs(runs, present=present)
    assert [(r.spec.name, r.position) for r in ordered] == [
        ("dv", 2), ("infonce", 1), ("tuba", 0), ("tuba", 3),
    ]  # fmt: skip
    assert sorted(seen) == [0, 1, 2, 3] and ordered[0].spec.description == "presented 2"
    assert all(r.eval_task is r.task for r in ordered)  # no held-out tasks: the training task
    assert [r.spec for r in resolve.stack_runs(runs[:1])] == [runs[0].estimator]  # as given


def test_check_stack_names_the_field_that_differs_and_the_bad_eval_task() -> None:
    runs = resolve.resolve_runs([_config(), _config(batch_size=10)])
    with pytest.raises(ValueError, match="configs cannot share a stack: batch_size is 8"):
        resolve.check_stack(runs)
    with pytest.raises(ValueError, match="train_stack needs at least one config"):
        resolve.check_stack([])
    one = resolve.resolve_runs([_config()])
    wide = resolve.build_task(_config(task_params={"dim": 3, "mi": 1.0}))
    with pytest.raises(ValueError, match=r"eval task .* has dims \(3, 3\)"):
        resolve.check_stack(one, [wide])
    with pytest.raises(ValueError, match="eval_tasks needs one task per config: 2 for 1"):
        resolve.check_stack(one, [wide, wide])
