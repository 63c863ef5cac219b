"""System declarations (mibench.system_specs): names, parameters and their checks, and which runs
each contrastive system applies to, as the planner reads them without the trainer."""

from __future__ import annotations

import pytest

from mibench import estimators, system_specs
from mibench.interface import RunConfig
from mibench.suite import SuiteError, parse_suite, plan
from mibench.train import systems


def _config(**overrides: object) -> RunConfig:
    base: dict[str, object] = {"estimator": "infonce", "task": "gaussian",
                               "task_params": {"dim": 3, "mi": 1.0}, "critic": "encoder",
                               "batch_size": 8}  # fmt: skip
    return RunConfig.make(**{**base, **overrides})


def _moco(queue: int, momentum: float = 0.9, **overrides: object) -> RunConfig:
    return _config(system="moco", system_params={"queue": queue, "momentum": momentum}, **overrides)


def _reason(config: RunConfig, critic: str | None = None) -> str | None:
    spec = estimators.get(config.estimator)
    return system_specs.system_compatibility(config, spec, critic)  # type: ignore[arg-type]


def test_default_system_keeps_existing_hashes() -> None:
    plain = RunConfig.make(estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0})
    explicit = RunConfig.make(
        estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0}, system="inbatch"
    )
    assert plain.cell_hash() == explicit.cell_hash()
    assert _moco(256, 0.99).cell_hash() != _moco(4096, 0.99).cell_hash()
    assert RunConfig.make(estimator="dv", task="gaussian").system == system_specs.DEFAULT_SYSTEM


def test_system_params_validation() -> None:
    assert system_specs.resolve_system_params("moco", {}) == {
        "queue": system_specs.DEFAULT_QUEUE,
        "momentum": system_specs.DEFAULT_MOMENTUM,
    }
    # momentum normalised to a float (so 0 and 0.0 are one cell), queue kept as given
    assert system_specs.resolve_system_params("moco", {"queue": 16, "momentum": 0}) == {
        "queue": 16,
        "momentum": 0.0,
    }
    with pytest.raises(ValueError, match="valid choices: inbatch, clip, moco"):
        system_specs.resolve_system_params("byol", {})
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        system_specs.resolve_system_params("moco", {"momentum": 1.0})
    for queue in (0, 2.5, True):
        with pytest.raises(ValueError, match="queue must be an integer >= 1"):
            system_specs.resolve_system_params("moco", {"queue": queue})
    with pytest.raises(
        ValueError, match="system 'clip' has no parameter 'queue'; valid: \\(none\\)"
    ):
        system_specs.resolve_system_params("clip", {"queue": 3})


def test_compatibility_rules() -> None:
    assert _reason(_config(estimator="sincere", system="inbatch")) is None  # in-batch: anything
    assert _reason(_config(system="clip")) is None
    assert "needs a pairs-layout estimator; ntxent is views" in _reason(
        _config(estimator="ntxent", system="clip")
    )
    assert "needs negatives = 'offdiag'" in _reason(_config(system="clip", negatives="derangement"))
    assert "of the scores alone; ba needs entropy_y" in _reason(
        _config(estimator="ba", system="clip")
    )
    assert _reason(_moco(16)) is None
    assert "trains InfoNCE over its queue; got estimator 'nwj'" in _reason(
        _moco(16, estimator="nwj")
    )
    assert "shared-encoder critic (encoder)" in _reason(_moco(16), critic="separable")
    assert "shared-encoder critic" in _reason(_moco(16, critic="separable"))  # read off the config
    assert _reason(_moco(8)) is None  # Q = K: one batch fits
    assert "moco queue (4) must hold at least one batch (K = 8)" in _reason(_moco(4))


def test_every_declared_system_is_implemented_and_named_by_its_class() -> None:
    # The planner's declarations and the trainer's implementations are one list, in one order.
    assert system_specs.names() == systems.names() == ["inbatch", "clip", "moco"]
    for name in system_specs.names():
        assert systems.get(name).spec is system_specs.get(name)
    with pytest.raises(ValueError, match="system 'moco' is already registered"):
        system_specs.register(system_specs.SystemSpec("moco"))


def _suite(grid: dict) -> dict:
    base = {"estimators": ["infonce"], "tasks": [{"name": "gaussian", "dim": 3, "mi": 1.0}]}
    return {"suite": {"name": "s", "steps": 2}, "grid": [{**base, **grid}]}


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
