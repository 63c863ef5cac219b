"""Tests of mibench/estimators/variational.py: DV, MINE, NWJ, TUBA, JS, SMILE, I_alpha.

References are slow scalar loops written from the papers' equations, run either in NumPy float64
(moderate scores) or in mpmath at 50 digits (scores of magnitude 1e3, where exp overflows float64).
Statistical checks use the analytic optimal critic of a correlated Gaussian; each tolerance states
where it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate
from torch import Tensor

import mibench.estimators as estimators
from mibench.estimators.variational import (
    alpha_ceiling,
    alpha_lower_bound,
    dv_lower_bound,
    js_loss,
    js_value,
    log_loo_mean_exp,
    mine_loss,
    mine_next_state,
    nwj_lower_bound,
    smile_loss,
    smile_value,
    tuba_lower_bound,
)

SIGMAS = 4.0  # statistical checks: |MC mean - expectation| < 4 standard errors (two-sided p ~ 6e-5)
mpmath.mp.dps = 50


# ---------------------------------------------------------------------------------------------
# Scalar references, generic over the arithmetic (NumPy float64 or mpmath)
@dataclass(frozen=True)
class Arithmetic:
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    num: Callable[[float], Any]


NUMPY = Arithmetic(exp=np.exp, log=np.log, num=np.float64)
MPMATH = Arithmetic(exp=mpmath.exp, log=mpmath.log, num=lambda v: mpmath.mpf(float(v)))


def _matrix(S: np.ndarray, m: Arithmetic) -> list[list[Any]]:
    return [[m.num(v) for v in row] for row in S]


def ref_dv(S: Sequence[Sequence[Any]], m: Arithmetic) -> Any:
    """Eq. (26) of FlatNCE / Table S2: mean_i S_ii - log( 1/(K(K-1)) sum_{i!=j} e^{S_ij} )."""
    K = len(S)
    joint = sum(S[i][i] for i in range(K)) / K
    partition = sum(m.exp(S[i][j]) for i in range(K) for j in range(K) if i != j) / (K * (K - 1))
    return joint - m.log(partition)


def ref_nwj(S: Sequence[Sequence[Any]], m: Arithmetic) -> Any:
    """NWJ (Table S2): mean_i S_ii - e^{-1} 1/(K(K-1)) sum_{i!=j} e^{S_ij}."""
    K = len(S)
    joint = sum(S[i][i] for i in range(K)) / K
    partition = sum(m.exp(S[i][j]) for i in range(K) for j in range(K) if i != j) / (K * (K - 1))
    return joint - m.exp(m.num(-1.0)) * partition


def ref_tuba(S: Sequence[Sequence[Any]], a: Sequence[Any], m: Arithmetic) -> Any:
    """Poole et al. §2.2: 1 + mean_i (S_ii - a(x_i)) - 1/(K(K-1)) sum_{i!=j} e^{S_ij - a(x_i)}."""
    K = len(S)
    joint = sum(S[i][i] - a[i] for i in range(K)) / K
    marginal = sum(m.exp(S[i][j] - a[i]) for i in range(K) for j in range(K) if i != j)
    return 1 + joint - marginal / (K * (K - 1))


def ref_js_loss(S: Sequence[Sequence[Any]], m: Arithmetic) -> Any:
    """Negated f-GAN JS bound: E_p[-softplus(-T)] - E_q[softplus(T)], softplus(t) = log(1 + e^t)."""
    K = len(S)
    first = sum(-m.log(1 + m.exp(-S[i][i])) for i in range(K)) / K
    second = sum(m.log(1 + m.exp(S[i][j])) for i in range(K) for j in range(K) if i != j)
    return -(first - second / (K * (K - 1)))


def ref_smile(S: Sequence[Sequence[Any]], tau: float, m: Arithmetic) -> Any:
    """Song & Ermon §4: mean_i S_ii - log mean_{i!=j} clip(e^{S_ij}, e^{-tau}, e^{tau})."""
    K = len(S)
    joint = sum(S[i][i] for i in range(K)) / K
    lo, hi = m.exp(m.num(-tau)), m.exp(m.num(tau))
    clipped = [min(max(m.exp(S[i][j]), lo), hi) for i in range(K) for j in range(K) if i != j]
    return joint - m.log(sum(clipped) / (K * (K - 1)))


def ref_alpha(S: Sequence[Sequence[Any]], log_q: Sequence[Any], alpha: float, m: Arithmetic) -> Any:
    """Poole et al. Eq. (11) with K-1 x samples per normaliser (leave-one-out; rows = x).

    Joint: for each positive (x_i, y_i) and each j != i, the x set is {x_k : k != j} (it holds
    x_i). Marginal: y_b with x_a (a != b) from the set {x_k : k != b}, independent of y_b.
    """
    K = len(S)

    def baseline(b: int, leave_out: int) -> Any:
        m_y = sum(m.exp(S[k][b]) for k in range(K) if k != leave_out) / (K - 1)
        return alpha * m_y + (1 - alpha) * m.exp(log_q[b])

    joint = sum(S[i][i] - m.log(baseline(i, j)) for i in range(K) for j in range(K) if j != i)
    marginal = sum(m.exp(S[a][b]) / baseline(b, b) for b in range(K) for a in range(K) if a != b)
    return 1 + joint / (K * (K - 1)) - marginal / (K * (K - 1))


def _apply(
    ref: Callable[..., Any], S: np.ndarray, *per_sample: np.ndarray, m: Arithmetic, **kw: Any
) -> np.ndarray:
    """Run a per-matrix reference over the leading axes of S (float64 result)."""
    out = np.empty(S.shape[:-2])
    for index in np.ndindex(*S.shape[:-2]):
        extra = [[m.num(v) for v in vec[index]] for vec in per_sample]
        out[index] = float(ref(_matrix(S[index], m), *extra, m=m, **kw))
    return out


def _t(array: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


SHAPES = [(), (3,), (2, 2)]
KS = [2, 3, 7]


def _random(shape: tuple[int, ...], K: int, seed: int, scale: float = 2.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal((*shape, K, K))


# ---------------------------------------------------------------------------------------------
# Values against the references on random scores
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("K", KS)
def test_values_match_numpy_loops(shape: tuple[int, ...], K: int) -> None:
    S = _random(shape, K, seed=K + 10 * len(shape))
    rng = np.random.default_rng(1)
    a = rng.standard_normal((*shape, K))
    log_q = rng.standard_normal((*shape, K))
    St = _t(S)
    cases = [
        (dv_lower_bound(St), _apply(ref_dv, S, m=NUMPY)),
        (nwj_lower_bound(St), _apply(ref_nwj, S, m=NUMPY)),
        (tuba_lower_bound(St, dual=_t(a)), _apply(ref_tuba, S, a, m=NUMPY)),
        (js_value(St), _apply(ref_nwj, S + 1.0, m=NUMPY)),
        (js_loss(St), _apply(ref_js_loss, S, m=NUMPY)),
        (smile_value(St, clip=1.5), _apply(ref_smile, S, tau=1.5, m=NUMPY)),
        (smile_value(St, clip=math.inf), _apply(ref_dv, S, m=NUMPY)),
    ]
    for alpha in (0.0, 0.3, 1.0):
        cases.append(
            (
                alpha_lower_bound(St, dual=_t(log_q), alpha=alpha),
                _apply(ref_alpha, S, log_q, alpha=alpha, m=NUMPY),
            )
        )
    for got, expected in cases:
        assert got.shape == shape
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


def _compare_to_mpmath(got: Tensor, expected: np.ndarray | float) -> None:
    """Equal where the true value is a float64; -inf/+inf (never NaN) where it is not."""
    for g, e in zip(np.atleast_1d(got.numpy()), np.atleast_1d(expected), strict=True):
        if abs(e) < 1e300:
            assert g == pytest.approx(e, rel=1e-9, abs=1e-9)
        else:
            assert g == math.copysign(math.inf, e)


LARGE_CASES = {
    # Every naive exp(S) overflows or underflows on these.
    "1e3*Z": lambda Z: 1e3 * Z,
    "1e3+Z": lambda Z: 1e3 + Z,
    "-1e3+Z": lambda Z: -1e3 + Z,
}


@pytest.mark.parametrize("case", list(LARGE_CASES))
def test_values_at_magnitude_1e3_match_mpmath(case: str) -> None:
    Z = _random((2,), 5, seed=3, scale=1.0)
    S = LARGE_CASES[case](Z)
    rng = np.random.default_rng(2)
    # Baselines on the scale of the scores, so TUBA/I_alpha have representable true values.
    a = S.max(axis=-1) + rng.standard_normal((2, 5))
    log_q = S.max(axis=-2) + rng.standard_normal((2, 5))
    St = _t(S)
    exp_mp = lambda v: float(v) if abs(v) < mpmath.mpf("1e300") else math.copysign(math.inf, v)  # noqa: E731
    pairs = [
        (dv_lower_bound(St), ref_dv),
        (nwj_lower_bound(St), ref_nwj),
        (smile_value(St, clip=5.0), lambda M, m: ref_smile(M, 5.0, m)),
        (js_loss(St), ref_js_loss),
    ]
    for got, ref in pairs:
        expected = [exp_mp(ref(_matrix(S[r], MPMATH), MPMATH)) for r in range(2)]
        _compare_to_mpmath(got, np.array(expected))
        assert not torch.isnan(got).any()
    got_tuba = tuba_lower_bound(St, dual=_t(a))
    expected_tuba = [
        exp_mp(ref_tuba(_matrix(S[r], MPMATH), [MPMATH.num(v) for v in a[r]], MPMATH))
        for r in range(2)
    ]
    _compare_to_mpmath(got_tuba, np.array(expected_tuba))
    got_alpha = alpha_lower_bound(St, dual=_t(log_q), alpha=0.4)
    expected_alpha = [
        exp_mp(ref_alpha(_matrix(S[r], MPMATH), [MPMATH.num(v) for v in log_q[r]], 0.4, MPMATH))
        for r in range(2)
    ]
    _compare_to_mpmath(got_alpha, np.array(expected_alpha))
    # The log-partition estimators have representable true values in every case here.
    assert torch.isfinite(dv_lower_bound(St)).all() and torch.isfinite(got_tuba).all()
    assert torch.isfinite(got_alpha).all()


# ---------------------------------------------------------------------------------------------
# Identities between the bounds
def test_tuba_with_unit_baseline_is_nwj() -> None:
    S = _t(_random((4,), 6, seed=5))
    ones = torch.ones(4, 6, dtype=torch.float64)
    torch.testing.assert_close(tuba_lower_bound(S, dual=ones), nwj_lower_bound(S))


def test_js_value_is_nwj_of_shifted_scores_and_smile_trains_with_js() -> None:
    S = _t(_random((3,), 5, seed=6))
    torch.testing.assert_close(js_value(S), nwj_lower_bound(S + 1.0))
    torch.testing.assert_close(smile_loss(S, clip=2.0), js_loss(S))


def test_smile_without_active_clip_is_dv() -> None:
    S = _t(_random((3,), 5, seed=7))
    tau = float(S.abs().max()) + 1.0  # no entry reaches the clip
    torch.testing.assert_close(smile_value(S, clip=tau), dv_lower_bound(S))
    torch.testing.assert_close(smile_value(S, clip=math.inf), dv_lower_bound(S))


def test_smile_clips_negatives_only_not_positives() -> None:
    """A huge diagonal counts in full (the joint term is unclipped); the partition is clipped."""
    K = 4
    S = torch.zeros(K, K, dtype=torch.float64)
    S.fill_diagonal_(50.0)
    S[0, 1] = 40.0  # clipped to tau = 5 in the partition
    expected = 50.0 - math.log((math.exp(5.0) + (K * (K - 1) - 1)) / (K * (K - 1)))
    assert smile_value(S, clip=5.0).item() == pytest.approx(expected, rel=1e-12)


def test_alpha_zero_is_tuba_with_a_per_y_baseline() -> None:
    """alpha = 0: baseline log q(y_j) subtracted down column j, i.e. TUBA of S^T (rows = y)."""
    S = _t(_random((3,), 6, seed=8))
    log_q = torch.randn(3, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = tuba_lower_bound(S.transpose(-1, -2), dual=log_q)
    torch.testing.assert_close(alpha_lower_bound(S, dual=log_q, alpha=0.0), expected)
    # Small alpha approaches it smoothly: the value is differentiable in alpha at 0, so the gap is
    # c * alpha + O(alpha^2) and shrinks by the same factor as alpha.
    gaps = [
        (alpha_lower_bound(S, dual=log_q, alpha=alpha) - expected).abs().max().item()
        for alpha in (1e-6, 1e-9)
    ]
    assert gaps[1] / gaps[0] == pytest.approx(1e-3, rel=0.01)


def test_alpha_one_is_leave_one_out_infonce() -> None:
    """alpha = 1: marginal term exactly 1, joint term the InfoNCE bound with K-1 candidates."""
    S = _t(_random((2,), 5, seed=9))
    K = 5
    log_q = torch.zeros(2, K, dtype=torch.float64)  # ignored at alpha = 1
    value = alpha_lower_bound(S, dual=log_q, alpha=1.0)
    # mean over i, j != i of [S_ii - log mean_{k != j} e^{S_ki}], written with numpy loops
    Sn = S.numpy()
    expected = np.zeros(2)
    for r in range(2):
        terms = [
            Sn[r, i, i] - math.log(np.mean([math.exp(Sn[r, k, i]) for k in range(K) if k != j]))
            for i in range(K)
            for j in range(K)
            if j != i
        ]
        expected[r] = np.mean(terms)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-12)
    assert (value <= math.log(K - 1) + 1e-12).all()


@given(
    data=arrays(np.float64, (6, 6), elements=st.floats(-30, 30)),
    log_q=arrays(np.float64, (6,), elements=st.floats(-30, 30)),
    alpha=st.floats(0.01, 1.0),
)
def test_alpha_never_exceeds_its_ceiling(data: np.ndarray, log_q: np.ndarray, alpha: float) -> None:
    value = alpha_lower_bound(_t(data), dual=_t(log_q), alpha=alpha).item()
    assert value <= alpha_ceiling(6, alpha=alpha) + 1e-9


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_alpha_ceiling_is_approached(alpha: float) -> None:
    """S_ii = L, S_ij = -L, q = 1: the value tends to 1 + log(K-1) - log(alpha) as L grows."""
    K = 8
    for L, tol in ((20.0, 1e-6), (40.0, 1e-12)):
        S = torch.full((K, K), -L, dtype=torch.float64)
        S.fill_diagonal_(L)
        value = alpha_lower_bound(S, dual=torch.zeros(K, dtype=torch.float64), alpha=alpha).item()
        # Error terms are O(K e^{-L} / alpha) and e^{-2L}/(1-alpha): below tol at these L.
        assert value == pytest.approx(alpha_ceiling(K, alpha=alpha), abs=tol)
    assert estimators.get("alpha").with_hyper(alpha=alpha).ceiling(K) == alpha_ceiling(
        K, alpha=alpha
    )
    assert alpha_ceiling(K, alpha=1.0) == pytest.approx(math.log(K - 1))


def test_log_loo_mean_exp_matches_brute_force_and_survives_a_dominant_entry() -> None:
    rng = np.random.default_rng(4)
    V = rng.standard_normal((2, 3, 5)) * 3
    V[0, 0] = [800.0, 0.0, -3.0, 1.0, 2.0]  # the other terms vanish next to e^800 in float64
    V[0, 1] = [7.0, 7.0, 1.0, 0.0, -1.0]  # a tie at the maximum
    got = log_loo_mean_exp(_t(V)).numpy()
    for index in np.ndindex(2, 3):
        for j in range(5):
            rest = np.delete(V[index], j)
            top = rest.max()
            expected = top + math.log(np.mean(np.exp(rest - top)))
            assert got[index][j] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    Vt = _t(V).requires_grad_(True)
    (grad,) = torch.autograd.grad(log_loo_mean_exp(Vt).sum(), Vt)
    assert torch.isfinite(grad).all()


# ---------------------------------------------------------------------------------------------
@given(
    data=arrays(
        np.float64,
        st.tuples(st.integers(2, 7), st.integers(2, 7)).map(lambda t: (t[0], t[0])),
        elements=st.floats(-50, 50),
    )
)
def test_dv_is_never_below_nwj(data: np.ndarray) -> None:
    """log t <= t/e for t > 0 (equality at t = e), so DV >= NWJ for the same S."""
    S = _t(data)
    assert dv_lower_bound(S).item() >= nwj_lower_bound(S).item() - 1e-9 * (
        1 + abs(dv_lower_bound(S).item())
    )


def test_dv_equals_nwj_exactly_where_the_partition_is_e() -> None:
    K = 5
    S = torch.full((K, K), 1.0, dtype=torch.float64)  # mean_{i!=j} e^{S_ij} = e
    S.fill_diagonal_(3.0)
    torch.testing.assert_close(dv_lower_bound(S), nwj_lower_bound(S))


# ---------------------------------------------------------------------------------------------
# MINE
def test_mine_state_is_the_log_of_an_exponential_moving_average() -> None:
    rng = np.random.default_rng(5)
    steps = [rng.standard_normal((2, 4, 4)) * 2 for _ in range(5)]
    rate = 0.1
    state = None
    ema = None
    for S in steps:
        state = mine_next_state(_t(S), state, ema_rate=rate)
        mask = ~np.eye(4, dtype=bool)
        z_hat = np.array([np.exp(S[r][mask]).mean() for r in range(2)])
        ema = z_hat if ema is None else (1 - rate) * ema + rate * z_hat
        np.testing.assert_allclose(state.numpy(), np.log(ema), rtol=1e-12)
        assert not state.requires_grad


def test_mine_loss_value_is_minus_dv_and_gradient_uses_the_moving_average() -> None:
    """∂L/∂S_ij = e^{S_ij} / (K(K-1) Z̄) off the diagonal, -1/K on it (Belghazi et al. §3.2)."""
    K = 5
    rng = np.random.default_rng(6)
    previous = _t(rng.standard_normal((3, K, K)))
    S = _t(rng.standard_normal((3, K, K)) * 1.5).requires_grad_(True)
    state = mine_next_state(S.detach(), mine_next_state(previous, None, ema_rate=0.2), ema_rate=0.2)
    loss = mine_loss(S, state=state, ema_rate=0.2)
    torch.testing.assert_close(loss, -dv_lower_bound(S.detach()))
    (grad,) = torch.autograd.grad(loss.sum(), S)
    Sn = S.detach().numpy()
    expected = np.exp(Sn) / (K * (K - 1) * np.exp(state.numpy())[:, None, None])
    for r in range(3):
        np.fill_diagonal(expected[r], -1.0 / K)
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-12, atol=1e-15)
    # Without a state (first step) the gradient is the plain DV gradient.
    (dv_grad,) = torch.autograd.grad(-dv_lower_bound(S).sum(), S)
    (first_grad,) = torch.autograd.grad(mine_loss(S, state=None).sum(), S)
    torch.testing.assert_close(first_grad, dv_grad)


def test_mine_spec_threads_state_through_next_state() -> None:
    spec = estimators.get("mine")
    assert spec.needs == frozenset({"state"}) and spec.hyper == {"ema_rate": 0.01}
    S = _t(_random((2,), 4, seed=8))
    state = spec.next_state(S, None)
    torch.testing.assert_close(state, mine_next_state(S, None))
    torch.testing.assert_close(spec.value(S, state=state), dv_lower_bound(S))


# ---------------------------------------------------------------------------------------------
# gradcheck (float64) of every value and every loss whose gradient is that of its own value
def _gradcheck_cases() -> list[tuple[str, Callable[..., Tensor], bool]]:
    return [
        ("dv", dv_lower_bound, False),
        ("nwj", nwj_lower_bound, False),
        ("js_value", js_value, False),
        ("js_loss", js_loss, False),
        ("smile_value", lambda S: smile_value(S, clip=1.0), False),
        ("mine_value", lambda S: estimators.get("mine").value(S, state=None), False),
        # Without a moving average yet (first step) MINE's loss is -DV, gradient included.
        ("mine_loss_first_step", lambda S: mine_loss(S, state=None), False),
        ("tuba", tuba_lower_bound, True),
        ("alpha", lambda S, dual: alpha_lower_bound(S, dual=dual, alpha=0.3), True),
    ]


@pytest.mark.parametrize(
    ("label", "fn", "with_dual"), _gradcheck_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_gradcheck(label: str, fn: Callable[..., Tensor], with_dual: bool) -> None:
    generator = torch.Generator().manual_seed(9)
    S = torch.randn(2, 4, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    if with_dual:
        d = torch.randn(2, 4, generator=generator, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda s, u: fn(s, dual=u), (S, d))
    else:
        assert torch.autograd.gradcheck(fn, (S,))


# ---------------------------------------------------------------------------------------------
# Input validation: errors name the shapes / the bad value
def test_bad_inputs_raise_clear_errors() -> None:
    S = torch.zeros(2, 4, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3\)"):
        tuba_lower_bound(S, dual=torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(\.\.\., K, K\)"):
        dv_lower_bound(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="K >= 2"):
        nwj_lower_bound(torch.zeros(1, 1))
    with pytest.raises(ValueError, match="alpha"):
        alpha_lower_bound(S, dual=torch.zeros(2, 4, dtype=torch.float64), alpha=1.5)
    with pytest.raises(ValueError, match="ema_rate"):
        mine_next_state(S, None, ema_rate=0.0)
    with pytest.raises(ValueError, match="clip"):
        smile_value(S, clip=0.0)
    with pytest.raises(ValueError, match="state"):
        mine_next_state(S, torch.zeros(3, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Each bound at its own optimal critic on a correlated Gaussian
def _mean_and_se(values: Tensor) -> tuple[float, float]:
    v = values.numpy()
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


GAUSS = {"true_mi": 0.5, "dim": 2, "K": 128, "n_batches": 48}


def test_unbiased_bounds_at_their_optimal_critics(oracle_batches) -> None:
    """NWJ at 1 + log r, JS (NWJ of S+1) at log r, TUBA at log r + a(x) with baseline a: each is
    linear in e^{S} with E_q[r] = 1, so its expectation is exactly I. Tolerance: 4 SE."""
    data = oracle_batches(seed=1, **GAUSS)
    log_r = data.scores
    a = torch.sin(3.0 * data.x[..., 0])  # any function of x is an optimal TUBA baseline
    for values in (
        nwj_lower_bound(1.0 + log_r),
        js_value(log_r),
        tuba_lower_bound(log_r + a.unsqueeze(-1), dual=a),
    ):
        mean, se = _mean_and_se(values)
        assert abs(mean - data.true_mi) < SIGMAS * se, (mean, se)


def test_dv_and_mine_at_the_log_ratio(oracle_batches) -> None:
    """E[DV] = I + E[-log M], M = mean_{i!=j} r_ij, E[M] = 1: Jensen gives E[DV] >= I, and the
    gap is ~ E[(M-1)^2]/2 (second-order delta method), estimated from the same batches."""
    data = oracle_batches(seed=2, **GAUSS)
    log_r = data.scores
    K = GAUSS["K"]
    M = torch.exp(
        torch.logsumexp(
            log_r.masked_fill(torch.eye(K, dtype=torch.bool), -math.inf).flatten(-2), -1
        )
    ) / (K * (K - 1))
    gap = float(((M - 1.0) ** 2).mean() / 2.0)
    for values in (
        dv_lower_bound(log_r),
        estimators.get("mine").value(log_r, state=None),
        smile_value(log_r, clip=math.inf),
    ):
        mean, se = _mean_and_se(values)
        assert data.true_mi - SIGMAS * se < mean < data.true_mi + gap + SIGMAS * se, (mean, se, gap)


def test_alpha_at_the_log_ratio_with_a_unit_baseline(oracle_batches) -> None:
    """At S = log r, q = 1: E[marginal] <= 1 (h(m) = m/(alpha m + 1 - alpha) is concave, E[m] = 1)
    and E[joint] >= I - log(1 + alpha (e^{2I} - 1)/(K - 1)) (Jensen; E_p[r] = e^{2I} for this
    Gaussian since E_p[r] = prod_k 1/(1 - rho^2)). With I_alpha <= I this brackets the mean."""
    data = oracle_batches(seed=3, **GAUSS)
    K = GAUSS["K"]
    q = torch.zeros(data.scores.shape[:-1], dtype=torch.float64)
    for alpha in (0.01, 0.5, 1.0):
        mean, se = _mean_and_se(alpha_lower_bound(data.scores, dual=q, alpha=alpha))
        low = data.true_mi - math.log1p(alpha * math.expm1(2 * data.true_mi) / (K - 1))
        assert low - SIGMAS * se < mean < data.true_mi + SIGMAS * se, (alpha, mean, se, low)


def _clipped_partition(rho: float, tau: float) -> float:
    """E_{p(x)p(y)}[clip(r(x, y), e^-tau, e^tau)] for one coordinate.

    2-D trapezoid rule on a 2001 x 2001 grid over [-12, 12]^2 (q puts < e^-72 mass outside; the
    clip's kinks make the error O(h^2) ~ 1.4e-4, far below the test's tolerance).
    """
    grid = np.linspace(-12.0, 12.0, 2001)
    x, y = np.meshgrid(grid, grid, indexing="ij")
    one_minus = 1.0 - rho * rho
    log_r = -0.5 * math.log(one_minus) - (y - rho * x) ** 2 / (2 * one_minus) + y * y / 2
    density = np.exp(-(x * x + y * y) / 2) / (2 * math.pi)
    integrand = density * np.exp(np.clip(log_r, -tau, tau))
    return float(integrate.trapezoid(integrate.trapezoid(integrand, grid, axis=1), grid))


def test_smile_at_the_log_ratio_approaches_its_clipped_limit(oracle_batches) -> None:
    """SMILE(tau) - DV at S = log r is log M - log M_clip (the unclipped joint terms cancel), with
    M = mean_{i!=j} r_ij -> E_q[r] = 1 and M_clip -> C_tau = E_q[clip(r, e^-tau, e^tau)], so it
    tends to -log C_tau, computed by quadrature. Tolerance: 4 SE of the paired difference plus the
    plug-in log biases, E[(M - 1)^2]/2 (estimated from the batches, as for DV) and
    E[(M_clip - C)^2]/(2 C^2) <= e^{2 tau}/(2 C^2 K (K - 1)) (clipped ratios lie in [e^-tau, e^tau])."""
    K = 128
    data = oracle_batches(true_mi=0.5, dim=1, K=K, n_batches=48, seed=4)
    tau = 0.5
    assert _clipped_partition(data.rho, math.inf) == pytest.approx(1.0, abs=1e-6)  # E_q[r] = 1
    clipped = _clipped_partition(data.rho, tau)
    difference = smile_value(data.scores, clip=tau) - dv_lower_bound(data.scores)
    mean, se = _mean_and_se(difference)
    assert abs(math.log(clipped)) > 2 * SIGMAS * se  # the check can tell SMILE from DV
    off = ~torch.eye(K, dtype=torch.bool)
    M = torch.exp(torch.logsumexp(data.scores[:, off], dim=-1)) / (K * (K - 1))
    bias = float(((M - 1.0) ** 2).mean() / 2) + math.exp(2 * tau) / (2 * clipped**2 * K * (K - 1))
    assert abs(mean + math.log(clipped)) < SIGMAS * se + bias, (mean, se, -math.log(clipped))
