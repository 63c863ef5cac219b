r"""Correlated Gaussian task: the ground truth every other task is built from.

x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps with eps ~ N(0, I_d) independent, so each of the d
coordinate pairs is a bivariate normal with correlation rho and

.. math::  I(X;Y) = -\frac d2 \log(1-\rho^2), \qquad \rho = \sqrt{1 - e^{-2I/d}}.

The analytic optimal critic (the log density ratio, which is also the optimal DV/InfoNCE critic
up to a constant) is

.. math::  \log\frac{p(y|x)}{p(y)} = \sum_{k=1}^d \Big[-\tfrac12\log(1-\rho^2)
           - \frac{(y_k-\rho x_k)^2}{2(1-\rho^2)} + \frac{y_k^2}{2}\Big].

The optimal variational conditional of the generative estimators is the true one,
q*(y | x) = N(ρx, (1 − ρ²) I) (:func:`gaussian_log_conditional`), and the marginal of y is
N(0, I), whose differential entropy H(Y) = (d/2) log(2πe) is :meth:`GaussianTask.entropy_y`.

The f-mutual informations of this task (Pearson χ², squared Hellinger, Tsallis-α in closed form,
Jensen–Shannon by Monte Carlo) are derived in :mod:`mibench.tasks.f_information`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from mibench.core.interface import Batch
from mibench.tasks._validation import validate_dim, validate_mi, validate_rho
from mibench.tasks.f_information import gaussian_f_mi
from mibench.tasks.registry import TaskSpec, register
from mibench.tasks.sliced_truth import gaussian_sliced_mi

__all__ = [
    "GaussianTask",
    "build_gaussian",
    "gaussian_entropy",
    "gaussian_log_conditional",
    "gaussian_log_ratio",
    "mi_from_rho",
    "rho_from_mi",
    "sample_correlated_gaussian",
    "validate_dim",
    "validate_mi",
    "validate_rho",
]

DEFAULT_DIM = 5
DEFAULT_MI = 1.0


def rho_from_mi(true_mi: float, dim: int) -> float:
    """Per-coordinate correlation that gives ``true_mi`` nats over ``dim`` independent coordinates."""
    return math.sqrt(-math.expm1(-2.0 * true_mi / dim))


def mi_from_rho(rho: float, dim: int) -> float:
    """MI in nats of ``dim`` independent bivariate normals with correlation ``rho``."""
    return -0.5 * dim * math.log1p(-rho * rho)


def gaussian_log_ratio(x: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
    """log p(x, y)/(p(x)p(y)) of the correlated Gaussian, summed over the last axis.

    ``rho`` is a float or a tensor broadcasting against ``x.shape[:-1] + (1,)`` (a per-sample
    correlation, as the staircase task uses); leading axes of ``x`` and ``y`` broadcast.
    """
    one_minus = 1.0 - rho * rho if not isinstance(rho, Tensor) else 1.0 - rho.square()
    log_one_minus = (
        math.log(one_minus) if not isinstance(one_minus, Tensor) else torch.log(one_minus)
    )
    per_coord = -0.5 * log_one_minus - (y - rho * x).square() / (2.0 * one_minus) + 0.5 * y.square()
    return per_coord.sum(dim=-1)


def gaussian_log_conditional(x: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
    r"""log p(y | x) = Σ_k log N(y_k; ρ x_k, 1 − ρ²) of the correlated Gaussian (last axis summed).

    The oracle score of the generative estimators: with ``x`` ``(..., K, 1, d)`` and ``y``
    ``(..., 1, K, d)`` it is the K × K matrix S_ij = log p(y_j | x_i). ``rho`` broadcasts as in
    :func:`gaussian_log_ratio`.
    """
    one_minus = 1.0 - rho * rho if not isinstance(rho, Tensor) else 1.0 - rho.square()
    log_one_minus = (
        math.log(one_minus) if not isinstance(one_minus, Tensor) else torch.log(one_minus)
    )
    per_coord = -0.5 * (math.log(2.0 * math.pi) + log_one_minus) - (y - rho * x).square() / (
        2.0 * one_minus
    )
    return per_coord.sum(dim=-1)


def gaussian_entropy(dim: int) -> float:
    """Differential entropy of N(0, I_dim) in nats: (dim/2) log(2πe)."""
    return 0.5 * dim * math.log(2.0 * math.pi * math.e)


def sample_correlated_gaussian(
    n: int,
    dim: int,
    rho: float | Tensor,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """``n`` pairs ``(x, y)``, each ``(n, dim)``, on the generator's device.

    ``rho`` is a float or an ``(n, 1)`` tensor (one correlation per sample): the draw is
    x = randn, y = rho x + sqrt(1 - rho^2) randn, with the two ``randn`` calls in that order.
    """
    device = generator.device
    x = torch.randn(n, dim, generator=generator, dtype=dtype, device=device)
    noise = torch.randn(n, dim, generator=generator, dtype=dtype, device=device)
    scale = (
        torch.sqrt(1.0 - rho.square()) if isinstance(rho, Tensor) else math.sqrt(1.0 - rho * rho)
    )
    return x, rho * x + scale * noise


@dataclass(frozen=True)
class GaussianTask:
    """``dim`` independent coordinate pairs with correlation ``rho``; see the module docstring."""

    dim: int
    rho: float
    name: str = "gaussian"
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"gaussian-d{self.dim}-mi{self.true_mi():.4g}"

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return self.dim

    def true_mi(self, step: int = 0) -> float:
        """-(d/2) log(1 - rho^2) nats (constant in ``step``)."""
        return mi_from_rho(self.rho, self.dim)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """``n`` joint pairs as ``Batch(x, y)``, each ``(n, dim)``; ``steps`` is ignored."""
        x, y = sample_correlated_gaussian(n, self.dim, self.rho, generator, dtype=dtype)
        return Batch(x=x, y=y)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """Oracle critic log p(x,y)/(p(x)p(y)), ``x.shape[:-1]`` and ``y.shape[:-1]`` broadcast."""
        return gaussian_log_ratio(x, y, self.rho)

    def sliced_mi(self, step: int = 0, *, slice_dim: int = 1) -> float:
        """k-sliced MI in nats (:func:`~mibench.tasks.sliced_truth.gaussian_sliced_mi`)."""
        return gaussian_sliced_mi(self.rho, self.dim, slice_dim).value

    def entropy_y(self) -> float:
        """H(Y) of y ~ N(0, I_d): (d/2) log(2πe) nats (for the Barber–Agakov bound)."""
        return gaussian_entropy(self.dim)

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """f-mutual information ``name`` in nats (see :func:`~mibench.tasks.f_information.gaussian_f_mi`)."""
        return gaussian_f_mi(name, self.rho, self.dim, alpha=alpha).value

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        """Standard error of :meth:`f_mi`: 0 for closed forms, the Monte Carlo SE for ``js``."""
        return gaussian_f_mi(name, self.rho, self.dim, alpha=alpha).standard_error


def build_gaussian(
    dim: int = DEFAULT_DIM, mi: float | None = DEFAULT_MI, rho: float | None = None
) -> GaussianTask:
    """Build from the target MI (nats) or, when ``rho`` is given, from the correlation."""
    dim = validate_dim(dim)
    rho = validate_rho(rho) if rho is not None else rho_from_mi(validate_mi(mi), dim)
    return GaussianTask(
        dim=dim, rho=rho, params={"dim": dim, "mi": mi_from_rho(rho, dim), "rho": rho}
    )


register(
    TaskSpec(
        name="gaussian",
        build=build_gaussian,
        defaults={"dim": DEFAULT_DIM, "mi": DEFAULT_MI, "rho": None},
        description="x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps; MI set in nats (rho overrides).",
        truth_source=(
            "I = -(d/2) log(1 - rho^2) (bivariate normal, per coordinate); f-MI: chi2 = e^{2I} - 1, "
            "sq. Hellinger, Tsallis closed forms via the Chernoff coefficient, JS by Monte Carlo "
            "(mibench.tasks.f_information)"
        ),
    )
)
