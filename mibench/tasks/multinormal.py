r"""Multivariate normal (x, y) with a given joint covariance: BMI's dense and sparse ("2-pair") tasks.

For (X, Y) ~ N(0, Σ) with Σ = [[Σ_xx, Σ_xy], [Σ_yx, Σ_yy]] (Czyż et al. [1], §4),

.. math::  I(X; Y) = \tfrac12\big[\log\det\Sigma_{xx} + \log\det\Sigma_{yy} - \log\det\Sigma\big],

and the oracle critic is log N(x, y; Σ) − log N(x; Σ_xx) − log N(y; Σ_yy).

* ``multinormal_dense``: unit variances and every off-diagonal entry (within x, within y and
  between them) equal to ``off_diag`` = c; Σ is positive definite iff −1/(D − 1) < c < 1 with
  D = d_x + d_y.
* ``multinormal_sparse``: BMI's latent-variable model with ``n_interacting`` = K strongly
  interacting pairs: X_i = E_i + λ Z_i, Y_i = F_i + λ Z_i for i < K and X_i = E_i + λ V_i,
  Y_i = F_i + λ W_i otherwise, all latents i.i.d. N(0, 1) and λ = ``strength``. After scaling to
  unit variance, corr(X_i, Y_i) = λ²/(1 + λ²) for i < K and every other pair is independent, so
  I = −(K/2) log(1 − ρ²) with ρ = λ²/(1 + λ²). K = 2, λ = 2 is BMI's "2-pair" task (ρ = 0.8).

References:
    [1] Czyż et al., Beyond Normal: On the Evaluation of Mutual Information Estimators, 2023,
        arXiv:2306.11078.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from mibench.core.interface import Batch
from mibench.tasks._validation import validate_int
from mibench.tasks.registry import TaskSpec, register

DEFAULT_DIM = 2
DEFAULT_OFF_DIAG = 0.5  # BMI's dense default
DEFAULT_N_INTERACTING = 2  # "2-pair"
DEFAULT_STRENGTH = 2.0  # BMI's sparse default: rho = 4/5


def _log_det(matrix: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(matrix)
    if sign <= 0:
        raise ValueError("covariance must be positive definite")
    return float(value)


def gaussian_log_density(v: Tensor, precision: Tensor, log_det: float) -> Tensor:
    """log N(v; 0, Σ) over the last axis, from Σ⁻¹ = ``precision`` and log det Σ."""
    quadratic = ((v @ precision) * v).sum(dim=-1)
    return -0.5 * (quadratic + log_det + v.shape[-1] * math.log(2.0 * math.pi))


@dataclass(frozen=True, eq=False)
class MultinormalTask:
    """(x, y) ~ N(0, Σ) split after ``dim_x`` coordinates; see the module docstring."""

    covariance: np.ndarray  # (D, D) float64, positive definite
    split: int  # dim_x
    name: str
    tag: str
    params: Mapping[str, Any] = field(default_factory=dict)
    target: Literal["mi", "kl"] = "mi"

    @property
    def id(self) -> str:
        return f"{self.name}-{self.tag}"

    @property
    def dim_x(self) -> int:
        return self.split

    @property
    def dim_y(self) -> int:
        return int(self.covariance.shape[0]) - self.split

    @cached_property
    def _blocks(self) -> dict[str, tuple[np.ndarray, float]]:
        d = self.split
        blocks = {
            "joint": self.covariance,
            "x": self.covariance[:d, :d],
            "y": self.covariance[d:, d:],
        }
        return {k: (np.linalg.inv(m), _log_det(m)) for k, m in blocks.items()}

    @cached_property
    def _cholesky(self) -> Tensor:
        return torch.from_numpy(np.linalg.cholesky(self.covariance))

    def true_mi(self, step: int = 0) -> float:
        """½[log det Σ_xx + log det Σ_yy − log det Σ] nats."""
        blocks = self._blocks
        return 0.5 * (blocks["x"][1] + blocks["y"][1] - blocks["joint"][1])

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """z = ε Lᵀ with ε ~ N(0, I_D) and Σ = L Lᵀ; ``steps`` is ignored."""
        device = generator.device
        noise = torch.randn(n, self.covariance.shape[0], generator=generator, dtype=torch.float64,
                            device=device)  # fmt: skip
        z = (noise @ self._cholesky.to(device).T).to(dtype)
        return Batch(x=z[:, : self.split], y=z[:, self.split :])

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """log N(x, y; Σ) − log N(x; Σ_xx) − log N(y; Σ_yy); leading axes of x and y broadcast."""
        shape = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        x = x.expand(*shape, x.shape[-1])
        y = y.expand(*shape, y.shape[-1])
        out = []
        for key, v in (("joint", torch.cat([x, y], dim=-1)), ("x", x), ("y", y)):
            precision, log_det = self._blocks[key]
            out.append(gaussian_log_density(v, torch.from_numpy(precision).to(v), log_det))
        return out[0] - out[1] - out[2]

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """The KL (Shannon) MI; other f-MIs have no closed form here (None)."""
        return self.true_mi() if name == "kl" else None

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        return 0.0 if name == "kl" else None


def _dims(dim_x: Any, dim_y: Any) -> tuple[int, int]:
    return validate_int("dim_x", dim_x, minimum=1), validate_int("dim_y", dim_y, minimum=1)


def dense_covariance(dim_x: int, dim_y: int, off_diag: float) -> np.ndarray:
    """Unit diagonal, every off-diagonal entry ``off_diag``."""
    total = dim_x + dim_y
    return np.full((total, total), off_diag) + (1.0 - off_diag) * np.eye(total)


def build_multinormal_dense(
    dim_x: int = DEFAULT_DIM, dim_y: int = DEFAULT_DIM, off_diag: float = DEFAULT_OFF_DIAG
) -> MultinormalTask:
    dim_x, dim_y = _dims(dim_x, dim_y)
    low = -1.0 / (dim_x + dim_y - 1)
    if (
        isinstance(off_diag, bool)
        or not isinstance(off_diag, int | float)
        or not (low < off_diag < 1.0)
    ):
        raise ValueError(
            f"off_diag must lie in the open interval ({low:.4g}, 1) for d_x + d_y = "
            f"{dim_x + dim_y} (positive definite), got {off_diag!r}"
        )
    return MultinormalTask(
        covariance=dense_covariance(dim_x, dim_y, float(off_diag)),
        split=dim_x,
        name="multinormal_dense",
        tag=f"{dim_x}x{dim_y}-c{off_diag:g}",
        params={"dim_x": dim_x, "dim_y": dim_y, "off_diag": float(off_diag)},
    )


def sparse_correlation(strength: float) -> float:
    """corr(X_i, Y_i) = λ²/(1 + λ²) of an interacting pair of the latent-variable model."""
    return strength * strength / (1.0 + strength * strength)


def build_multinormal_sparse(
    dim_x: int = DEFAULT_DIM,
    dim_y: int = DEFAULT_DIM,
    n_interacting: int = DEFAULT_N_INTERACTING,
    strength: float = DEFAULT_STRENGTH,
) -> MultinormalTask:
    dim_x, dim_y = _dims(dim_x, dim_y)
    n_interacting = validate_int("n_interacting", n_interacting, minimum=1)
    if n_interacting > min(dim_x, dim_y):
        raise ValueError(
            f"n_interacting must lie in [1, min(dim_x, dim_y) = {min(dim_x, dim_y)}], "
            f"got {n_interacting}"
        )
    if (
        isinstance(strength, bool)
        or not isinstance(strength, int | float)
        or not (math.isfinite(strength) and strength > 0)
    ):
        raise ValueError(f"strength must be a finite number > 0, got {strength!r}")
    rho = sparse_correlation(float(strength))
    covariance = np.eye(dim_x + dim_y)
    for i in range(n_interacting):
        covariance[i, dim_x + i] = covariance[dim_x + i, i] = rho
    return MultinormalTask(
        covariance=covariance,
        split=dim_x,
        name="multinormal_sparse",
        tag=f"{dim_x}x{dim_y}-k{n_interacting}-s{strength:g}",
        params={
            "dim_x": dim_x,
            "dim_y": dim_y,
            "n_interacting": n_interacting,
            "strength": float(strength),
            "rho": rho,
        },
    )


register(
    TaskSpec(
        name="multinormal_dense",
        build=build_multinormal_dense,
        defaults={"dim_x": DEFAULT_DIM, "dim_y": DEFAULT_DIM, "off_diag": DEFAULT_OFF_DIAG},
        description="(x, y) ~ N(0, Sigma), unit variances, every off-diagonal entry off_diag (BMI dense)",
        truth_source="I = 1/2 [log det S_xx + log det S_yy - log det S] (Gaussian entropy)",
    )
)
register(
    TaskSpec(
        name="multinormal_sparse",
        build=build_multinormal_sparse,
        defaults={
            "dim_x": DEFAULT_DIM,
            "dim_y": DEFAULT_DIM,
            "n_interacting": DEFAULT_N_INTERACTING,
            "strength": DEFAULT_STRENGTH,
        },
        description=(
            "BMI latent-variable model: n_interacting pairs with corr s^2/(1+s^2), the rest "
            "independent (n_interacting = 2: BMI's 2-pair task)"
        ),
        truth_source="I = -(K/2) log(1 - rho^2), rho = s^2/(1 + s^2) (log-det formula)",
    )
)
