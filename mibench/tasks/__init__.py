"""Samplers with known ground truth. ``get(name)`` -> :class:`TaskSpec`; ``build(name, **params)`` -> Task."""

from __future__ import annotations

import importlib
import pkgutil

from mibench.tasks.registry import TaskSpec, build, get, names, register

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TaskSpec", "build", "get", "names", "register"]
