"""gaussian_conditional critic: S[r, i, j] = log q_r(y_j | x_i) against a direct reference."""

from __future__ import annotations

import math

import torch

from mibench.critics import build, get


def _critic(dim_x: int = 3, dim_y: int = 2, runs: int = 2, dtype: torch.dtype = torch.float64):
    generators = [torch.Generator().manual_seed(10 + r) for r in range(runs)]
    return build(
        "gaussian_conditional", dim_x, dim_y, generators=generators, dtype=dtype,
        params={"hidden": (8,)},
    )  # fmt: skip


def _reference(critic, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log N(y_j; μ(x_i), diag σ(x_i)²) pair by pair from torch.distributions."""
    mean, log_scale = critic.mean_log_scale(x)
    out = torch.empty(x.shape[0], x.shape[1], y.shape[1], dtype=x.dtype)
    for r in range(x.shape[0]):
        for i in range(x.shape[1]):
            normal = torch.distributions.Normal(mean[r, i], log_scale[r, i].exp())
            out[r, i] = normal.log_prob(y[r]).sum(dim=-1)
    return out


def test_scores_are_the_log_density_of_every_pair_in_the_estimator_orientation() -> None:
    critic = _critic()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 3, generator=generator, dtype=torch.float64)
    y = torch.randn(2, 5, 2, generator=generator, dtype=torch.float64)
    scores = critic.scores(x, y)
    torch.testing.assert_close(scores, _reference(critic, x, y))
    torch.testing.assert_close(critic.paired_scores(x, y), torch.diagonal(scores, dim1=-2, dim2=-1))
    rect = critic.scores(x, y[:, :4])  # K x K' (no diagonal replacement)
    torch.testing.assert_close(rect, _reference(critic, x, y[:, :4]))


def test_density_integrates_to_one_over_y() -> None:
    """A 1-d q(y|x) summed on a fine grid integrates to 1 (it is a normalised density)."""
    critic = _critic(dim_x=2, dim_y=1, runs=1)
    x = torch.randn(1, 3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grid = torch.linspace(-40, 40, 40001, dtype=torch.float64).reshape(1, -1, 1)
    mass = critic.scores(x, grid).exp().sum(dim=-1) * (80 / 40000)
    torch.testing.assert_close(mass, torch.ones_like(mass), atol=1e-6, rtol=0)


def test_runs_do_not_mix_and_the_diagonal_is_exact_in_float32() -> None:
    critic = _critic(dtype=torch.float32)
    x = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(2))
    y = torch.randn(2, 6, 2, generator=torch.Generator().manual_seed(3))
    scores = critic.scores(x, y)
    paired = critic.paired_scores(x, y)
    assert torch.equal(torch.diagonal(scores, dim1=-2, dim2=-1), paired)
    grads = torch.autograd.grad(scores[0].sum(), critic.parameters(), allow_unused=True)
    assert all(g is None or g[1].abs().max() == 0 for g in grads)


def test_spec_declares_log_conditional_scores_and_counts_parameters() -> None:
    assert get("gaussian_conditional").score_kind == "log_conditional"
    assert get("separable").score_kind == "critic"
    critic = _critic(dim_x=3, dim_y=2)
    assert critic.n_parameters == (3 * 8 + 8) + (8 * 4 + 4)
    assert "gaussian_conditional" in critic.architecture
    assert math.isfinite(critic.n_parameters)
