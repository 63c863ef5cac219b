"""Tests of mibench/estimators/diagnostics.py: ``infonce_value`` and ``ess`` (FlatNCE Eq. (1), (4)),
and their bank forms over ``(K, 1 + Q)`` logits (MoCo)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mibench.estimators import ess, infonce_value
from mibench.estimators.contrastive import bank_infonce_loss
from mibench.estimators.diagnostics import bank_ess, bank_infonce_value

mpmath.mp.dps = 50


def numpy_infonce(S: np.ndarray) -> float:
    """Eq. (1) of FlatNCE as a loop: mean_i [S_ii - log((1/K) sum_j e^{S_ij})]."""
    K = S.shape[0]
    return float(
        np.mean([S[i, i] - math.log(sum(math.exp(v) for v in S[i]) / K) for i in range(K)])
    )


def numpy_ess(S: np.ndarray) -> float:
    """Eq. (4) with n = K - 1 negatives: w_j = e^{S_ij - S_ii} / sum_{j' != i} e^{S_ij' - S_ii},
    ESS_i = 1 / (n sum_j w_j^2), averaged over the anchors."""
    K = S.shape[0]
    values = []
    for i in range(K):
        raw = [math.exp(S[i, j] - S[i, i]) for j in range(K) if j != i]
        w = [r / sum(raw) for r in raw]
        values.append(1.0 / ((K - 1) * sum(v * v for v in w)))
    return float(np.mean(values))


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
@pytest.mark.parametrize("K", [2, 3, 8])
def test_match_numpy_loops(shape: tuple[int, ...], K: int) -> None:
    S = 2.0 * np.random.default_rng(K).standard_normal((*shape, K, K))
    got_nce = infonce_value(torch.from_numpy(S)).numpy()
    got_ess = ess(torch.from_numpy(S)).numpy()
    assert got_nce.shape == shape and got_ess.shape == shape
    for index in np.ndindex(*shape):
        assert got_nce[index] == pytest.approx(numpy_infonce(S[index]), rel=1e-12, abs=1e-12)
        assert got_ess[index] == pytest.approx(numpy_ess(S[index]), rel=1e-12)


def test_infonce_value_at_magnitude_1e3_matches_mpmath() -> None:
    S = 1e3 * np.random.default_rng(1).standard_normal((5, 5))
    expected = (
        mpmath.fsum(
            mpmath.mpf(S[i, i])
            - mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in S[i]) / 5)
            for i in range(5)
        )
        / 5
    )
    got = infonce_value(torch.from_numpy(S)).item()
    assert got == pytest.approx(float(expected), rel=1e-12, abs=1e-9)


@given(
    data=arrays(np.float64, st.integers(2, 8).map(lambda k: (k, k)), elements=st.floats(-1e3, 1e3))
)
def test_ess_lies_between_one_over_n_and_one(data: np.ndarray) -> None:
    K = data.shape[0]
    value = ess(torch.from_numpy(data)).item()
    assert 1.0 / (K - 1) - 1e-12 <= value <= 1.0 + 1e-12


def test_ess_extremes() -> None:
    K = 6
    uniform = torch.zeros(K, K, dtype=torch.float64)
    uniform.fill_diagonal_(5.0)  # the diagonal does not enter the weights
    assert ess(uniform).item() == pytest.approx(1.0, rel=1e-14)
    one_hot = torch.zeros(K, K, dtype=torch.float64)
    for i in range(K):
        one_hot[i, (i + 1) % K] = 100.0  # one negative per row carries all the weight
    assert ess(one_hot).item() == pytest.approx(1.0 / (K - 1), rel=1e-12)


def test_ess_ignores_per_row_shifts_and_the_diagonal() -> None:
    S = torch.from_numpy(np.random.default_rng(2).standard_normal((3, 5, 5)))
    shifted = S + torch.arange(5, dtype=torch.float64).unsqueeze(-1) * 1e3  # c(x_i) per row
    new_diag = S + torch.diag(torch.full((5,), 7.0, dtype=torch.float64))
    torch.testing.assert_close(ess(shifted), ess(S))
    torch.testing.assert_close(ess(new_diag), ess(S))


# ----------------------------------------------------------------- bank (K, 1 + Q) forms
def numpy_bank(logits: np.ndarray) -> tuple[float, float]:
    """Loop reference of the bank forms: InfoNCE mean_i [l_i0 - log((1/(Q+1)) sum_c e^{l_ic})]
    and Eq. (4)'s ESS over the Q negatives (columns 1..Q) of each row."""
    K, n_candidates = logits.shape
    values, esses = [], []
    for i in range(K):
        row = [float(v) for v in logits[i]]
        values.append(row[0] - math.log(sum(math.exp(v) for v in row) / n_candidates))
        raw = [math.exp(v - row[0]) for v in row[1:]]
        w = [r / sum(raw) for r in raw]
        esses.append(1.0 / ((n_candidates - 1) * sum(v * v for v in w)))
    return float(np.mean(values)), float(np.mean(esses))


@pytest.mark.parametrize(("K", "Q"), [(2, 1), (3, 7), (8, 20)])
def test_bank_forms_match_numpy_loops(K: int, Q: int) -> None:
    logits = 2.0 * np.random.default_rng(K + Q).standard_normal((2, K, 1 + Q))
    values = bank_infonce_value(torch.from_numpy(logits))
    esses = bank_ess(torch.from_numpy(logits))
    losses = bank_infonce_loss(torch.from_numpy(logits))
    for r in range(2):
        value, ess_value = numpy_bank(logits[r])
        assert values[r].item() == pytest.approx(value, rel=1e-12, abs=1e-12)
        assert esses[r].item() == pytest.approx(ess_value, rel=1e-12)
        # The loss is the cross-entropy of the positive: log(Q + 1) minus the bound.
        assert losses[r].item() == pytest.approx(math.log(1 + Q) - value, rel=1e-12, abs=1e-12)
        assert values[r].item() <= math.log(1 + Q) + 1e-12


def test_bank_forms_with_the_inbatch_negatives_are_the_square_forms() -> None:
    # Row i's bank = the K - 1 other entries of row i of a K x K matrix: the same candidates, so
    # the bank InfoNCE and ESS are infonce_value and ess of that matrix (Q = K - 1).
    K = 6
    scores = torch.randn(3, K, K, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    off = ~torch.eye(K, dtype=torch.bool)
    negatives = scores[:, off].reshape(3, K, K - 1)
    logits = torch.cat([scores.diagonal(dim1=-2, dim2=-1).unsqueeze(-1), negatives], dim=-1)
    torch.testing.assert_close(
        bank_infonce_value(logits), infonce_value(scores), rtol=1e-12, atol=0
    )
    torch.testing.assert_close(bank_ess(logits), ess(scores), rtol=1e-12, atol=0)


def test_bank_ess_extremes_and_bad_shape() -> None:
    flat = torch.zeros(4, 1 + 9, dtype=torch.float64)
    flat[:, 0] = 30.0  # the positive does not enter the weights
    assert bank_ess(flat).item() == pytest.approx(1.0, rel=1e-14)
    one_hot = torch.zeros(4, 1 + 9, dtype=torch.float64)
    one_hot[:, 3] = 200.0  # one queued key carries all the weight
    assert bank_ess(one_hot).item() == pytest.approx(1.0 / 9, rel=1e-12)
    with pytest.raises(ValueError, match=r"\(\.\.\., K, 1 \+ Q\)"):
        bank_infonce_value(torch.zeros(4, 1))
