r"""Critics built from per-variable embeddings f(x), h(y): separable, cosine, gaussian_kernel, bilinear.

All four compute the K x K score matrix from 2K network evaluations and one batched matrix
product, in the orientation ``S[r, i, j] = g_r(x_i, y_j)`` of :mod:`mibench.estimators`.
"""

from __future__ import annotations

import math
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

DEFAULT_TAU = 0.1
DEFAULT_SIGMA = 1.0
POOLE = "Poole et al. 2019, On Variational Bounds of MI, arXiv:1905.06922, Sec. 4"


class TwoTowerCritic(Critic):
    """Shared machinery: f = MLP(dim_x -> hidden -> embed), h = MLP(dim_y -> hidden -> embed)."""

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        *,
        factory: ParameterFactory,
        hidden: Any,
        embed_dim: Any,
        activation: str,
    ) -> None:
        super().__init__(n_runs=factory.n_runs)
        hidden = as_hidden(hidden)
        embed_dim = as_positive_int("embed_dim", embed_dim)
        self.f = StackedMLP.build(
            (dim_x, *hidden, embed_dim), activation=activation, factory=factory
        )
        self.h = StackedMLP.build(
            (dim_y, *hidden, embed_dim), activation=activation, factory=factory
        )

    def parameters(self) -> list[Tensor]:
        return self.f.parameters() + self.h.parameters()

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        fx, hy = self.f.forward(x), self.h.forward(y)
        # Hook: kept for the trainer's alignment/uniformity readout (mibench.train.embeddings).
        self.last_embeddings = (fx, hy)
        return fx, hy

    def _towers(self) -> str:
        return f"f: {self.f.describe()}, h: {self.h.describe()}"


class SeparableCritic(TwoTowerCritic):
    r"""Separable critic g(x, y) = f(x)ᵀ h(y).

    .. math::  S[r, i, j] = f_r(x_i)^\top h_r(y_j)

    Implements the separable critic of Sec. 4 of [1] (default f, h: d -> 256 -> 256 -> 32, ReLU).

    References:
        [1] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
    """

    name = "separable"

    @property
    def architecture(self) -> str:
        return f"separable f(x)ᵀh(y); {self._towers()}"

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        fx, hy = self.embed(x, y)
        return torch.bmm(fx, hy.transpose(1, 2))

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        fx, hy = self.embed(x, y)
        return (fx * hy).sum(dim=-1)


class CosineCritic(TwoTowerCritic):
    r"""Cosine critic: L2-normalised separable embeddings over a temperature.

    .. math::  S[r, i, j] = \frac{1}{\tau}\,\frac{f_r(x_i)^\top h_r(y_j)}{\|f_r(x_i)\|\,\|h_r(y_j)\|}
               \in [-1/\tau, 1/\tau]

    Implements Eq. (8) of [1] (the SimCLR similarity) divided by the temperature of its Eq. (9);
    τ is a fixed hyperparameter (``tau``), not learned.

    References:
        [1] Chen, Kornblith, Norouzi, Hinton, SimCLR, 2020, arXiv:2002.05709.
    """

    name = "cosine"

    def __init__(self, dim_x: int, dim_y: int, *, tau: Any, **kwargs: Any) -> None:
        super().__init__(dim_x, dim_y, **kwargs)
        self.tau = as_positive_float("tau", tau)

    @property
    def architecture(self) -> str:
        return f"cosine cos(f(x), h(y))/tau, tau={self.tau:g}; {self._towers()}"

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        fx, hy = self.embed(x, y)
        return torch.bmm(l2_normalize(fx), l2_normalize(hy).transpose(1, 2)) / self.tau

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        fx, hy = self.embed(x, y)
        return (l2_normalize(fx) * l2_normalize(hy)).sum(dim=-1) / self.tau


class GaussianKernelCritic(TwoTowerCritic):
    r"""f-MICL's Gaussian-kernel similarity, read as a log density ratio.

    .. math::  S[r, i, j] = -\frac{\|f_r(x_i) - h_r(y_j)\|^2}{2\sigma^2} + b_r

    with a learned offset b_r (one scalar per run, initialised at 0) and a fixed bandwidth σ.
    exp(S) is the Gaussian kernel G_σ up to the normaliser absorbed in b; f-MICL's f-Gaussian
    similarity s_f = f'∘G_σ(‖f(x) - h(y)‖²) ([1], summary of Sec. 4) applies f' to exp(S), which the
    f-MICL estimators do, so the critic returns the log-kernel. The squared distance is expanded as
    ‖f‖² + ‖h‖² - 2fᵀh so the K x K matrix costs one batched matmul.

    References:
        [1] Lu et al., f-MICL: Understanding and Generalizing InfoNCE-based Contrastive Learning,
            2023, TMLR.
    """

    name = "gaussian_kernel"

    def __init__(
        self, dim_x: int, dim_y: int, *, sigma: Any, factory: ParameterFactory, **kwargs: Any
    ) -> None:
        super().__init__(dim_x, dim_y, factory=factory, **kwargs)
        self.sigma = as_positive_float("sigma", sigma)
        self.offset = factory.constant((1, 1), 0.0)

    def parameters(self) -> list[Tensor]:
        return [*super().parameters(), self.offset]

    @property
    def architecture(self) -> str:
        return (
            f"gaussian_kernel -|f(x)-h(y)|^2/(2 sigma^2) + b, sigma={self.sigma:g}, b learned; "
            f"{self._towers()}"
        )

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        fx, hy = self.embed(x, y)
        sq_x = fx.square().sum(dim=-1, keepdim=True)  # (R, K, 1)
        sq_y = hy.square().sum(dim=-1).unsqueeze(1)  # (R, 1, K')
        cross = torch.bmm(fx, hy.transpose(1, 2))
        # Rounding can make the expanded distance slightly negative; the kernel is exact at 0.
        sq_dist = (sq_x + sq_y - 2.0 * cross).clamp_min(0.0)
        return self.offset - sq_dist / (2.0 * self.sigma**2)

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        fx, hy = self.embed(x, y)
        sq_dist = (fx - hy).square().sum(dim=-1)
        return self.offset[:, :, 0] - sq_dist / (2.0 * self.sigma**2)


class BilinearCritic(Critic):
    r"""Bilinear critic g(x, y) = xᵀ W y (no bias, no network).

    .. math::  S[r, i, j] = x_i^\top W_r\, y_j, \qquad W_r \in \mathbb R^{d_x \times d_y}

    Implements the bilinear critic of [1] (Sec. 4, "bilinear"). W is initialised uniform on
    ±1/√d_x like a linear layer.

    References:
        [1] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
    """

    name = "bilinear"

    def __init__(self, dim_x: int, dim_y: int, *, factory: ParameterFactory) -> None:
        super().__init__(n_runs=factory.n_runs)
        self.dims = (dim_x, dim_y)
        self.weight = factory.uniform((dim_x, dim_y), 1.0 / math.sqrt(dim_x))

    def parameters(self) -> list[Tensor]:
        return [self.weight]

    @property
    def architecture(self) -> str:
        return f"bilinear xᵀWy, W: {self.dims[0]}x{self.dims[1]}"

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.bmm(torch.bmm(x, self.weight), y.transpose(1, 2))

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        return (torch.bmm(x, self.weight) * y).sum(dim=-1)


def _tower_defaults(**extra: Any) -> dict[str, Any]:
    return {
        "hidden": DEFAULT_HIDDEN,
        "embed_dim": DEFAULT_EMBED_DIM,
        "activation": DEFAULT_ACTIVATION,
        **extra,
    }


register(
    CriticSpec(
        name="separable",
        build=SeparableCritic,
        defaults=_tower_defaults(),
        param_checks=param_checks(_tower_defaults()),
        description="f(x)ᵀh(y); two MLPs (Poole's default 256-256-32 ReLU).",
        citation=POOLE,
    )
)
register(
    CriticSpec(
        name="cosine",
        build=CosineCritic,
        defaults=_tower_defaults(tau=DEFAULT_TAU),
        param_checks=param_checks(_tower_defaults(tau=DEFAULT_TAU)),
        description="cos(f(x), h(y))/tau; L2-normalised separable embeddings, fixed tau.",
        citation="InfoNCE/SimCLR guide Eq. (8)-(9)",
    )
)
register(
    CriticSpec(
        name="gaussian_kernel",
        build=GaussianKernelCritic,
        defaults=_tower_defaults(sigma=DEFAULT_SIGMA),
        param_checks=param_checks(_tower_defaults(sigma=DEFAULT_SIGMA)),
        description="-|f(x)-h(y)|^2/(2 sigma^2) + b: f-MICL's Gaussian-kernel similarity (log form).",
        citation="Lu et al. 2023, f-MICL, f-Gaussian similarity",
    )
)
register(
    CriticSpec(
        name="bilinear",
        build=BilinearCritic,
        defaults={},
        description="xᵀWy with a learned d_x x d_y matrix (no network).",
        citation=POOLE,
    )
)
