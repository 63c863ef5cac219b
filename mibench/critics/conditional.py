r"""A conditional density model as a critic: S[r, i, j] = log q_r(y_j | x_i), a diagonal Gaussian.

The generative estimators (Barber–Agakov, CLUB, L1Out, DoE in
:mod:`mibench.estimators.generative`) need a *normalised* variational conditional q(y | x) and
its log-density at every pair of a batch. A small MLP maps x to the mean and the log-scale of a
diagonal Gaussian over y,

.. math::  (\mu(x), \log\sigma(x)) = \mathrm{MLP}(x) \in \mathbb R^{2 d_y},\qquad
           q(y \mid x) = \prod_{k=1}^{d_y} \mathcal N\big(y_k;\ \mu_k(x), \sigma_k(x)^2\big),

.. math::  S_{ij} = \log q(y_j \mid x_i) = -\frac{d_y}{2}\log 2\pi - \sum_k \log\sigma_{ik}
           - \frac12 \sum_k \frac{(y_{jk} - \mu_{ik})^2}{\sigma_{ik}^2},

the parameterisation of the variational q of Cheng et al. [1] §3 and of Poole et al. [2] §2.1.
All K × K' pairs come from 2 batched products: with w = σ^{-2},
Σ_k w_ik (y_jk − μ_ik)² = (w_i · y_j²) − 2 ((w μ)_i · y_j) + (w_i · μ_i²). That expansion loses
absolute precision ≈ eps · Σ_k w_ik (y_jk² + μ_ik²) where y_j ≈ μ_i, which is the positive pairs'
case, so for a square batch the diagonal (the positives, the only entries the maximum-likelihood
training loss reads) is replaced by the exact paired value, computed from the differences.

Trained by any estimator whose spec has ``score_kind="log_conditional"``; as a critic for the
discriminative estimators it is legal too (any S is a critic) but not what it is for.

References:
    [1] Cheng et al., CLUB: A Contrastive Log-ratio Upper Bound of Mutual Information, 2020,
        arXiv:2006.12013.
    [2] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mibench.critics.base import (
    DEFAULT_ACTIVATION,
    DEFAULT_HIDDEN,
    ParameterFactory,
    StackedMLP,
    as_hidden,
    param_checks,
)
from mibench.critics.registry import Critic, CriticSpec, register

LOG_2PI = math.log(2.0 * math.pi)


class GaussianConditionalCritic(Critic):
    """q(y | x) = N(μ(x), diag σ(x)²) from one stacked MLP ``dim_x -> hidden -> 2 dim_y``."""

    name = "gaussian_conditional"

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        *,
        factory: ParameterFactory,
        hidden: Any,
        activation: str,
    ) -> None:
        super().__init__(n_runs=factory.n_runs)
        self.dim_y = dim_y
        self.net = StackedMLP.build(
            (dim_x, *as_hidden(hidden), 2 * dim_y), activation=activation, factory=factory
        )

    def parameters(self) -> list[Tensor]:
        return self.net.parameters()

    @property
    def architecture(self) -> str:
        return f"gaussian_conditional log N(y; mu(x), diag sigma(x)^2); {self.net.describe()}"

    def mean_log_scale(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(R, K, dim_x) -> (μ, log σ)``, each ``(R, K, dim_y)``."""
        out = self.net.forward(x)
        return out[..., : self.dim_y], out[..., self.dim_y :]

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        """``(R, K, dim_x), (R, K', dim_y) -> (R, K, K')``, S[r, i, j] = log q_r(y_j | x_i)."""
        mean, log_scale = self.mean_log_scale(x)
        precision = torch.exp(-2.0 * log_scale)
        quadratic = (
            torch.bmm(precision, y.square().transpose(1, 2))
            - 2.0 * torch.bmm(precision * mean, y.transpose(1, 2))
            + (precision * mean.square()).sum(dim=-1, keepdim=True)
        )
        normaliser = -0.5 * self.dim_y * LOG_2PI - log_scale.sum(dim=-1, keepdim=True)
        scores = normaliser - 0.5 * quadratic
        if x.shape[1] == y.shape[1]:
            exact = self._log_density(mean, log_scale, y)
            scores = torch.diagonal_scatter(scores, exact, dim1=-2, dim2=-1)
        return scores

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        """``(R, K, dim_x), (R, K, dim_y) -> (R, K)``, s[r, i] = log q_r(y_i | x_i) (exact)."""
        mean, log_scale = self.mean_log_scale(x)
        return self._log_density(mean, log_scale, y)

    def _log_density(self, mean: Tensor, log_scale: Tensor, y: Tensor) -> Tensor:
        standardised = (y - mean) * torch.exp(-log_scale)
        per_coord = -0.5 * LOG_2PI - log_scale - 0.5 * standardised.square()
        return per_coord.sum(dim=-1)


register(
    CriticSpec(
        name="gaussian_conditional",
        build=GaussianConditionalCritic,
        defaults={"hidden": DEFAULT_HIDDEN, "activation": DEFAULT_ACTIVATION},
        param_checks=param_checks(("hidden", "activation")),
        description="log q(y_j|x_i) of a diagonal Gaussian whose mean and log-scale an MLP reads off x.",
        citation="Cheng et al. 2020 (CLUB) §3; Poole et al. 2019 §2.1 (variational q(y|x))",
        score_kind="log_conditional",
    )
)
