r"""Staircase schedule: the MI level steps up every ``steps_per_level`` training steps.

In the staircase experiment of Poole et al. [1] each estimator trains for 20 000 steps on a
20-dimensional correlated Gaussian whose MI rises 2 → 4 → 6 → 8 → 10 nats, one level every 4 000 steps, and plot the
estimate against the staircase of true values. At step t the task is the Gaussian task (or one of
its MI-preserving transforms) at level

.. math::  \ell(t) = \min\big(\lfloor t / N \rfloor,\ L - 1\big),\qquad
           I(t) = \text{levels}[\ell(t)],\qquad \rho(t) = \sqrt{1 - e^{-2 I(t)/d}},

with N = ``steps_per_level`` and L levels; steps past the last level stay on it (and negative
steps count as level 0). ``sample(n, g, steps=steps)`` gathers one ρ per sample from the ``(n,)``
step tensor, so a block of T steps × K pairs is one vectorised draw; ``steps=None`` means step
0. The oracle ``log_ratio(x, y, steps=...)`` takes a ``steps`` tensor broadcasting against the
leading axes of x and y (a 0-d tensor for one training step's K × K score matrix, ``(K, 1)`` for
per-row steps).

References:
    [1] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from mibench.core.interface import Batch
from mibench.tasks._validation import validate_choice, validate_dim, validate_int, validate_mi
from mibench.tasks.f_information import gaussian_f_mi
from mibench.tasks.gaussian import (
    gaussian_entropy,
    gaussian_log_ratio,
    rho_from_mi,
    sample_correlated_gaussian,
)
from mibench.tasks.registry import TaskSpec, register
from mibench.tasks.sliced_truth import gaussian_sliced_mi
from mibench.tasks.transforms import (
    APPLY_TO,
    DEFAULT_APPLY_TO,
    DEFAULT_MATRIX_SEED,
    TRANSFORM_NAMES,
    Transform,
    apply_pair,
    invert_pair,
    transform_pair,
    transform_tag,
)

DEFAULT_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
"""Poole et al. 2019, staircase experiment: MI levels in nats."""

DEFAULT_STEPS_PER_LEVEL = 4000
"""Poole et al. 2019: 20 000 steps over 5 levels."""

DEFAULT_DIM = 20
STAIRCASE_BASES = ("gaussian", *TRANSFORM_NAMES)


class Segment(NamedTuple):
    """One level of the schedule: steps ``[start, end)`` at ``true_mi`` nats."""

    start: int
    end: int
    true_mi: float


@dataclass(frozen=True, eq=False)
class StaircaseTask:
    """Gaussian (or transformed Gaussian) task whose MI follows ``levels``, one every N steps."""

    levels: tuple[float, ...]
    steps_per_level: int
    dim: int
    base: str = "gaussian"
    transform_x: Transform | None = None
    transform_y: Transform | None = None
    tag: str = "gaussian"
    name: str = "staircase"
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        levels = "_".join(f"{level:g}" for level in self.levels)
        return f"staircase-{self.tag}-d{self.dim}-mi{levels}-every{self.steps_per_level}"

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return self.dim

    @cached_property
    def rhos(self) -> tuple[float, ...]:
        """Per-level correlation ρ = sqrt(1 - exp(-2 I / d))."""
        return tuple(rho_from_mi(level, self.dim) for level in self.levels)

    @property
    def n_steps(self) -> int:
        """Steps until the last level ends (L × N)."""
        return len(self.levels) * self.steps_per_level

    def level_index(self, step: int | Tensor) -> int | Tensor:
        """ℓ(t) = min(⌊t/N⌋, L − 1), clamped at 0; an int for an int, an int64 tensor for a tensor."""
        if isinstance(step, Tensor):
            return self._level_tensor(step)
        return self._level(step)

    def _level(self, step: int) -> int:
        return min(max(int(step) // self.steps_per_level, 0), len(self.levels) - 1)

    def _level_tensor(self, steps: Tensor) -> Tensor:
        last = len(self.levels) - 1
        return torch.div(steps, self.steps_per_level, rounding_mode="floor").clamp(0, last).long()

    def segments(self, n_steps: int | None = None) -> tuple[Segment, ...]:
        """``(start, end, true_mi)`` per level over ``[0, n_steps)`` (default L × N).

        A longer run extends the last segment; a shorter one drops or truncates later ones.
        """
        total = self.n_steps if n_steps is None else validate_int("n_steps", n_steps, minimum=1)
        out = []
        for index, level in enumerate(self.levels):
            start = index * self.steps_per_level
            end = (
                total
                if index == len(self.levels) - 1
                else min((index + 1) * self.steps_per_level, total)
            )
            if start >= total:
                break
            out.append(Segment(start, end, level))
        return tuple(out)

    def true_mi(self, step: int = 0) -> float:
        """levels[ℓ(step)] nats."""
        return self.levels[self._level(step)]

    def _rho_per_sample(
        self, steps: Tensor | None, dtype: torch.dtype, device: torch.device
    ) -> Tensor | float:
        table = torch.tensor(self.rhos, dtype=dtype, device=device)
        if steps is None:
            return self.rhos[0]
        return table[self._level_tensor(steps.to(device))].unsqueeze(-1)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """``n`` pairs; sample i is drawn at the level of ``steps[i]`` (``(n,)`` int64; None: step 0)."""
        if steps is not None and steps.shape != (n,):
            raise ValueError(f"steps must have shape ({n},), got {tuple(steps.shape)}")
        rho = self._rho_per_sample(steps, dtype, generator.device)
        x, y = sample_correlated_gaussian(n, self.dim, rho, generator, dtype=dtype)
        x, y = apply_pair(x, y, self.transform_x, self.transform_y)
        return Batch(x=x, y=y)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """Oracle critic at each sample's level; ``steps`` broadcasts against the leading axes."""
        x0, y0 = invert_pair(x, y, self.transform_x, self.transform_y)
        rho = self._rho_per_sample(steps, x0.dtype, x0.device)
        return gaussian_log_ratio(x0, y0, rho)

    def sliced_mi(self, step: int = 0, *, slice_dim: int = 1) -> float | None:
        """k-sliced MI at the level of ``step`` for the Gaussian staircase; None under a
        transform (sliced MI is not invariant under nonlinear maps)."""
        if self.transform_x is not None or self.transform_y is not None:
            return None
        return gaussian_sliced_mi(self.rhos[self._level(step)], self.dim, slice_dim).value

    def entropy_y(self) -> float | None:
        """H(Y) = (d/2) log(2πe) at every level (y ~ N(0, I) whatever ρ) when y is untransformed.

        None when a transform acts on y: it changes H(Y) (by E log|det J|), not given here.
        """
        return gaussian_entropy(self.dim) if self.transform_y is None else None

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """The Gaussian f-MI at the level of ``step`` (transforms leave it unchanged)."""
        rho = self.rhos[self._level(step)]
        return gaussian_f_mi(name, rho, self.dim, alpha=alpha).value

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        rho = self.rhos[self._level(step)]
        return gaussian_f_mi(name, rho, self.dim, alpha=alpha).standard_error


def validate_levels(levels: Any) -> tuple[float, ...]:
    """A non-empty sequence of MI levels, each a finite number >= 0 nats."""
    if isinstance(levels, str | bytes) or not isinstance(levels, Sequence) or len(levels) == 0:
        raise ValueError(f"levels must be a non-empty list of numbers >= 0 (nats), got {levels!r}")
    return tuple(validate_mi(level, name="each level") for level in levels)


def build_staircase(
    levels: Sequence[float] = DEFAULT_LEVELS,
    steps_per_level: int = DEFAULT_STEPS_PER_LEVEL,
    dim: int = DEFAULT_DIM,
    base: str = "gaussian",
    apply_to: str = DEFAULT_APPLY_TO,
    matrix_seed: int = DEFAULT_MATRIX_SEED,
) -> StaircaseTask:
    """Validate and build; ``base`` is ``gaussian`` or a transform name applied to ``apply_to``."""
    checked_levels = validate_levels(levels)
    steps_per_level = validate_int("steps_per_level", steps_per_level, minimum=1)
    dim = validate_dim(dim)
    base = validate_choice("base", base, STAIRCASE_BASES)
    apply_to = validate_choice("apply_to", apply_to, APPLY_TO)
    on_x = on_y = None
    tag = "gaussian"
    params: dict[str, Any] = {
        "levels": list(checked_levels),
        "steps_per_level": steps_per_level,
        "dim": dim,
        "base": base,
    }
    if base != "gaussian":
        on_x, on_y = transform_pair(base, apply_to, dim, dim, matrix_seed)
        seed = matrix_seed if base == "random_linear" else None
        tag = transform_tag(base, apply_to, seed)
        params["apply_to"] = apply_to
        if seed is not None:
            params["matrix_seed"] = seed
    return StaircaseTask(
        levels=checked_levels,
        steps_per_level=steps_per_level,
        dim=dim,
        base=base,
        transform_x=on_x,
        transform_y=on_y,
        tag=tag,
        params=params,
    )


register(
    TaskSpec(
        name="staircase",
        build=build_staircase,
        defaults={
            "levels": list(DEFAULT_LEVELS),
            "steps_per_level": DEFAULT_STEPS_PER_LEVEL,
            "dim": DEFAULT_DIM,
            "base": "gaussian",
            "apply_to": DEFAULT_APPLY_TO,
            "matrix_seed": DEFAULT_MATRIX_SEED,
        },
        description=(
            "Gaussian (or a transform of it) whose MI steps through levels every steps_per_level "
            "steps (Poole et al. 2019: 2, 4, 6, 8, 10 nats, 4000 steps each, d = 20)."
        ),
        truth_source="I(t) = levels[min(t // steps_per_level, L-1)]; gaussian formula per level",
    )
)
