"""The tiled, recomputing all-pairs scores equal plain autograd (values and gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mibench.critics import build
from mibench.critics import concat as concat_module
from mibench.critics.base import ParameterFactory, StackedMLP
from mibench.critics.tiled import row_tile, tiled_pair_scores

# float64 throughout: tiles change only the order in which per-tile gradient contributions are
# summed, so values agree to round-off (~1e-16 relative); 1e-12 leaves room for K' x width sums.
TOLERANCE = 1e-12


def _mlp(n_runs: int, sizes: tuple[int, ...], activation: str = "relu") -> StackedMLP:
    factory = ParameterFactory(
        [torch.Generator().manual_seed(10 + r) for r in range(n_runs)],
        dtype=torch.float64,
        device=torch.device("cpu"),
    )
    return StackedMLP.build(sizes, activation=activation, factory=factory)


def _plain(mlp: StackedMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    pre_x, pre_y = mlp.first_layer_split(x, y)
    pre = pre_x.unsqueeze(2) + pre_y.unsqueeze(1)
    return mlp.forward_from_first(pre).reshape(x.shape[0], x.shape[1], y.shape[1])


def _tiled(mlp: StackedMLP, x: torch.Tensor, y: torch.Tensor, tile: int) -> torch.Tensor:
    pre_x, pre_y = mlp.first_layer_split(x, y)
    return tiled_pair_scores(
        pre_x, pre_y, mlp.weights[1:], mlp.biases[1:], mlp.activation, tile_elements=tile
    )


@pytest.mark.parametrize("tile", [1, 700, 10**9])  # one row per tile, a few rows, one tile
@pytest.mark.parametrize(
    ("sizes", "activation"),
    [((6, 16, 8, 1), "relu"), ((6, 5, 1), "tanh"), ((6, 4, 3, 2, 1), "elu"), ((6, 3, 1), "silu")],
)
def test_tiled_scores_and_gradients_equal_plain_autograd(
    tile: int, sizes: tuple[int, ...], activation: str
) -> None:
    gen = torch.Generator().manual_seed(0)
    n_runs, n_rows, n_cols = 3, 11, 7
    mlp = _mlp(n_runs, sizes, activation)
    x = torch.randn(n_runs, n_rows, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(n_runs, n_cols, 3, generator=gen, dtype=torch.float64)
    weight = torch.randn(n_runs, n_rows, n_cols, generator=gen, dtype=torch.float64)
    plain = _plain(mlp, x, y)
    tiled = _tiled(mlp, x, y, tile)
    torch.testing.assert_close(tiled, plain, rtol=0, atol=TOLERANCE)
    expected = torch.autograd.grad((plain * weight).sum(), mlp.parameters())
    got = torch.autograd.grad((tiled * weight).sum(), mlp.parameters())
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=TOLERANCE)


def test_tiled_scores_pass_gradcheck() -> None:
    gen = torch.Generator().manual_seed(1)
    mlp = _mlp(2, (4, 3, 2, 1), "tanh")
    pre_x = torch.randn(2, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    pre_y = torch.randn(2, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = [w.detach().requires_grad_(True) for w in mlp.weights[1:]]
    biases = [b.detach().requires_grad_(True) for b in mlp.biases[1:]]

    def scores(px: torch.Tensor, py: torch.Tensor, *layers: torch.Tensor) -> torch.Tensor:
        n = len(layers) // 2
        return tiled_pair_scores(px, py, layers[:n], layers[n:], "tanh", tile_elements=20)

    assert torch.autograd.gradcheck(scores, (pre_x, pre_y, *weights, *biases))


def test_row_tile_keeps_at_least_one_row_and_fills_the_budget() -> None:
    assert row_tile(64, 256, 16, tile_elements=2**18) == 1
    assert row_tile(64, 256, 16, tile_elements=2**10) == 1
    assert row_tile(1, 256, 16, tile_elements=2**18) == 64


def test_concat_critic_uses_the_tiled_path_above_its_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The concat critic's training scores and gradients agree whichever path it takes."""
    gens = [torch.Generator().manual_seed(r) for r in range(2)]
    critic = build("concat", 3, 3, generators=gens, dtype=torch.float64, device="cpu",
                   params={"hidden": [8, 4]})  # fmt: skip
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 9, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(2, 9, 3, generator=gen, dtype=torch.float64)
    calls: list[int] = []
    original = concat_module.tiled_pair_scores

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(concat_module, "tiled_pair_scores", spy)
    monkeypatch.setattr(concat_module, "TILED_MIN_ELEMENTS", 10**12)
    plain = critic.scores(x, y)
    plain_grads = torch.autograd.grad(plain.square().sum(), critic.parameters())
    assert not calls
    monkeypatch.setattr(concat_module, "TILED_MIN_ELEMENTS", 1)
    tiled = critic.scores(x, y)
    tiled_grads = torch.autograd.grad(tiled.square().sum(), critic.parameters())
    assert calls
    torch.testing.assert_close(tiled, plain, rtol=0, atol=TOLERANCE)
    for a, b in zip(tiled_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=TOLERANCE)


def test_tiled_scores_refuse_a_network_without_later_layers() -> None:
    pre = torch.zeros(1, 2, 1)
    with pytest.raises(ValueError, match="at least one layer"):
        tiled_pair_scores(pre, pre, [], [], "relu")


@pytest.mark.parametrize("estimator", ["infonce", "nwj", "flo"])
def test_training_through_the_tiled_path_matches_plain_autograd(
    estimator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole training runs (readouts, held-out evaluation, dual head for FLO) agree either way.

    float64 training: the two paths differ only in summation order, so after 15 Adam steps the
    readouts agree to ~1e-12; 1e-9 leaves room for Adam's division by sqrt(v) early on.
    """
    from mibench.core.interface import RunConfig
    from mibench.results import schema
    from mibench.train import train_stack

    configs = [
        RunConfig.make(
            estimator=estimator, task="gaussian", task_params={"dim": 3, "mi": mi},
            critic="concat", critic_params={"hidden": [8, 4]}, batch_size=24, n_steps=15,
            eval_every=7, eval_batch_size=40, dtype="float64", seed=seed, lr=3e-3,
        )
        for mi, seed in ((0.5, 0), (2.0, 1))
    ]  # fmt: skip
    columns = [schema.ESTIMATE, schema.LOSS, schema.INFONCE_VALUE, schema.ESS, schema.GRAD_NORM]
    monkeypatch.setattr(concat_module, "TILED_MIN_ELEMENTS", 10**12)
    plain = train_stack(configs)
    calls: list[int] = []
    original = concat_module.tiled_pair_scores

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs, tile_elements=300)  # several rows per tile, many tiles

    monkeypatch.setattr(concat_module, "TILED_MIN_ELEMENTS", 1)
    monkeypatch.setattr(concat_module, "tiled_pair_scores", spy)
    tiled = train_stack(configs)
    assert calls
    for a, b in zip(tiled, plain, strict=True):
        np.testing.assert_allclose(
            a.frame[columns].to_numpy(float), b.frame[columns].to_numpy(float), rtol=0, atol=1e-9
        )
