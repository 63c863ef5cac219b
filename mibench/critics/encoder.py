r"""Encoder critic: ONE network z = f(·), L2-normalised, Gram scores z·z'/τ.

The critic of the ``views`` layout (NT-Xent: both views embedded by the shared network) and of the
``labels`` layout (SINCERE/SupCon: the Gram matrix of the embedded x). In the ``pairs`` layout it
is the siamese cosine critic S_ij = f(x_i)·f(y_j)/τ (needs dim_x == dim_y).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mibench.critics.base import (
    DEFAULT_ACTIVATION,
    DEFAULT_EMBED_DIM,
    DEFAULT_HIDDEN,
    ParameterFactory,
    StackedMLP,
    as_hidden,
    as_positive_float,
    as_positive_int,
    l2_normalize,
    param_checks,
)
from mibench.critics.registry import Critic, CriticSpec, register

DEFAULT_ENCODER_TAU = 0.1


class EncoderCritic(Critic):
    r"""Shared-encoder Gram critic.

    .. math::  z_i = \frac{f_r(u_i)}{\|f_r(u_i)\|}, \qquad G[r, i, j] = \frac{z_i^\top z_j}{\tau}

    Implements the projected, normalised representation and cosine similarity of Eq. (8)-(9) of [1]
    and the Gram scores of Eq. (3) and (12) of [2]. ``gram(u)`` embeds one set of inputs; in the
    views layout the trainer passes the concatenation [x_1..x_N, y_1..y_N] so row i's positive is
    column (i + N) mod 2N; in the pairs layout ``scores(x, y)`` gives S_ij = z(x_i)·z(y_j)/τ.

    References:
        [1] Chen, Kornblith, Norouzi, Hinton, SimCLR, 2020, arXiv:2002.05709.
        [2] Feeney & Hughes, SINCERE: Supervised Information Noise-Contrastive Estimation
            REvisited, 2024.
    """

    name = "encoder"
    layouts = frozenset({"pairs", "views", "labels"})

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        *,
        factory: ParameterFactory,
        hidden: Any,
        embed_dim: Any,
        activation: str,
        tau: Any,
    ) -> None:
        super().__init__(n_runs=factory.n_runs)
        hidden = as_hidden(hidden)
        embed_dim = as_positive_int("embed_dim", embed_dim)
        self.tau = as_positive_float("tau", tau)
        self.f = StackedMLP.build(
            (dim_x, *hidden, embed_dim), activation=activation, factory=factory
        )

    def parameters(self) -> list[Tensor]:
        return self.f.parameters()

    @property
    def architecture(self) -> str:
        return f"encoder z=f(.)/|f(.)|, z·z'/tau, tau={self.tau:g}; f: {self.f.describe()}"

    def embed(self, u: Tensor) -> Tensor:
        return l2_normalize(self.f.forward(u))

    def gram(self, z: Tensor) -> Tensor:
        e = self.embed(z)
        # Hook: kept for the trainer's alignment/uniformity readout (mibench.train.embeddings).
        self.last_embeddings = (e,)
        return torch.bmm(e, e.transpose(1, 2)) / self.tau

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        ex, ey = self.embed(x), self.embed(y)
        self.last_embeddings = (ex, ey)  # hook, as in gram
        return torch.bmm(ex, ey.transpose(1, 2)) / self.tau

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.embed(x) * self.embed(y)).sum(dim=-1) / self.tau


register(
    CriticSpec(
        name="encoder",
        build=EncoderCritic,
        defaults={
            "hidden": DEFAULT_HIDDEN,
            "embed_dim": DEFAULT_EMBED_DIM,
            "activation": DEFAULT_ACTIVATION,
            "tau": DEFAULT_ENCODER_TAU,
        },
        param_checks=param_checks(("hidden", "embed_dim", "activation", "tau")),
        description="One shared network, L2-normalised, Gram z·z'/tau (views/labels layouts).",
        citation="SimCLR guide Eq. (8)-(9); SINCERE Eq. (3), (12)",
        layouts=frozenset({"pairs", "views", "labels"}),
        same_dims=True,
    )
)
