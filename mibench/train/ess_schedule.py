r"""Effective-sample-size (ESS) scheduling of the inverse temperature: FlatNCE Algorithm S2.

Instead of a fixed temperature, the scores are scaled by an inverse temperature β that is
adapted after every step so that the ESS of the negatives' importance weights tracks a target ϱ:

.. math::  \mathrm{ESS}_t = \mathrm{ESS}(\beta_t S_t),\qquad
           \beta_{t+1} = \begin{cases}(1 + d\,\gamma)\,\beta_t & \mathrm{ESS}_t > \varrho\\
                                      (1 - d\,\gamma)\,\beta_t & \text{otherwise}\end{cases}

with β₀ = 1, adaptation rate γ = 0.01 and direction d. Algorithm S2 of [1] prints d = −1
(β(1 − γ) when ESS > ϱ). But β is the *inverse* temperature (g = β·g̃, §4 of [1]) and a larger β
sharpens the weights (w_j(β) ∝ w_j^β, the remark after Prop. S2), so the ESS *falls* as β grows:
with d = −1 an ESS above target lowers β, which raises the ESS further (positive feedback; β runs
off to 0 or ∞ and the ESS to 1 or 1/n). The default here is therefore d = +1, which moves the
ESS towards ϱ from either side; at equilibrium β dithers by a factor (1 ± γ) around the value
whose ESS is ϱ. ``direction=-1`` runs the algorithm exactly as printed (the claim
``ess-scheduling-reaches-target`` measures both). The ESS is that of
:func:`mibench.estimators.ess` (Eq. (4) of [1], with n = K − 1 in-batch negatives; Algorithm S2
writes K).

The schedule is a training *option* on any pairs-layout estimator: :func:`ess_scheduled` wraps a
spec into a stateful one (``needs={"state"}``) that the stacked trainer runs unchanged. Its
state, ``(..., 2)`` = (β used at this step, β for the next step), is advanced by ``state_fn``
once per step *before* the loss, exactly the order of Algorithm S2 (the loss of step t uses
β_t, and the ESS of step t decides β_{t+1}). Its extras report ``beta`` and ``scheduled_ess``
(the ESS of the tempered scores, the quantity being controlled); the trainer's own ``ess``
column stays the ESS of the raw critic scores.

References:
    [1] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152, Algorithm S2, Eq. (4), §4 and App. C (Fig. 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from mibench.core.interface import Estimator
from mibench.estimators import ess as default_ess
from mibench.results import schema

#: Algorithm S2's adaptation rate γ.
DEFAULT_RATE = 0.01
#: +1: an ESS above target raises β (sharpens, lowering the ESS): the stable direction.
#: -1: Algorithm S2 as printed (lowers β when the ESS is above target).
STABLE_DIRECTION = 1.0
PRINTED_DIRECTION = -1.0
#: Algorithm S2 starts at β = 1 (the critic's own temperature).
INITIAL_BETA = 1.0
#: A target inside the FlatNCE paper's best range (Fig. 7: ESS in [0.2, 0.4]).
DEFAULT_TARGET = 0.3
#: Name of the scheduled FlatNCE the claims train (a spec handed to the trainer, not registered).
SCHEDULED_FLATNCE = "flatnce_ess"
BETA_COLUMN = schema.BETA
SCHEDULED_ESS_COLUMN = schema.SCHEDULED_ESS


def ess_schedule_step(
    beta: Tensor,
    ess: Tensor,
    *,
    target: float,
    rate: float = DEFAULT_RATE,
    direction: float = STABLE_DIRECTION,
) -> Tensor:
    r"""One update of the ESS schedule: β(1 + dγ) where ESS > ϱ, else β(1 − dγ).

    ``direction`` d = −1 is Algorithm S2 of [1] as printed; d = +1 (default) the stable sign
    (see the module docstring).

    Args:
        beta: ``(...)`` current inverse temperatures.
        ess: ``(...)`` the ESS measured at ``beta``.
        target: ϱ in (0, 1].
        rate: γ in (0, 1).
        direction: +1 or −1.
    Returns:
        ``(...)``, the next β (same dtype as ``beta``).
    """
    step = direction * rate
    return torch.where(ess > target, beta * (1.0 + step), beta * (1.0 - step))


def validate_schedule(target: float, rate: float, direction: float = STABLE_DIRECTION) -> None:
    """ϱ in (0, 1] (Algorithm S2 asks ϱ ∈ (1/K, 1]), γ in (0, 1), direction ±1."""
    if not 0.0 < float(target) <= 1.0:
        raise ValueError(f"ESS target must lie in (0, 1], got {target!r}")
    if not 0.0 < float(rate) < 1.0:
        raise ValueError(f"ESS adaptation rate must lie in (0, 1), got {rate!r}")
    if float(direction) not in (STABLE_DIRECTION, PRINTED_DIRECTION):
        raise ValueError(f"ESS schedule direction must be +1 or -1, got {direction!r}")


def ess_scheduled(
    spec: Estimator,
    *,
    target: float = DEFAULT_TARGET,
    rate: float = DEFAULT_RATE,
    direction: float = STABLE_DIRECTION,
    name: str | None = None,
    ess_fn: Callable[[Tensor], Tensor] = default_ess,
) -> Estimator:
    """``spec`` trained on β·S with β adapted by Algorithm S2 towards ESS = ``target``.

    The returned spec has hyperparameters ``target``, ``rate`` and ``direction`` (so a run config
    sets them with ``estimator_params``) on top of ``spec``'s own, which it passes through. Its value is
    ``spec``'s value of the tempered scores β·S (the critic actually trained).

    Args:
        spec: a pairs-layout estimator without inputs of its own (e.g. ``flatnce``, ``infonce``).
        target: ϱ, the ESS to reach.
        rate: γ, the multiplicative adaptation rate of β.
        direction: +1 (stable, default) or −1 (Algorithm S2 as printed).
        name: name of the result (default ``"<spec.name>_ess"``).
        ess_fn: the ESS diagnostic (default :func:`mibench.estimators.ess`).
    Returns:
        A stateful :class:`~mibench.core.interface.Estimator` (``needs={"state"}``).
    """
    _check_wrappable(spec)
    validate_schedule(target, rate, direction)
    schedule = _Schedule(spec=spec, ess_fn=ess_fn)
    return replace(
        spec,
        name=name or f"{spec.name}_ess",
        value_fn=schedule.value,
        loss_fn=schedule.loss,
        extras_fn=schedule.extras,
        state_fn=schedule.next_state,
        needs=frozenset({"state"}),
        hyper={
            **spec.hyper,
            "target": float(target),
            "rate": float(rate),
            "direction": float(direction),
        },
        ceiling_fn=None,
        caps_at_log_k=spec.caps_at_log_k,
        citation=f"{spec.citation}; ESS scheduling: FlatNCE (Chen et al. 2021) Algorithm S2",
        description=f"{spec.name} on beta*S, beta adapted by Algorithm S2 towards ESS = target.",
    )


@dataclass(frozen=True)
class _Schedule:
    """The four functions of a scheduled spec: the inner spec on β·S, and β's next value."""

    spec: Estimator
    ess_fn: Callable[[Tensor], Tensor]

    def inner(self, hyper: dict[str, float]) -> Estimator:
        """``spec`` at its own hyperparameters among ``hyper`` (the schedule's are dropped)."""
        own = {k: v for k, v in hyper.items() if k in self.spec.hyper}
        return self.spec.with_hyper(**own) if own else self.spec

    def next_state(self, scores: Tensor, state: Tensor | None, **hyper: float) -> Tensor:
        validate_schedule(hyper["target"], hyper["rate"], hyper["direction"])
        beta = _initial_beta(scores) if state is None else state[..., 1]
        ess = self.ess_fn(beta[..., None, None] * scores.detach())
        following = ess_schedule_step(
            beta, ess, target=hyper["target"], rate=hyper["rate"], direction=hyper["direction"]
        )
        return torch.stack([beta, following], dim=-1).detach()

    def value(self, scores: Tensor, *, state: Tensor | None, **hyper: float) -> Tensor:
        return self.inner(hyper).value(_tempered(scores, state))

    def loss(self, scores: Tensor, *, state: Tensor | None, **hyper: float) -> Tensor:
        return self.inner(hyper).loss(_tempered(scores, state))

    def extras(self, scores: Tensor, *, state: Tensor | None, **hyper: float) -> dict[str, Tensor]:
        scaled = _tempered(scores, state)
        return {
            **self.inner(hyper).extras(scaled),
            BETA_COLUMN: _beta_of(scores, state),
            SCHEDULED_ESS_COLUMN: self.ess_fn(scaled),
        }


def _check_wrappable(spec: Estimator) -> None:
    if spec.layout != "pairs" or spec.needs:
        raise ValueError(
            f"ESS scheduling wraps pairs-layout estimators without extra inputs; {spec.name!r} has "
            f"layout {spec.layout!r} and needs {sorted(spec.needs)}"
        )
    if frozenset(spec.hyper) & {"target", "rate", "direction"}:
        raise ValueError(f"{spec.name!r} already has a hyperparameter target, rate or direction")


def _initial_beta(scores: Tensor) -> Tensor:
    return torch.full(scores.shape[:-2], INITIAL_BETA, dtype=scores.dtype, device=scores.device)


def _beta_of(scores: Tensor, state: Tensor | None) -> Tensor:
    """The β a run's scores are tempered with: the state's current β, or β_0 before any step."""
    # None: no step taken yet (e.g. a held-out readout before the first update), beta_0.
    return _initial_beta(scores) if state is None else state[..., 0].to(scores.dtype)


def _tempered(scores: Tensor, state: Tensor | None) -> Tensor:
    return _beta_of(scores, state)[..., None, None] * scores
