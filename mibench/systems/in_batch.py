r"""The in-batch system (the default, ``"inbatch"``): the estimator sees the batch's own score
matrix. It applies to every run and has no parameters.

With the ``ntxent`` estimator (views layout, shared encoder) this *is* SimCLR: 2N − 1 candidates
per anchor, ceiling log(2N − 1) (InfoNCE guide, Eq. 9–10). Nothing persists between steps.

Negatives (``config.negatives``, pairs layout):

* ``"offdiag"`` (default): the estimator sees the full matrix S_ij = g(x_i, y_j); its K(K-1)
  off-diagonal entries are the negatives.
* ``"derangement"``: one shuffled partner per row. Each step draws a uniformly random K-cycle π (a
  derangement: π(i) ≠ i, and π(i) is uniform over j ≠ i) and evaluates only g(x_i, y_i) and
  g(x_i, y_π(i)) (2K critic calls). The estimator receives the K x K matrix whose diagonal is
  g(x_i, y_i) and whose row i holds g(x_i, y_π(i)) in every off-diagonal entry. For the estimators
  that average over the negatives (DV, MINE, NWJ, TUBA, JS, SMILE, FLO, f-MICL) this is exactly
  their one-shuffled-negative form (the mean over j ≠ i of a constant row is that constant). For
  softmax estimators (InfoNCE, FlatNCE) it means K-1 copies of one negative: their value then
  is still <= log K but the InfoNCE bound's exchangeability argument no longer applies, so read
  it as a diagnostic, not a bound. ESS of such a row is 1 by construction.

In the ``views`` layout the InfoNCE/ESS diagnostics are those of the N x N cross block
a_i·b_j/τ (pairs orientation); in the ``labels`` layout they are NaN (no pair structure).

References:
    [1] A Guide to InfoNCE and Its Use in SimCLR, Eq. (5), (8)–(10).
    [2] Chen et al., FlatNCE, 2021, arXiv:2107.01152, Eq. (4) (ESS).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from mibench.core.interface import Estimator, RunConfig
from mibench.estimators import ess, infonce_value
from mibench.systems.base import DEFAULT_SYSTEM, SystemInputs, SystemSpec, register

INBATCH = DEFAULT_SYSTEM  # "inbatch"
# Applies to every run: every estimator reads the batch's own scores.
INBATCH_SPEC = SystemSpec(INBATCH, description="the batch's own score matrix (with ntxent: SimCLR)")


@register
class InBatch:
    """The batch's own scores: ``(R, K, K)`` (pairs, labels) or ``(R, 2N, 2N)`` (views)."""

    spec: ClassVar[SystemSpec] = INBATCH_SPEC

    def __init__(self, inputs: SystemInputs) -> None:
        self.critic = inputs.critic
        self.layout = inputs.layout
        self.device = inputs.device

    @classmethod
    def wrap_estimator(cls, spec: Estimator) -> Estimator:
        return spec

    @classmethod
    def k_eff(cls, config: RunConfig, layout: str, batch: int) -> int:
        """K, or 2N − 1 in the views layout (an anchor's own view is not a candidate)."""
        return 2 * batch - 1 if layout == "views" else batch

    def scores(self, x: Tensor, y: Tensor | None, perm: Tensor | None, eye: Tensor) -> Tensor:
        if self.layout == "labels":
            return self.critic.gram(x)
        if self.layout == "views":
            return self.critic.gram(torch.cat([x, y], dim=1))
        if perm is not None:
            positives = self.critic.paired_scores(x, y)
            shuffled = torch.gather(y, 1, perm.unsqueeze(-1).expand_as(y))
            negatives = self.critic.paired_scores(x, shuffled)
            return derangement_scores(positives, negatives, eye=eye)
        return self.critic.scores(x, y)

    def matrix_size(self, batch: int) -> int:
        return 2 * batch if self.layout == "views" else batch

    def diagnostics(self, scores64: Tensor) -> tuple[Tensor, Tensor]:
        if self.layout == "labels":
            nan = torch.full(scores64.shape[:-2], math.nan, dtype=torch.float64, device=self.device)
            return nan, nan
        if self.layout == "views":
            n = scores64.shape[-1] // 2
            scores64 = scores64[..., :n, n:]
        return infonce_value(scores64), ess(scores64)

    def embeddings(self) -> tuple[Tensor, ...]:
        return critic_embeddings(self.critic, self.layout)

    def after_step(self, alive: Tensor) -> None:
        return None

    def state(self) -> Any:
        return None

    def load(self, state: Any) -> None:
        return None


def critic_embeddings(critic: Any, layout: str) -> tuple[Tensor, ...]:
    """The embeddings of the critic's last forward pass, as (f(x), g(y)) pairs or (z,) alone.

    Pairs layout: the critic's (f(x), h(y)). Views layout: the shared encoder's embedding of
    [a; b] split into its two halves. Labels layout: (z,). ``()`` for critics that do not embed.
    """
    cached = getattr(critic, "last_embeddings", None)
    if cached is None:
        return ()
    if layout == "views" and len(cached) == 1:
        z = cached[0]
        n = z.shape[1] // 2
        return (z[:, :n], z[:, n:])
    return tuple(cached)


def derangement_scores(
    positives: Tensor, negatives: Tensor, *, eye: Tensor | None = None
) -> Tensor:
    r"""The K x K matrix the estimators see under ``negatives="derangement"``.

    .. math::  S'_{ii} = g(x_i, y_i), \qquad S'_{ij} = g(x_i, y_{\pi(i)}) \;\; (j \ne i)

    so any mean over j ≠ i of row i is the single shuffled negative of row i.

    Args:
        positives: ``(..., K)``, g(x_i, y_i).
        negatives: ``(..., K)``, g(x_i, y_π(i)).
        eye: optional precomputed ``(K, K)`` boolean identity.
    Returns:
        ``(..., K, K)``.
    """
    if eye is None:
        eye = torch.eye(positives.shape[-1], dtype=torch.bool, device=positives.device)
    return torch.where(eye, positives.unsqueeze(-1), negatives.unsqueeze(-1))


def random_cycles(n_steps: int, K: int, generator: torch.Generator) -> Tensor:
    """``(n_steps, K)`` uniformly random K-cycles: perm[σ_i] = σ_{i+1 mod K} for a random σ."""
    sigma = torch.rand(n_steps, K, generator=generator).argsort(dim=1)
    return torch.empty_like(sigma).scatter_(1, sigma, sigma.roll(-1, dims=1))
