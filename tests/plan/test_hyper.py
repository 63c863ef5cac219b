"""Estimator hyperparameters are checked at plan time by the estimators' own functions."""

from __future__ import annotations

import pytest

from mibench import estimators
from mibench.plan import hyper
from mibench.plan.suite import SuiteError, parse_suite, plan


def _suite(estimator: str, params: dict) -> dict:
    return {
        "suite": {"steps": 5, "seeds": 1, "batch_sizes": [8]},
        "grid": [
            {
                "estimators": [estimator],
                "tasks": [{"name": "gaussian", "dim": 2, "mi": 1}],
                "estimator_params": {estimator: params},
            }
        ],
    }


def test_a_value_the_trainer_refuses_is_a_plan_error_naming_the_place() -> None:
    with pytest.raises(
        SuiteError, match=r"estimator_params\.smile: clip \(tau\) must be > 0, got -1.0"
    ):
        plan(parse_suite(_suite("smile", {"clip": -1.0}), source="x.toml", name="x"))


def test_a_good_value_plans() -> None:
    expanded = plan(parse_suite(_suite("smile", {"clip": 2.0}), source="x.toml", name="x"))
    assert dict(expanded.configs[0].estimator_params)["clip"] == 2.0


@pytest.mark.parametrize("name", estimators.names())
def test_every_estimator_passes_the_probe_with_its_defaults(name: str) -> None:
    spec = estimators.get(name)
    hyper.check_values(spec, spec)  # defaults are never refused


def test_a_probe_that_cannot_run_the_defaults_gives_no_verdict(monkeypatch) -> None:
    spec = estimators.get("smile")
    monkeypatch.setattr(hyper, "_call", lambda s: (_ for _ in ()).throw(ValueError("no probe")))
    hyper.check_values(spec, spec.with_hyper(clip=-1.0))  # nothing to blame on the values
