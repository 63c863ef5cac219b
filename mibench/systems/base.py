r"""The contrastive-system protocol: what the planner and the trainer ask of a system, and the
one registry that holds them.

A *system* decides what the estimator sees besides the critic: which candidates each anchor is
scored against (the batch itself, both directions, a queue of stale keys), how many of them
(K_eff), and what state that needs between steps. Each system is one module of this package
holding both halves of it:

* its :class:`SystemSpec`, what the planner (:mod:`mibench.plan.suite`, :mod:`mibench.plan.resolve`) must
  know before anything trains: the name (``RunConfig.system``), the parameters with their
  defaults and value checks, and which runs it applies to (``compatibility``);
* a class implementing :class:`System`, naming that spec as ``spec`` and decorated with
  :func:`register` (which registers spec and class together).

The stacked trainer (:mod:`mibench.train.stack`) builds one system object per stack from
:class:`SystemInputs` and, at every step, calls only the methods of :class:`System`:

============================  ====================================================================
``scores(x, y, perm, eye)``   the score block the estimator reads (``(R, M, M)`` or ``(R, K, 1+Q)``)
``diagnostics(scores64)``     InfoNCE value and ESS of that block (float64, per run)
``embeddings()``              the embeddings of the last forward pass, for alignment/uniformity
``after_step(alive)``         what changes after the optimiser step (MoCo: momentum, enqueue)
``state()`` / ``load(s)``     everything ``after_step`` changes, for block replay and checkpoints
``matrix_size(n)``            M: log M is the readout's ``log_k`` and the ceiling's argument
============================  ====================================================================

and, before any stack exists (estimator presentation, summary tables), the class methods
``wrap_estimator`` and ``k_eff``. Nothing in this package imports the trainer, so the planner
reads the specs without it. A new system is one module here plus its test
(``tests/systems/test_<module>.py``): the package imports every module in it, and neither the
planner nor the trainer is touched. Runs of one stack share a system (it is in the stack key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from torch import Tensor

from mibench.core.interface import Estimator, RunConfig, Task
from mibench.core.registry import Registry

DEFAULT_SYSTEM = "inbatch"  # RunConfig.system's default (mibench.systems.in_batch)

#: ``compatibility(config, spec, critic_name)``: None when the system applies, else the reason.
Compatibility = Callable[[RunConfig, Estimator, str], str | None]


def _unchecked(params: dict[str, Any]) -> dict[str, Any]:
    return params


def _applies_to_all(config: RunConfig, spec: Estimator, critic_name: str) -> str | None:
    return None


@dataclass(frozen=True)
class SystemSpec:
    """One contrastive system as the planner sees it.

    ``check(params)`` validates the parameters (``params`` has every default filled in and no
    unknown key) and returns them normalised, raising ValueError naming a bad value;
    ``compatibility`` says why a run cannot use the system (None when it can).
    """

    name: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], dict[str, Any]] = _unchecked
    compatibility: Compatibility = _applies_to_all
    description: str = ""


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

    spec: ClassVar[SystemSpec]  # name, parameters, compatibility: what the planner reads

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
# Implementations by their spec's name, in registration order (inbatch first: the package imports
# it before the others, so error messages list the default first), and their specs under the same
# names (the generic registry merges a spec's parameter defaults). register() fills both.
REGISTRY: Registry[type[System]] = Registry(
    "system", key=lambda system: system.spec.name, sorted_names=False
)
SPECS: Registry[SystemSpec] = Registry("system", sorted_names=False)


def register(system: SystemType) -> SystemType:
    """Class decorator: make ``system`` available as ``RunConfig.system = system.spec.name``
    (the class and its spec together); a duplicate name is an error."""
    SPECS.register(system.spec)  # type: ignore[attr-defined]
    return REGISTRY.register(system)  # type: ignore[return-value]


@contextmanager
def registered(system: SystemType) -> Iterator[SystemType]:
    """``system`` registered for the duration of a ``with`` block (tests), then removed."""
    with SPECS.registered(system.spec), REGISTRY.registered(system):  # type: ignore[attr-defined]
        yield system


get = REGISTRY.get  # the class registered as a name; UnknownNameError naming the valid ones
names = REGISTRY.names
get_spec = SPECS.get  # its SystemSpec


def resolve_system_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the system's defaults, validated; unknown name or key names the valid ones."""
    spec = get_spec(name)
    return spec.check(SPECS.with_defaults(spec, params))


def system_compatibility(
    config: RunConfig, spec: Estimator, critic_name: str | None = None
) -> str | None:
    """None when ``config``'s system applies to its estimator and critic, else the reason."""
    critic_name = config.critic if critic_name is None else critic_name
    return get_spec(config.system).compatibility(config, spec, critic_name)


def pairs_offdiag_reason(name: str, config: RunConfig, spec: Estimator) -> str | None:
    """Why a system that replaces the batch's pairs-layout scores cannot take this run (or None)."""
    if spec.layout != "pairs":
        return f"system {name!r} needs a pairs-layout estimator; {spec.name} is {spec.layout}"
    if config.negatives != "offdiag":
        return f"system {name!r} needs negatives = 'offdiag', got {config.negatives!r}"
    return None


def build(inputs: SystemInputs) -> System:
    """The system of the stack whose runs are ``inputs.configs`` (they share it)."""
    return get(inputs.configs[0].system)(inputs)


def wrap_estimator(spec: Estimator, config: RunConfig) -> Estimator:
    """The estimator as the run's system presents it to the trainer (``spec`` for ``inbatch``)."""
    return get(config.system).wrap_estimator(spec)


def k_eff(config: RunConfig, layout: str, batch: int) -> int:
    """Candidates per anchor of ``config``'s system for a readout of ``batch`` samples."""
    return get(config.system).k_eff(config, layout, batch)
