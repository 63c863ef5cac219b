r"""Multivariate Student-t task: heavy tails and a closed-form MI (Arellano-Valle et al. 2013).

(x, y) ∈ R^{2d} follows a multivariate Student-t with ν degrees of freedom, location 0 and the
scale matrix of the Gaussian task, :math:`\Sigma = \begin{pmatrix} I & \rho I\\ \rho I & I
\end{pmatrix}` (per-coordinate correlation ρ). It is drawn as

.. math::  (x, y) = (x_0, y_0)/\sqrt{w},\qquad (x_0, y_0)\sim N(0,\Sigma),\quad w\sim\chi^2_\nu/\nu,

the same w for x and y, so x and y are dependent even at ρ = 0. The marginals are d-dimensional
Student-t with the same ν and identity scale. With :math:`h_k = \log\Gamma(\tfrac\nu2) -
\log\Gamma(\tfrac{\nu+k}2) + \tfrac{\nu+k}2[\psi(\tfrac{\nu+k}2) - \psi(\tfrac\nu2)]` the
ν-dependent part of the entropy of a k-variate t [1], I = H(X) + H(Y) − H(X, Y)
gives (the ½ log|Σ| terms give the Gaussian part, the (νπ)^{k/2} terms cancel)

.. math::  I(X;Y) = \underbrace{-\tfrac d2\log(1-\rho^2)}_{\text{Gaussian part}}
           + \underbrace{h_{d_x} + h_{d_y} - h_{d_x+d_y}}_{c(\nu, d_x, d_y)\ \ge 0},

with :math:`c(\nu,d_x,d_y) = \log\Gamma(\tfrac\nu2) + \log\Gamma(\tfrac{\nu+d_x+d_y}2)
- \log\Gamma(\tfrac{\nu+d_x}2) - \log\Gamma(\tfrac{\nu+d_y}2) + \tfrac{\nu+d_x}2\psi(\tfrac{\nu+d_x}2)
+ \tfrac{\nu+d_y}2\psi(\tfrac{\nu+d_y}2) - \tfrac{\nu+d_x+d_y}2\psi(\tfrac{\nu+d_x+d_y}2)
- \tfrac\nu2\psi(\tfrac\nu2)`, which tends to 0 as ν → ∞ (the Gaussian task). Here
:math:`d_x = d_y = d`. The MI is at least c(ν, d, d), reached at ρ = 0.

Parameter ``mi`` is the **full** MI (Gaussian part + correction): the build solves for ρ from
the Gaussian part ``mi - c``, and rejects ``mi < c``. ``rho`` overrides ``mi``.

The oracle critic is the log ratio of the t densities,
:math:`\log t_{2d}(x, y; \Sigma) - \log t_d(x; I) - \log t_d(y; I)` with
:math:`\log t_k(z; S) = \log\Gamma(\tfrac{\nu+k}2) - \log\Gamma(\tfrac\nu2) - \tfrac k2\log(\nu\pi)
- \tfrac12\log|S| - \tfrac{\nu+k}2\log(1 + z^\top S^{-1}z/\nu)`.

References:
    [1] Arellano-Valle, Contreras-Reyes, Genton, Shannon entropy and mutual information for
        multivariate skew-elliptical distributions, Scand. J. Statist., 2013.
    [2] Czyż et al., Beyond Normal: On the Evaluation of Mutual Information Estimators, 2023,
        arXiv:2306.11078 (the BMI benchmark's Student-t task).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from scipy.special import digamma
from torch import Tensor

from mibench.core.interface import Batch
from mibench.tasks._validation import validate_dim, validate_mi, validate_positive, validate_rho
from mibench.tasks.f_information import validate_f_name
from mibench.tasks.gaussian import mi_from_rho, rho_from_mi, sample_correlated_gaussian
from mibench.tasks.registry import TaskSpec, register

DEFAULT_DIM = 5
DEFAULT_NU = 5.0
DEFAULT_MI = 1.0


def _entropy_shape_term(nu: float, k: int) -> float:
    """h_k: the ν-dependent part of the entropy of a k-variate Student-t [1]."""
    half_nu, half_nu_k = 0.5 * nu, 0.5 * (nu + k)
    return (
        math.lgamma(half_nu)
        - math.lgamma(half_nu_k)
        + half_nu_k * (float(digamma(half_nu_k)) - float(digamma(half_nu)))
    )


def student_t_mi_correction(nu: float, dim_x: int, dim_y: int) -> float:
    r"""c(ν, d_x, d_y) = h_{d_x} + h_{d_y} − h_{d_x+d_y} ≥ 0: MI of the t task beyond its Gaussian part.

    The Student-t case of the elliptical-distribution MI of [1] (derived in the module docstring).
    """
    return (
        _entropy_shape_term(nu, dim_x)
        + _entropy_shape_term(nu, dim_y)
        - _entropy_shape_term(nu, dim_x + dim_y)
    )


def student_t_mi(rho: float, dim: int, nu: float) -> float:
    """Full MI of the Student-t task: -(d/2) log(1 - rho^2) + c(ν, d, d)."""
    return mi_from_rho(rho, dim) + student_t_mi_correction(nu, dim, dim)


def student_t_log_ratio(x: Tensor, y: Tensor, rho: float, nu: float) -> Tensor:
    r"""Oracle critic :math:`\log t_{2d}(x,y;\Sigma) - \log t_d(x) - \log t_d(y)`, summed over the last axis.

    .. math::  \log r = \log\Gamma(\tfrac{\nu+2d}2) + \log\Gamma(\tfrac\nu2) - 2\log\Gamma(\tfrac{\nu+d}2)
               - \tfrac d2\log(1-\rho^2) - \tfrac{\nu+2d}2\log\!\big(1 + \tfrac{Q}{\nu}\big)
               + \tfrac{\nu+d}2\Big[\log\!\big(1 + \tfrac{\|x\|^2}\nu\big)
               + \log\!\big(1 + \tfrac{\|y\|^2}\nu\big)\Big],
               \quad Q = \frac{\|x\|^2 - 2\rho\, x\cdot y + \|y\|^2}{1-\rho^2}

    Leading axes of ``x`` and ``y`` broadcast (``(K, 1, d)`` against ``(1, K, d)`` gives S_ij).
    """
    dim = x.shape[-1]
    one_minus = 1.0 - rho * rho
    constant = (
        math.lgamma(0.5 * (nu + 2 * dim))
        + math.lgamma(0.5 * nu)
        - 2.0 * math.lgamma(0.5 * (nu + dim))
        - 0.5 * dim * math.log(one_minus)
    )
    x_sq = x.square().sum(dim=-1)
    y_sq = y.square().sum(dim=-1)
    cross = (x * y).sum(dim=-1)
    mahalanobis = (x_sq - 2.0 * rho * cross + y_sq) / one_minus
    joint = -0.5 * (nu + 2 * dim) * torch.log1p(mahalanobis / nu)
    marginals = 0.5 * (nu + dim) * (torch.log1p(x_sq / nu) + torch.log1p(y_sq / nu))
    return constant + joint + marginals


def sample_mixing_scale(n: int, nu: float, generator: torch.Generator) -> Tensor:
    """``(n, 1)`` float64 factors 1/sqrt(w), w ~ χ²_ν/ν = Gamma(ν/2, rate ν/2), on the generator's device.

    ``torch._standard_gamma`` is the only torch gamma sampler that takes a generator; it runs in
    float64 so that w does not underflow to 0 for small ν.
    """
    concentration = torch.full((n, 1), 0.5 * nu, dtype=torch.float64, device=generator.device)
    w = torch._standard_gamma(concentration, generator=generator) / (0.5 * nu)
    return torch.rsqrt(w)


@dataclass(frozen=True)
class StudentTTask:
    """Multivariate Student-t over (x, y) with ν dof and per-coordinate scale correlation ρ."""

    dim: int
    rho: float
    nu: float
    name: str = "student_t"
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"student_t-d{self.dim}-nu{self.nu:g}-mi{self.true_mi():.4g}"

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return self.dim

    def true_mi(self, step: int = 0) -> float:
        """Gaussian part + c(ν, d, d), nats (constant in ``step``)."""
        return student_t_mi(self.rho, self.dim, self.nu)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """``n`` joint pairs ``Batch(x, y)``, each ``(n, dim)``; ``steps`` is ignored."""
        x, y = sample_correlated_gaussian(n, self.dim, self.rho, generator, dtype=dtype)
        scale = sample_mixing_scale(n, self.nu, generator).to(dtype)
        return Batch(x=x * scale, y=y * scale)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """Oracle critic (:func:`student_t_log_ratio`)."""
        return student_t_log_ratio(x, y, self.rho, self.nu)

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """``kl`` is the MI; no closed form is known to us for the other f's (None)."""
        return self.true_mi() if validate_f_name(name) == "kl" else None

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        return 0.0 if validate_f_name(name) == "kl" else None


def build_student_t(
    dim: int = DEFAULT_DIM,
    nu: float = DEFAULT_NU,
    mi: float | None = DEFAULT_MI,
    rho: float | None = None,
) -> StudentTTask:
    """Build from the full target MI (nats) or, when ``rho`` is given, from the scale correlation."""
    dim = validate_dim(dim)
    nu = validate_positive("nu", nu)
    if rho is not None:
        rho = validate_rho(rho)
    else:
        target = validate_mi(mi)
        floor = student_t_mi_correction(nu, dim, dim)
        if target < floor:
            raise ValueError(
                f"mi must be >= {floor:.6g} for a Student-t with nu={nu:g}, dim={dim} "
                f"(its MI at rho=0), got {mi!r}"
            )
        rho = rho_from_mi(target - floor, dim)
    task = StudentTTask(dim=dim, rho=rho, nu=nu)
    params = {"dim": dim, "nu": nu, "mi": task.true_mi(), "rho": rho}
    return StudentTTask(dim=dim, rho=rho, nu=nu, params=params)


register(
    TaskSpec(
        name="student_t",
        build=build_student_t,
        defaults={"dim": DEFAULT_DIM, "nu": DEFAULT_NU, "mi": DEFAULT_MI, "rho": None},
        description=(
            "Multivariate Student-t over (x, y), nu dof, per-coordinate scale correlation rho; "
            "mi is the full MI (>= its value at rho=0)."
        ),
        truth_source=(
            "I = -(d/2) log(1 - rho^2) + c(nu, d, d), c from t entropies "
            "(Arellano-Valle et al. 2013; as in BMI, Czyz et al. 2023)"
        ),
    )
)
