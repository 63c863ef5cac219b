"""Small numerical helpers shared by the claim modules (tolerances, gradients, summaries)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

FLOAT64_EPS = torch.finfo(torch.float64).eps
#: Rounding budget of a float64 identity, in units of eps times the largest |score| of a matrix.
#: Every reduction here is a max-subtracted log-sum-exp or a mean over at most 64 x 64 entries:
#: each row contributes a few ulps of the largest score and the means add at most K ulps more,
#: so 256 ulps bounds the rounding of K <= 64 matrices with margin while staying below 1e-9
#: even for scores of magnitude 1e4.
ROUNDING_ULPS = 256


def rounding_tolerance(scores: Tensor, ulps: int = ROUNDING_ULPS) -> Tensor:
    """``(...)``: ``ulps * eps * (1 + max |S|)`` per matrix (the float64 rounding budget)."""
    finite = torch.where(scores.isfinite(), scores, torch.zeros_like(scores))
    return ulps * FLOAT64_EPS * (1.0 + finite.abs().amax(dim=(-2, -1)))


def gradient(fn: Callable[[Tensor], Tensor], scores: Tensor) -> Tensor:
    """d(sum of ``fn(S)``)/dS for a stack of matrices: each run's own gradient, same shape as S."""
    leaf = scores.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(leaf).sum(), leaf)
    return grad


@dataclass
class Worst:
    """Tracks the largest violation ``measured - allowed`` over named families of matrices."""

    label: str = ""
    measured: float = -math.inf
    allowed: float = math.nan
    margin: float = -math.inf  # measured - allowed; > 0 means a violation
    violations: int = 0
    checked: int = 0

    def update(self, label: str, measured: Tensor, allowed: Tensor | float) -> None:
        """Record a family: ``measured`` must be <= ``allowed`` (NaN counts as a violation)."""
        allowed_t = torch.as_tensor(allowed, dtype=torch.float64)
        allowed_t = allowed_t.expand_as(measured).flatten()
        measured = measured.detach().double().flatten()
        margin = torch.where(
            measured.isnan(), torch.full_like(measured, math.inf), measured - allowed_t
        )
        self.checked += measured.numel()
        self.violations += int((~(measured <= allowed_t)).sum())
        k = int(margin.argmax())
        if float(margin[k]) > self.margin:
            self.label = label
            self.measured = float(measured[k])
            self.allowed = float(allowed_t[k])
            self.margin = float(margin[k])

    @property
    def ok(self) -> bool:
        return self.checked > 0 and self.violations == 0


def standard_error(values: Tensor) -> float:
    """Standard error of the mean of i.i.d. ``values`` (unbiased variance)."""
    n = values.numel()
    return float(values.double().std(unbiased=True) / math.sqrt(n)) if n > 1 else math.inf
