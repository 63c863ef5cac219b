from __future__ import annotations

import torch
from torch.nn import functional

from mibench.critics import build

GENS = 2


def _build(name: str, **params: object):
    gens = [torch.Generator().manual_seed(s) for s in range(GENS)]
    return build(name, 4, 3, generators=gens, dtype=torch.float64, params=params)


def _data(dim_x: int = 4, dim_y: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(42)
    x = torch.randn(GENS, 5, dim_x, generator=gen, dtype=torch.float64)
    y = torch.randn(GENS, 6, dim_y, generator=gen, dtype=torch.float64)
    return x, y


def test_poole_separable_parameter_count() -> None:
    critic = build("separable", 20, 20, generators=[torch.Generator().manual_seed(0)])
    tower = 20 * 256 + 256 + 256 * 256 + 256 + 256 * 32 + 32
    assert critic.n_parameters == 2 * tower == 158_784
    assert critic.architecture == (
        "separable f(x)ᵀh(y); f: 20->256->256->32 (relu), h: 20->256->256->32 (relu)"
    )


def test_separable_scores_are_inner_products_of_the_towers() -> None:
    critic = _build("separable", hidden=(8,), embed_dim=4)
    x, y = _data()
    with torch.no_grad():
        fx, hy = critic.f.forward(x), critic.h.forward(y)
        expected = torch.einsum("rie,rje->rij", fx, hy)
        torch.testing.assert_close(critic.scores(x, y), expected)


def test_cosine_is_cosine_similarity_over_tau_and_bounded() -> None:
    tau = 0.25
    critic = _build("cosine", hidden=(8,), embed_dim=4, tau=tau)
    x, y = _data()
    with torch.no_grad():
        fx, hy = critic.f.forward(x), critic.h.forward(y)
        expected = functional.cosine_similarity(fx.unsqueeze(2), hy.unsqueeze(1), dim=-1) / tau
        scores = critic.scores(x, y)
    torch.testing.assert_close(scores, expected)
    assert scores.abs().max() <= 1.0 / tau + 1e-12
    assert critic.n_parameters == (4 * 8 + 8 + 8 * 4 + 4) + (3 * 8 + 8 + 8 * 4 + 4)


def test_gaussian_kernel_is_minus_half_squared_distance_over_sigma2_plus_offset() -> None:
    sigma = 0.8
    critic = _build("gaussian_kernel", hidden=(8,), embed_dim=4, sigma=sigma)
    with torch.no_grad():
        critic.offset.copy_(torch.tensor([0.3, -1.2], dtype=torch.float64).view(2, 1, 1))
    x, y = _data()
    with torch.no_grad():
        fx, hy = critic.f.forward(x), critic.h.forward(y)
        expected = -torch.cdist(fx, hy).square() / (2 * sigma**2) + critic.offset
        torch.testing.assert_close(critic.scores(x, y), expected, rtol=1e-10, atol=1e-10)
    # One more parameter than the two towers: the offset b.
    assert critic.n_parameters == (4 * 8 + 8 + 8 * 4 + 4) + (3 * 8 + 8 + 8 * 4 + 4) + 1


def test_bilinear_is_x_w_y() -> None:
    critic = _build("bilinear")
    x, y = _data()
    with torch.no_grad():
        expected = torch.einsum("rix,rxy,rjy->rij", x, critic.weight, y)
        torch.testing.assert_close(critic.scores(x, y), expected)
    assert critic.n_parameters == 4 * 3
