r"""BMI's v1 non-Gaussian tasks (Czyż et al. [1], §4 and App. D) with their ground truth.

* ``additive_uniform``: X ~ U(0, 1), Y = X + N with N ~ U(−ε, ε) independent. Then
  I = h(Y) − h(N) with h(N) = log 2ε, and the trapezoidal density of Y gives

  .. math:: I = \varepsilon - \log 2\varepsilon \ (\varepsilon \le \tfrac12), \qquad
            I = \frac1{4\varepsilon} \ (\varepsilon > \tfrac12).

  (For ε ≤ ½ each of the two linear ramps of p_Y, of width 2ε, contributes ε/2 to h(Y) and the
  plateau 0; for ε > ½ the plateau of height 1/2ε and width 2ε − 1 and the two unit-width ramps
  sum to h(Y) = log 2ε + 1/4ε.) Oracle: log p(y|x) − log p_Y(y) with
  p(y|x) = 1[|y − x| ≤ ε]/2ε and p_Y(y) = |[0, 1] ∩ [y − ε, y + ε]|/2ε; it is −∞ off the support.

Every other task here pushes a Gaussian base (X₀, Y₀) through injective maps f, g; by the
change-of-variables argument of :mod:`mibench.tasks.transforms` the MI is the base's, and the
oracle is the base oracle at the inverse maps (for an embedding into a higher dimension, densities
are taken on the image manifold, where the same cancellation holds):

* ``bimodal``: 1 × 1 bivariate normal with correlation ρ; x = F_x⁻¹(Φ(x₀)), y = F_y⁻¹(Φ(y₀)) with
  the mixture CDFs F_x = 0.3 Φ(·) + 0.7 Φ(· − 5), F_y = 0.5 Φ(· + 1) + 0.5 Φ(· − 3), so each margin
  is a two-component Gaussian mixture. I = −½ log(1 − ρ²). The map F⁻¹∘Φ is tabulated on 2¹⁴ + 1
  knots and interpolated linearly (an exact bijection; see :func:`_bimodal_maps`).
* ``wiggly``: the same base with the strictly increasing maps
  f(v) = v + 0.4 sin v + 0.2 sin(1.7 v + 1) + 0.03 sin(3.3 v − 2.5) and
  g(v) = v − 0.4 sin 0.4v + 0.17 sin(1.3 v + 3.5) + 0.02 sin(4.3 v − 2.5)
  (f′ ≥ 1 − 0.4 − 0.34 − 0.099 > 0, g′ ≥ 1 − 0.16 − 0.221 − 0.086 > 0). I = −½ log(1 − ρ²).
* ``swissroll``: the base with uniform margins u = Φ(x₀), v = Φ(y₀); x is the Swiss-roll
  embedding t ↦ (t cos t, t sin t)/21 of t = 1.5π(1 + 2u) into the plane (injective: ‖x‖ = t/21
  is strictly increasing in u), y = v. dim_x = 2, dim_y = 1; I = −½ log(1 − ρ²).
* ``spiral``: the sparse multinormal base (:mod:`mibench.tasks.multinormal`, K = 2 interacting
  pairs of strength λ) with x = R₀₁(s ‖x₀‖²/d) x₀ and y = R₁₂(s ‖y₀‖²/d) y₀, where R_ij(θ) rotates
  the (i, j) coordinate plane by θ (= exp(θ A_ij) for the canonical so(d) generator A_ij) and s is
  ``speed``. A rotation keeps the norm, so the inverse rotates by −θ(‖x‖²): a diffeomorphism. Needs
  d ≥ 3 (y rotates in the plane of coordinates 1 and 2). I = the base's log-det truth.

The constants (mixture weights and offsets, wiggle coefficients, the roll's 1.5π and 21, the
rotation planes) are those of BMI's task definitions, so estimates are comparable with BMI's table.

References:
    [1] Czyż et al., Beyond Normal: On the Evaluation of Mutual Information Estimators, 2023,
        arXiv:2306.11078.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from mibench.core.interface import Batch, Task
from mibench.tasks._validation import validate_int, validate_positive, validate_rho
from mibench.tasks.gaussian import build_gaussian
from mibench.tasks.multinormal import DEFAULT_STRENGTH, build_multinormal_sparse
from mibench.tasks.registry import TaskSpec, register

DEFAULT_EPSILON = 0.1  # BMI uses 0.1 and 0.75
DEFAULT_RHO = 0.75  # BMI's GAUSSIAN_CORRELATION for the 1 x 1 tasks
DEFAULT_SPIRAL_DIM = 3
DEFAULT_SPEED = 1.0
BISECTION_STEPS = 60  # 80 / 2^60 < 1e-16: below float64 resolution of every bracket used here
SWISSROLL_SCALE = 21.0
SWISSROLL_TURNS = 1.5 * math.pi
_MIN_UNIT = 1e-15  # keeps Φ⁻¹ of a clamped probability finite


def _f_mi(task: Any, name: str) -> float | None:
    return task.true_mi() if name == "kl" else None


# --------------------------------------------------------------------------- additive uniform


def additive_uniform_mi(epsilon: float) -> float:
    """ε − log 2ε for ε ≤ ½, 1/(4ε) otherwise (see the module docstring)."""
    return epsilon - math.log(2.0 * epsilon) if epsilon <= 0.5 else 0.25 / epsilon


@dataclass(frozen=True, eq=False)
class AdditiveUniformTask:
    """X ~ U(0, 1), Y = X + U(−ε, ε); see the module docstring."""

    epsilon: float
    name: str = "additive_uniform"
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)
    dim_x: int = 1
    dim_y: int = 1

    @property
    def id(self) -> str:
        return f"additive_uniform-eps{self.epsilon:g}"

    def true_mi(self, step: int = 0) -> float:
        return additive_uniform_mi(self.epsilon)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        device = generator.device
        x = torch.rand(n, 1, generator=generator, dtype=torch.float64, device=device)
        noise = torch.rand(n, 1, generator=generator, dtype=torch.float64, device=device)
        y = x + self.epsilon * (2.0 * noise - 1.0)
        return Batch(x=x.to(dtype), y=y.to(dtype))

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """log p(y|x) − log p_Y(y): −∞ where |y − x| > ε (the pair is impossible)."""
        x, y = x[..., 0].double(), y[..., 0].double()
        eps = self.epsilon
        overlap = (torch.clamp(y + eps, max=1.0) - torch.clamp(y - eps, min=0.0)).clamp(min=0.0)
        inside = (y - x).abs() <= eps
        value = -torch.log(overlap)  # log(1/2ε) − log(overlap/2ε)
        return torch.where(inside, value, torch.full_like(value, -math.inf))

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        return _f_mi(self, name)


def build_additive_uniform(epsilon: float = DEFAULT_EPSILON) -> AdditiveUniformTask:
    epsilon = validate_positive("epsilon", epsilon)
    return AdditiveUniformTask(epsilon=epsilon, params={"epsilon": epsilon})


# --------------------------------------------------------------------------- mapped Gaussians

Map = Callable[[Tensor], Tensor]


@dataclass(frozen=True, eq=False)
class MappedTask:
    """``base`` pushed through injective maps of x and y (float64 inside); truth = the base's."""

    base: Task
    name: str
    forward_x: Map
    inverse_x: Map
    forward_y: Map
    inverse_y: Map
    dim_x: int
    dim_y: int
    params: Mapping[str, Any] = field(default_factory=dict)
    target: Literal["mi", "kl"] = "mi"

    @property
    def id(self) -> str:
        return f"{self.name}-{self.base.id}"

    def true_mi(self, step: int = 0) -> float:
        return float(self.base.true_mi(step))

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        batch = self.base.sample(n, generator, dtype=torch.float64)
        assert batch.y is not None
        return Batch(x=self.forward_x(batch.x).to(dtype), y=self.forward_y(batch.y).to(dtype))

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """The base oracle at the inverse maps."""
        return self.base.log_ratio(self.inverse_x(x.double()), self.inverse_y(y.double()))

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        return _f_mi(self, name)


def increasing_inverse(function: Map, target: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """The v in [low, high] with function(v) = target, for a strictly increasing function."""
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        below = function(middle) < target
        low = torch.where(below, middle, low)
        high = torch.where(below, high, middle)
    return 0.5 * (low + high)


def _normal_quantile(u: Tensor) -> Tensor:
    return torch.special.ndtri(u.clamp(_MIN_UNIT, 1.0 - _MIN_UNIT))


def mixture_normal_score(weights: tuple[float, ...], offsets: tuple[float, ...]) -> Map:
    """v ↦ Φ⁻¹(F(v)) for the mixture CDF F = Σ w_k Φ(v − m_k), accurate in both tails.

    Where F < ½ it is Φ⁻¹(F); elsewhere −Φ⁻¹(1 − F) with 1 − F = Σ w_k Φ(m_k − v) computed directly.
    """

    def score(v: Tensor) -> Tensor:
        lower = sum(w * torch.special.ndtr(v - m) for w, m in zip(weights, offsets, strict=True))
        upper = sum(w * torch.special.ndtr(m - v) for w, m in zip(weights, offsets, strict=True))
        return torch.where(lower < 0.5, torch.special.ndtri(lower), -torch.special.ndtri(upper))

    return score


BIMODAL_X = ((0.3, 0.7), (0.0, 5.0))  # weights, component means of x's margin
BIMODAL_Y = ((0.5, 0.5), (-1.0, 3.0))
_BRACKET = 40.0  # |Φ⁻¹| < 9 in float64, so every mixture quantile lies within ±(9 + 5) of 0
QUANTILE_KNOTS = (
    2**14 + 1
)  # knots of the tabulated quantile map on [−QUANTILE_RANGE, QUANTILE_RANGE]
QUANTILE_RANGE = 9.0  # P(|N(0, 1)| > 9) ≈ 2e-19


def piecewise_linear(knots_in: Tensor, knots_out: Tensor) -> Map:
    """The increasing piecewise-linear map through the knots, extended linearly past both ends."""

    def apply(v: Tensor) -> Tensor:
        grid_in, grid_out = knots_in.to(v), knots_out.to(v)
        index = torch.searchsorted(grid_in, v.contiguous()).clamp(1, len(grid_in) - 1)
        left_in, right_in = grid_in[index - 1], grid_in[index]
        left_out, right_out = grid_out[index - 1], grid_out[index]
        return left_out + (v - left_in) * (right_out - left_out) / (right_in - left_in)

    return apply


def _bimodal_maps(weights: tuple[float, ...], offsets: tuple[float, ...]) -> tuple[Map, Map]:
    """F⁻¹∘Φ tabulated: exact at the knots (bisection), linear between them.

    A strictly increasing piecewise-linear map is a bijection whose inverse is the same table
    read the other way, so the MI is preserved exactly and the oracle stays exact; the margin
    differs from the mixture by the interpolation error (< 1e-5 on the normal-score scale), and sampling costs
    a table look-up instead of a bisection per draw.
    """
    score = mixture_normal_score(weights, offsets)
    knots = torch.linspace(-QUANTILE_RANGE, QUANTILE_RANGE, QUANTILE_KNOTS, dtype=torch.float64)
    bracket = torch.full_like(knots, _BRACKET)
    quantiles = increasing_inverse(score, knots, -bracket, bracket)
    return piecewise_linear(knots, quantiles), piecewise_linear(quantiles, knots)


def wiggle_x(v: Tensor) -> Tensor:
    return v + 0.4 * torch.sin(v) + 0.2 * torch.sin(1.7 * v + 1) + 0.03 * torch.sin(3.3 * v - 2.5)


def wiggle_y(v: Tensor) -> Tensor:
    return (
        v - 0.4 * torch.sin(0.4 * v) + 0.17 * torch.sin(1.3 * v + 3.5)
        + 0.02 * torch.sin(4.3 * v - 2.5)
    )  # fmt: skip


WIGGLE_REACH = 1.0  # |wiggle(v) − v| <= 0.63 (x) or 0.59 (y): the inverse lies within ±1 of v


def _inverse_of(function: Map) -> Map:
    def inverse(w: Tensor) -> Tensor:
        return increasing_inverse(function, w, w - WIGGLE_REACH, w + WIGGLE_REACH)

    return inverse


def swissroll_embed(v: Tensor) -> Tensor:
    """(n, 1) Gaussian coordinate -> (n, 2): u = Φ(v), t = 1.5π(1 + 2u), (t cos t, t sin t)/21."""
    t = SWISSROLL_TURNS * (1.0 + 2.0 * torch.special.ndtr(v))
    return torch.cat([t * torch.cos(t), t * torch.sin(t)], dim=-1) / SWISSROLL_SCALE


def swissroll_unembed(point: Tensor) -> Tensor:
    """Inverse on the roll: t = 21‖x‖, u = (t/1.5π − 1)/2, v = Φ⁻¹(u); shape (..., 1)."""
    t = SWISSROLL_SCALE * torch.linalg.vector_norm(point, dim=-1, keepdim=True)
    return _normal_quantile((t / SWISSROLL_TURNS - 1.0) / 2.0)


def _uniform(v: Tensor) -> Tensor:
    return torch.special.ndtr(v)


def plane_spiral(first: int, second: int, speed: float, *, inverse: bool = False) -> Map:
    """v ↦ R(±speed ‖v‖²) v, R rotating coordinates (first, second) (exp of the so(d) generator)."""

    def spiral(v: Tensor) -> Tensor:
        angle = speed * v.square().sum(dim=-1)
        angle = -angle if inverse else angle
        a, b = v[..., first], v[..., second]
        out = v.clone()
        out[..., first] = torch.cos(angle) * a - torch.sin(angle) * b
        out[..., second] = torch.sin(angle) * a + torch.cos(angle) * b
        return out

    return spiral


def _base_1x1(rho: Any) -> Task:
    return build_gaussian(dim=1, mi=None, rho=validate_rho(rho))


def _mapped_1x1(
    name: str, rho: Any, x_maps: tuple[Map, Map], y_maps: tuple[Map, Map], *, dim_x: int = 1
) -> MappedTask:
    """The 1x1 normal(rho) with x and y through (forward, inverse) maps; x lands in ``dim_x``
    dimensions (the Swiss roll embeds it in 2)."""
    base = _base_1x1(rho)
    return MappedTask(base, name, *x_maps, *y_maps, dim_x, 1, params={"rho": float(rho)})


def build_bimodal(rho: float = DEFAULT_RHO) -> MappedTask:
    return _mapped_1x1("bimodal", rho, _bimodal_maps(*BIMODAL_X), _bimodal_maps(*BIMODAL_Y))


def build_wiggly(rho: float = DEFAULT_RHO) -> MappedTask:
    x_maps, y_maps = (wiggle_x, _inverse_of(wiggle_x)), (wiggle_y, _inverse_of(wiggle_y))
    return _mapped_1x1("wiggly", rho, x_maps, y_maps)


def build_swissroll(rho: float = DEFAULT_RHO) -> MappedTask:
    x_maps = (swissroll_embed, swissroll_unembed)
    return _mapped_1x1("swissroll", rho, x_maps, (_uniform, _normal_quantile), dim_x=2)


def build_spiral(
    dim: int = DEFAULT_SPIRAL_DIM, speed: float = DEFAULT_SPEED, strength: float = DEFAULT_STRENGTH
) -> MappedTask:
    dim = validate_int("dim", dim, minimum=DEFAULT_SPIRAL_DIM)
    speed = validate_positive("speed", speed)
    base = build_multinormal_sparse(dim_x=dim, dim_y=dim, n_interacting=2, strength=strength)
    per_dim = speed / dim  # BMI normalises the speed by the dimension
    return MappedTask(
        base,
        "spiral",
        plane_spiral(0, 1, per_dim),
        plane_spiral(0, 1, per_dim, inverse=True),
        plane_spiral(1, 2, per_dim),
        plane_spiral(1, 2, per_dim, inverse=True),
        dim,
        dim,
        params={"dim": dim, "speed": speed, "strength": float(strength)},
    )


_INVARIANCE = "the base's truth (MI is invariant under injective smooth maps of x and of y)"
register(
    TaskSpec(
        name="additive_uniform",
        build=build_additive_uniform,
        defaults={"epsilon": DEFAULT_EPSILON},
        description="X ~ U(0,1), Y = X + U(-epsilon, epsilon) (BMI 1x1 additive noise)",
        truth_source="I = eps - log(2 eps) for eps <= 1/2, 1/(4 eps) otherwise (closed form)",
    )
)
_MAPPED_1X1 = (  # name, builder, description: each a 1x1 normal(rho) through injective maps
    ("bimodal", build_bimodal,
     "1x1 normal(rho) with margins mapped to two-component Gaussian mixtures (BMI)"),
    ("wiggly", build_wiggly, "1x1 normal(rho) through BMI's increasing 'wiggly' sine maps"),
    ("swissroll", build_swissroll,
     "uniform-margin 1x1 normal(rho); x embedded as a Swiss roll in 2-d (BMI 2x1)"),
)  # fmt: skip
for _name, _build, _description in _MAPPED_1X1:
    register(
        TaskSpec(
            name=_name,
            build=_build,
            defaults={"rho": DEFAULT_RHO},
            description=_description,
            truth_source=f"-1/2 log(1 - rho^2), {_INVARIANCE}",
        )
    )
register(
    TaskSpec(
        name="spiral",
        build=build_spiral,
        defaults={"dim": DEFAULT_SPIRAL_DIM, "speed": DEFAULT_SPEED, "strength": DEFAULT_STRENGTH},
        description="2-pair sparse multinormal d x d, each side rotated by an angle speed*|v|^2/d",
        truth_source=f"log-det truth of the multinormal base, {_INVARIANCE}",
    )
)
