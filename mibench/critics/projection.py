r"""SimCLR's encoder with a projection head: the loss sees z = g(h), the representation is h = f(u).

Guide §10: SimCLR trains the contrastive loss on z = g(f(x̃)) with a small MLP g on top
of the encoder f, and uses h = f(x̃) (before g) downstream. The trainer records the estimate on z
(what the loss trains, column ``estimate``) and, for the same estimator, the estimate read before
the head on the representation h (column ``estimate_before_head``; see
:func:`mibench.train.embeddings.representation_readout`), so either reading can be compared with the
true MI.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from mibench.critics.base import (
    DEFAULT_ACTIVATION,
    DEFAULT_EMBED_DIM,
    DEFAULT_HIDDEN,
    ParameterFactory,
    StackedMLP,
    as_hidden,
    as_positive_int,
    l2_normalize,
    param_checks,
)
from mibench.critics.encoder import DEFAULT_ENCODER_TAU, EncoderCritic
from mibench.critics.registry import CriticSpec, register

# SimCLR's head is a 2-layer MLP (one hidden layer); here its width and output default to the
# representation's size (2048 -> 2048 -> 128 in [1] shrinks to embed_dim -> 32 -> 16).
DEFAULT_PROJECTION_HIDDEN: tuple[int, ...] = (DEFAULT_EMBED_DIM,)
DEFAULT_PROJECTION_DIM = 16


class ProjectedEncoderCritic(EncoderCritic):
    r"""Shared encoder f, projection head g, Gram scores of the normalised projections.

    .. math::  h_i = f_r(u_i),\qquad z_i = \frac{g_r(h_i)}{\|g_r(h_i)\|},\qquad
               G[r, i, j] = \frac{z_i^\top z_j}{\tau}

    Implements z = g(f(x̃)) of §4 and §10 of [1] (Eq. (8)–(9) on z). ``last_representation`` keeps
    h of the last forward pass for the before-head reading.

    References:
        [1] A Guide to InfoNCE and Its Use in SimCLR, §4 and §10.
        [2] Chen et al., SimCLR, 2020, arXiv:2002.05709, Sec. 2.1 and 4.2.
    """

    name = "encoder_projection"

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        *,
        factory: ParameterFactory,
        projection_hidden: Any,
        projection_dim: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(dim_x, dim_y, factory=factory, **kwargs)
        sizes = (
            self.f.sizes[-1],
            *as_hidden(projection_hidden),
            as_positive_int("projection_dim", projection_dim),
        )
        self.g = StackedMLP.build(sizes, activation=self.f.activation, factory=factory)
        self.last_representation: Tensor | None = None

    def parameters(self) -> list[Tensor]:
        return self.f.parameters() + self.g.parameters()

    @property
    def architecture(self) -> str:
        return (
            f"encoder_projection z=g(f(.))/|g(f(.))|, z·z'/tau, tau={self.tau:g}; "
            f"f: {self.f.describe()}, g: {self.g.describe()}"
        )

    def embed(self, u: Tensor) -> Tensor:
        h = self.f.forward(u)
        self.last_representation = h
        return l2_normalize(self.g.forward(h))


register(
    CriticSpec(
        name="encoder_projection",
        build=ProjectedEncoderCritic,
        defaults={
            "hidden": DEFAULT_HIDDEN,
            "embed_dim": DEFAULT_EMBED_DIM,
            "activation": DEFAULT_ACTIVATION,
            "tau": DEFAULT_ENCODER_TAU,
            "projection_hidden": DEFAULT_PROJECTION_HIDDEN,
            "projection_dim": DEFAULT_PROJECTION_DIM,
        },
        param_checks=param_checks(
            ("hidden", "embed_dim", "activation", "tau", "projection_hidden", "projection_dim")
        ),
        description="Shared encoder f plus SimCLR projection head g; loss on z = g(f(.)).",
        citation="SimCLR guide §4, §10; Chen et al. 2020 Sec. 4.2",
        layouts=frozenset({"pairs", "views", "labels"}),
        same_dims=True,
    )
)
