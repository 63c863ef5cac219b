r"""Adam over stacked parameters with a per-run learning rate and per-run freezing.

Adam is elementwise, so running it on tensors ``(R, ...)`` is exactly R independent Adams. With
g the gradient, t the step and lr_r the learning rate of run r, each element is updated as

.. math::
    m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
    p \leftarrow p - \mathrm{lr}_r\,\frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}

(Algorithm 1 of [1], the update of ``torch.optim.Adam``), evaluated in the algebraically equal form
p -= lr_r (√(1-β₂ᵗ)/(1-β₁ᵗ)) m / (√v + ε√(1-β₂ᵗ)) to save one pass. A frozen (diverged) run's
gradient is replaced by 0 and its decay factors by 1, so its p, m and v stay bit-for-bit unchanged
— with ``torch.where`` on device, no host synchronisation.

References:
    [1] Kingma & Ba, Adam: A Method for Stochastic Optimization, 2015, arXiv:1412.6980.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

DEFAULT_BETAS = (0.9, 0.999)
DEFAULT_EPS = 1e-8


class StackedAdam:
    """Adam for leaves ``(R_l, ...)`` whose rows are runs ``run_slices[l]`` of the stack.

    Args:
        params: leaf tensors; row k of ``params[l]`` belongs to run ``run_slices[l].start + k``.
        run_slices: which stacked runs each leaf covers (contiguous).
        lr: ``(R,)`` learning rate per run.
        betas, eps: Adam's constants (torch defaults).
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        run_slices: Sequence[slice],
        lr: Tensor,
        *,
        betas: tuple[float, float] = DEFAULT_BETAS,
        eps: float = DEFAULT_EPS,
    ) -> None:
        if len(params) != len(run_slices):
            raise ValueError("one run slice per parameter is required")
        self.params = list(params)
        self.run_slices = list(run_slices)
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.contiguous_format) for p in params]
        self.exp_avg_sq = [
            torch.zeros_like(p, memory_format=torch.contiguous_format) for p in params
        ]
        self.t = 0

    def _columns(self, per_run: Tensor) -> list[Tensor]:
        """Per-leaf views of an ``(R,)`` tensor shaped to broadcast against each leaf."""
        return [
            per_run[s].view(-1, *([1] * (p.dim() - 1)))
            for p, s in zip(self.params, self.run_slices, strict=True)
        ]

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor], alive: Tensor) -> None:
        """One update; runs with ``alive[r] == False`` keep p, m, v unchanged."""
        self.t += 1
        bc1 = 1.0 - self.beta1**self.t
        bc2 = 1.0 - self.beta2**self.t
        dtype = self.params[0].dtype
        alive_f = alive.to(dtype)
        alive_cols = self._columns(alive)
        grads = [torch.where(a, g, 0.0) for a, g in zip(alive_cols, grads, strict=True)]
        lerp_w = self._columns(alive_f * (1.0 - self.beta1))
        decay2 = self._columns(torch.full_like(alive_f, self.beta2).masked_fill(~alive, 1.0))
        step = self._columns(self.lr * alive_f * (math.sqrt(bc2) / bc1))
        torch._foreach_lerp_(self.exp_avg, grads, lerp_w)
        torch._foreach_mul_(self.exp_avg_sq, decay2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1.0 - self.beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_add_(denom, self.eps * math.sqrt(bc2))
        update = torch._foreach_mul(self.exp_avg, step)
        torch._foreach_div_(update, denom)
        torch._foreach_sub_(self.params, update)

    def state_tensors(self) -> list[Tensor]:
        """Every tensor the optimiser updates (for tests and snapshots)."""
        return [*self.params, *self.exp_avg, *self.exp_avg_sq]
