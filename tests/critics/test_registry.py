"""Contract tests every registered critic must pass (orientation, stacking, parameter counts)."""

from __future__ import annotations

import pytest
import torch
from rich.console import Console

from mibench.core.interface import UnknownNameError
from mibench.critics import EXAMPLE_DIM, build, critic_table, get, names, resolve_params

DIM = 3
SMALL = {
    "separable": {"hidden": (7,), "embed_dim": 5},
    "cosine": {"hidden": (7,), "embed_dim": 5, "tau": 0.5},
    "gaussian_kernel": {"hidden": (7,), "embed_dim": 5, "sigma": 0.7},
    "bilinear": {},
    "gaussian_conditional": {"hidden": (7,)},
    "concat": {"hidden": (7, 6)},
    "encoder": {"hidden": (7,), "embed_dim": 5, "tau": 0.5},
    "encoder_projection": {
        "hidden": (7,),
        "embed_dim": 5,
        "tau": 0.5,
        "projection_hidden": (6,),
        "projection_dim": 4,
    },
}


def _gens(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def _critic(name: str, seeds: list[int]):
    return build(name, DIM, DIM, generators=_gens(seeds), dtype=torch.float64, params=SMALL[name])


def test_every_registered_critic_is_covered() -> None:
    assert set(names()) == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_orientation_rows_are_x_columns_are_y(name: str) -> None:
    """Perturbing x_0 changes row 0 only; perturbing y_0 changes column 0 only."""
    critic = _critic(name, [1, 2])
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, DIM, generator=gen, dtype=torch.float64)
    y = torch.randn(2, 6, DIM, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        base = critic.scores(x, y)
        x2 = x.clone()
        x2[:, 0] += 1.0
        y2 = y.clone()
        y2[:, 0] -= 1.0
        moved_x = (critic.scores(x2, y) - base).abs() > 1e-12
        moved_y = (critic.scores(x, y2) - base).abs() > 1e-12
    assert moved_x[:, 0].all() and not moved_x[:, 1:].any()
    assert moved_y[:, :, 0].all() and not moved_y[:, :, 1:].any()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_paired_scores_are_the_diagonal(name: str) -> None:
    critic = _critic(name, [4, 5, 6])
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(3, 5, DIM, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 5, DIM, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        diag = torch.diagonal(critic.scores(x, y), dim1=-2, dim2=-1)
        torch.testing.assert_close(critic.paired_scores(x, y), diag, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_stacked_equals_looped_and_init_is_per_run(name: str) -> None:
    """Run r of a stack has the parameters and scores of a critic built for run r alone."""
    seeds = [11, 12, 13]
    stacked = _critic(name, seeds)
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(3, 4, DIM, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 4, DIM, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        together = stacked.scores(x, y)
        for r, seed in enumerate(seeds):
            alone = _critic(name, [seed])
            for p_stack, p_alone in zip(stacked.parameters(), alone.parameters(), strict=True):
                assert torch.equal(p_stack[r : r + 1], p_alone)
            torch.testing.assert_close(
                together[r : r + 1],
                alone.scores(x[r : r + 1], y[r : r + 1]),
                rtol=1e-12,
                atol=1e-12,
            )


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_parameter_has_the_run_axis_and_gets_a_gradient(name: str) -> None:
    critic = _critic(name, [1, 2])
    x = torch.randn(2, 4, DIM, dtype=torch.float64)
    y = torch.randn(2, 4, DIM, dtype=torch.float64)
    grads = torch.autograd.grad(critic.scores(x, y)[1].sum(), critic.parameters())
    for param, grad in zip(critic.parameters(), grads, strict=True):
        assert param.dim() == 3 and param.shape[0] == 2 and param.is_leaf
        assert torch.all(grad[0] == 0), "run 0's parameters must not see run 1's loss"


def test_unknown_critic_and_parameter_name_the_choices() -> None:
    with pytest.raises(UnknownNameError, match="valid choices: bilinear, concat"):
        get("mlp")
    with pytest.raises(ValueError, match="no parameter 'width'; valid: activation, embed_dim"):
        resolve_params("separable", {"width": 3})
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        build("concat", 2, 2, generators=_gens([0]), params={"activation": "swish"})
    with pytest.raises(ValueError, match="needs dim_x == dim_y"):
        build("encoder", 2, 3, generators=_gens([0]))


def test_critic_table_lists_every_critic_with_its_size() -> None:
    console = Console(width=400, record=True)
    console.print(critic_table())
    text = console.export_text()
    for name in names():
        critic = build(name, EXAMPLE_DIM, EXAMPLE_DIM, generators=_gens([0]))
        assert name in text and str(critic.n_parameters) in text
    assert "MLP([x; y])" in text  # rich markup must not eat the brackets


@pytest.mark.parametrize("name", sorted(SMALL))
def test_scores_pass_gradcheck(name: str) -> None:
    """Autograd through every critic (including in-place activations) matches finite differences."""
    critic = _critic(name, [3, 4])
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, DIM, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 3, DIM, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(critic.scores, (x, y))
    assert torch.autograd.gradcheck(critic.paired_scores, (x, y))
