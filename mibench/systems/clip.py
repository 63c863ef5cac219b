r"""CLIP's symmetric system: the estimator is applied to S (x→y) and to Sᵀ (y→x), and averaged.

Anchor x_i with candidates y_j, and anchor y_j with candidates x_i; each direction is also
recorded (``estimate_xy``, ``estimate_yx``). Scores, diagnostics and state are in-batch ones.
No parameters; applies to pairs-layout estimators of the scores alone with ``offdiag`` negatives.

References:
    [1] Radford et al., Learning Transferable Visual Models From Natural Language Supervision
        (CLIP), 2021, arXiv:2103.00020, Fig. 3 (symmetric loss).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from torch import Tensor

from mibench.core.interface import Estimator, RunConfig
from mibench.results.schema import ESTIMATE_XY, ESTIMATE_YX
from mibench.systems.base import SystemSpec, pairs_offdiag_reason, register
from mibench.systems.in_batch import InBatch

CLIP = "clip"


def _clip_compatibility(config: RunConfig, spec: Estimator, critic_name: str) -> str | None:
    """Pairs layout, offdiag negatives, and an estimator of the scores alone (the symmetric form
    transposes the scores, not the other inputs an estimator ``needs``: dual head, entropy)."""
    reason = pairs_offdiag_reason(CLIP, config, spec)
    if reason is None and spec.needs:
        return f"system 'clip' needs an estimator of the scores alone; {spec.name} needs " + (
            ", ".join(sorted(spec.needs))
        )
    return reason


CLIP_SPEC = SystemSpec(
    CLIP,
    compatibility=_clip_compatibility,
    description="symmetric InfoNCE: the estimator of S and of S^T, averaged",
)


@register
class Clip(InBatch):
    """In-batch scores read by the symmetrised estimator (:func:`symmetric_estimator`)."""

    spec: ClassVar[SystemSpec] = CLIP_SPEC

    @classmethod
    def wrap_estimator(cls, spec: Estimator) -> Estimator:
        return symmetric_estimator(spec)


def symmetric_estimator(spec: Estimator) -> Estimator:
    r"""CLIP's symmetric form of a pairs-layout estimator: the mean of its x→y and y→x readings.

    .. math::  \hat I_{\rm CLIP}(S) = \tfrac12\big(\hat I(S) + \hat I(S^\top)\big),\qquad
               \mathcal L_{\rm CLIP}(S) = \tfrac12\big(\mathcal L(S) + \mathcal L(S^\top)\big)

    For InfoNCE, Î(S) normalises row i over the candidates y_j (anchor x_i) and Î(Sᵀ) column j
    over the x_i (anchor y_j): the symmetric cross-entropy of [1] (Fig. 3). Each direction is a
    lower bound on I(X; Y) = I(Y; X), so their mean is one, with the same ceiling. The
    extras ``estimate_xy`` and ``estimate_yx`` record the two directions.
    """

    def value(scores: Tensor, **hyper: Any) -> Tensor:
        return 0.5 * (spec.value_fn(scores, **hyper) + spec.value_fn(scores.mT, **hyper))

    def loss(scores: Tensor, **hyper: Any) -> Tensor:
        return 0.5 * (spec.loss_fn(scores, **hyper) + spec.loss_fn(scores.mT, **hyper))

    def extras(scores: Tensor, **hyper: Any) -> dict[str, Tensor]:
        base = spec.extras_fn(scores, **hyper) if spec.extras_fn is not None else {}
        return {
            **base,
            ESTIMATE_XY: spec.value_fn(scores, **hyper),
            ESTIMATE_YX: spec.value_fn(scores.mT, **hyper),
        }

    return replace(
        spec,
        value_fn=value,
        loss_fn=loss,
        extras_fn=extras,
        citation=f"{spec.citation}; symmetrised as CLIP (Radford et al. 2021, Fig. 3)",
    )
