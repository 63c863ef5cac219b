r"""Stacked building blocks shared by every critic: parameters with a leading run axis.

Every trainable tensor of a critic has shape ``(R, a, b)``: row ``r`` belongs to run ``r`` of a
stack, and nothing in a forward pass mixes rows, so the gradient of the summed per-run losses
with respect to row ``r`` is exactly run ``r``'s own gradient. A fully connected layer of run
``r`` maps ``h_r (n, a)`` to ``h_r W_r + b_r`` and is evaluated for all runs with one
``torch.baddbmm``:

.. math::  H^{(l+1)}[r] = \sigma\big(b^{(l)}[r] + H^{(l)}[r]\, W^{(l)}[r]\big),\qquad
           W^{(l)} \in \mathbb R^{R\times a\times b},\; b^{(l)} \in \mathbb R^{R\times 1\times b}.

Initialisation follows ``torch.nn.Linear`` (weights and biases uniform on
:math:`\pm 1/\sqrt{\text{fan\_in}}`), drawn for each run from *its own* ``torch.Generator``
in a fixed order (in float64, then cast), so a run's initial parameters do not depend on which
stack it is trained in, nor on the training dtype beyond rounding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional

ACTIVATIONS: Mapping[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "elu": functional.elu,
    "gelu": functional.gelu,
    "silu": functional.silu,
    "tanh": torch.tanh,
    "softplus": functional.softplus,
}
# In-place variants, applied to the fresh output of a layer (baddbmm/add do not save their output
# for backward, so overwriting it is safe and saves one allocation and one memory pass per layer).
INPLACE_ACTIVATIONS: Mapping[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu_}
DEFAULT_ACTIVATION = "relu"
# Poole et al. (2019), Sec. 4 / their released notebook: two hidden layers of 256 ReLU units and a
# 32-dimensional embedding for the separable critic.
DEFAULT_HIDDEN: tuple[int, ...] = (256, 256)
DEFAULT_EMBED_DIM = 32
# Norm floor of the L2 normalisation of the cosine/encoder critics (torch.nn.functional.normalize).
NORMALIZE_EPS = 1e-12


class ParameterFactory:
    """Draws stacked parameters ``(R, *shape)``, each run's slice from its own generator.

    Args:
        generators: one CPU ``torch.Generator`` per run (row ``r`` uses ``generators[r]``).
        dtype: dtype of the returned parameters.
        device: where the parameters live.
    """

    def __init__(
        self, generators: Sequence[torch.Generator], *, dtype: torch.dtype, device: torch.device
    ) -> None:
        if not generators:
            raise ValueError("a critic needs at least one run (one generator)")
        self.generators = list(generators)
        self.dtype = dtype
        self.device = device

    @property
    def n_runs(self) -> int:
        return len(self.generators)

    def uniform(self, shape: tuple[int, int], bound: float) -> Tensor:
        """Leaf tensor ``(R, *shape)`` with entries uniform on ``[-bound, bound]``."""
        rows = [
            torch.empty(shape, dtype=torch.float64).uniform_(-bound, bound, generator=g)
            for g in self.generators
        ]
        return self._leaf(torch.stack(rows))

    def constant(self, shape: tuple[int, int], value: float) -> Tensor:
        """Leaf tensor ``(R, *shape)`` filled with ``value`` (draws nothing)."""
        return self._leaf(torch.full((self.n_runs, *shape), value, dtype=torch.float64))

    def _leaf(self, values: Tensor) -> Tensor:
        return values.to(device=self.device, dtype=self.dtype).requires_grad_(True)


@dataclass
class StackedMLP:
    """A fully connected network ``in -> hidden... -> out`` for R runs at once.

    ``weights[l]`` is ``(R, a_l, b_l)`` and ``biases[l]`` is ``(R, 1, b_l)``; the activation
    follows every layer except the last.
    """

    sizes: tuple[int, ...]
    activation: str
    weights: list[Tensor] = field(default_factory=list)
    biases: list[Tensor] = field(default_factory=list)

    @classmethod
    def build(
        cls, sizes: Sequence[int], *, activation: str, factory: ParameterFactory
    ) -> StackedMLP:
        """Draw the layers in order (weight then bias, layer by layer), like ``nn.Linear``."""
        check_activation(activation)
        mlp = cls(sizes=tuple(int(s) for s in sizes), activation=activation)
        for fan_in, fan_out in itertools.pairwise(mlp.sizes):
            bound = 1.0 / math.sqrt(fan_in)
            mlp.weights.append(factory.uniform((fan_in, fan_out), bound))
            mlp.biases.append(factory.uniform((1, fan_out), bound))
        return mlp

    def parameters(self) -> list[Tensor]:
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    def forward(self, h: Tensor) -> Tensor:
        """``(R, n, sizes[0]) -> (R, n, sizes[-1])``."""
        act = self._activation()
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(bias, h, weight)
            if index < last:
                h = act(h)
        return h

    def first_layer_split(self, h_a: Tensor, h_b: Tensor) -> tuple[Tensor, Tensor]:
        """First-layer pre-activations of ``[a, b]`` split into the ``a`` and ``b`` parts.

        ``[a, b] W + bias = a W_a + (b W_b + bias)`` with ``W = [W_a; W_b]`` row-blocked: lets the
        concat critic evaluate all K^2 pairs from 2K products.
        """
        weight, bias = self.weights[0], self.biases[0]
        split = h_a.shape[-1]
        return torch.bmm(h_a, weight[:, :split]), torch.baddbmm(bias, h_b, weight[:, split:])

    def forward_from_first(self, pre: Tensor) -> Tensor:
        """Finish the forward pass from first-layer pre-activations ``pre`` (a fresh tensor).

        ``pre`` is ``(R, ..., width)``; the result is ``(R, n, sizes[-1])`` with n the product of
        the middle axes. The activation is applied to ``pre`` itself *before* it is flattened: an
        in-place activation on a reshaped view would make autograd record a CopySlices node whose
        backward fills and copies the whole K^2-sized tensor (it cost most of a concat-critic step).
        """
        act = self._activation()
        last = len(self.weights) - 1
        flat = (pre.shape[0], -1, pre.shape[-1])
        if last == 0:
            return pre.reshape(flat)
        h = act(pre).reshape(flat)
        for index in range(1, last + 1):
            h = torch.baddbmm(self.biases[index], h, self.weights[index])
            if index < last:
                h = act(h)
        return h

    def _activation(self) -> Callable[[Tensor], Tensor]:
        return INPLACE_ACTIVATIONS.get(self.activation, ACTIVATIONS[self.activation])

    def describe(self) -> str:
        return "->".join(str(s) for s in self.sizes) + f" ({self.activation})"

    @staticmethod
    def count(sizes: Sequence[int]) -> int:
        """Parameters per run: sum over layers of ``a*b + b``."""
        return sum(a * b + b for a, b in itertools.pairwise(sizes))


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; valid choices: {', '.join(sorted(ACTIVATIONS))}"
        )
    return name


def as_hidden(value: Any) -> tuple[int, ...]:
    """Validate a hidden-layer spec (a sequence of positive ints, possibly empty)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        raise ValueError(f"hidden must be a sequence of integers >= 1, got {value!r}")
    return tuple(value)


def as_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def as_positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _checker(check: Callable[[str, Any], Any], name: str) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        return check(name, value)

    return run


#: How each critic parameter is validated (the same functions the constructors call), so that a
#: spec declares its parameter schema and the planner checks values without building a critic.
PARAM_CHECKS: dict[str, Callable[[Any], Any]] = {
    "hidden": as_hidden,
    "embed_dim": _checker(as_positive_int, "embed_dim"),
    "activation": check_activation,
    "tau": _checker(as_positive_float, "tau"),
    "sigma": _checker(as_positive_float, "sigma"),
    "projection_hidden": as_hidden,
    "projection_dim": _checker(as_positive_int, "projection_dim"),
}


def param_checks(names: Iterable[str]) -> dict[str, Callable[[Any], Any]]:
    """The :data:`PARAM_CHECKS` of ``names`` (a spec's ``defaults``), in the table's order."""
    wanted = set(names)
    unknown = sorted(wanted - set(PARAM_CHECKS))
    if unknown:
        raise ValueError(f"no check declared for critic parameter {unknown[0]!r}")
    return {k: check for k, check in PARAM_CHECKS.items() if k in wanted}


def l2_normalize(z: Tensor) -> Tensor:
    """Rows scaled to unit Euclidean norm (norm floored at ``NORMALIZE_EPS``)."""
    return functional.normalize(z, dim=-1, eps=NORMALIZE_EPS)
