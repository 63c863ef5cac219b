r"""Concatenation critic: one MLP on the joint input [x, y], evaluated on all K² pairs."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mibench.critics.base import (
    DEFAULT_ACTIVATION,
    DEFAULT_HIDDEN,
    ParameterFactory,
    StackedMLP,
    as_hidden,
    param_checks,
)
from mibench.critics.registry import Critic, CriticSpec, register
from mibench.critics.tiled import tiled_pair_scores

# Without gradients (evaluation batches of 4K), score rows are produced in chunks so the hidden
# activations (R x rows x K x width) stay under this many elements (512 MiB in float32).
NO_GRAD_CHUNK_ELEMENTS = 2**27
# Pair activations larger than this (R x K x K' x width elements) go through the tiled, recomputing
# path of mibench.critics.tiled (training and evaluation); smaller ones (tests, tiny suites) through
# plain autograd, which is as fast when everything already fits in cache. CPU only: a GPU has the
# bandwidth for the plain path, and cache-sized tiles would turn one kernel into hundreds.
TILED_MIN_ELEMENTS = 2**20


class ConcatCritic(Critic):
    r"""Concat critic g(x, y) = MLP([x; y]) over every (x_i, y_j) pair.

    .. math::  S[r, i, j] = \mathrm{MLP}_r\big([x_i; y_j]\big)

    Implements the concatenated critic of Sec. 4 of [1] (K² network evaluations). The first layer
    is evaluated as x_i W_x + (y_j W_y + b) — the row-blocked split of W — so its cost is 2K
    products; the remaining layers run on all K² pairs.

    References:
        [1] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
    """

    name = "concat"

    def __init__(
        self, dim_x: int, dim_y: int, *, factory: ParameterFactory, hidden: Any, activation: str
    ) -> None:
        super().__init__(n_runs=factory.n_runs)
        hidden = as_hidden(hidden)
        self.mlp = StackedMLP.build(
            (dim_x + dim_y, *hidden, 1), activation=activation, factory=factory
        )

    def parameters(self) -> list[Tensor]:
        return self.mlp.parameters()

    @property
    def architecture(self) -> str:
        return f"concat MLP([x; y]): {self.mlp.describe()}"

    def scores(self, x: Tensor, y: Tensor) -> Tensor:
        R, n_rows, n_cols = x.shape[0], x.shape[1], y.shape[1]
        width = max(self.mlp.sizes[1:])
        large = R * n_rows * n_cols * width >= TILED_MIN_ELEMENTS
        if large and x.device.type == "cpu" and len(self.mlp.weights) > 1:
            mlp = self.mlp
            pre_x, pre_y = mlp.first_layer_split(x, y)
            return tiled_pair_scores(pre_x, pre_y, mlp.weights[1:], mlp.biases[1:], mlp.activation)
        per_row = R * n_cols * width
        if torch.is_grad_enabled() or n_rows * per_row <= NO_GRAD_CHUNK_ELEMENTS:
            return self._scores(x, y)
        step = max(1, NO_GRAD_CHUNK_ELEMENTS // per_row)
        return torch.cat([self._scores(x[:, a : a + step], y) for a in range(0, n_rows, step)], 1)

    def _scores(self, x: Tensor, y: Tensor) -> Tensor:
        R, n_rows, n_cols = x.shape[0], x.shape[1], y.shape[1]
        pre_x, pre_y = self.mlp.first_layer_split(x, y)
        pre = pre_x.unsqueeze(2) + pre_y.unsqueeze(1)  # (R, rows, cols, h1), not a view
        return self.mlp.forward_from_first(pre).reshape(R, n_rows, n_cols)

    def paired_scores(self, x: Tensor, y: Tensor) -> Tensor:
        return self.mlp.forward(torch.cat([x, y], dim=-1)).squeeze(-1)


register(
    CriticSpec(
        name="concat",
        build=ConcatCritic,
        defaults={"hidden": DEFAULT_HIDDEN, "activation": DEFAULT_ACTIVATION},
        param_checks=param_checks(("hidden", "activation")),
        description="MLP on [x; y] for all K^2 pairs (first layer split: 2K products).",
        citation="Poole et al. 2019, On Variational Bounds of MI, arXiv:1905.06922, Sec. 4",
    )
)
