"""What the report reads besides the frames: the runs' JSON sidecars and ``verify.json``.

* :func:`read_sidecars`: the sidecars of the runs the figures show (the latest invocation's);
* :func:`config_and_environment`: their keys sorted into the configuration (the run config,
  critic architecture and size) and the environment (versions, device, platform), with the
  runs' wall times;
* :func:`load_verify`: ``verify.json``, the output of ``mibench verify --json``: a JSON list of
  objects ``{"id": str, "statement": str, "source": str, "evidence": str | object,
  "passed": bool}`` (other keys, e.g. ``seconds``, are kept).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mibench.core.interface import RunConfig
from mibench.results import store

# Sidecar keys that describe one run rather than the suite or the machine.
PER_RUN_KEYS = frozenset(
    {
        "hash",
        "cell_hash",
        "run_id",
        "created",
        "created_at",
        "created_time",
        "created_utc",
        "diverged_step",
        "n_rows",
        "dtype",  # repeated from the config
        "task_id",
        "synthetic",
        "wall_time",
        "wall_time_s",
        "seed",
    }
)
# Sidecar keys (besides the run config) that describe what ran, shown with the configuration.
CONFIG_EXTRA_KEYS = frozenset(
    {"critic_architecture", "n_parameters", "parameter_count", "n_params"}
)
ENVIRONMENT_HINTS = (
    "version",
    "device",
    "platform",
    "python",
    "host",
    "cpu",
    "gpu",
    "cuda",
    "thread",
    "machine",
    "os",
)
WALL_TIME_KEYS = ("wall_time_s", "wall_time")


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (an empty mapping adds nothing).

    Examples:
        >>> flatten({"a": {"b": 1, "c": {}}, "d": 2})
        {'a.b': 1, 'd': 2}
    """
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def read_sidecars(suite_dir: str | Path) -> list[dict[str, Any]]:
    """The full JSON sidecars (config, versions, device, ...) of the runs the figures show: those
    of the latest invocation (``manifest.json``) or, without one, every finished run."""
    suite_dir = Path(suite_dir)
    return [
        store.read_sidecar(suite_dir, run_id)
        for run_id in store.latest_run_ids(suite_dir)
        if store.is_finished(suite_dir, run_id) and store.sidecar_path(suite_dir, run_id).is_file()
    ]


def load_verify(suite_dir: str | Path) -> list[dict[str, Any]] | None:
    """``verify.json`` of a suite (format in the module docstring), or None if absent.

    Raises:
        ValueError: the file is not a JSON list of objects with ``id`` and ``passed``.
    """
    path = store.verify_path(Path(suite_dir))
    try:
        claims = store.read_verify(Path(suite_dir))
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed {path}: {error}") from None
    if claims is None:
        return None
    if not isinstance(claims, list) or not all(
        isinstance(c, dict) and "id" in c and "passed" in c for c in claims
    ):
        raise ValueError(f"{path}: expected a list of objects with 'id' and 'passed'")
    return claims


@dataclass
class RunSettings:
    """Distinct values per configuration key and per environment key, and the run wall times."""

    config: dict[str, list[Any]] = field(default_factory=dict)
    environment: dict[str, list[Any]] = field(default_factory=dict)
    wall_times: list[float] = field(default_factory=list)


def config_and_environment(sidecars: Sequence[Mapping[str, Any]]) -> RunSettings:
    """Every sidecar's keys sorted into configuration and environment (module docstring)."""
    config_fields = {f.name for f in fields(RunConfig)}
    settings = RunSettings()
    for sidecar in sidecars:
        nested = sidecar.get("config")
        run_config = (
            nested
            if isinstance(nested, Mapping)
            else {k: v for k, v in sidecar.items() if k in config_fields}
        )
        for key, value in flatten(run_config).items():
            settings.config.setdefault(key, []).append(value)
        for key, value in flatten(sidecar).items():
            top = key.split(".")[0]
            if top == "config" or (nested is None and top in config_fields):
                continue
            _sort_key(settings, key, value)
    return settings


def _sort_key(settings: RunSettings, key: str, value: Any) -> None:
    """File one sidecar key (not part of the run config) where the report shows it."""
    leaf = key.split(".")[-1]
    if leaf in WALL_TIME_KEYS and isinstance(value, int | float):
        settings.wall_times.append(float(value))
    elif leaf in PER_RUN_KEYS:
        return
    elif leaf in CONFIG_EXTRA_KEYS:
        settings.config.setdefault(key, []).append(value)
    elif key.split(".")[0] == "versions" or any(h in key.lower() for h in ENVIRONMENT_HINTS):
        settings.environment.setdefault(key, []).append(value)
    else:
        settings.config.setdefault(key, []).append(value)
