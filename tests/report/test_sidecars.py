"""The report's other inputs: run sidecars sorted into configuration and environment, verify.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mibench.report.sidecars import config_and_environment, load_verify


def test_malformed_verify_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "verify.json").write_text('{"id": "x"}')
    with pytest.raises(ValueError, match="expected a list of objects with 'id' and 'passed'"):
        load_verify(tmp_path)
    (tmp_path / "verify.json").write_text("[{")
    with pytest.raises(ValueError, match="malformed"):
        load_verify(tmp_path)
    assert load_verify(tmp_path / "absent") is None
    records = [{"id": "a", "passed": True, "seconds": 0.1}]
    (tmp_path / "verify.json").write_text(json.dumps(records))
    assert load_verify(tmp_path) == records


def test_sidecar_keys_go_to_configuration_environment_or_wall_times() -> None:
    sidecar = {
        "config": {"estimator": "infonce", "batch_size": 64, "estimator_params": {}},
        "versions": {"torch": "2.13.0"},
        "device": "cpu",
        "critic_architecture": "separable 5->64->16",
        "run_id": "abc",  # one run's own key: neither
        "wall_time_s": 2.5,
        "note": "kept with the configuration",
    }
    settings = config_and_environment([sidecar, sidecar | {"wall_time_s": 3.5}])
    assert settings.config == {
        "estimator": ["infonce", "infonce"],
        "batch_size": [64, 64],
        "critic_architecture": ["separable 5->64->16"] * 2,
        "note": ["kept with the configuration"] * 2,
    }
    assert settings.environment == {"versions.torch": ["2.13.0"] * 2, "device": ["cpu"] * 2}
    assert settings.wall_times == [2.5, 3.5]


def test_a_sidecar_without_a_nested_config_reads_its_run_config_fields() -> None:
    settings = config_and_environment([{"estimator": "nwj", "n_steps": 10, "platform": "linux"}])
    assert settings.config == {"estimator": ["nwj"], "n_steps": [10]}
    assert settings.environment == {"platform": ["linux"]}
