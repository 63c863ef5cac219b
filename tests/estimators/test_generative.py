"""Generative bounds (ba, club, l1out, doe): loop references, Gaussian closed forms at the true
conditional q*(y|x) = N(ρx, 1 − ρ²), bound direction, stacked = looped, no mutation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mibench.estimators import get
from mibench.estimators.generative import (
    ba_lower_bound,
    club_upper_bound,
    conditional_nll,
    doe_estimate,
    doe_loss,
    l1out_upper_bound,
)
from mibench.tasks.gaussian import (
    build_gaussian,
    gaussian_entropy,
    gaussian_log_conditional,
    gaussian_log_ratio,
)

# Expectations are compared over n independent batches: |mean - closed form| <= Z_TOL standard
# errors of that mean (the SE estimated from the batches' own spread), a 4-sigma test that fails
# by chance with probability ~6e-5.
Z_TOL = 4.0


def _oracle(
    true_mi: float, dim: int, K: int, n_batches: int, seed: int
) -> tuple[torch.Tensor, ...]:
    """(S, log q*(y)) with S[b, i, j] = log p(y_j | x_i) of n_batches Gaussian batches (float64)."""
    task = build_gaussian(dim=dim, mi=true_mi)
    batch = task.sample(n_batches * K, torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = batch.x.reshape(n_batches, K, dim)
    y = batch.y.reshape(n_batches, K, dim)
    scores = gaussian_log_conditional(x.unsqueeze(-2), y.unsqueeze(-3), task.rho)
    log_marginal = (-0.5 * math.log(2 * math.pi) - 0.5 * y.square()).sum(dim=-1)
    return scores, log_marginal, x, y


def _within(values: torch.Tensor, expected: float) -> tuple[float, float]:
    mean = values.mean().item()
    se = values.std().item() / math.sqrt(values.numel())
    assert abs(mean - expected) <= Z_TOL * se, (mean, expected, se)
    return mean, se


# ------------------------------------------------------------------------ loop references
def _loop_values(scores: torch.Tensor, entropy: float, dual: torch.Tensor) -> dict[str, float]:
    K = scores.shape[-1]
    diag = [scores[i, i].item() for i in range(K)]
    off = [scores[i, j].item() for i in range(K) for j in range(K) if i != j]
    loo = []
    for i in range(K):
        terms = [math.exp(scores[j, i].item()) for j in range(K) if j != i]
        loo.append(diag[i] - math.log(sum(terms) / (K - 1)))
    return {
        "ba": entropy + sum(diag) / K,
        "club": sum(diag) / K - sum(off) / len(off),
        "l1out": sum(loo) / K,
        "doe": sum(d - q for d, q in zip(diag, dual.tolist(), strict=True)) / K,
    }


def test_each_value_matches_a_loop_written_from_the_papers_equation() -> None:
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(7, 7, generator=generator, dtype=torch.float64) * 2.0
    dual = torch.randn(7, generator=generator, dtype=torch.float64)
    expected = _loop_values(scores, 3.5, dual)
    assert ba_lower_bound(scores, entropy_y=3.5).item() == pytest.approx(expected["ba"], abs=1e-12)
    assert club_upper_bound(scores).item() == pytest.approx(expected["club"], abs=1e-12)
    assert l1out_upper_bound(scores).item() == pytest.approx(expected["l1out"], abs=1e-12)
    assert doe_estimate(scores, dual=dual).item() == pytest.approx(expected["doe"], abs=1e-12)


def test_l1out_reads_the_column_of_y_i_not_the_row() -> None:
    """An asymmetric S pins the orientation: the mixture for y_i is over x_j, i.e. S[j, i]."""
    scores = torch.zeros(3, 3, dtype=torch.float64)
    scores[0, 1] = scores[0, 2] = 5.0  # x_0 explains y_1 and y_2: one term in each mixture
    expected = -2.0 * math.log((math.exp(5.0) + 1.0) / 2.0) / 3.0
    assert l1out_upper_bound(scores).item() == pytest.approx(expected, abs=1e-12)
    # Read by rows instead, both terms would fall in x_0's row: -log(e^5) / 3 = -5/3.
    assert l1out_upper_bound(scores.T).item() == pytest.approx(-5.0 / 3.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(0, 10_000), st.floats(0.1, 30.0))
def test_l1out_never_exceeds_club_on_any_scores(K: int, seed: int, scale: float) -> None:
    """Jensen: log mean_{j≠i} e^{S_ji} ≥ mean_{j≠i} S_ji, so L1Out ≤ CLUB for every S."""
    scores = torch.randn(K, K, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    scores = scores * scale
    assert l1out_upper_bound(scores).item() <= club_upper_bound(scores).item() + 1e-9


# ------------------------------------------------------------------ closed forms at the oracle
def test_ba_at_the_true_conditional_is_unbiased_for_the_mi() -> None:
    """E[H(Y) + log p(y|x)] = H(Y) − H(Y|X) = I exactly (BA is tight at q = p(y|x))."""
    scores, *_ = _oracle(true_mi=3.0, dim=5, K=64, n_batches=300, seed=2)
    values = ba_lower_bound(scores, entropy_y=gaussian_entropy(5))
    _within(values, 3.0)


@pytest.mark.parametrize(("true_mi", "dim"), [(1.0, 5), (4.0, 5), (2.0, 2)])
def test_club_at_the_true_conditional_is_d_rho2_over_1_minus_rho2(true_mi: float, dim: int) -> None:
    """E[vCLUB] at q* = I + E_x KL(p(y) ‖ p(y|x)) = d ρ²/(1 − ρ²) = d (e^{2I/d} − 1)."""
    scores, *_ = _oracle(true_mi=true_mi, dim=dim, K=32, n_batches=300, seed=3)
    closed = dim * math.expm1(2.0 * true_mi / dim)
    mean, _ = _within(club_upper_bound(scores), closed)
    assert mean > true_mi


def test_l1out_at_the_true_conditional_matches_its_first_order_slack() -> None:
    """E[L1Out] = I + χ²/(2(K−1)) + O(1/K²), χ² = e^{2I} − 1 (delta method on the mixture).

    At I = 0.5, K = 128 the O(1/K²) remainder (≈ E[(r − 1)^3]/K², r the density ratio) is
    below 1e-3, under a tenth of the 4-SE tolerance of 400 batches.
    """
    true_mi, K = 0.5, 128
    scores, *_ = _oracle(true_mi=true_mi, dim=2, K=K, n_batches=400, seed=4)
    _within(l1out_upper_bound(scores), true_mi + math.expm1(2 * true_mi) / (2 * (K - 1)))


def test_bounds_bracket_the_truth_at_the_oracle() -> None:
    """L1Out and CLUB above I (by more than 4 SE at I = 4 nats), BA within 4 SE of I."""
    true_mi = 4.0
    scores, log_marginal, x, y = _oracle(true_mi=true_mi, dim=5, K=64, n_batches=200, seed=5)
    l1out = l1out_upper_bound(scores)
    assert l1out.mean() - Z_TOL * l1out.std() / math.sqrt(200) > true_mi
    assert (club_upper_bound(scores) >= l1out - 1e-9).all()
    _within(ba_lower_bound(scores, entropy_y=gaussian_entropy(5)), true_mi)
    # DoE with both true densities is the mean log density ratio of the positives.
    ratio = gaussian_log_ratio(x, y, build_gaussian(dim=5, mi=true_mi).rho).mean(dim=-1)
    torch.testing.assert_close(doe_estimate(scores, dual=log_marginal), ratio)
    _within(doe_estimate(scores, dual=log_marginal), true_mi)


# ------------------------------------------------------------------ losses, shapes, purity
def test_losses_are_the_negative_log_likelihoods() -> None:
    scores = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    dual = torch.randn(3, 5, dtype=torch.float64)
    nll = -torch.diagonal(scores, dim1=-2, dim2=-1).mean(dim=-1)
    torch.testing.assert_close(conditional_nll(scores), nll)
    for name in ("club", "l1out"):
        torch.testing.assert_close(get(name).loss(scores), nll)
    torch.testing.assert_close(get("ba").loss(scores, entropy_y=1.0), nll)
    torch.testing.assert_close(doe_loss(scores, dual=dual), nll - dual.mean(dim=-1))


def test_stacked_equals_looped_and_inputs_are_not_mutated() -> None:
    scores = torch.randn(4, 6, 6, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    dual = torch.randn(4, 6, dtype=torch.float64)
    entropy = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    kept = scores.clone(), dual.clone()
    stacked = {
        "ba": ba_lower_bound(scores, entropy_y=entropy),
        "club": club_upper_bound(scores),
        "l1out": l1out_upper_bound(scores),
        "doe": doe_estimate(scores, dual=dual),
    }
    for r in range(4):
        assert stacked["ba"][r] == ba_lower_bound(scores[r], entropy_y=entropy[r])
        assert stacked["club"][r] == pytest.approx(club_upper_bound(scores[r]).item(), abs=1e-12)
        assert stacked["l1out"][r] == pytest.approx(l1out_upper_bound(scores[r]).item(), abs=1e-12)
        assert stacked["doe"][r] == pytest.approx(doe_estimate(scores[r], dual=dual[r]).item())
    torch.testing.assert_close(scores, kept[0], rtol=0, atol=0)
    torch.testing.assert_close(dual, kept[1], rtol=0, atol=0)


def test_bad_shapes_name_the_expected_shape() -> None:
    scores = torch.zeros(2, 4, 4)
    with pytest.raises(ValueError, match=r"entropy_y must broadcast to \(2,\)"):
        ba_lower_bound(scores, entropy_y=torch.zeros(3))
    with pytest.raises(ValueError, match="dual must have shape"):
        doe_estimate(scores, dual=torch.zeros(2, 5))


def test_l1out_is_finite_for_scores_of_magnitude_1e3() -> None:
    scores = torch.full((5, 5), -1e3, dtype=torch.float64)
    scores.fill_diagonal_(1e3)
    assert torch.isfinite(l1out_upper_bound(scores))


def test_gradcheck_in_float64() -> None:
    scores = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    dual = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(l1out_upper_bound, (scores,))
    assert torch.autograd.gradcheck(club_upper_bound, (scores,))
    assert torch.autograd.gradcheck(lambda s, d: doe_estimate(s, dual=d), (scores, dual))


def test_specs_state_kind_score_kind_and_needs() -> None:
    assert get("ba").kind == "lower_bound" and get("ba").needs == frozenset({"entropy_y"})
    assert get("club").kind == "upper_bound" and get("l1out").kind == "upper_bound"
    assert get("doe").kind == "estimate" and get("doe").dual_of == "y_density"
    for name in ("ba", "club", "l1out", "doe"):
        assert get(name).score_kind == "log_conditional"
