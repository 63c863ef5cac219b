"""Stacked critics g(x, y) -> scores ``(R, K, K)`` in the orientation of :mod:`mibench.estimators`.

Every critic holds its parameters with a leading run axis ``R`` (one row per stacked run, each
initialised from that run's own generator) and evaluates all runs with batched matrix products —
never a Python loop over runs. ``get(name)`` -> :class:`CriticSpec`; ``build(name, dim_x, dim_y,
generators=...)`` -> :class:`Critic`; ``critic_table()`` is what ``mibench list critics`` prints.
"""

from __future__ import annotations

import importlib
import pkgutil

import torch
from rich.markup import escape
from rich.table import Table

from mibench.critics.dual import DUAL_KINDS, DualHead
from mibench.critics.registry import (
    EXAMPLE_DIM,
    Critic,
    CriticSpec,
    build,
    check_params,
    get,
    names,
    register,
    resolve_params,
)

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name not in {"registry", "base", "dual"}:
        importlib.import_module(f"{__name__}.{_module.name}")


def critic_table() -> Table:
    """Rich table of registered critics with their default architecture at d_x = d_y = 20."""
    table = Table(
        title=f"critics (architecture and parameters per run at d_x = d_y = {EXAMPLE_DIM})"
    )
    for column in (
        "name",
        "parameters (defaults)",
        "architecture",
        "n_params",
        "layouts",
        "citation",
    ):
        table.add_column(column, overflow="fold")
    for name in names():
        spec = get(name)
        critic = build(
            name, EXAMPLE_DIM, EXAMPLE_DIM, generators=[torch.Generator().manual_seed(0)]
        )
        params = ", ".join(f"{k}={v}" for k, v in spec.defaults.items()) or "-"
        cells = (name, params, critic.architecture, str(critic.n_parameters))
        layouts = ", ".join(sorted(spec.layouts))
        table.add_row(*(escape(c) for c in (*cells, layouts, spec.citation)))
    return table


__all__ = [
    "DUAL_KINDS",
    "Critic",
    "CriticSpec",
    "DualHead",
    "build",
    "check_params",
    "critic_table",
    "get",
    "names",
    "register",
    "resolve_params",
]
