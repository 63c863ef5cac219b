"""Contrastive *systems*: what the bound sees besides the critic — how many negatives, how fresh,
which direction is scored (the protocol and its lookup: :mod:`mibench.train.systems.base`).

A run's system is ``RunConfig.system`` with ``RunConfig.system_params`` (recorded in every result
as the ``system`` and ``k_eff`` columns). One module per system:

* ``"inbatch"`` (default, :mod:`~mibench.train.systems.in_batch`): the batch's own score matrix
  (with NT-Xent, SimCLR);
* ``"clip"`` (:mod:`~mibench.train.systems.clip`): symmetric InfoNCE, both directions averaged;
* ``"moco"`` (:mod:`~mibench.train.systems.moco`): a momentum encoder and a queue of Q keys as the
  negatives, K_eff = Q + 1.

Adding a system: its :class:`~mibench.system_specs.SystemSpec` (name, parameters, compatibility;
read by the planner without the trainer) in :mod:`mibench.system_specs`, and a module here with a
class that names that spec, implements :class:`~mibench.train.systems.base.System` and is
decorated with ``@register``, imported below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mibench.interface import RunConfig
from mibench.results.schema import K_EFF, SYSTEM, SYSTEM_PARAMS
from mibench.system_specs import (
    CLIP,
    DEFAULT_MOMENTUM,
    DEFAULT_QUEUE,
    DEFAULT_SYSTEM,
    INBATCH,
    MOCO,
    SystemSpec,
    resolve_system_params,
    system_compatibility,
)
from mibench.train.systems.base import (
    REGISTRY,
    System,
    SystemInputs,
    build,
    get,
    k_eff,
    names,
    register,
    wrap_estimator,
)
from mibench.train.systems.clip import Clip, symmetric_estimator
from mibench.train.systems.in_batch import InBatch
from mibench.train.systems.moco import STREAM_QUEUE, MoCo, MomentumQueue

__all__ = [
    "CLIP",
    "DEFAULT_MOMENTUM",
    "DEFAULT_QUEUE",
    "DEFAULT_SYSTEM",
    "INBATCH",
    "MOCO",
    "REGISTRY",
    "STREAM_QUEUE",
    "Clip",
    "InBatch",
    "MoCo",
    "MomentumQueue",
    "System",
    "SystemInputs",
    "SystemSpec",
    "build",
    "get",
    "k_eff",
    "names",
    "register",
    "resolve_system_params",
    "symmetric_estimator",
    "system_compatibility",
    "with_system_columns",
    "wrap_estimator",
]


def with_system_columns(
    summary: pd.DataFrame, sidecars: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """``summary.parquet`` rows with the cell's ``system``, ``system_params`` (JSON) and ``k_eff``.

    The summary identifies a cell by ``cell_id`` (a hash of its config minus the seed); this maps
    every sidecar's config to that id and copies the system fields of its cell, so systems at equal
    K_eff (MoCo with Q = 256 against in-batch InfoNCE with K = 257) can be set side by side.
    """
    from mibench import estimators
    from mibench.results.summary import cell_key, json_hash

    by_cell: dict[str, dict[str, Any]] = {}
    for sidecar in sidecars.values():
        config = dict(sidecar["config"])
        run = RunConfig.make(**config)
        layout = estimators.get(run.estimator).layout
        by_cell[json_hash(cell_key(config))] = {
            SYSTEM: run.system,
            SYSTEM_PARAMS: json.dumps(run.kwargs("system"), sort_keys=True),
            K_EFF: k_eff(run, layout, run.batch_size),
        }
    out = summary.copy()
    for column in (SYSTEM, SYSTEM_PARAMS, K_EFF):
        out[column] = [by_cell[cell][column] for cell in out["cell_id"]]
    return out
