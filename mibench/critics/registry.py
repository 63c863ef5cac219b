"""Name -> :class:`CriticSpec` registry; ``mibench list critics`` reads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mibench.core.registry import Registry
from mibench.critics.base import ParameterFactory

# Dimensions used by ``mibench list critics`` to show a concrete architecture (Poole's task size).
EXAMPLE_DIM = 20


class Critic:
    """A stacked critic: parameters ``(R, ...)``, scores in the orientation of :mod:`mibench.estimators`.

    Subclasses implement :meth:`scores` (pairs layout) and :meth:`paired_scores`; the ``encoder``
    critic also implements :meth:`gram` (views/labels layouts).
    """

    name: str = ""
    layouts: frozenset[str] = frozenset({"pairs"})

    def __init__(self, *, n_runs: int) -> None:
        self.n_runs = n_runs

    def parameters(self) -> list[Tensor]:
        """Every trainable leaf tensor, each ``(R, a, b)``, in a fixed order."""
        raise NotImplementedError

    @property
    def architecture(self) -> str:
        """Exact architecture, human-readable (layer sizes, activation, temperature...)."""
        raise NotImplementedError

    @property
    def n_parameters(self) -> int:
        """Trainable parameters of ONE run."""
        return sum(p[0].numel() for p in self.parameters())

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        """``(R, K, dim_x), (R, K', dim_y) -> (R, K, K')`` with ``S[r, i, j] = g_r(x_i, y_j)``."""
        raise NotImplementedError

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        """``(R, K, dim_x), (R, K, dim_y) -> (R, K)`` with ``s[r, i] = g_r(x_i, y_i)``."""
        raise NotImplementedError

    def gram(self, z: Tensor) -> Tensor:
        """``(R, n, dim) -> (R, n, n)`` Gram scores of one embedding (views/labels layouts)."""
        raise ValueError(f"critic {self.name!r} has no Gram (views/labels) form; use 'encoder'")


@dataclass(frozen=True)
class CriticSpec:
    """How to build a critic family: ``build(dim_x, dim_y, factory=..., **params) -> Critic``."""

    name: str
    build: Callable[..., Critic]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    citation: str = ""
    layouts: frozenset[str] = frozenset({"pairs"})
    same_dims: bool = False  # True when x and y go through one network (dim_x must equal dim_y)
    # What its scores mean (mibench.core.interface.ScoreKind): "log_conditional" critics return a
    # normalised log-density log q(y_j | x_i), which the generative estimators require.
    score_kind: str = "critic"
    # The parameter schema: one check per key of ``defaults`` (``base.param_checks``), each raising
    # ValueError for a bad value, so a suite's critic parameters are validated without a build.
    param_checks: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)


REGISTRY: Registry[CriticSpec] = Registry("critic")


register = REGISTRY.register  # a duplicate name is an error
get = REGISTRY.get  # an unknown name lists the valid ones
names = REGISTRY.names


def resolve_params(name: str | CriticSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the critic's defaults; unknown keys are an error naming the valid ones."""
    spec = name if isinstance(name, CriticSpec) else get(name)
    return REGISTRY.with_defaults(spec, params)


def check_params(name: str | CriticSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the defaults, every value checked by the spec's declared ``param_checks``
    (the checks the critic's constructor runs); ValueError names the bad key or value."""
    spec = name if isinstance(name, CriticSpec) else get(name)
    resolved = resolve_params(spec, params)
    for key, check in spec.param_checks.items():
        check(resolved[key])
    return resolved


def build(
    name: str,
    dim_x: int,
    dim_y: int,
    *,
    generators: Sequence[torch.Generator],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    params: Mapping[str, Any] | None = None,
) -> Critic:
    """Build critic ``name`` for R = ``len(generators)`` runs, run r initialised from generator r."""
    spec = get(name)
    resolved = resolve_params(name, params or {})
    if spec.same_dims and dim_x != dim_y:
        raise ValueError(
            f"critic {name!r} embeds x and y with one network and needs dim_x == dim_y, "
            f"got {dim_x} and {dim_y}"
        )
    factory = ParameterFactory(generators, dtype=dtype, device=torch.device(device))
    return spec.build(dim_x, dim_y, factory=factory, **resolved)
