from __future__ import annotations

import pytest

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
