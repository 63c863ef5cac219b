"""Contrastive systems as declared data: their names, parameters and what they apply to.

The planner (:mod:`mibench.suite`) and the resolver (:mod:`mibench.resolve`) read these rules
without importing the trainer; :mod:`mibench.train.systems` implements the systems themselves
(CLIP's symmetric estimator, MoCo's momentum encoder and queue) and documents their maths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mibench.interface import Estimator, RunConfig, UnknownNameError

INBATCH = "inbatch"
CLIP = "clip"
MOCO = "moco"
SYSTEMS = (INBATCH, CLIP, MOCO)
DEFAULT_SYSTEM = INBATCH
# He et al. 2020 (Sec. 3.2, Table 4): m = 0.999 works best; a queue of 4096 keys is their
# smallest reported dictionary size for ImageNet-1M (Table 3 sweeps 256 ... 65536).
DEFAULT_MOMENTUM = 0.999
DEFAULT_QUEUE = 4096
SYSTEM_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    INBATCH: {},
    CLIP: {},
    MOCO: {"queue": DEFAULT_QUEUE, "momentum": DEFAULT_MOMENTUM},
}
MOCO_CRITICS = ("encoder",)
MOCO_ESTIMATORS = ("infonce",)


def resolve_system_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the system's defaults, validated; unknown name or key names the valid ones."""
    if name not in SYSTEM_DEFAULTS:
        raise UnknownNameError("system", name, list(SYSTEMS))
    defaults = SYSTEM_DEFAULTS[name]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "(none)"
        raise ValueError(f"system {name!r} has no parameter {unknown[0]!r}; valid: {valid}")
    resolved = {**defaults, **params}
    if name == MOCO:
        queue, momentum = resolved["queue"], resolved["momentum"]
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
            raise ValueError(f"moco queue must be an integer >= 1, got {queue!r}")
        number = isinstance(momentum, int | float) and not isinstance(momentum, bool)
        if not number or not 0.0 <= momentum < 1.0:
            raise ValueError(f"moco momentum must be a number in [0, 1), got {momentum!r}")
        resolved["momentum"] = float(momentum)
    return resolved


def system_compatibility(
    config: RunConfig, spec: Estimator, critic_name: str | None = None
) -> str | None:
    """None when ``config``'s system applies to its estimator and critic, else the reason."""
    name = config.system
    critic_name = config.critic if critic_name is None else critic_name
    if name == INBATCH:
        return None
    if spec.layout != "pairs":
        return f"system {name!r} needs a pairs-layout estimator; {spec.name} is {spec.layout}"
    if config.negatives != "offdiag":
        return f"system {name!r} needs negatives = 'offdiag', got {config.negatives!r}"
    if name == CLIP and spec.needs:
        return f"system 'clip' needs an estimator of the scores alone; {spec.name} needs " + (
            ", ".join(sorted(spec.needs))
        )
    if name == MOCO:
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
