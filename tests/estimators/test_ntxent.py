"""Tests of NT-Xent (mibench/estimators/ntxent.py) against guide Eq. (9)-(10) and SimCLR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import mibench.estimators as estimators
from mibench.estimators.ntxent import (
    mate_index,
    ntxent_anchor_losses,
    ntxent_loss,
    ntxent_lower_bound,
)


def reference_loss(scores: np.ndarray) -> float:
    """SimCLR Algorithm 1 by loops: (1/2N) Σ_{k=1..N} [ℓ(k, k+N) + ℓ(k+N, k)] with
    ℓ(i, j) = −log(e^{S_ij} / Σ_{k≠i} e^{S_ik}) (guide Eq. 9)."""
    n_views = scores.shape[0]
    N = n_views // 2

    def ell(i: int, j: int) -> float:
        return -math.log(
            math.exp(scores[i, j]) / sum(math.exp(scores[i, k]) for k in range(n_views) if k != i)
        )

    return sum(ell(k, k + N) + ell(k + N, k) for k in range(N)) / n_views


def views_gram(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """Cosine Gram matrix of [a; b] over τ: the scores a cosine critic gives in layout "views"."""
    z = torch.nn.functional.normalize(torch.cat([a, b], dim=-2), dim=-1)
    return z @ z.transpose(-1, -2) / tau


@pytest.mark.parametrize("N", [1, 2, 3, 6])
def test_matches_loop_reference(N: int) -> None:
    gen = torch.Generator().manual_seed(N)
    scores = 3.0 * torch.randn(3, 2 * N, 2 * N, generator=gen, dtype=torch.float64)
    expected = [reference_loss(s.numpy()) for s in scores]
    np.testing.assert_allclose(ntxent_loss(scores).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(
        ntxent_lower_bound(scores).numpy(),
        math.log(2 * N - 1) - np.array(expected),
        rtol=1e-12,
        atol=1e-13,
    )


@pytest.mark.parametrize("tau", [1.0, 0.5, 0.1, 0.02])
def test_aligned_orthogonal_views(tau: float) -> None:
    """a_i = b_i = e_i: row i has its mate at cos 1, itself excluded, 2N − 2 others at cos 0, so
    ℓ_i = log(1 + (2N − 2) e^{−1/τ}) and Î = log(2N − 1) − log(1 + (2N − 2)e^{−1/τ}) → log(2N − 1)."""
    N = 5
    eye = torch.eye(N, dtype=torch.float64)
    scores = views_gram(eye, eye, tau)
    loss = math.log1p((2 * N - 2) * math.exp(-1.0 / tau))
    # ℓ_i = logsumexp − S_{i,m(i)} cancels two numbers of size 1/τ: allow a few ulps of 1/τ
    tolerance = 16 * np.finfo(np.float64).eps / tau
    assert ntxent_loss(scores).item() == pytest.approx(loss, rel=0, abs=tolerance)
    assert ntxent_lower_bound(scores).item() == pytest.approx(
        math.log(2 * N - 1) - loss, rel=0, abs=tolerance
    )
    if tau <= 0.02:  # 8 e^{-50} ~ 2e-21: the value is log(2N − 1) to working precision
        assert ntxent_lower_bound(scores).item() == pytest.approx(math.log(2 * N - 1), rel=1e-15)


def test_each_anchor_is_an_infonce_row_with_2n_minus_1_candidates() -> None:
    """Row i without its diagonal is a vector of K = 2N − 1 candidate scores with the positive at
    m(i). The K×K circulant whose row r is that vector rotated so the positive sits at column r
    has infonce value log K − ℓ_i in every row, so infonce(circulant_i) = log K − ℓ_i exactly."""
    N = 4
    K = 2 * N - 1
    scores = torch.randn(
        2 * N, 2 * N, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    infonce = estimators.get("infonce")
    mates = mate_index(2 * N)
    per_anchor = ntxent_anchor_losses(scores)
    readings = []
    for i in range(2 * N):
        others = [k for k in range(2 * N) if k != i]
        candidates = scores[i, others]
        position = others.index(int(mates[i]))
        circulant = torch.stack([torch.roll(candidates, r - position) for r in range(K)])
        assert torch.equal(torch.diagonal(circulant), candidates[position].expand(K))
        reading = infonce.value(circulant)
        assert reading.item() == pytest.approx(math.log(K) - per_anchor[i].item(), rel=1e-12)
        readings.append(reading)
    assert ntxent_lower_bound(scores).item() == pytest.approx(
        torch.stack(readings).mean().item(), rel=1e-12
    )


def test_positive_is_the_mate_not_a_neighbour() -> None:
    """A dominant score at (i, (i+N) mod 2N) drives the value to log(2N − 1); the same score one
    column off (a wrong pairing) drives it far below 0."""
    N, big = 4, 50.0
    n_views = 2 * N
    at_mate = torch.zeros(n_views, n_views, dtype=torch.float64)
    at_neighbour = torch.zeros(n_views, n_views, dtype=torch.float64)
    rows = torch.arange(n_views)
    at_mate[rows, (rows + N) % n_views] = big
    at_neighbour[rows, (rows + 1) % n_views] = big
    assert ntxent_lower_bound(at_mate).item() == pytest.approx(math.log(n_views - 1), abs=1e-15)
    # the mate then scores 0 against one e^{50}: ℓ_i ≈ 50, value ≈ log 7 − 50
    assert ntxent_lower_bound(at_neighbour).item() == pytest.approx(
        math.log(n_views - 1) - big, abs=1e-6
    )


@given(
    N=st.integers(1, 6),
    scale=st.floats(0.0, 1e3),
    seed=st.integers(0, 2**31 - 1),
)
def test_value_never_exceeds_log_2n_minus_1_and_stays_finite(
    N: int, scale: float, seed: int
) -> None:
    scores = scale * torch.randn(
        2 * N, 2 * N, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    value = ntxent_lower_bound(scores)
    assert torch.isfinite(value)
    assert value.item() <= math.log(2 * N - 1) + 1e-12


def test_registered_entry_and_ceiling() -> None:
    spec = estimators.get("ntxent")
    assert spec.layout == "views" and not spec.needs and spec.kind == "lower_bound"
    assert spec.ceiling(10) == pytest.approx(math.log(9))  # K = 2N = 10: 2N − 1 = 9 candidates
    scores = torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(spec.loss(scores), ntxent_loss(scores))
    torch.testing.assert_close(spec.value(scores), math.log(5) - spec.loss(scores))


def test_stacked_equals_looped_and_input_untouched() -> None:
    scores = torch.randn(
        2, 3, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    before = scores.clone()
    stacked = ntxent_lower_bound(scores)
    assert stacked.shape == (2, 3)
    looped = torch.stack([torch.stack([ntxent_lower_bound(s) for s in row]) for row in scores])
    torch.testing.assert_close(stacked, looped, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(scores, before, rtol=0, atol=0)


def test_gradcheck_through_scores_and_embeddings() -> None:
    gen = torch.Generator().manual_seed(3)
    scores = torch.randn(2, 6, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ntxent_loss, (scores,))
    a = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ntxent_lower_bound(views_gram(a, b, 0.5)), (a, b))


def test_bad_shapes_are_rejected() -> None:
    for shape in [(5, 5), (4, 6), (3,)]:
        with pytest.raises(ValueError, match="views"):
            ntxent_loss(torch.zeros(shape))
