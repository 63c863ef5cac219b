"""encoder_projection (mibench.critics.projection): G[r, i, j] = z_i·z_j/τ with z = g(f(u))/|g(f(u))|,
against a forward pass written out layer by layer from the stored weights."""

from __future__ import annotations

import torch

from mibench.critics import build, get
from mibench.critics.encoder import EncoderCritic
from mibench.critics.projection import DEFAULT_PROJECTION_DIM, ProjectedEncoderCritic

PARAMS = {
    "hidden": (5,),
    "embed_dim": 4,
    "tau": 0.3,
    "projection_hidden": (6,),
    "projection_dim": 3,
}


def _critic(n_runs: int = 2, **params: object) -> ProjectedEncoderCritic:
    generators = [torch.Generator().manual_seed(10 + r) for r in range(n_runs)]
    critic = build("encoder_projection", 3, 3, generators=generators, dtype=torch.float64,
                   params={**PARAMS, **params})  # fmt: skip
    assert isinstance(critic, ProjectedEncoderCritic)
    return critic


def _mlp(weights: list[torch.Tensor], biases: list[torch.Tensor], u: torch.Tensor) -> torch.Tensor:
    """Run by run, layer by layer: h <- relu(h W + b), no activation after the last layer."""
    out = []
    for r in range(u.shape[0]):
        h = u[r]
        for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
            h = h @ weight[r] + bias[r, 0]
            if index < len(weights) - 1:
                h = torch.clamp(h, min=0.0)
        out.append(h)
    return torch.stack(out)


def test_gram_is_the_normalised_projection_over_tau() -> None:
    critic = _critic()
    u = torch.randn(2, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = _mlp(critic.f.weights, critic.f.biases, u)
        z = _mlp(critic.g.weights, critic.g.biases, h)
        z = z / z.norm(dim=-1, keepdim=True)
        gram = critic.gram(u)
    torch.testing.assert_close(gram, z @ z.transpose(1, 2) / 0.3)
    # Unit vectors: the diagonal is exactly 1/tau, and every entry lies in [-1/tau, 1/tau].
    torch.testing.assert_close(torch.diagonal(gram, dim1=1, dim2=2), torch.full((2, 7), 1 / 0.3,
                               dtype=torch.float64))  # fmt: skip
    assert gram.abs().max() <= 1 / 0.3 + 1e-12
    # The representation before the head is kept: h = f(u), not z.
    assert critic.last_representation is not None
    torch.testing.assert_close(critic.last_representation, h)


def test_pairs_scores_and_paired_scores_use_the_head() -> None:
    critic = _critic(n_runs=1)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 3, dtype=torch.float64, generator=generator)
    y = torch.randn(1, 4, 3, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        zx, zy = critic.embed(x), critic.embed(y)
        scores = critic.scores(x, y)
        torch.testing.assert_close(scores, zx @ zy.transpose(1, 2) / 0.3)
        torch.testing.assert_close(
            critic.paired_scores(x, y), torch.diagonal(scores, dim1=1, dim2=2)
        )
        # Without the head (the plain encoder on the same f) the scores differ.
        plain = EncoderCritic.embed(critic, x)
        assert plain.shape[-1] == 4 and zx.shape[-1] == 3
        assert not torch.allclose(plain[..., :3], zx)


def test_parameters_are_encoder_then_head_and_counted() -> None:
    critic = _critic(n_runs=2)
    assert critic.parameters() == critic.f.parameters() + critic.g.parameters()
    assert critic.f.sizes == (3, 5, 4) and critic.g.sizes == (4, 6, 3)
    per_run = (3 * 5 + 5) + (5 * 4 + 4) + (4 * 6 + 6) + (6 * 3 + 3)
    assert critic.n_parameters == per_run
    assert all(p.shape[0] == 2 for p in critic.parameters())  # one row per stacked run
    assert "g: 4->6->3 (relu)" in critic.architecture and "tau=0.3" in critic.architecture


def test_runs_are_initialised_from_their_own_generators() -> None:
    # Run 1 of a two-run stack equals the single run built from the same generator seed.
    pair = _critic(n_runs=2)
    single = build("encoder_projection", 3, 3, generators=[torch.Generator().manual_seed(11)],
                   dtype=torch.float64, params=PARAMS)  # fmt: skip
    for stacked, alone in zip(pair.parameters(), single.parameters(), strict=True):
        torch.testing.assert_close(stacked[1], alone[0], rtol=0, atol=0)


def test_defaults_and_registration() -> None:
    spec = get("encoder_projection")
    assert spec.defaults["projection_dim"] == DEFAULT_PROJECTION_DIM
    assert spec.defaults["projection_hidden"] == (spec.defaults["embed_dim"],)
    assert spec.same_dims and spec.layouts == frozenset({"pairs", "views", "labels"})
    critic = build("encoder_projection", 2, 2, generators=[torch.Generator().manual_seed(0)])
    assert isinstance(critic, ProjectedEncoderCritic)
    assert critic.g.sizes[-1] == DEFAULT_PROJECTION_DIM
