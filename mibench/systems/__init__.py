"""Contrastive *systems*: what the bound sees besides the critic — how many negatives, how fresh,
which direction is scored (the protocol, the spec and the registry: :mod:`mibench.systems.base`).

A run's system is ``RunConfig.system`` with ``RunConfig.system_params`` (recorded in every result
as the ``system`` and ``k_eff`` columns). One module per system, each holding its
:class:`~mibench.systems.base.SystemSpec` (name, parameters, what it applies to; read by the
planner) and its implementation, registered together by ``@register``:

============  ==========================  =====================================================
system        parameters (defaults)       applies to
============  ==========================  =====================================================
``inbatch``   none                        every run (the batch's own scores)
``clip``      none                        pairs-layout estimators of the scores alone, offdiag
``moco``      queue 4096, momentum 0.999  ``infonce`` with the ``encoder`` critic, offdiag, Q ≥ K
============  ==========================  =====================================================

(:mod:`~mibench.systems.in_batch`: with NT-Xent, SimCLR; :mod:`~mibench.systems.clip`: symmetric
InfoNCE, both directions averaged; :mod:`~mibench.systems.moco`: a momentum encoder and a queue of
Q keys as the negatives, K_eff = Q + 1.)

Adding a system: one module in this package that declares its ``SystemSpec`` and a class
implementing :class:`~mibench.systems.base.System` that names it (``spec = ...``) and is decorated
with :func:`~mibench.systems.base.register`, plus its test ``tests/systems/test_<module>.py``.
This package imports every module in it (the default, ``in_batch``, first), so neither the
planner nor the trainer changes. Nothing here imports :mod:`mibench.train`.
"""

from __future__ import annotations

import importlib
import pkgutil

from mibench.systems.base import (
    DEFAULT_SYSTEM,
    REGISTRY,
    SPECS,
    System,
    SystemInputs,
    SystemSpec,
    build,
    get,
    get_spec,
    k_eff,
    names,
    pairs_offdiag_reason,
    register,
    registered,
    resolve_system_params,
    system_compatibility,
    wrap_estimator,
)

# Every module of the package, the default (in_batch) first: registration order is the order
# error messages list the systems in.
_MODULES = sorted((m.name for m in pkgutil.iter_modules(__path__)), key=lambda n: n != "in_batch")
for _name in _MODULES:
    if not _name.startswith("_") and _name != "base":
        importlib.import_module(f"{__name__}.{_name}")

__all__ = [
    "DEFAULT_SYSTEM",
    "REGISTRY",
    "SPECS",
    "System",
    "SystemInputs",
    "SystemSpec",
    "build",
    "get",
    "get_spec",
    "k_eff",
    "names",
    "pairs_offdiag_reason",
    "register",
    "registered",
    "resolve_system_params",
    "system_compatibility",
    "wrap_estimator",
]
