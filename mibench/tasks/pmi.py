r"""Pointwise mutual information (PMI) profiles of the tasks whose joint density is known.

The PMI of a pair is the log density ratio the oracle critic returns,

.. math:: \mathrm{PMI}(x, y) = \log p(x, y) - \log p(x) - \log p(y),
          \qquad \mathbb E_{p(x, y)}[\mathrm{PMI}] = I(X; Y),

and its distribution under the joint (the *PMI profile*, Czyż et al. 2023 [1]) tells how hard
a task is beyond its MI: the variance of every Monte Carlo estimate of I over n pairs is
Var[PMI]/n, and the DV/NWJ-type bounds need e^{PMI} to be well estimated.

The PMI is invariant under invertible maps of x and of y (the Jacobians cancel in the ratio,
:mod:`mibench.tasks.transforms`), so the profile of a transformed task (the BMI transforms,
the mapped 1 × 1 tasks, a transformed staircase) is computed in its Gaussian or Student-t base
space: draws from the base, the base's log ratio, no round trip through the maps.

Gaussian closed form. For d independent pairs with correlation ρ the PMI is a sum of d i.i.d.
terms t = −½ log(1−ρ²) − (y − ρx)²/(2(1−ρ²)) + y²/2. Writing y = ρx + √(1−ρ²)e,
t + ½ log(1 − ρ²) = ½[y² − e²] = ½[ρ²(x² − e²) + 2ρ√(1−ρ²) x e], whose variance is
¼[ρ⁴ · 4 + 4ρ²(1−ρ²)] = ρ² (x, e independent N(0, 1): Var(x² − e²) = 4, Var(xe) = 1, and the
two parts are uncorrelated). Hence Var[PMI] = d ρ², and for canonical correlations ρ_i,
Var[PMI] = Σ_i ρ_i² (:func:`gaussian_pmi_variance`).

References:
    [1] Czyż, Grabowski, Vogt, Beerenwinkel, Marx, The Mixtures and the Neural Critics: On the
        Pointwise Mutual Information Profiles of Fine Distributions, AISTATS 2024,
        arXiv:2310.10240.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats

from mibench.core.interface import Task

DEFAULT_PROFILE_SAMPLES = 200_000
SUMMARY_PMI_SAMPLES = 20_000  # pmi_std of the summary: relative SE ≈ 1/sqrt(2 · 20 000) = 0.5 %
PMI_SEED = 0
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class PMIProfile(NamedTuple):
    """Summary of a PMI sample: mean (≈ I) with its SE, std with its SE, skewness, quantiles."""

    n: int
    mean: float
    mean_standard_error: float
    std: float
    std_standard_error: float
    skewness: float
    quantiles: dict[float, float]
    true_mi: float


def gaussian_pmi_variance(canonical_correlations: Sequence[float]) -> float:
    """Var[PMI] = Σ_i ρ_i² of a Gaussian with canonical correlations ρ_i (module docstring).

    Examples:
        >>> gaussian_pmi_variance([0.5] * 4)
        1.0
    """
    return float(sum(r * r for r in canonical_correlations))


def base_space(task: Task) -> Task:
    """The task the PMI is computed on: ``task`` with its invertible maps of x and y removed."""
    if hasattr(task, "transform_x") and hasattr(task, "base") and not isinstance(task.base, str):
        return base_space(task.base)  # TransformedTask: a task wrapped in transforms
    if hasattr(task, "forward_x") and hasattr(task, "base"):
        return base_space(task.base)  # MappedTask (BMI's mapped 1 x 1 tasks, spiral)
    if (
        getattr(task, "transform_x", None) is not None
        or getattr(task, "transform_y", None) is not None
    ):
        return dataclasses.replace(task, transform_x=None, transform_y=None)  # a staircase
    return task


def pmi_sample(task: Task, n: int, generator: torch.Generator, *, step: int = 0) -> np.ndarray:
    """``n`` PMI values (float64) of joint draws at training step ``step``.

    Raises ValueError for a task without a closed-form log density ratio.

    Examples:
        >>> from mibench.tasks import build
        >>> values = pmi_sample(build("gaussian", dim=5, mi=2.0), 100_000, torch.Generator().manual_seed(0))
        >>> round(float(values.mean()), 2), round(float(values.var()), 2)  # I = 2, d rho^2 = 2.75
        (2.01, 2.76)
    """
    base = base_space(task)
    steps = torch.full((n,), step, dtype=torch.int64)
    batch = base.sample(n, generator, steps=steps, dtype=torch.float64)
    if batch.y is None:
        raise ValueError(f"task {task.name} has no paired samples (x, y): no PMI")
    values = base.log_ratio(batch.x, batch.y, steps=steps)
    if values is None:
        raise ValueError(f"task {task.name} has no closed-form density ratio: no PMI profile")
    return values.double().cpu().numpy()


def profile(values: np.ndarray, true_mi: float) -> PMIProfile:
    """Mean, std (with their standard errors), skewness and :data:`QUANTILES` of a PMI sample.

    SE(mean) = s/√n; SE(std) ≈ s √((κ − 1)/(4n)) with κ the sample kurtosis (delta method).
    """
    n = len(values)
    std = float(values.std(ddof=1))
    kurtosis = float(stats.kurtosis(values, fisher=False))
    return PMIProfile(
        n=n,
        mean=float(values.mean()),
        mean_standard_error=std / math.sqrt(n),
        std=std,
        std_standard_error=std * math.sqrt(max(kurtosis - 1.0, 0.0) / (4.0 * n)),
        skewness=float(stats.skew(values)),
        quantiles={
            q: float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
        },
        true_mi=float(true_mi),
    )


def task_profile(
    task: Task, *, n: int = DEFAULT_PROFILE_SAMPLES, seed: int = PMI_SEED, step: int = 0
) -> tuple[PMIProfile, np.ndarray]:
    """The PMI profile of ``task`` at ``step`` from ``n`` draws (generator seeded ``seed``), and
    the sample itself."""
    values = pmi_sample(task, n, torch.Generator().manual_seed(seed), step=step)
    return profile(values, float(task.true_mi(step))), values


_STD_CACHE: dict[tuple[str, str, int], float] = {}


def pmi_std(task: Task, step: int = 0) -> float:
    """Std of the PMI at ``step`` from :data:`SUMMARY_PMI_SAMPLES` draws (NaN without a density
    ratio); cached per task id and step (tasks are frozen)."""
    key = (type(task).__qualname__, task.id, int(step))
    if key not in _STD_CACHE:
        generator = torch.Generator().manual_seed(PMI_SEED)
        try:
            values = pmi_sample(task, SUMMARY_PMI_SAMPLES, generator, step=int(step))
        except ValueError:
            values = np.array([])
        finite = values[np.isfinite(values)]
        _STD_CACHE[key] = float(finite.std(ddof=1)) if len(finite) > 1 else math.nan
    return _STD_CACHE[key]
