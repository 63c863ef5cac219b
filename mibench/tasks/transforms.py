r"""MI-preserving transforms: a task in, a task with a derived id and the same ground truth out.

A transform applies an invertible map g to x and/or h to y (elementwise, or a fixed invertible
matrix). Why the MI is unchanged: for a bijection (x, y) ↦ (g(x), h(y)) with differentiable
inverses, the change of variables multiplies the joint density by
:math:`|J_{g^{-1}}(x')|\,|J_{h^{-1}}(y')|` and the marginals by :math:`|J_{g^{-1}}(x')|` and
:math:`|J_{h^{-1}}(y')|` respectively, so the Jacobians cancel in the density ratio:

.. math::  \frac{p'(x', y')}{p'(x')p'(y')} = \frac{p(g^{-1}(x'), h^{-1}(y'))}
           {p(g^{-1}(x'))\,p(h^{-1}(y'))}.

Hence :math:`I(g(X); h(Y)) = \mathbb E[\log r] = I(X; Y)`, every f-MI is unchanged too, and the
oracle critic of the transformed task is the base task's critic evaluated at the inverse
transform. The maps (bmi's "mild" transforms, [1]):

================== ====================================== =====================================
name               forward (per coordinate)               inverse
================== ====================================== =====================================
``cubic``          :math:`v^3`                             :math:`\mathrm{sign}(v)|v|^{1/3}`
``asinh``          :math:`\operatorname{asinh} v`          :math:`\sinh v`
``halfcube``       :math:`\mathrm{sign}(v)|v|^{3/2}`       :math:`\mathrm{sign}(v)|v|^{2/3}`
``uniform_margins`` :math:`\Phi(v)` (standard normal CDF)  :math:`\Phi^{-1}(u)`
``random_linear``  :math:`A v`, A a fixed random matrix    :math:`A^{-1} v`
================== ====================================== =====================================

All are strictly increasing (or invertible linear) and smooth away from 0; ``cubic`` and
``halfcube`` have a zero derivative at 0, a null set, which does not affect the densities'
ratio almost everywhere. ``uniform_margins`` maps the N(0, 1) margins of the Gaussian task to
Uniform(0, 1); in float32, Φ(v) rounds to 1 for v ≳ 5.4 (probability ≈ 3e-8 per coordinate), so
the inverse clamps u into the open interval (0, 1) and the oracle is then evaluated at ≈ 5.3σ
instead of the true value. ``random_linear`` draws :math:`A = U\,\mathrm{diag}(s)\,V^\top` with U,
V Haar-random orthogonal matrices and singular values s log-uniform in [1/2, 2] (condition
number ≤ 4) from a CPU generator seeded with ``matrix_seed``; x and y get different matrices
(A_x is drawn first, then A_y, whatever ``apply_to`` is).

References:
    [1] Czyż et al., Beyond Normal: On the Evaluation of Mutual Information Estimators, 2023,
        arXiv:2306.11078.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import torch
from torch import Tensor

from mibench.core.interface import Batch, Task
from mibench.tasks._validation import validate_choice, validate_int
from mibench.tasks.gaussian import DEFAULT_DIM, DEFAULT_MI, build_gaussian
from mibench.tasks.registry import TaskSpec, register
from mibench.tasks.student_t import DEFAULT_NU, build_student_t

TRANSFORM_NAMES = ("cubic", "asinh", "halfcube", "uniform_margins", "random_linear")
APPLY_TO = ("y", "x", "both")
BASE_TASKS = ("gaussian", "student_t")
DEFAULT_APPLY_TO = "y"
DEFAULT_BASE = "gaussian"
DEFAULT_MATRIX_SEED = 0
SINGULAR_VALUE_RANGE = (0.5, 2.0)
"""Singular values of the random linear maps are log-uniform in this range (condition <= 4)."""


@dataclass(frozen=True, eq=False)
class Transform:
    """An invertible map applied along the last axis: ``forward``, its ``inverse``, a ``formula``."""

    name: str
    forward: Callable[[Tensor], Tensor]
    inverse: Callable[[Tensor], Tensor]
    formula: str


def _signed_power(v: Tensor, exponent: float) -> Tensor:
    return torch.sign(v) * v.abs().pow(exponent)


def _cube(v: Tensor) -> Tensor:
    return v * v * v


def _normal_quantile(u: Tensor) -> Tensor:
    info = torch.finfo(u.dtype)
    # largest float below 1 is 1 - eps/2: keeps Φ⁻¹ finite where Φ(v) rounded to 1 (or to 0)
    return torch.special.ndtri(u.clamp(min=info.tiny, max=1.0 - info.eps / 2))


ELEMENTWISE_TRANSFORMS: Mapping[str, Transform] = {
    "cubic": Transform("cubic", _cube, partial(_signed_power, exponent=1.0 / 3.0), "v^3"),
    "asinh": Transform("asinh", torch.asinh, torch.sinh, "asinh(v)"),
    "halfcube": Transform(
        "halfcube",
        partial(_signed_power, exponent=1.5),
        partial(_signed_power, exponent=2.0 / 3.0),
        "sign(v)|v|^(3/2)",
    ),
    "uniform_margins": Transform(
        "uniform_margins", torch.special.ndtr, _normal_quantile, "Phi(v), the N(0,1) CDF"
    ),
}


def _haar_orthogonal(dim: int, generator: torch.Generator) -> Tensor:
    """Haar-random orthogonal matrix: QR of a Gaussian matrix with the signs of diag(R) fixed."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


def random_invertible_matrix(dim: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``(A, A^{-1})`` in float64 with A = U diag(s) V^T, s log-uniform in :data:`SINGULAR_VALUE_RANGE`."""
    u = _haar_orthogonal(dim, generator)
    v = _haar_orthogonal(dim, generator)
    low, high = (math.log(bound) for bound in SINGULAR_VALUE_RANGE)
    log_s = low + (high - low) * torch.rand(dim, generator=generator, dtype=torch.float64)
    matrix = (u * log_s.exp().unsqueeze(0)) @ v.T
    inverse = (v * (-log_s).exp().unsqueeze(0)) @ u.T
    return matrix, inverse


def _apply_matrix(v: Tensor, matrix: Tensor) -> Tensor:
    """v ↦ A v on the last axis, with A moved to v's dtype and device (d × d: negligible)."""
    return v @ matrix.to(dtype=v.dtype, device=v.device).mT


def random_linear_transforms(
    dim_x: int, dim_y: int, matrix_seed: int
) -> tuple[Transform, Transform]:
    """The fixed random linear maps ``(for x, for y)`` drawn from ``matrix_seed`` (A_x first)."""
    generator = torch.Generator().manual_seed(matrix_seed)
    maps = []
    for dim in (dim_x, dim_y):
        matrix, inverse = random_invertible_matrix(dim, generator)
        maps.append(
            Transform(
                "random_linear",
                partial(_apply_matrix, matrix=matrix),
                partial(_apply_matrix, matrix=inverse),
                f"A v, A = U diag(s) V^T (seed {matrix_seed})",
            )
        )
    return maps[0], maps[1]


def transform_pair(
    name: str, apply_to: str, dim_x: int, dim_y: int, matrix_seed: int = DEFAULT_MATRIX_SEED
) -> tuple[Transform | None, Transform | None]:
    """The ``(transform of x, transform of y)`` that ``name`` and ``apply_to`` ask for (None: identity)."""
    name = validate_choice("transform", name, TRANSFORM_NAMES)
    apply_to = validate_choice("apply_to", apply_to, APPLY_TO)
    if name == "random_linear":
        seed = validate_int("matrix_seed", matrix_seed, minimum=0)
        on_x, on_y = random_linear_transforms(dim_x, dim_y, seed)
    else:
        on_x = on_y = ELEMENTWISE_TRANSFORMS[name]
    return (
        on_x if apply_to in ("x", "both") else None,
        on_y if apply_to in ("y", "both") else None,
    )


def apply_pair(
    x: Tensor, y: Tensor, on_x: Transform | None, on_y: Transform | None
) -> tuple[Tensor, Tensor]:
    """Forward maps (identity where None)."""
    return (x if on_x is None else on_x.forward(x), y if on_y is None else on_y.forward(y))


def invert_pair(
    x: Tensor, y: Tensor, on_x: Transform | None, on_y: Transform | None
) -> tuple[Tensor, Tensor]:
    """Inverse maps (identity where None)."""
    return (x if on_x is None else on_x.inverse(x), y if on_y is None else on_y.inverse(y))


def transform_tag(name: str, apply_to: str, matrix_seed: int | None) -> str:
    """Id prefix: ``cubic``, ``cubic-both``, ``random_linear-seed3-x`` ..."""
    tag = name if matrix_seed is None else f"{name}-seed{matrix_seed}"
    return tag if apply_to == DEFAULT_APPLY_TO else f"{tag}-{apply_to}"


@dataclass(frozen=True, eq=False)
class TransformedTask:
    """``base`` with invertible maps on x and/or y: same MI, derived id, oracle via the inverse."""

    base: Any  # a Task with f_mi (GaussianTask or StudentTTask)
    transform_x: Transform | None
    transform_y: Transform | None
    name: str
    tag: str
    params: Mapping[str, Any] = field(default_factory=dict)
    target: Literal["mi", "kl"] = "mi"

    @property
    def id(self) -> str:
        return f"{self.tag}-{self.base.id}"

    @property
    def dim_x(self) -> int:
        return int(self.base.dim_x)

    @property
    def dim_y(self) -> int:
        return int(self.base.dim_y)

    def true_mi(self, step: int = 0) -> float:
        """The base task's MI (invariant, see the module docstring)."""
        return float(self.base.true_mi(step))

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """A base draw pushed through the forward maps."""
        batch = self.base.sample(n, generator, steps=steps, dtype=dtype)
        x, y = apply_pair(batch.x, batch.y, self.transform_x, self.transform_y)
        return Batch(x=x, y=y, labels=batch.labels)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """Base oracle at the inverse maps (the Jacobians cancel in the ratio)."""
        x0, y0 = invert_pair(x, y, self.transform_x, self.transform_y)
        return self.base.log_ratio(x0, y0, steps=steps)

    def entropy_y(self) -> float | None:
        """The base task's H(Y) when y is untransformed; None when a map acts on y.

        A map h on y changes the differential entropy by E log|det J_h(Y)| (for ``cubic``
        d(log 3 − γ − log 2), for instance), which is not given here, so the tasks that need
        H(Y) (Barber–Agakov) skip these.
        """
        entropy = getattr(self.base, "entropy_y", None)
        return entropy() if entropy is not None and self.transform_y is None else None

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """The base task's f-MI (f-divergences are invariant under the bijection)."""
        return self.base.f_mi(name, step=step, alpha=alpha)

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        return self.base.f_mi_standard_error(name, step=step, alpha=alpha)


def transform_task(
    base: Task,
    name: str,
    *,
    apply_to: str = DEFAULT_APPLY_TO,
    matrix_seed: int = DEFAULT_MATRIX_SEED,
) -> TransformedTask:
    """Wrap ``base`` in the transform ``name`` applied to ``apply_to`` (bmi-style task -> task)."""
    on_x, on_y = transform_pair(name, apply_to, int(base.dim_x), int(base.dim_y), matrix_seed)
    seed = matrix_seed if name == "random_linear" else None
    extra: dict[str, Any] = {"transform": name, "apply_to": apply_to, "base": base.name}
    if seed is not None:
        extra["matrix_seed"] = seed
    return TransformedTask(
        base=base,
        transform_x=on_x,
        transform_y=on_y,
        name=name,
        tag=transform_tag(name, apply_to, seed),
        params={**base.params, **extra},
    )


def _build_base(base: str, dim: int, mi: float | None, rho: float | None, nu: float | None) -> Task:
    base = validate_choice("base", base, BASE_TASKS)
    if base == "gaussian":
        if nu is not None:
            raise ValueError(
                f"nu applies only to base='student_t'; got nu={nu!r} with base='gaussian'"
            )
        return build_gaussian(dim=dim, mi=mi, rho=rho)
    return build_student_t(dim=dim, nu=DEFAULT_NU if nu is None else nu, mi=mi, rho=rho)


def _builder(name: str) -> Callable[..., TransformedTask]:
    def build(
        dim: int = DEFAULT_DIM,
        mi: float | None = DEFAULT_MI,
        rho: float | None = None,
        apply_to: str = DEFAULT_APPLY_TO,
        base: str = DEFAULT_BASE,
        nu: float | None = None,
        matrix_seed: int = DEFAULT_MATRIX_SEED,
    ) -> TransformedTask:
        if name == "uniform_margins" and base != "gaussian":
            raise ValueError(
                f"uniform_margins needs base='gaussian' (Phi is the CDF of its N(0,1) margins); got {base!r}"
            )
        return transform_task(
            _build_base(base, dim, mi, rho, nu), name, apply_to=apply_to, matrix_seed=matrix_seed
        )

    build.__doc__ = f"Build the ``{name}`` transform of a gaussian (or student_t) base task."
    return build


for _name in TRANSFORM_NAMES:
    _defaults: dict[str, Any] = {
        "dim": DEFAULT_DIM,
        "mi": DEFAULT_MI,
        "rho": None,
        "apply_to": DEFAULT_APPLY_TO,
        "base": DEFAULT_BASE,
        "nu": None,
    }
    if _name == "random_linear":
        _defaults["matrix_seed"] = DEFAULT_MATRIX_SEED
        _formula = "A v, A = U diag(s) V^T fixed random invertible (seeded), s in [1/2, 2]"
    else:
        _formula = ELEMENTWISE_TRANSFORMS[_name].formula
    register(
        TaskSpec(
            name=_name,
            build=_builder(_name),
            defaults=_defaults,
            description=(
                f"{_formula} applied to y, x or both of a gaussian (or student_t) base; "
                "invertible, so MI and f-MI are unchanged."
            ),
            truth_source=(
                "the base task's truth (invariance of MI under bijections of x and y; "
                "oracle = base oracle at the inverse map)"
            ),
        )
    )
