r"""The contrastive-system protocol: what the trainer asks of a system, and the lookup by name.

A *system* decides what the estimator sees besides the critic: which candidates each anchor is
scored against (the batch itself, both directions, a queue of stale keys), how many of them
(K_eff), and what state that needs between steps. The stacked trainer (:mod:`mibench.train.stack`)
builds one system object per stack from :class:`SystemInputs` and, at every step, calls only the
methods of :class:`System`:

============================  ====================================================================
``scores(x, y, perm, eye)``   the score block the estimator reads (``(R, M, M)`` or ``(R, K, 1+Q)``)
``diagnostics(scores64)``     InfoNCE value and ESS of that block (float64, per run)
``embeddings()``              the embeddings of the last forward pass, for alignment/uniformity
``after_step(alive)``         what changes after the optimiser step (MoCo: momentum, enqueue)
``state()`` / ``load(s)``     everything ``after_step`` changes, for block replay and checkpoints
``matrix_size(n)``            M: log M is the readout's ``log_k`` and the ceiling's argument
============================  ====================================================================

and, before any stack exists (planner, estimator resolution, summary tables), the class methods
``resolve_params``, ``compatibility``, ``wrap_estimator`` and ``k_eff``. A new system is one module
that defines such a class and decorates it with :func:`register`, plus its test; the trainer is
not touched. ``RunConfig.system`` names it; runs of one stack share it (it is in the stack key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from torch import Tensor

from mibench.interface import Estimator, RunConfig, Task, UnknownNameError, over_defaults


@dataclass(frozen=True)
class SystemInputs:
    """What a stack hands its system when it is built (the runs are in stack order)."""

    critic: Any
    configs: Sequence[RunConfig]
    tasks: Sequence[Task]
    layout: str
    negatives: str
    dtype: torch.dtype
    device: torch.device


class System(Protocol):
    """One stack's contrastive system (see the module docstring for what each method is for)."""

    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]]  # its parameters and their defaults

    def __init__(self, inputs: SystemInputs) -> None: ...

    @classmethod
    def resolve_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` (defaults filled in, keys checked) validated; ValueError naming a bad value."""
        ...

    @classmethod
    def compatibility(cls, config: RunConfig, spec: Estimator, critic_name: str) -> str | None:
        """None when the system applies to the run's estimator and critic, else the reason."""
        ...

    @classmethod
    def wrap_estimator(cls, spec: Estimator) -> Estimator:
        """The estimator as the system presents it to the trainer (loss, value, ceiling)."""
        ...

    @classmethod
    def k_eff(cls, config: RunConfig, layout: str, batch: int) -> int:
        """Candidates per anchor for a readout of ``batch`` samples (the ``k_eff`` column)."""
        ...

    def scores(self, x: Tensor, y: Tensor | None, perm: Tensor | None, eye: Tensor) -> Tensor: ...

    def matrix_size(self, batch: int) -> int: ...

    def diagnostics(self, scores64: Tensor) -> tuple[Tensor, Tensor]: ...

    def embeddings(self) -> tuple[Tensor, ...]: ...

    def after_step(self, alive: Tensor) -> None: ...

    def state(self) -> Any: ...

    def load(self, state: Any) -> None: ...


SystemType = TypeVar("SystemType", bound=type)
_SYSTEMS: dict[str, type[System]] = {}


def register(system: SystemType) -> SystemType:
    """Class decorator: make ``system`` available as ``RunConfig.system = system.name``."""
    if system.name in _SYSTEMS:
        raise ValueError(f"system {system.name!r} is already registered")
    _SYSTEMS[system.name] = system
    return system


def names() -> list[str]:
    """The registered systems, in registration order."""
    return list(_SYSTEMS)


def get(name: str) -> type[System]:
    """The system class registered as ``name``; UnknownNameError naming the valid ones."""
    if name not in _SYSTEMS:
        raise UnknownNameError("system", name, names())
    return _SYSTEMS[name]


def build(inputs: SystemInputs) -> System:
    """The system of the stack whose runs are ``inputs.configs`` (they share it)."""
    return get(inputs.configs[0].system)(inputs)


def resolve_system_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the system's defaults, validated; unknown name or key names the valid ones."""
    system = get(name)
    return system.resolve_params(over_defaults("system", name, params, system.defaults))


def system_compatibility(
    config: RunConfig, spec: Estimator, critic_name: str | None = None
) -> str | None:
    """None when ``config``'s system applies to its estimator and critic, else the reason."""
    critic_name = config.critic if critic_name is None else critic_name
    return get(config.system).compatibility(config, spec, critic_name)


def wrap_estimator(spec: Estimator, config: RunConfig) -> Estimator:
    """The estimator as the run's system presents it to the trainer (``spec`` for ``inbatch``)."""
    return get(config.system).wrap_estimator(spec)


def k_eff(config: RunConfig, layout: str, batch: int) -> int:
    """Candidates per anchor of ``config``'s system for a readout of ``batch`` samples."""
    return get(config.system).k_eff(config, layout, batch)


def pairs_offdiag_reason(name: str, config: RunConfig, spec: Estimator) -> str | None:
    """Why a system that replaces the batch's pairs-layout scores cannot take this run (or None)."""
    if spec.layout != "pairs":
        return f"system {name!r} needs a pairs-layout estimator; {spec.name} is {spec.layout}"
    if config.negatives != "offdiag":
        return f"system {name!r} needs negatives = 'offdiag', got {config.negatives!r}"
    return None
