r"""Labeled Gaussian classes: the supervised task whose truth is the SINCERE KL of Theorem 3.

C classes with a uniform prior, :math:`p(x \mid c) = N(\mu_c, \sigma^2 I_d)`. The means are the
vertices of a regular simplex with every pairwise distance equal to ``separation``: with the
Helmert basis :math:`h_1, \dots, h_{C-1}` of the sum-zero subspace of :math:`\mathbb R^C`,
:math:`\mu_c = \tfrac{s}{\sqrt 2}(h_1[c], \dots, h_{C-1}[c], 0, \dots, 0)`, which needs
d ≥ C − 1. ``sample`` returns ``Batch(x, y=None, labels)``.

The ground truth (``target == "kl"``) is the class-averaged KL divergence between a class and the
noise distribution of the SINCERE bound [1, Theorem 3, Eq. (15)],

.. math::  \mathrm{KL} = \frac1C\sum_c \mathrm{KL}\big(p(x\mid c)\,\big\|\,p(x\mid\ne c)\big),
           \qquad p(x\mid\ne c) = \frac1{C-1}\sum_{c'\ne c} p(x\mid c'),

(the noise distribution is the label-prior mixture of the other classes, uniform here).

* C = 2: both are Gaussians with the same covariance, so
  :math:`\mathrm{KL} = \|\mu_1-\mu_2\|^2/(2\sigma^2) = s^2/(2\sigma^2)` (exact).
* C > 2: the mixture has no closed-form KL. With :math:`x = \mu_c + \sigma z` and
  :math:`a_{c'} = -\|x-\mu_{c'}\|^2/(2\sigma^2)` (the normalisers cancel),
  :math:`\mathrm{KL}_c = \mathbb E\big[a_c - \mathrm{lme}_{c'\ne c}\,a_{c'}\big]` where lme is the
  log-mean-exp over the C − 1 other classes. Since
  :math:`\mathbb E[a_c - a_{c'}] = \|\mu_c-\mu_{c'}\|^2/(2\sigma^2) = s^2/(2\sigma^2)` for every
  c' ≠ c (all distances are s), subtracting the arithmetic mean gives the exact identity

  .. math::  \mathrm{KL}_c = \frac{s^2}{2\sigma^2}
             - \mathbb E\Big[\mathrm{lme}_{c'\ne c}\,a_{c'} - \mathrm{mean}_{c'\ne c}\,a_{c'}\Big],

  the two-class value minus a non-negative Jensen gap (zero for C = 2). The gap has 3–5× less
  standard deviation than the raw log ratio, so it is what the Monte Carlo estimates, in
  float64 with :data:`LABELED_KL_MC_SAMPLES` draws from a NumPy generator with a fixed seed; its
  standard error :math:`s_{gap}/\sqrt n` is exposed as ``kl_standard_error``. By the simplex's
  symmetry every class has the same KL, so the draws are from class 0. Only the first C − 1
  coordinates carry the means, so the draw uses those (the others cancel in
  :math:`a_{c'} - a_c`). Cached per (C, d, s, σ).

References:
    [1] Feeney & Hughes, SINCERE: Supervised Information Noise-Contrastive Estimation
        REvisited, Theorem 3, Eq. (15) and its proof, Eq. (29)-(32).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from mibench.core.interface import Batch
from mibench.tasks._validation import validate_dim, validate_int, validate_positive
from mibench.tasks.f_information import validate_f_name
from mibench.tasks.registry import TaskSpec, register

DEFAULT_N_CLASSES = 4
DEFAULT_DIM = 8
DEFAULT_SEPARATION = 3.0
DEFAULT_SIGMA = 1.0
LABELED_KL_MC_SAMPLES = 2**19
"""Monte Carlo draws for the C > 2 KL (SE ≈ 1e-3 nats at the defaults)."""
LABELED_KL_MC_SEED = 41
"""Fixed seed of the C > 2 KL, so the ground truth is deterministic."""
_MC_CHUNK = 2**17


def helmert_basis(n_classes: int) -> Tensor:
    """``(C - 1, C)`` float64 orthonormal rows spanning the sum-zero subspace of R^C (Helmert)."""
    rows = torch.zeros(n_classes - 1, n_classes, dtype=torch.float64)
    for k in range(1, n_classes):  # row k: k ones, then -k, over sqrt(k (k + 1))
        rows[k - 1, :k] = 1.0
        rows[k - 1, k] = -float(k)
        rows[k - 1] /= math.sqrt(k * (k + 1))
    return rows


def simplex_means(n_classes: int, dim: int, separation: float) -> Tensor:
    """``(C, dim)`` float64 regular-simplex means, every pairwise distance equal to ``separation``."""
    means = torch.zeros(n_classes, dim, dtype=torch.float64)
    # columns of the Helmert basis are the centred one-hot vectors e_c - 1/C, |e_c - e_c'| = sqrt 2
    means[:, : n_classes - 1] = helmert_basis(n_classes).T * (separation / math.sqrt(2.0))
    return means


@lru_cache(maxsize=128)
def labeled_kl(
    n_classes: int,
    dim: int,
    separation: float,
    sigma: float,
    n_samples: int = LABELED_KL_MC_SAMPLES,
    seed: int = LABELED_KL_MC_SEED,
) -> tuple[float, float]:
    r"""Class-averaged :math:`\mathrm{KL}(p(x|c)\,\|\,p(x|\ne c))` and its standard error (0 if exact).

    Closed form :math:`s^2/(2\sigma^2)` for C = 2; for C > 2 the two-class value minus the
    Monte Carlo Jensen gap of the module docstring (float64, NumPy generator with a fixed
    ``seed``; cached), drawn for class 0 only: the regular simplex is vertex-transitive and σ²I
    isotropic, so every class has the same KL and the class average equals class 0's (a test
    checks this against an estimate over uniformly drawn labels).
    """
    two_class = separation**2 / (2.0 * sigma**2)
    if n_classes == 2:
        return two_class, 0.0
    span = n_classes - 1  # coordinates beyond the simplex's span cancel in a_c' - a_c
    means = simplex_means(n_classes, span, separation).numpy()
    rng = np.random.default_rng(seed)
    log_others = math.log(n_classes - 1)
    total, total_sq, done = 0.0, 0.0, 0
    while done < n_samples:
        size = min(_MC_CHUNK, n_samples - done)
        x = means[0] + sigma * rng.standard_normal((size, span))
        # a_c' = (x.mu_c' - |mu_c'|^2/2 - |x|^2/2)/sigma^2; |mu_c'| is the same for every vertex and
        # lme - mean is shift invariant per row, so only x.mu_c'/sigma^2 matters
        others = x @ means[1:].T / sigma**2
        peak = others.max(axis=1, keepdims=True)
        log_mean_exp = peak[:, 0] + np.log(np.exp(others - peak).sum(axis=1)) - log_others
        gap = log_mean_exp - others.mean(axis=1)
        total += float(gap.sum())
        total_sq += float(np.square(gap).sum())
        done += size
    mean_gap = total / n_samples
    variance = max(total_sq / n_samples - mean_gap * mean_gap, 0.0)
    return two_class - mean_gap, math.sqrt(variance / n_samples)


@dataclass(frozen=True, eq=False)
class LabeledGaussiansTask:
    """C Gaussian classes N(μ_c, σ² I) on a regular simplex; ``true_mi`` is the SINCERE KL."""

    n_classes: int
    dim: int
    separation: float
    sigma: float
    name: str = "labeled_gaussians"
    target: Literal["mi", "kl"] = "kl"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"labeled_gaussians-c{self.n_classes}-d{self.dim}"
            f"-sep{self.separation:g}-sigma{self.sigma:g}"
        )

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        """0: this task has labels, not a y view."""
        return 0

    @cached_property
    def means(self) -> Tensor:
        """``(C, dim)`` float64 class means (computed once per task; treat as read-only)."""
        return simplex_means(self.n_classes, self.dim, self.separation)

    def true_mi(self, step: int = 0) -> float:
        """Class-averaged KL(p(x|c) ‖ p(x|≠c)) in nats (exact for C = 2, Monte Carlo for C > 2)."""
        return labeled_kl(self.n_classes, self.dim, self.separation, self.sigma)[0]

    @property
    def kl_standard_error(self) -> float:
        """Standard error of :meth:`true_mi` (0 for C = 2)."""
        return labeled_kl(self.n_classes, self.dim, self.separation, self.sigma)[1]

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """``Batch(x (n, dim), None, labels (n,) int64)``; labels uniform over the C classes."""
        device = generator.device
        labels = torch.randint(self.n_classes, (n,), generator=generator, device=device)
        noise = torch.randn(n, self.dim, generator=generator, dtype=dtype, device=device)
        x = self.means.to(dtype=dtype, device=device)[labels] + self.sigma * noise
        return Batch(x=x, y=None, labels=labels)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> None:
        """No (x, y) density ratio: this task has labels, not a second view."""
        return None

    def class_log_density(self, x: Tensor) -> Tensor:
        """``(..., C)``: log p(x | c) for every class, in x's dtype (the Bayes-optimal scores)."""
        means = self.means.to(dtype=x.dtype, device=x.device)
        sq = (x.unsqueeze(-2) - means).square().sum(dim=-1)
        log_norm = -0.5 * self.dim * math.log(2.0 * math.pi * self.sigma**2)
        return log_norm - sq / (2.0 * self.sigma**2)

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """None: the truth of this task is a class-conditional KL, not an f-MI of (x, y)."""
        validate_f_name(name)
        return None

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        validate_f_name(name)
        return None


def build_labeled_gaussians(
    n_classes: int = DEFAULT_N_CLASSES,
    dim: int = DEFAULT_DIM,
    separation: float = DEFAULT_SEPARATION,
    sigma: float = DEFAULT_SIGMA,
) -> LabeledGaussiansTask:
    """Validate and build (the KL itself is computed lazily, on the first ``true_mi`` call)."""
    n_classes = validate_int("n_classes", n_classes, minimum=2)
    dim = validate_dim(dim)
    if dim < n_classes - 1:
        raise ValueError(
            f"dim must be >= n_classes - 1 = {n_classes - 1} for simplex means, got dim={dim}"
        )
    separation = validate_positive("separation", separation)
    sigma = validate_positive("sigma", sigma)
    params = {"n_classes": n_classes, "dim": dim, "separation": separation, "sigma": sigma}
    return LabeledGaussiansTask(n_classes, dim, separation, sigma, params=params)


register(
    TaskSpec(
        name="labeled_gaussians",
        build=build_labeled_gaussians,
        defaults={
            "n_classes": DEFAULT_N_CLASSES,
            "dim": DEFAULT_DIM,
            "separation": DEFAULT_SEPARATION,
            "sigma": DEFAULT_SIGMA,
        },
        description=(
            "C classes, uniform prior, p(x|c) = N(mu_c, sigma^2 I) with simplex means at pairwise "
            "distance `separation`; returns labels (target: KL)."
        ),
        truth_source=(
            "KL(p(x|c) || p(x|!=c)) (SINCERE Thm. 3): sep^2/(2 sigma^2) for C = 2; "
            "fixed-seed Monte Carlo with stated SE for C > 2"
        ),
    )
)
