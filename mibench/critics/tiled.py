r"""All-pairs MLP scores computed tile by tile, recomputing the pair activations in backward.

The concat critic evaluates an MLP on every pair (x_i, y_j): with the first layer split as
:math:`u_i = x_i W_x` and :math:`v_j = y_j W_y + b_1`,

.. math::
    a^{(1)}_{ij} = \sigma(u_i + v_j),\qquad
    z^{(l)}_{ij} = W_l^\top a^{(l-1)}_{ij} + b_l,\quad a^{(l)} = \sigma(z^{(l)}),\qquad
    S_{ij} = z^{(L)}_{ij}.

Plain autograd materialises and stores every hidden activation of all K² pairs for every run —
``R x K x K x width`` numbers per layer (256 MiB per tensor at R = 64, K = 256, width 16) — and
streams them through main memory about a dozen times per step; on a CPU that traffic, not the
arithmetic, sets the step time. :func:`tiled_pair_scores` instead

* forward: evaluates the pairs of a few rows i at a time (all runs of the stack), keeping only
  the ``(R, K, K')`` scores: one tile's hidden activations fit in cache;
* backward: recomputes the tile's activations and back-propagates the tile's slice of dS by hand
  (the chain rule above, written out below), accumulating the gradients of u, v and the layers
  >= 2 over tiles.

It is gradient checkpointing [1] at the granularity of a cache-sized tile: 4/3 of the arithmetic
of plain autograd, a small fraction of its memory traffic and memory. Inside a tile the hidden
units are the *leading* axis (``(R, width, pairs)``), so every product is a batched matmul with a
long inner dimension — ``W_lᵀ (out x in) @ A (in x pairs)`` runs 4-6x faster here than the
row-major ``A (pairs x in) @ W_l (in x out)`` for widths like 16 -> 8. Values and gradients are
those of the plain computation up to float summation order (``tests/critics/test_tiled.py``).

References:
    [1] Chen et al., Training Deep Nets with Sublinear Memory Cost, 2016, arXiv:1604.06174.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

# Hidden activations per tile (all runs of the stack, a few score rows): 2^18 float32 numbers are
# 1 MiB, one core's L2 here. Smaller tiles lose to per-op overhead, much larger ones to cache
# misses. BMI-size trainer, run-steps/s at R = 8: 2^16 -> 64, 2^17 -> 96, 2^18 -> 158-231,
# 2^19 -> 216, 2^20 -> 166-178, 2^21 -> 120; at R = 64: 2^18 -> 153, 2^20 -> 174, 2^22 -> 135 (a
# broad optimum from 2^18 to 2^20, within this VM's run-to-run noise).
TILE_ELEMENTS = 2**18

Activation = Callable[[Tensor], Tensor]
# Activations applied in place inside a tile: their derivative is a function of the output.
INPLACE: dict[str, Activation] = {"relu": torch.relu_, "tanh": torch.tanh_}


def row_tile(n_runs: int, n_cols: int, width: int, *, tile_elements: int = TILE_ELEMENTS) -> int:
    """Score rows per tile so that ``n_runs x rows x n_cols x width`` stays near ``tile_elements``."""
    return max(1, tile_elements // max(1, n_runs * n_cols * width))


def tiled_pair_scores(
    pre_x: Tensor,
    pre_y: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    activation: str,
    *,
    tile_elements: int = TILE_ELEMENTS,
) -> Tensor:
    """``S[r, i, j] = MLP_r(σ(pre_x[r, i] + pre_y[r, j]))`` for all pairs, ``(R, K, K')``.

    Args:
        pre_x, pre_y: ``(R, K, h)`` and ``(R, K', h)``, the row and column parts of the first
            layer's pre-activation (its bias inside ``pre_y``).
        weights, biases: layers >= 2, ``(R, in, out)`` and ``(R, 1, out)``; the last has out = 1.
        activation: a name from :data:`mibench.critics.base.ACTIVATIONS`, applied after the
            first layer and every later layer but the last.
        tile_elements: hidden activations per tile.
    """
    if len(weights) != len(biases) or not weights:
        raise ValueError("tiled_pair_scores needs one bias per weight and at least one layer")
    if weights[-1].shape[-1] != 1:
        raise ValueError(f"the last layer must have one output, got {weights[-1].shape[-1]}")
    return _TiledPairScores.apply(activation, tile_elements, pre_x, pre_y, *weights, *biases)


def _activation(name: str) -> Activation:
    from mibench.critics.base import ACTIVATIONS  # base imports nothing from here

    return ACTIVATIONS[name]


def _tile_layers(
    name: str,
    u: Tensor,
    v: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    *,
    scores: bool,
) -> tuple[Tensor, list[tuple[Tensor | None, Tensor]]]:
    """One tile's layers from ``u (R, h, rows)``, ``v (R, h, K')``, hidden units leading.

    With ``scores`` (the forward): the tile's scores ``(R, 1, rows * K')`` and no activations.
    Without (the backward's recomputation): the last hidden activation and every layer's
    (pre-activation or None, activation); the last layer's product is skipped, as the backward
    needs only the activations (measured: 2-4 % of a BMI-size training step).
    ReLU and tanh are applied in place (their derivatives need only the activation).
    """
    n_runs, width, n_rows = u.shape
    # Explicit row-major output: TensorIterator would otherwise lay the broadcast sum out like
    # its strided inputs, and every later op would pay for a copy.
    z = torch.empty(n_runs, width, n_rows, v.shape[2], dtype=u.dtype, device=u.device)
    torch.add(u.unsqueeze(3), v.unsqueeze(2), out=z)
    z = z.view(n_runs, width, -1)
    inplace = INPLACE.get(name)
    act = _activation(name)
    saved: list[tuple[Tensor | None, Tensor]] = []
    for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        if inplace is not None:
            hidden = inplace(z)
            pre = None
        else:
            hidden, pre = act(z), z
        if not scores:
            saved.append((pre, hidden))
            if index == len(weights) - 1:
                return hidden, saved
        z = torch.baddbmm(bias.transpose(1, 2), weight.transpose(1, 2), hidden)
    return z, saved


def _activation_backward(name: str, z: Tensor | None, hidden: Tensor, grad: Tensor) -> Tensor:
    """dL/dz from dL/dσ(z) (z is None for the in-place activations, whose σ' is a function of σ)."""
    if name == "relu":
        return torch.ops.aten.threshold_backward(grad, hidden, 0)
    if name == "tanh":
        return grad.mul_(1 - hidden.square())
    if z is None:
        raise ValueError(f"activation {name!r} needs its pre-activation for the backward pass")
    with torch.enable_grad():
        leaf = z.detach().requires_grad_(True)
        (result,) = torch.autograd.grad(_activation(name)(leaf), leaf, grad)
    return result


class _TiledPairScores(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        activation: str,
        tile_elements: int,
        pre_x: Tensor,
        pre_y: Tensor,
        *layers: Tensor,
    ) -> Tensor:
        n_layers = len(layers) // 2
        weights, biases = layers[:n_layers], layers[n_layers:]
        n_runs, n_rows, width = pre_x.shape
        n_cols = pre_y.shape[1]
        rows = row_tile(n_runs, n_cols, width, tile_elements=tile_elements)
        # Hidden units leading, as every tile op wants them; backward reuses these copies.
        u_all, v = pre_x.transpose(1, 2).contiguous(), pre_y.transpose(1, 2).contiguous()
        scores = pre_x.new_empty(n_runs, n_rows, n_cols)
        for start in range(0, n_rows, rows):
            stop = min(n_rows, start + rows)
            tile, _ = _tile_layers(
                activation, u_all[:, :, start:stop], v, weights, biases, scores=True
            )
            scores[:, start:stop] = tile.view(n_runs, stop - start, n_cols)
        ctx.activation = activation
        ctx.rows = rows
        ctx.n_layers = n_layers
        ctx.save_for_backward(u_all, v, *layers)
        return scores

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad_scores: Tensor
    ) -> tuple[Tensor | None, ...]:
        u_all, v, *layers = ctx.saved_tensors
        weights, biases = layers[: ctx.n_layers], layers[ctx.n_layers :]
        name = ctx.activation
        n_runs, width, n_rows = u_all.shape
        n_cols = v.shape[2]
        grad_u = torch.empty_like(u_all)
        grad_v = torch.zeros_like(v)
        grad_w = [torch.zeros_like(w) for w in weights]
        grad_b = [torch.zeros_like(b) for b in biases]
        grad_scores = grad_scores.contiguous()
        for start in range(0, n_rows, ctx.rows):
            stop = min(n_rows, start + ctx.rows)
            _, saved = _tile_layers(name, u_all[:, :, start:stop], v, weights, biases, scores=False)
            grad = grad_scores[:, start:stop].reshape(n_runs, 1, -1)  # dL/dz of the last layer
            for index in range(len(weights) - 1, -1, -1):
                z, hidden = saved[index]
                # z_next = W^T hidden + b:  dW = hidden grad^T, db = sum over pairs, dhidden = W grad
                grad_w[index].baddbmm_(hidden, grad.transpose(1, 2))
                grad_b[index] += grad.sum(dim=2).unsqueeze(1)
                grad = _activation_backward(name, z, hidden, torch.bmm(weights[index], grad))
            grad = grad.view(n_runs, width, stop - start, n_cols)
            grad_u[:, :, start:stop] = grad.sum(dim=3)
            grad_v += grad.sum(dim=2)
        return (None, None, grad_u.transpose(1, 2), grad_v.transpose(1, 2), *grad_w, *grad_b)
