r"""Dual (second) critic heads for estimators whose spec lists ``"dual"`` in ``needs``.

``spec.dual_of`` says what the head reads:

* ``"x"``: a(x_i), the log-baseline of TUBA ([1], Eq. (9));
* ``"y"``: q(y_j), the learned baseline of the interpolated bound I_α ([1], Eq. (11));
* ``"pair"``: u(x_i, y_i), the dual critic of FLO ([2], Eq. (24)-(25), Prop. S6);
* ``"y_density"``: log q(y_j) of a *normalised* marginal model, the diagonal Gaussian
  q(y) = N(m, diag s²) with learned m and log s (initialised at 0, i.e. N(0, I)), the second
  density model of the difference-of-entropies estimator ([3] §6).

A head is a separate stacked MLP ``input -> hidden -> 1`` (default hidden = the main critic's
default (256, 256), ReLU) returning ``(R, K)`` (the ``y_density`` head: 2 d_y parameters per run
instead); its parameters are drawn from a generator of their own, so adding a head never changes
the main critic's initialisation.

References:
    [1] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
    [2] Chen et al., Simpler, Faster, Stronger: Breaking the log-K Curse on Contrastive Learners
        with FlatNCE, 2021, arXiv:2107.01152.
    [3] McAllester & Stratos, Formal Limitations on the Measurement of Mutual Information,
        2020, arXiv:1811.04251.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from mibench.critics.base import (
    DEFAULT_ACTIVATION,
    DEFAULT_HIDDEN,
    ParameterFactory,
    StackedMLP,
    as_hidden,
)

DUAL_KINDS = ("x", "y", "pair", "y_density")
LOG_2PI = math.log(2.0 * math.pi)


def head_inputs(kind: str, x: Tensor, y: Tensor | None) -> Tensor:
    """What an MLP head of ``kind`` reads: x, y or the pair [x; y], ``(R, K, width)``."""
    if kind == "x":
        return x
    if y is None:
        raise ValueError(f"dual head {kind!r} needs y")
    return y if kind == "y" else torch.cat([x, y], dim=-1)


class DualHead:
    """A stacked scalar head on x, on y or on the pair [x; y] (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        dim_x: int,
        dim_y: int,
        *,
        generators: Sequence[torch.Generator],
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        hidden: Any = DEFAULT_HIDDEN,
        activation: str = DEFAULT_ACTIVATION,
    ) -> None:
        if kind not in DUAL_KINDS:
            raise ValueError(f"unknown dual head {kind!r}; valid choices: {', '.join(DUAL_KINDS)}")
        self.kind = kind
        factory = ParameterFactory(generators, dtype=dtype, device=torch.device(device))
        self.n_runs = factory.n_runs
        self.mlp: StackedMLP | None = None
        self.density: tuple[Tensor, ...] = ()
        if kind == "y_density":
            # (mean, log-scale), each (R, 1, dim_y): q(y) = N(0, I) at initialisation.
            self.density = (
                factory.constant((1, dim_y), 0.0),
                factory.constant((1, dim_y), 0.0),
            )
            return
        dim_in = {"x": dim_x, "y": dim_y, "pair": dim_x + dim_y}[kind]
        self.mlp = StackedMLP.build(
            (dim_in, *as_hidden(hidden), 1), activation=activation, factory=factory
        )

    def parameters(self) -> list[Tensor]:
        return list(self.density) if self.mlp is None else self.mlp.parameters()

    @property
    def n_parameters(self) -> int:
        if self.mlp is None:
            return sum(p[0].numel() for p in self.density)
        return StackedMLP.count(self.mlp.sizes)

    @property
    def architecture(self) -> str:
        if self.mlp is None:
            return "dual log q(y_j): diagonal Gaussian N(m, diag s^2), learned m and log s"
        reads = {"x": "a(x_i)", "y": "q(y_j)", "pair": "u(x_i, y_i)"}[self.kind]
        return f"dual {reads}: {self.mlp.describe()}"

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        """``(R, K, dim_x), (R, K, dim_y) -> (R, K)``."""
        if self.mlp is None:
            if y is None:
                raise ValueError(f"dual head {self.kind!r} needs y")
            mean, log_scale = self.density
            standardised = (y - mean) * torch.exp(-log_scale)
            return (-0.5 * LOG_2PI - log_scale - 0.5 * standardised.square()).sum(dim=-1)
        return self.evaluate(head_inputs(self.kind, x, y))

    def evaluate(self, inputs: Tensor) -> Tensor:
        """The MLP head on its inputs ``(R, K, width)`` (see :func:`head_inputs`) ``-> (R, K)``."""
        if self.mlp is None:
            raise ValueError("the y_density head is not an MLP; call forward")
        if self.n_runs == 1:
            return self._lone_forward(inputs).squeeze(-1)
        return self.mlp.forward(inputs).squeeze(-1)

    @staticmethod
    def joinable(heads: Sequence[DualHead]) -> bool:
        """Whether ``heads`` are MLP heads of one architecture (sizes, input width included, and
        activation): what :meth:`joined` serves in one pass."""
        first = heads[0].mlp
        return first is not None and all(
            h.mlp is not None
            and h.mlp.sizes == first.sizes
            and h.mlp.activation == first.activation
            for h in heads
        )

    @classmethod
    def joined(cls, heads: Sequence[DualHead]) -> DualHead:
        """One MLP head serving the runs of ``heads`` in order (kinds with one input width and one
        architecture, e.g. TUBA's a(x) and I_alpha's q(y) when d_x = d_y).

        Its leaves are fresh copies of the heads' leaves concatenated on the run axis, so every run
        keeps the parameters its own generator drew; :meth:`evaluate` then serves all of them with
        one batched pass (one run's rows of a batched matmul are the same numbers in any batch of
        two or more runs, which is also how a lone head is evaluated: :meth:`_lone_forward`).
        """
        if not cls.joinable(heads):
            raise ValueError("only MLP heads of one architecture can be joined")
        first = heads[0].mlp
        assert first is not None  # joinable: every head is an MLP
        joined = cls.__new__(cls)
        joined.kind = "+".join(h.kind for h in heads)
        joined.n_runs = sum(h.n_runs for h in heads)
        joined.density = ()

        def cat(layers: Sequence[Tensor]) -> Tensor:
            return torch.cat([layer.detach() for layer in layers]).requires_grad_(True)

        joined.mlp = StackedMLP(
            sizes=first.sizes,
            activation=first.activation,
            weights=[cat([h.mlp.weights[i] for h in heads]) for i in range(len(first.weights))],
            biases=[cat([h.mlp.biases[i] for h in heads]) for i in range(len(first.biases))],
        )
        return joined

    def _lone_forward(self, inputs: Tensor) -> Tensor:
        """The forward of a head that serves one run, computed as a batch of two equal copies.

        A run's head must give the same bits whether it serves one run or several: with one
        run, each layer would be a single BLAS call, which the BLAS threads and computes with a
        matrix-vector kernel for the width-1 output, in another summation order than a batched
        matmul's per-run product. The copies are stride-0 views, so the gradient of the unused
        copy is exactly zero and the parameters' gradient is the first copy's, bit for bit.
        """
        mlp = self.mlp
        pair = StackedMLP(
            sizes=mlp.sizes,
            activation=mlp.activation,
            weights=[w.expand(2, -1, -1) for w in mlp.weights],
            biases=[b.expand(2, -1, -1) for b in mlp.biases],
        )
        return pair.forward(inputs.expand(2, -1, -1))[:1]
