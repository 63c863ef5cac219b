"""Contrastive systems as declared data: their names, parameters and what they apply to.

A :class:`SystemSpec` says what the planner needs to know of a system before anything trains: its
name (``RunConfig.system``), its parameters with their defaults and value checks, and which runs
it applies to (``compatibility``). The planner (:mod:`mibench.suite`) and the resolver
(:mod:`mibench.resolve`) read these rules without importing the trainer;
:mod:`mibench.train.systems` implements the systems themselves (one module each: CLIP's symmetric
estimator, MoCo's momentum encoder and queue), each class naming its spec here, and documents
their maths.

============  ==========================  =====================================================
system        parameters (defaults)       applies to
============  ==========================  =====================================================
``inbatch``   none                        every run (the batch's own scores)
``clip``      none                        pairs-layout estimators of the scores alone, offdiag
``moco``      queue 4096, momentum 0.999  ``infonce`` with the ``encoder`` critic, offdiag, Q ≥ K
============  ==========================  =====================================================

References:
    [1] He et al., Momentum Contrast for Unsupervised Visual Representation Learning, CVPR 2020,
        arXiv:1911.05722, Sec. 3.2, Tables 3-4 (the queue and momentum defaults).
    [2] Radford et al., Learning Transferable Visual Models From Natural Language Supervision
        (CLIP), 2021, arXiv:2103.00020, Fig. 3 (symmetric loss).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mibench.interface import Estimator, RunConfig
from mibench.registry import Registry

INBATCH = "inbatch"
CLIP = "clip"
MOCO = "moco"
DEFAULT_SYSTEM = INBATCH
# He et al. 2020 (Sec. 3.2, Table 4): m = 0.999 works best; a queue of 4096 keys is their
# smallest reported dictionary size for ImageNet-1M (Table 3 sweeps 256 ... 65536).
DEFAULT_MOMENTUM = 0.999
DEFAULT_QUEUE = 4096
MOCO_CRITICS = ("encoder",)
MOCO_ESTIMATORS = ("infonce",)

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


# Registration order (inbatch, clip, moco) is the order error messages list the systems in.
REGISTRY: Registry[SystemSpec] = Registry("system", sorted_names=False)
register = REGISTRY.register  # a duplicate name is an error
get = REGISTRY.get  # an unknown name lists the valid ones
names = REGISTRY.names


def resolve_system_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the system's defaults, validated; unknown name or key names the valid ones."""
    spec = get(name)
    return spec.check(REGISTRY.with_defaults(spec, params))


def system_compatibility(
    config: RunConfig, spec: Estimator, critic_name: str | None = None
) -> str | None:
    """None when ``config``'s system applies to its estimator and critic, else the reason."""
    critic_name = config.critic if critic_name is None else critic_name
    return get(config.system).compatibility(config, spec, critic_name)


def pairs_offdiag_reason(name: str, config: RunConfig, spec: Estimator) -> str | None:
    """Why a system that replaces the batch's pairs-layout scores cannot take this run (or None)."""
    if spec.layout != "pairs":
        return f"system {name!r} needs a pairs-layout estimator; {spec.name} is {spec.layout}"
    if config.negatives != "offdiag":
        return f"system {name!r} needs negatives = 'offdiag', got {config.negatives!r}"
    return None


# ------------------------------------------------------------------------------------ CLIP
def _clip_compatibility(config: RunConfig, spec: Estimator, critic_name: str) -> str | None:
    reason = pairs_offdiag_reason(CLIP, config, spec)
    if reason is None and spec.needs:
        return f"system 'clip' needs an estimator of the scores alone; {spec.name} needs " + (
            ", ".join(sorted(spec.needs))
        )
    return reason


# ------------------------------------------------------------------------------------ MoCo
def _moco_check(params: dict[str, Any]) -> dict[str, Any]:
    queue, momentum = params["queue"], params["momentum"]
    if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
        raise ValueError(f"moco queue must be an integer >= 1, got {queue!r}")
    number = isinstance(momentum, int | float) and not isinstance(momentum, bool)
    if not number or not 0.0 <= momentum < 1.0:
        raise ValueError(f"moco momentum must be a number in [0, 1), got {momentum!r}")
    return {**params, "momentum": float(momentum)}


def _moco_compatibility(config: RunConfig, spec: Estimator, critic_name: str) -> str | None:
    reason = pairs_offdiag_reason(MOCO, config, spec)
    if reason is not None:
        return reason
    if spec.name not in MOCO_ESTIMATORS:
        return f"system 'moco' trains InfoNCE over its queue; got estimator {spec.name!r}"
    if critic_name not in MOCO_CRITICS:
        return (
            f"system 'moco' needs the shared-encoder critic ({', '.join(MOCO_CRITICS)}) whose "
            f"momentum copy encodes the keys; got {critic_name!r}"
        )
    queue = resolve_system_params(MOCO, config.kwargs("system"))["queue"]
    if queue < config.batch_size:
        return f"moco queue ({queue}) must hold at least one batch (K = {config.batch_size})"
    return None


INBATCH_SPEC = register(
    SystemSpec(INBATCH, description="the batch's own score matrix (with ntxent: SimCLR)")
)
CLIP_SPEC = register(
    SystemSpec(
        CLIP,
        compatibility=_clip_compatibility,
        description="symmetric InfoNCE: the estimator of S and of S^T, averaged",
    )
)
MOCO_SPEC = register(
    SystemSpec(
        MOCO,
        defaults={"queue": DEFAULT_QUEUE, "momentum": DEFAULT_MOMENTUM},
        check=_moco_check,
        compatibility=_moco_compatibility,
        description="a momentum encoder and a queue of Q keys as the negatives (K_eff = Q + 1)",
    )
)
