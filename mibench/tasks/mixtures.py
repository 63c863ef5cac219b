r"""Gaussian mixtures with Monte Carlo ground truth (BMI v2, "bend and mix", Czyż et al. [1]).

The joint is p(x, y) = Σ_c w_c N((x, y); μ_c, Σ_c); its marginals are the mixtures of the
components' marginal blocks, so all three log densities are exact (log-sum-exp over components).
The MI has no closed form; it is the expectation of the pointwise MI,

.. math:: I = \mathbb E_{p(x,y)}\big[\log p(x, y) - \log p(x) - \log p(y)\big],

estimated by Monte Carlo over ``n_mc`` joint draws from a generator seeded with ``mc_seed``. The
standard error s/√n_mc is kept beside the truth (:meth:`GaussianMixtureTask.true_mi_standard_error`,
``params["true_mi_standard_error"]`` and the sidecar of every run), which BMI computes and drops.

* ``mixture_x`` (BMI's "X" distribution): two equally weighted 1 × 1 components at the origin
  with unit variances and correlations +ρ and −ρ, so x and y are uncorrelated but dependent.
* ``mixture_ai`` (BMI's "AI" distribution): six 1 × 1 components drawing the letters A and I.

References:
    [1] Czyż et al., The Mixtures and the Neural Critics: On the Pointwise Mutual Information
        Profiles of Fine Distributions, AISTATS 2024, arXiv:2310.10240.
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
from mibench.tasks._validation import validate_int, validate_rho
from mibench.tasks.registry import TaskSpec, register

DEFAULT_N_MC = 100_000  # BMI's mi_estimate_sample
DEFAULT_MC_SEED = 0
DEFAULT_X_RHO = 0.9  # BMI's default gaussian_correlation of "X"
MIN_N_MC = 100


def _component_log_densities(v: Tensor, means: Tensor, choleskys: Tensor) -> Tensor:
    """log N(v; μ_c, L_c L_cᵀ) for every component c: shape ``v.shape[:-1] + (C,)``."""
    diff = v.unsqueeze(-2) - means  # (..., C, D)
    # Solve L_c z = diff for each component (triangular, batched over the leading axes).
    z = torch.linalg.solve_triangular(choleskys, diff.unsqueeze(-1), upper=False).squeeze(
        -1
    )  # (..., C, D)
    log_det = 2.0 * torch.log(torch.diagonal(choleskys, dim1=-2, dim2=-1)).sum(-1)  # (C,)
    dim = v.shape[-1]
    return -0.5 * (z.square().sum(-1) + log_det + dim * math.log(2.0 * math.pi))


@dataclass(frozen=True, eq=False)
class GaussianMixtureTask:
    """A Gaussian mixture over (x, y) split after ``split`` coordinates; see the module docstring."""

    weights: np.ndarray  # (C,)
    means: np.ndarray  # (C, D)
    covariances: np.ndarray  # (C, D, D)
    split: int
    name: str
    tag: str
    n_mc: int = DEFAULT_N_MC
    mc_seed: int = DEFAULT_MC_SEED
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
        return int(self.means.shape[1]) - self.split

    @cached_property
    def _tensors(self) -> dict[str, tuple[Tensor, Tensor]]:
        d = self.split
        cov = torch.from_numpy(self.covariances)
        mean = torch.from_numpy(self.means)
        return {
            "joint": (mean, torch.linalg.cholesky(cov)),
            "x": (mean[:, :d], torch.linalg.cholesky(cov[:, :d, :d])),
            "y": (mean[:, d:], torch.linalg.cholesky(cov[:, d:, d:])),
        }

    def _log_density(self, key: str, v: Tensor) -> Tensor:
        means, choleskys = self._tensors[key]
        log_weights = torch.from_numpy(np.log(self.weights))
        per_component = _component_log_densities(v.double(), means, choleskys)
        return torch.logsumexp(per_component + log_weights, dim=-1)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """Exact log p(x, y) − log p(x) − log p(y); leading axes of x and y broadcast."""
        shape = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        x = x.double().expand(*shape, x.shape[-1])
        y = y.double().expand(*shape, y.shape[-1])
        joint = self._log_density("joint", torch.cat([x, y], dim=-1))
        return joint - self._log_density("x", x) - self._log_density("y", y)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """Component c ~ Categorical(w), then μ_c + L_c ε (float64 inside); ``steps`` ignored."""
        device = generator.device
        weights = torch.from_numpy(self.weights).to(device)
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        means, choleskys = (t.to(device) for t in self._tensors["joint"])
        noise = torch.randn(n, means.shape[1], generator=generator, dtype=torch.float64,
                            device=device)  # fmt: skip
        z = means[component] + (choleskys[component] @ noise.unsqueeze(-1)).squeeze(-1)
        z = z.to(dtype)
        return Batch(x=z[:, : self.split], y=z[:, self.split :])

    @cached_property
    def _monte_carlo(self) -> tuple[float, float]:
        batch = self.sample(self.n_mc, torch.Generator().manual_seed(self.mc_seed),
                            dtype=torch.float64)  # fmt: skip
        assert batch.y is not None
        pointwise = self.log_ratio(batch.x, batch.y).numpy()
        return float(pointwise.mean()), float(pointwise.std(ddof=1) / math.sqrt(self.n_mc))

    def true_mi(self, step: int = 0) -> float:
        """Monte Carlo mean of the pointwise MI over ``n_mc`` draws (seed ``mc_seed``)."""
        return self._monte_carlo[0]

    def true_mi_standard_error(self, step: int = 0) -> float:
        """Standard error of :meth:`true_mi` (sample SD of the pointwise MI / √n_mc)."""
        return self._monte_carlo[1]

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        return self.true_mi() if name == "kl" else None

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        return self.true_mi_standard_error() if name == "kl" else None


def _monte_carlo_settings(n_mc: Any, mc_seed: Any) -> tuple[int, int]:
    return validate_int("n_mc", n_mc, minimum=MIN_N_MC), validate_int("mc_seed", mc_seed, minimum=0)


def _with_truth(task: GaussianMixtureTask) -> GaussianMixtureTask:
    """The task with its Monte Carlo truth and standard error recorded in ``params``."""
    params = {**task.params, "true_mi_standard_error": task.true_mi_standard_error()}
    object.__setattr__(task, "params", params)
    return task


def build_mixture_x(
    rho: float = DEFAULT_X_RHO, n_mc: int = DEFAULT_N_MC, mc_seed: int = DEFAULT_MC_SEED
) -> GaussianMixtureTask:
    rho = validate_rho(rho)
    n_mc, mc_seed = _monte_carlo_settings(n_mc, mc_seed)
    covariances = np.array([[[1.0, sign * rho], [sign * rho, 1.0]] for sign in (-1.0, 1.0)])
    return _with_truth(
        GaussianMixtureTask(
            weights=np.array([0.5, 0.5]),
            means=np.zeros((2, 2)),
            covariances=covariances,
            split=1,
            name="mixture_x",
            tag=f"rho{rho:g}",
            n_mc=n_mc,
            mc_seed=mc_seed,
            params={"rho": rho, "n_mc": n_mc, "mc_seed": mc_seed},
        )
    )


def _ai_components() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means and covariances of BMI's "AI" mixture (three strokes of I, three of A)."""
    corr, var_x, var_y = 0.95, 0.04, 0.2
    slant = math.sqrt(var_x * var_y) * corr
    means = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [-0.8, -0.2], [-1.2, 0.0], [-0.4, 0.0]])
    covariances = np.array(
        [
            np.diag([0.01, 0.2]),
            np.diag([0.05, 0.001]),
            np.diag([0.05, 0.001]),
            np.diag([0.03, 0.001]),
            [[var_x, slant], [slant, var_y]],
            [[var_x, -slant], [-slant, var_y]],
        ]
    )
    return np.full(6, 1.0 / 6.0), means, covariances


def build_mixture_ai(
    n_mc: int = DEFAULT_N_MC, mc_seed: int = DEFAULT_MC_SEED
) -> GaussianMixtureTask:
    n_mc, mc_seed = _monte_carlo_settings(n_mc, mc_seed)
    weights, means, covariances = _ai_components()
    return _with_truth(
        GaussianMixtureTask(
            weights=weights,
            means=means,
            covariances=covariances,
            split=1,
            name="mixture_ai",
            tag="1x1",
            n_mc=n_mc,
            mc_seed=mc_seed,
            params={"n_mc": n_mc, "mc_seed": mc_seed},
        )
    )


_TRUTH = "Monte Carlo mean of the exact pointwise MI over n_mc draws (its SE kept in params)"
register(
    TaskSpec(
        name="mixture_x",
        build=build_mixture_x,
        defaults={"rho": DEFAULT_X_RHO, "n_mc": DEFAULT_N_MC, "mc_seed": DEFAULT_MC_SEED},
        description="BMI v2 'X': 1x1 mixture of N(0, [[1, -rho], [-rho, 1]]) and N(0, [[1, rho], [rho, 1]])",
        truth_source=_TRUTH,
    )
)
register(
    TaskSpec(
        name="mixture_ai",
        build=build_mixture_ai,
        defaults={"n_mc": DEFAULT_N_MC, "mc_seed": DEFAULT_MC_SEED},
        description="BMI v2 'AI': 1x1 mixture of six Gaussians drawing the letters A and I",
        truth_source=_TRUTH,
    )
)
