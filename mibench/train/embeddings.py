r"""Readouts of the critic's embeddings: alignment/uniformity and the estimate before the head.

The system's :meth:`~mibench.systems.base.System.embeddings` says which embeddings the last
forward pass produced; these functions turn them into per-run float64 columns.

References:
    [1] A Guide to InfoNCE and Its Use in SimCLR, §10 (the reading before the head).
    [2] Wang & Isola, Understanding Contrastive Representation Learning through Alignment and
        Uniformity on the Hypersphere, ICML 2020, arXiv:2005.10242.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from mibench.critics.base import l2_normalize
from mibench.estimators.diagnostics import alignment, uniformity
from mibench.results.schema import ALIGN, ESTIMATE_BEFORE_HEAD, UNIF


def embedding_diagnostics(embeddings: tuple[Tensor, ...]) -> dict[str, Tensor]:
    """``align`` (pairs only) and ``unif`` of the x-side embeddings, float64, one per run."""
    if not embeddings:
        return {}
    with torch.no_grad():
        first = embeddings[0].detach().double()
        out = {UNIF: uniformity(first)}
        if len(embeddings) == 2:
            out[ALIGN] = alignment(first, embeddings[1].detach().double())
        return out


def representation_readout(critic: Any, layout: str, groups: Sequence[Any]) -> dict[str, Tensor]:
    r"""The estimate read *before* the projection head ([1] §10): same estimator, h instead of z.

    .. math::  G^{h}[r, i, j] = \frac{\bar h_i^\top \bar h_j}{\tau},\qquad
               \bar h = f(u)/\|f(u)\|

    For a critic with a projection head (``encoder_projection``) in the views layout, each group's
    estimator is evaluated (float64, no gradient) on the Gram matrix of the normalised
    representations of the last forward pass; ``{}`` for other critics and layouts (the pairs
    layout embeds x and y in two calls, and estimators that need labels or a dual are skipped).
    """
    h = getattr(critic, "last_representation", None)
    if h is None or layout != "views":
        return {}
    with torch.no_grad():
        unit = l2_normalize(h.detach().double())
        scores = unit @ unit.mT / critic.tau
        values = torch.full(scores.shape[:1], math.nan, dtype=torch.float64, device=scores.device)
        for group in groups:
            if not group.spec.needs:
                values[group.start : group.stop] = group.spec.value(
                    scores[group.start : group.stop]
                )
    return {ESTIMATE_BEFORE_HEAD: values}
