from __future__ import annotations

import torch

from mibench.critics import build


def test_encoder_gram_is_normalised_embeddings_over_tau() -> None:
    tau = 0.2
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    critic = build(
        "encoder",
        3,
        3,
        generators=gens,
        dtype=torch.float64,
        params={"hidden": (6,), "embed_dim": 4, "tau": tau},
    )
    u = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        z = critic.f.forward(u)
        z = z / z.norm(dim=-1, keepdim=True)
        gram = critic.gram(u)
    torch.testing.assert_close(gram, z @ z.transpose(1, 2) / tau)
    # Unit vectors: the diagonal is exactly 1/tau.
    torch.testing.assert_close(
        torch.diagonal(gram, dim1=1, dim2=2), torch.full((2, 5), 1 / tau, dtype=torch.float64)
    )
    assert critic.n_parameters == (3 * 6 + 6) + (6 * 4 + 4)


def test_views_gram_cross_block_is_the_pairs_scores() -> None:
    """gram([x; y])[:N, N:] is S_ij = z(x_i)·z(y_j)/tau, the pairs-layout scores."""
    critic = build(
        "encoder", 3, 3, generators=[torch.Generator().manual_seed(2)], dtype=torch.float64
    )
    x, y = torch.randn(1, 4, 3, dtype=torch.float64), torch.randn(1, 4, 3, dtype=torch.float64)
    with torch.no_grad():
        gram = critic.gram(torch.cat([x, y], dim=1))
        torch.testing.assert_close(gram[:, :4, 4:], critic.scores(x, y))
