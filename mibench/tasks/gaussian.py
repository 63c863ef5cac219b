r"""Correlated Gaussian task: the ground truth every other task is built from.

x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps with eps ~ N(0, I_d) independent, so each of the d
coordinate pairs is a bivariate normal with correlation rho and

.. math::  I(X;Y) = -\frac d2 \log(1-\rho^2), \qquad \rho = \sqrt{1 - e^{-2I/d}}.

The analytic optimal critic (the log density ratio, which is also the optimal DV/InfoNCE critic
up to a constant) is

.. math::  \log\frac{p(y|x)}{p(y)} = \sum_{k=1}^d \Big[-\tfrac12\log(1-\rho^2)
           - \frac{(y_k-\rho x_k)^2}{2(1-\rho^2)} + \frac{y_k^2}{2}\Big].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from mibench.interface import Batch
from mibench.tasks.registry import TaskSpec, register


def rho_from_mi(true_mi: float, dim: int) -> float:
    """Per-coordinate correlation that gives ``true_mi`` nats over ``dim`` independent coordinates."""
    return math.sqrt(-math.expm1(-2.0 * true_mi / dim))


def mi_from_rho(rho: float, dim: int) -> float:
    """MI in nats of ``dim`` independent bivariate normals with correlation ``rho``."""
    return -0.5 * dim * math.log1p(-rho * rho)


def validate_dim(dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    return dim


def validate_mi(true_mi: Any) -> float:
    if isinstance(true_mi, bool) or not isinstance(true_mi, int | float) or not true_mi >= 0:
        raise ValueError(f"mi must be a number >= 0 (nats), got {true_mi!r}")
    if not math.isfinite(true_mi):
        raise ValueError(f"mi must be finite, got {true_mi!r}")
    return float(true_mi)


def validate_rho(rho: Any) -> float:
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not -1.0 < rho < 1.0:
        raise ValueError(f"rho must lie in the open interval (-1, 1), got {rho!r}")
    return float(rho)


def gaussian_log_ratio(x: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
    """log p(x, y)/(p(x)p(y)) of the correlated Gaussian, summed over the last axis."""
    one_minus = 1.0 - rho * rho if not isinstance(rho, Tensor) else 1.0 - rho.square()
    log_one_minus = (
        math.log(one_minus) if not isinstance(one_minus, Tensor) else torch.log(one_minus)
    )
    per_coord = -0.5 * log_one_minus - (y - rho * x).square() / (2.0 * one_minus) + 0.5 * y.square()
    return per_coord.sum(dim=-1)


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
        return mi_from_rho(self.rho, self.dim)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        device = generator.device
        x = torch.randn(n, self.dim, generator=generator, dtype=dtype, device=device)
        noise = torch.randn(n, self.dim, generator=generator, dtype=dtype, device=device)
        y = self.rho * x + math.sqrt(1.0 - self.rho * self.rho) * noise
        return Batch(x=x, y=y)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        return gaussian_log_ratio(x, y, self.rho)


def build_gaussian(dim: int = 5, mi: float | None = 1.0, rho: float | None = None) -> GaussianTask:
    """Build from the target MI (nats) or, when ``rho`` is given, from the correlation."""
    dim = validate_dim(dim)
    rho = validate_rho(rho) if rho is not None else rho_from_mi(validate_mi(mi), dim)
    return GaussianTask(dim=dim, rho=rho, params={"dim": dim, "rho": rho})


register(
    TaskSpec(
        name="gaussian",
        build=build_gaussian,
        defaults={"dim": 5, "mi": 1.0, "rho": None},
        description="x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps; MI set in nats.",
        truth_source="I = -(d/2) log(1 - rho^2) (bivariate normal, per coordinate)",
    )
)
