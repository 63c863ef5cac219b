from __future__ import annotations

import torch
from torch.nn import functional

from mibench.critics.base import ParameterFactory, StackedMLP


def test_stacked_mlp_equals_a_loop_of_linear_layers() -> None:
    gens = [torch.Generator().manual_seed(s) for s in (0, 1, 2)]
    factory = ParameterFactory(gens, dtype=torch.float64, device=torch.device("cpu"))
    mlp = StackedMLP.build((4, 6, 5, 2), activation="tanh", factory=factory)
    h = torch.randn(3, 7, 4, dtype=torch.float64)
    out = mlp.forward(h)
    for r in range(3):
        ref = h[r]
        for index, (w, b) in enumerate(zip(mlp.weights, mlp.biases, strict=True)):
            ref = functional.linear(ref, w[r].T, b[r, 0])
            ref = torch.tanh(ref) if index < 2 else ref
        torch.testing.assert_close(out[r], ref, rtol=1e-12, atol=1e-12)


def test_parameter_count_and_linear_init_bound() -> None:
    factory = ParameterFactory(
        [torch.Generator().manual_seed(0)], dtype=torch.float32, device=torch.device("cpu")
    )
    sizes = (20, 256, 256, 32)
    mlp = StackedMLP.build(sizes, activation="relu", factory=factory)
    expected = 20 * 256 + 256 + 256 * 256 + 256 + 256 * 32 + 32
    assert StackedMLP.count(sizes) == expected == sum(p[0].numel() for p in mlp.parameters())
    # nn.Linear's default: uniform on +-1/sqrt(fan_in).
    for w, fan_in in zip(mlp.weights, sizes[:-1], strict=True):
        assert w.abs().max() <= fan_in**-0.5


def test_first_layer_split_matches_concatenation() -> None:
    factory = ParameterFactory(
        [torch.Generator().manual_seed(3)] * 2, dtype=torch.float64, device=torch.device("cpu")
    )
    mlp = StackedMLP.build((5, 4, 1), activation="relu", factory=factory)
    a = torch.randn(2, 3, 2, dtype=torch.float64)
    b = torch.randn(2, 3, 3, dtype=torch.float64)
    pre_a, pre_b = mlp.first_layer_split(a, b)
    torch.testing.assert_close(
        mlp.forward_from_first(pre_a + pre_b), mlp.forward(torch.cat([a, b], dim=-1))
    )
