"""The log-space reductions (mibench.estimators._logspace) against direct float64 loops.

Each reduction is compared with a plain Python/NumPy computation written from its docstring on
small stacked matrices, and again at scores of magnitude 1e3, where the naive ``log(sum(exp))``
overflows (exp(1000) = inf in float64) but the reduction must still equal the exact value, which
the reference then takes from the shifted form ``m + log(sum(exp(s - m)))`` (exact algebra).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mibench.estimators._logspace import (
    diag,
    exp_row_off_shifted,
    lme_col_off,
    lme_off,
    lme_row_off,
    lse_row,
    lse_row_off,
    mask_diag,
    mean_offdiag,
    offdiag_entries,
    offdiag_mask,
)

# float64 summation order differs between torch.logsumexp and the loops: a few ulps of the
# largest magnitude involved (1e3 at most here).
RTOL, ATOL = 1e-12, 1e-9


def _lse(values: list[float]) -> float:
    """log sum exp, shifted by the maximum (exact algebra; finite for finite inputs)."""
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _off(S: np.ndarray, i: int) -> list[float]:
    return [float(S[i, j]) for j in range(S.shape[0]) if j != i]


def _stacked(seed: int, scale: float, shape: tuple[int, ...] = (2, 3, 5, 5)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, dtype=torch.float64, generator=generator)


def _per_matrix(scores: torch.Tensor, reference) -> np.ndarray:
    """Apply ``reference`` (one K x K NumPy matrix -> array) to every matrix of the stack."""
    flat = scores.reshape(-1, *scores.shape[-2:]).numpy()
    out = np.stack([np.asarray(reference(S), dtype=np.float64) for S in flat])
    return out.reshape(*scores.shape[:-2], *out.shape[1:])


def _ref_lse_row(S: np.ndarray) -> list[float]:
    return [_lse([float(v) for v in S[i]]) for i in range(S.shape[0])]


def _ref_lse_row_off(S: np.ndarray) -> list[float]:
    return [_lse(_off(S, i)) for i in range(S.shape[0])]


def _ref_lme_row_off(S: np.ndarray) -> list[float]:
    K = S.shape[0]
    return [_lse(_off(S, i)) - math.log(K - 1) for i in range(K)]


def _ref_lme_col_off(S: np.ndarray) -> list[float]:
    K = S.shape[0]
    return [_lse([float(S[i, j]) for i in range(K) if i != j]) - math.log(K - 1) for j in range(K)]


def _ref_lme_off(S: np.ndarray) -> float:
    K = S.shape[0]
    entries = [float(S[i, j]) for i in range(K) for j in range(K) if i != j]
    return _lse(entries) - math.log(K * (K - 1))


REDUCTIONS = [
    (lse_row, _ref_lse_row),
    (lse_row_off, _ref_lse_row_off),
    (lme_row_off, _ref_lme_row_off),
    (lme_col_off, _ref_lme_col_off),
    (lme_off, _ref_lme_off),
]


@pytest.mark.parametrize(("reduction", "reference"), REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_reduction_equals_the_direct_float64_loop(reduction, reference, scale: float) -> None:
    scores = _stacked(seed=3, scale=scale)
    got = reduction(scores)
    assert got.shape == _per_matrix(scores, reference).shape
    np.testing.assert_allclose(got.numpy(), _per_matrix(scores, reference), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("reduction", "reference"), REDUCTIONS, ids=lambda f: f.__name__)
def test_reduction_is_finite_where_the_naive_form_overflows(reduction, reference) -> None:
    # Scores around +1000: exp overflows to inf in float64, so the naive form gives inf; the
    # log-space reduction stays finite and equals the shifted reference.
    scores = 1000.0 + _stacked(seed=4, scale=1.0, shape=(3, 4, 4))
    with np.errstate(over="ignore"):
        naive = np.log(np.exp(scores.numpy()).sum(axis=-1))
    assert np.isinf(naive).all()
    got = reduction(scores)
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), _per_matrix(scores, reference), rtol=RTOL, atol=ATOL)


def test_reductions_at_large_negative_scores_do_not_underflow_to_minus_infinity() -> None:
    # exp(-1000) = 0 in float64: the naive log gives -inf; the reductions keep the exact value.
    scores = -1000.0 + _stacked(seed=5, scale=1.0, shape=(2, 4, 4))
    for reduction, reference in REDUCTIONS:
        got = reduction(scores)
        assert torch.isfinite(got).all(), reduction.__name__
        np.testing.assert_allclose(
            got.numpy(), _per_matrix(scores, reference), rtol=RTOL, atol=ATOL
        )


def test_constant_matrix_closed_forms() -> None:
    # S = c everywhere: lse over K entries is c + log K, over K - 1 entries c + log(K - 1); every
    # log-mean-exp is c itself.
    K, c = 6, 2.5
    scores = torch.full((2, K, K), c, dtype=torch.float64)
    torch.testing.assert_close(
        lse_row(scores), torch.full((2, K), c + math.log(K), dtype=torch.float64)
    )
    torch.testing.assert_close(
        lse_row_off(scores), torch.full((2, K), c + math.log(K - 1), dtype=torch.float64)
    )
    for reduction in (lme_row_off, lme_col_off):
        torch.testing.assert_close(reduction(scores), torch.full((2, K), c, dtype=torch.float64))
    torch.testing.assert_close(lme_off(scores), torch.full((2,), c, dtype=torch.float64))


def test_the_diagonal_never_enters_an_off_diagonal_reduction() -> None:
    # A huge diagonal would dominate any LSE that included it.
    scores = _stacked(seed=6, scale=1.0, shape=(2, 5, 5))
    boosted = scores + torch.diag_embed(torch.full((2, 5), 1e4, dtype=torch.float64))
    for reduction in (lse_row_off, lme_row_off, lme_col_off, lme_off):
        torch.testing.assert_close(reduction(boosted), reduction(scores), rtol=0, atol=0)
    assert (lse_row(boosted) > 1e3).all()  # the full-row LSE does see it


def test_lme_col_off_is_lme_row_off_of_the_transpose_and_differs_for_asymmetric_scores() -> None:
    scores = torch.tensor([[0.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    rows, cols = lme_row_off(scores), lme_col_off(scores)
    # Row 0 holds the 5 (with one 0); column 1 holds it (with one 0).
    expected_big = math.log((math.exp(5.0) + 1.0) / 2)
    torch.testing.assert_close(rows, torch.tensor([expected_big, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(cols, torch.tensor([0.0, expected_big, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("K", [2, 3, 4, 7])
def test_offdiag_entries_covers_each_off_diagonal_entry_exactly_once(K: int) -> None:
    # Distinct codes 1000 i + j identify each entry: the view must hold exactly the K(K-1) codes
    # with i != j, each once, and no diagonal code.
    codes = torch.tensor([[1000 * i + j for j in range(K)] for i in range(K)], dtype=torch.float64)
    stacked = torch.stack([codes, codes + 10**6])
    view = offdiag_entries(stacked)
    assert view.shape == (2, K - 1, K)
    for r, offset in enumerate((0, 10**6)):
        got = sorted(int(v) - offset for v in view[r].flatten().tolist())
        expected = sorted(1000 * i + j for i in range(K) for j in range(K) if i != j)
        assert got == expected


def test_offdiag_entries_is_a_view_without_copy() -> None:
    scores = _stacked(seed=7, scale=1.0, shape=(2, 4, 4))
    view = offdiag_entries(scores)
    assert view.data_ptr() == scores.data_ptr() + scores.element_size()  # starts at S[0, 0, 1]
    assert view._base is scores


def test_mask_diag_and_diag() -> None:
    scores = _stacked(seed=8, scale=1.0, shape=(2, 4, 4))
    before = scores.clone()
    masked = mask_diag(scores)
    assert torch.equal(scores, before)  # a copy: the input is not mutated
    eye = torch.eye(4, dtype=torch.bool)
    assert torch.isneginf(masked[:, eye]).all()
    assert torch.equal(masked[:, ~eye], scores[:, ~eye])
    assert torch.equal(
        mask_diag(scores, fill=7.0)[:, eye], torch.full((2, 4), 7.0, dtype=torch.float64)
    )
    expected = torch.tensor(
        [[float(S[i, i]) for i in range(4)] for S in scores], dtype=torch.float64
    )
    torch.testing.assert_close(diag(scores), expected, rtol=0, atol=0)


def test_offdiag_mask() -> None:
    mask = offdiag_mask(3)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[False, True, True], [True, False, True], [True, True, False]]


def test_exp_row_off_shifted_is_the_row_max_shifted_exponential() -> None:
    scores = 1000.0 + _stacked(seed=9, scale=3.0, shape=(2, 5, 5))
    shifted = exp_row_off_shifted(scores)
    S = scores.numpy()
    for r in range(2):
        for i in range(5):
            top = max(_off(S[r], i))
            for j in range(5):
                expected = 0.0 if i == j else math.exp(S[r, i, j] - top)
                assert shifted[r, i, j].item() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    off_rows = shifted.masked_fill(torch.eye(5, dtype=torch.bool), -1.0)
    torch.testing.assert_close(off_rows.amax(dim=-1), torch.ones(2, 5, dtype=torch.float64))
    # Its log row sum plus the row max is lse_row_off (the identity the reductions rely on).
    top = mask_diag(scores).amax(dim=-1)
    torch.testing.assert_close(shifted.sum(dim=-1).log() + top, lse_row_off(scores))


def test_mean_offdiag_ignores_the_diagonal_even_when_it_is_not_finite() -> None:
    values = _stacked(seed=10, scale=1.0, shape=(3, 4, 4))
    values = values + torch.diag_embed(torch.full((3, 4), math.nan, dtype=torch.float64))
    V = values.numpy()
    expected = [
        np.mean([V[r, i, j] for i in range(4) for j in range(4) if i != j]) for r in range(3)
    ]
    np.testing.assert_allclose(mean_offdiag(values).numpy(), expected, rtol=1e-14)


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 6)).map(lambda k: (k[0], k[0])),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
    )
)
def test_lme_off_lies_between_the_smallest_and_largest_off_diagonal_entry(S: np.ndarray) -> None:
    # A log-mean-exp is a (generalised) mean: min <= lme <= max, whatever the magnitudes.
    K = S.shape[0]
    value = lme_off(torch.from_numpy(S)).item()
    off = [S[i, j] for i in range(K) for j in range(K) if i != j]
    slack = 1e-12 * max(1.0, max(abs(v) for v in off))
    assert min(off) - slack <= value <= max(off) + slack
    rows = lme_row_off(torch.from_numpy(S)).numpy()
    for i in range(K):
        row = _off(S, i)
        assert min(row) - slack <= rows[i] <= max(row) + slack
