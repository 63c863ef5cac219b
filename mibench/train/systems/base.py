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

and, before any stack exists (estimator presentation, summary tables), the class methods
``wrap_estimator`` and ``k_eff``. What the planner must know of a system without the trainer (its
name, parameters and their checks, which runs it applies to) is its
:class:`~mibench.system_specs.SystemSpec`, declared in :mod:`mibench.system_specs`; the class names
it as ``spec``. A new system is that spec plus one module here that defines such a class and
decorates it with :func:`register`, plus its test; the trainer is not touched. ``RunConfig.system``
names it; runs of one stack share it (it is in the stack key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from torch import Tensor

from mibench.interface import Estimator, RunConfig, Task
from mibench.registry import Registry
from mibench.system_specs import SystemSpec


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

    spec: ClassVar[SystemSpec]  # name, parameters, compatibility (mibench.system_specs)

    def __init__(self, inputs: SystemInputs) -> None: ...

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
# Implementations by their spec's name, in registration order (inbatch, clip, moco).
REGISTRY: Registry[type[System]] = Registry(
    "system", key=lambda system: system.spec.name, sorted_names=False
)


def register(system: SystemType) -> SystemType:
    """Class decorator: make ``system`` available as ``RunConfig.system = system.spec.name``."""
    return REGISTRY.register(system)  # type: ignore[return-value]


get = REGISTRY.get  # the class registered as a name; UnknownNameError naming the valid ones
names = REGISTRY.names


def build(inputs: SystemInputs) -> System:
    """The system of the stack whose runs are ``inputs.configs`` (they share it)."""
    return get(inputs.configs[0].system)(inputs)


def wrap_estimator(spec: Estimator, config: RunConfig) -> Estimator:
    """The estimator as the run's system presents it to the trainer (``spec`` for ``inbatch``)."""
    return get(config.system).wrap_estimator(spec)


def k_eff(config: RunConfig, layout: str, batch: int) -> int:
    """Candidates per anchor of ``config``'s system for a readout of ``batch`` samples."""
    return get(config.system).k_eff(config, layout, batch)

