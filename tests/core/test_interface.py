from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from mibench.core.interface import RunConfig, UnknownNameError


def test_cell_hash_ignores_device_and_param_order() -> None:
    a = RunConfig.make(estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0})
    b = RunConfig.make(
        estimator="dv", task="gaussian", task_params={"mi": 2.0, "dim": 5}, device="cuda"
    )
    assert a.cell_hash() == b.cell_hash()
    assert len(a.cell_hash()) == 16


def test_cell_hash_changes_with_any_config_field() -> None:
    base = RunConfig.make(estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0})
    for change in ({"seed": 1}, {"dtype": "float64"}, {"task_params": {"dim": 5, "mi": 2.5}}):
        other = RunConfig.make(
            **{
                **base.as_dict(),
                **change,
                "task_params": change.get("task_params", {"dim": 5, "mi": 2.0}),
            }
        )
        assert other.cell_hash() != base.cell_hash(), change


def test_unknown_name_error_lists_choices() -> None:
    err = UnknownNameError("estimator", "nope", ["dv", "nwj"])
    assert str(err) == "unknown estimator 'nope'; valid choices: dv, nwj"
    with pytest.raises(KeyError):
        raise err


# --------------------------------------------------------------------- plug-in-facing checks
def test_a_builtin_cell_hash_is_the_one_stored_results_use() -> None:
    # Hashes computed before RunConfig had estimator_fingerprint: the results folders written
    # then must be reused, so these cells must keep their ids.
    from mibench.core.interface import RunConfig

    neural = RunConfig.make(
        estimator="infonce", task="gaussian", task_params={"dim": 5, "mi": 2.0},
        critic="separable", critic_params={"hidden": [64, 64], "embed_dim": 16},
        batch_size=64, n_steps=500, seed=1, suite="default",
    )  # fmt: skip
    sample = RunConfig.make(
        estimator="ksg", task="gaussian", task_params={"dim": 5, "mi": 2.0}, critic="none",
        batch_size=2000, n_steps=1, dtype="float64", seed=0, suite="default",
    )  # fmt: skip
    assert neural.cell_hash() == "687f1929df861bf1"
    assert sample.cell_hash() == "7920646257695f59"
    assert "estimator_fingerprint" not in neural.as_dict()


def test_a_fingerprint_changes_the_hash_and_is_recorded() -> None:
    from dataclasses import replace

    from mibench.core.interface import RunConfig

    base = RunConfig.make(estimator="mine_x", task="gaussian")
    a, b = replace(base, estimator_fingerprint="aa"), replace(base, estimator_fingerprint="bb")
    assert len({base.cell_hash(), a.cell_hash(), b.cell_hash()}) == 3
    assert a.as_dict()["estimator_fingerprint"] == "aa"
    assert RunConfig.make(**a.as_dict()) == a


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"value_fn": 3}, TypeError, "Estimator.value_fn must be a callable"),
        ({"name": 5}, TypeError, "Estimator.name must be str"),
        ({"kind": "bound"}, ValueError, "Estimator.kind: invalid value 'bound'; valid choices"),
        ({"needs": "dual"}, TypeError, "Estimator.needs must be a set"),
        ({"needs": {"duel"}}, ValueError, "Estimator.needs: invalid value 'duel'"),
        ({"caps_at_log_k": 1}, TypeError, "Estimator.caps_at_log_k must be bool"),
        ({"hyper": [1]}, TypeError, "Estimator.hyper must be Mapping"),
        ({"loss_fn": "x"}, TypeError, "Estimator.loss_fn must be a callable or None"),
    ],
)
def test_an_estimator_field_of_the_wrong_kind_is_named(kwargs, error, message) -> None:
    from mibench.core.interface import Estimator

    fields = {"name": "mine_x", "value_fn": len, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        Estimator(**fields)


def test_a_missing_estimator_field_is_a_type_error_naming_it() -> None:
    from mibench.core.interface import Estimator

    with pytest.raises(TypeError, match="value_fn"):
        Estimator(name="mine_x")  # type: ignore[call-arg]


def test_the_default_loss_is_minus_the_value() -> None:
    from mibench.core.interface import Estimator

    spec = Estimator(name="mine_x", value_fn=lambda scores: scores.sum((-2, -1)))
    scores = torch.arange(8.0).reshape(2, 2, 2)
    assert torch.equal(spec.loss(scores), -spec.value(scores))
    assert set(spec.needs) == set() and isinstance(spec.needs, frozenset)


class _ObjectEstimator:
    def __init__(self, offset: float) -> None:
        self.offset = offset

    def estimate(self, x, y) -> float:
        return float(x.shape[0]) + self.offset


def test_a_sample_estimator_wraps_a_function_or_an_object_and_takes_its_name() -> None:
    from mibench.core.interface import SampleEstimator

    def my_ksg(x, y):
        return 1.5

    x = np.zeros((4, 1))
    assert SampleEstimator(my_ksg).name == "my_ksg"
    assert SampleEstimator(my_ksg).estimate(x, x) == 1.5
    wrapped = SampleEstimator(_ObjectEstimator(0.5))
    assert wrapped.name == "_ObjectEstimator" and wrapped.estimate(x, x) == 4.5
    with pytest.raises(TypeError, match=r"SampleEstimator\.sample_fn must be a callable"):
        SampleEstimator(3)
