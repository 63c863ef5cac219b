r"""Adam over stacked parameters with a per-run learning rate and per-run freezing.

Adam is elementwise, so running it on tensors ``(R, ...)`` is exactly R independent Adams. With
g the gradient, t the step and lr_r the learning rate of run r, each element is updated as

.. math::
    m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
    p \leftarrow p - \mathrm{lr}_r\,\frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}

(Algorithm 1 of [1]; the update of ``torch.optim.Adam``). The update is torch's fused Adam kernel
(``torch._fused_adam_``, the one ``torch.optim.Adam(fused=True)`` runs: one pass over p, g, m, v)
called on each run's rows — views, no copies — with the run's own learning rate. On a GPU it is
called once per run with ``found_inf`` set to the run's "frozen" flag: the kernel reads that flag on
the device and skips the whole update when it is 1, so a diverged run's p, m and v stay bit-for-bit
unchanged (its NaN gradient is never read) without a host synchronisation. On the CPU, where
reading the flags costs nothing, it is called once per learning rate over the rows of the live
runs, and frozen runs are left out of the call. Either way a run's update is the same per-tensor
kernel on the same numbers whichever stack it is in.

References:
    [1] Kingma & Ba, Adam: A Method for Stochastic Optimization, 2015, arXiv:1412.6980.
"""

from __future__ import annotations

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
        lr: learning rate of each of the R runs (host floats: they come from the configs).
        betas, eps: Adam's constants (torch defaults).
        per_run_calls: one kernel call per run with its frozen flag on the device (no host read of
            ``alive``); None: on a GPU only. Both give the same numbers.
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        run_slices: Sequence[slice],
        lr: Sequence[float],
        *,
        betas: tuple[float, float] = DEFAULT_BETAS,
        eps: float = DEFAULT_EPS,
        per_run_calls: bool | None = None,
    ) -> None:
        if len(params) != len(run_slices):
            raise ValueError("one run slice per parameter is required")
        self.params = list(params)
        self.run_slices = list(run_slices)
        self.lr = [float(v) for v in lr]
        self.n_runs = len(self.lr)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.contiguous_format) for p in params]
        self.exp_avg_sq = [
            torch.zeros_like(p, memory_format=torch.contiguous_format) for p in params
        ]
        device = self.params[0].device
        self.per_run_calls = device.type != "cpu" if per_run_calls is None else per_run_calls
        # One step counter shared by all runs (frozen runs never use theirs again).
        self.step_count = torch.zeros((), dtype=torch.float32, device=device)
        self.t = 0  # host copy of the step count
        # members[r]: (leaf index, row within the leaf) for every leaf that holds run r.
        self.members: list[list[tuple[int, int]]] = [[] for _ in range(self.n_runs)]
        for index, span in enumerate(self.run_slices):
            for r in range(span.start, span.stop):
                self.members[r].append((index, r - span.start))
        self._param_rows = self._rows(self.params)
        self._avg_rows = self._rows(self.exp_avg)
        self._sq_rows = self._rows(self.exp_avg_sq)
        # Runs by learning rate, in run order (one kernel call per rate on the CPU: step).
        self.lr_groups: dict[float, list[int]] = {}
        for r, rate in enumerate(self.lr):
            self.lr_groups.setdefault(rate, []).append(r)

    def _rows(self, tensors: Sequence[Tensor]) -> list[list[Tensor]]:
        """Per-run lists of row views of ``tensors`` (one list per run, leaves in order)."""
        rows = [t.unbind(0) for t in tensors]
        return [[rows[i][k] for i, k in self.members[r]] for r in range(self.n_runs)]

    @torch.no_grad()
    def grad_norms(self, grads: Sequence[Tensor]) -> Tensor:
        """``(R,)`` Euclidean norm of each run's whole gradient over all its leaves.

        Each leaf gives its rows' sums of squares in one vectorised row reduction (a leaf's rows
        are runs ``run_slices[l]``); the runs' totals are then accumulated leaf by leaf, in leaf
        order, with elementwise adds. A run's norm is therefore the same sequence of floating-point
        operations whatever its stack: a row reduction depends on that row only, and no reduction
        runs across the run axis (summing a stacked ``(L, R)`` tensor over L took a different
        summation order for R = 1, where the leaves' axis is the contiguous one, than for R > 1).
        12 reduction calls for the Poole critic at any R, instead of one per (run, leaf).
        """
        total = torch.zeros(self.n_runs, dtype=grads[0].dtype, device=grads[0].device)
        for index, span in enumerate(self.run_slices):
            grad = grads[index]
            squares = grad.reshape(grad.shape[0], -1).square().sum(dim=1)
            total[span] += squares
        return total.sqrt()

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor], alive: Tensor) -> None:
        """One update from the leaves' gradients; runs with ``alive[r] == False`` keep p, m, v."""
        self.t += 1
        self.step_count.add_(1.0)
        grad_rows = self._rows(grads)
        if not self.per_run_calls:
            self._step_by_lr(grad_rows, alive.tolist())
            return
        frozen = (~alive).to(torch.float32).unbind(0)
        for r in range(self.n_runs):
            self._fused(grad_rows, [r], lr=self.lr[r], found_inf=frozen[r])

    def _step_by_lr(self, grad_rows: list[list[Tensor]], alive: list[bool]) -> None:
        """On the CPU, where reading ``alive`` costs no device synchronisation: one kernel call per
        learning rate over the row views of every live run (the same per-tensor kernel on the same
        tensors as one call per run; frozen runs are left out). Measured on one thread, 51 runs of
        the default suite's critic: 1.5 ms per step against 1.9 ms for 51 calls."""
        for lr, runs in self.lr_groups.items():
            live = [r for r in runs if alive[r]]
            if live:
                self._fused(grad_rows, live, lr=lr, found_inf=None)

    def _fused(
        self,
        grad_rows: list[list[Tensor]],
        runs: Sequence[int],
        *,
        lr: float,
        found_inf: Tensor | None,
    ) -> None:
        """``torch._fused_adam_`` over the rows of ``runs``, all with learning rate ``lr``."""
        params = [t for r in runs for t in self._param_rows[r]]
        torch._fused_adam_(
            params,
            [t for r in runs for t in grad_rows[r]],
            [t for r in runs for t in self._avg_rows[r]],
            [t for r in runs for t in self._sq_rows[r]],
            [],
            [self.step_count] * len(params),
            lr=lr,
            beta1=self.beta1,
            beta2=self.beta2,
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
            grad_scale=None,
            found_inf=found_inf,
        )

    def state_tensors(self) -> list[Tensor]:
        """Every tensor the optimiser updates (for tests and snapshots)."""
        return [*self.params, *self.exp_avg, *self.exp_avg_sq]
