"""Tests of the f-MICL family (mibench/estimators/fdiv.py).

Ground truths are derived here, never read from the library: the f-MI of the correlated Gaussian
by scipy numerical integration (1-D) and by the closed forms derived in
:func:`chernoff_coefficient`, themselves checked against the integration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize

import mibench.estimators as estimators
from mibench.estimators.fdiv import (
    DEFAULT_TSALLIS_ALPHA,
    F_DIVERGENCES,
    UNBOUNDED_AT_LARGE_SCORES,
    f_lower_bound,
    log_ratio_mi_estimate,
)
from mibench.tasks.gaussian import gaussian_log_ratio

NAMES = list(F_DIVERGENCES)
ALPHA = DEFAULT_TSALLIS_ALPHA
SIGMAS = 4.0  # statistical checks: |MC mean - truth| < 4 standard errors (two-sided p ~ 6e-5)
INTEGRATION_BOX = 12.0  # q = N(0, I_2) puts < e^{-72} mass outside [-12, 12]^2

# f, f' and f* written from the standard definitions (f-GAN, Nowozin et al. 2016, Table 2),
# independently of the library's table, as NumPy scalar functions.
NUMPY_F: dict[
    str, tuple[Callable[[float], float], Callable[[float], float], Callable[[float], float]]
] = {
    "kl": (lambda u: u * math.log(u), lambda u: 1.0 + math.log(u), lambda t: math.exp(t - 1.0)),
    "js": (
        lambda u: u * math.log(u) - (u + 1.0) * math.log((u + 1.0) / 2.0),
        lambda u: math.log(2.0 * u / (1.0 + u)),
        lambda t: -math.log(2.0 - math.exp(t)),
    ),
    "pearson": (lambda u: (u - 1.0) ** 2, lambda u: 2.0 * (u - 1.0), lambda t: t * t / 4.0 + t),
    "sqhellinger": (
        lambda u: (math.sqrt(u) - 1.0) ** 2,
        lambda u: 1.0 - 1.0 / math.sqrt(u),
        lambda t: t / (1.0 - t),
    ),
    "tsallis": (
        lambda u: (u**ALPHA - u) / (ALPHA - 1.0),
        lambda u: (ALPHA * u ** (ALPHA - 1.0) - 1.0) / (ALPHA - 1.0),
        lambda t: (((ALPHA - 1.0) * t + 1.0) / ALPHA) ** (ALPHA / (ALPHA - 1.0)),
    ),
}


def numpy_value_f(scores: np.ndarray, name: str) -> float:
    """Loop reference: mean_i f'(e^{S_ii}) - mean_{i != j} f*(f'(e^{S_ij}))."""
    _, fp, fs = NUMPY_F[name]
    K = scores.shape[0]
    joint = sum(fp(math.exp(scores[i, i])) for i in range(K)) / K
    marginal = sum(fs(fp(math.exp(scores[i, j]))) for i in range(K) for j in range(K) if i != j)
    return joint - marginal / (K * (K - 1))


def log_ratio_1d(x: float, y: float, rho: float) -> float:
    """log p(x, y)/(p(x)p(y)) of one standard bivariate normal pair with correlation rho."""
    one_minus = 1.0 - rho * rho
    return -0.5 * math.log(one_minus) - (y - rho * x) ** 2 / (2.0 * one_minus) + 0.5 * y * y


def expect_q(func: Callable[[float], float], rho: float) -> float:
    """E_{p(x)p(y)}[func(log r(x, y))] for one coordinate pair, by scipy dblquad."""
    box = INTEGRATION_BOX

    def integrand(y: float, x: float) -> float:
        return math.exp(-(x * x + y * y) / 2.0) / (2.0 * math.pi) * func(log_ratio_1d(x, y, rho))

    value, error = integrate.dblquad(integrand, -box, box, -box, box, epsabs=1e-11, epsrel=1e-10)
    assert error < 1e-8
    return value


@cache
def integrated_f_mi(name: str, rho: float) -> float:
    """I_f = E_q[f(r)] of one Gaussian coordinate pair by numerical integration."""
    f = NUMPY_F[name][0]
    return expect_q(lambda log_r: f(math.exp(log_r)), rho)


def chernoff_coefficient(rho: float, dim: int, alpha: float) -> float:
    r"""M_alpha = E_q[r^alpha] for ``dim`` independent pairs, in closed form.

    Derivation: per pair p = N(0, Σ), Σ = [[1, ρ], [ρ, 1]], q = N(0, I₂), so
    p^α q^{1-α} = (2π)^{-1} |Σ|^{-α/2} exp(-zᵀAz/2) with A = αΣ⁻¹ + (1-α)I. Σ has eigenvalues
    1 ± ρ, so A has eigenvalues α/(1 ± ρ) + 1 - α and the Gaussian integral is
    |Σ|^{-α/2}|A|^{-1/2} = Π_± (1 ± ρ)^{(1-α)/2} (1 ± (1-α)ρ)^{-1/2}
    = (1-ρ²)^{(1-α)/2} (1-(1-α)²ρ²)^{-1/2}. r factorises over pairs, so M is the d-th power.
    """
    one_pair = (1.0 - rho * rho) ** ((1.0 - alpha) / 2.0) * (
        1.0 - (1.0 - alpha) ** 2 * rho * rho
    ) ** -0.5
    return one_pair**dim


def closed_form_f_mi(name: str, rho: float, dim: int) -> float:
    """I_f of the d-dimensional Gaussian task from M_alpha (E_q[r] = 1 removes linear terms)."""
    if name == "kl":
        return -0.5 * dim * math.log(1.0 - rho * rho)
    if name == "pearson":  # E_q[(r-1)^2] = M_2 - 1
        return chernoff_coefficient(rho, dim, 2.0) - 1.0
    if name == "sqhellinger":  # E_q[r - 2 sqrt(r) + 1] = 2 - 2 M_{1/2}
        return 2.0 - 2.0 * chernoff_coefficient(rho, dim, 0.5)
    if name == "tsallis":  # E_q[(r^a - r)/(a - 1)] = (M_a - 1)/(a - 1)
        return (chernoff_coefficient(rho, dim, ALPHA) - 1.0) / (ALPHA - 1.0)
    raise ValueError(f"no closed form for {name!r}")


@cache
def oracle_scores(rho: float, dim: int, n_batches: int, K: int, seed: int) -> torch.Tensor:
    """``(n_batches, K, K)`` float64 scores S_ij = log r(x_i, y_j) on Gaussian batches (cached:
    the tests only read them)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_batches, K, dim, generator=gen, dtype=torch.float64)
    noise = torch.randn(n_batches, K, dim, generator=gen, dtype=torch.float64)
    y = rho * x + math.sqrt(1.0 - rho * rho) * noise
    return gaussian_log_ratio(x.unsqueeze(-2), y.unsqueeze(-3), rho)


def assert_within_standard_errors(values: torch.Tensor, truth: float) -> None:
    mean = values.mean().item()
    standard_error = values.std().item() / math.sqrt(values.numel())
    assert abs(mean - truth) < SIGMAS * standard_error, (mean, truth, standard_error)


# ---------------------------------------------------------------------------------------------
# (a) loop reference and the table's internal consistency


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("K", [2, 3, 6])
def test_value_f_matches_numpy_loop(name: str, K: int) -> None:
    gen = torch.Generator().manual_seed(K)
    scores = 4.0 * torch.rand(3, K, K, generator=gen, dtype=torch.float64) - 2.0
    got = f_lower_bound(scores, divergence=name)
    expected = [numpy_value_f(s.numpy(), name) for s in scores]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_table_row_is_consistent_with_its_definitions(name: str) -> None:
    row = F_DIVERGENCES[name]
    hyper = dict(row.hyper)
    scores = torch.linspace(-5.0, 5.0, 101, dtype=torch.float64)
    ratio = scores.exp()
    critic = row.derivative(ratio, **hyper)
    torch.testing.assert_close(row.critic_term(**hyper)(scores), critic, rtol=1e-12, atol=1e-12)
    conj = row.conjugate(critic, **hyper)
    torch.testing.assert_close(row.conjugate_term(**hyper)(scores), conj, rtol=1e-11, atol=1e-12)
    # Fenchel-Young equality at t = f'(u): f*(f'(u)) = u f'(u) - f(u)
    torch.testing.assert_close(
        conj, ratio * critic - row.generator(ratio, **hyper), rtol=1e-11, atol=1e-11
    )
    one = torch.ones((), dtype=torch.float64)
    assert row.generator(one, **hyper).abs().item() < 1e-15  # f(1) = 0


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_numerical_supremum(name: str) -> None:
    """f*(t) = sup_u (t u - f(u)), maximised by scipy, at t = f'(u0) for a few u0."""
    row, (f_np, fp_np, _) = F_DIVERGENCES[name], NUMPY_F[name]
    for u0 in (0.2, 1.0, 3.5):
        t = fp_np(u0)
        best = optimize.minimize_scalar(
            lambda u, t=t: -(t * u - f_np(u)), bounds=(1e-9, 50.0), method="bounded"
        )
        sup = -best.fun
        got = row.conjugate(torch.tensor(t, dtype=torch.float64), **row.hyper).item()
        assert got == pytest.approx(sup, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
@given(
    data=st.lists(st.floats(-30.0, 30.0), min_size=16, max_size=16),
)
def test_log_space_evaluation_matches_direct_formula(name: str, data: list[float]) -> None:
    """Away from overflow the stable evaluation equals mean f'(e^S) - mean f*(f'(e^S)) computed directly."""
    row = F_DIVERGENCES[name]
    scores = torch.tensor(data, dtype=torch.float64).reshape(4, 4)
    critic_term, conjugate_term = row.critic_term(**row.hyper), row.conjugate_term(**row.hyper)
    off = ~torch.eye(4, dtype=torch.bool)
    joint = critic_term(torch.diagonal(scores)).mean()
    marginal = conjugate_term(scores)[off].mean()
    # relative to the largest term: the direct formula itself loses digits to cancellation
    scale = max(joint.abs().item(), marginal.abs().item(), 1.0)
    got = f_lower_bound(scores, divergence=name).item()
    assert got == pytest.approx((joint - marginal).item(), abs=1e-12 * scale)


def test_kl_row_is_nwj_of_scores_plus_one() -> None:
    """fmicl_kl = NWJ(T = S + 1) = mean T_ii - e^{-1} mean_{i!=j} e^{T_ij} (Nguyen et al. 2010)."""
    gen = torch.Generator().manual_seed(3)
    scores = torch.randn(5, 7, 7, generator=gen, dtype=torch.float64)
    shifted = scores.numpy() + 1.0
    off = ~np.eye(7, dtype=bool)
    nwj = [t.diagonal().mean() - math.exp(-1.0) * np.exp(t[off]).mean() for t in shifted]
    np.testing.assert_allclose(f_lower_bound(scores, divergence="kl").numpy(), nwj, rtol=1e-12)
    np.testing.assert_allclose(log_ratio_mi_estimate(scores).numpy(), nwj, rtol=1e-12)
    torch.testing.assert_close(
        f_lower_bound(scores, divergence="kl"), estimators.get("nwj").value(scores + 1.0)
    )


def test_tsallis_special_members() -> None:
    """alpha = 2 is Pearson and alpha = 1/2 squared Hellinger exactly (generators differ by a
    multiple of u - 1, and so do the bounds' terms); alpha -> 1 tends to KL."""
    gen = torch.Generator().manual_seed(4)
    scores = torch.randn(3, 6, 6, generator=gen, dtype=torch.float64)
    tsallis = lambda a: f_lower_bound(scores, divergence="tsallis", alpha=a)  # noqa: E731
    torch.testing.assert_close(tsallis(2.0), f_lower_bound(scores, divergence="pearson"))
    torch.testing.assert_close(tsallis(0.5), f_lower_bound(scores, divergence="sqhellinger"))
    kl = f_lower_bound(scores, divergence="kl")
    # d(bound)/d(alpha) at alpha = 1 is a mean of terms ~ S^2 e^{S}/2, a few units for S ~ N(0, 1):
    # a 1e-6 step moves the bound by ~1e-6, far inside the 1e-4 tolerance, and any other formula
    # would miss KL by O(1)
    torch.testing.assert_close(tsallis(1.0 + 1e-6), kl, rtol=0.0, atol=1e-4)
    torch.testing.assert_close(tsallis(1.0 - 1e-6), kl, rtol=0.0, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# (b) closed forms: ground truth, the optimal critic, suboptimal critics


@pytest.mark.parametrize("rho", [0.3, 0.6])
@pytest.mark.parametrize("name", ["kl", "pearson", "sqhellinger", "tsallis"])
def test_closed_form_f_mi_matches_integration(name: str, rho: float) -> None:
    assert closed_form_f_mi(name, rho, 1) == pytest.approx(integrated_f_mi(name, rho), rel=1e-8)


def test_js_f_mi_is_twice_jensen_shannon() -> None:
    """The JS generator gives KL(p||m) + KL(q||m), m = (p + q)/2, checked by a second integral."""
    rho = 0.6
    both = expect_q(lambda lr: math.exp(lr) * math.log(2 * math.exp(lr) / (1 + math.exp(lr))), rho)
    both += expect_q(lambda lr: math.log(2.0 / (1.0 + math.exp(lr))), rho)
    assert integrated_f_mi("js", rho) == pytest.approx(both, rel=1e-8)
    assert 0.0 < both < 2.0 * math.log(2.0)


@pytest.mark.parametrize("name", NAMES)
def test_optimal_critic_recovers_f_mi_one_dimension(name: str) -> None:
    """At S = log r the batch bound is unbiased for I_f (truth: scipy integration).

    rho = 0.3 keeps every term's variance finite (Pearson's e^{2S} under q needs E_q[r^4] < inf,
    i.e. 9 rho^2 < 1); 500 batches of K = 64 give ~3 % standard errors.
    """
    values = f_lower_bound(oracle_scores(0.3, 1, 500, 64, seed=11), divergence=name)
    assert_within_standard_errors(values, integrated_f_mi(name, 0.3))


@pytest.mark.parametrize("name", ["kl", "pearson", "sqhellinger", "tsallis"])
def test_optimal_critic_recovers_f_mi_three_dimensions(name: str) -> None:
    values = f_lower_bound(oracle_scores(0.3, 3, 200, 64, seed=12), divergence=name)
    assert_within_standard_errors(values, closed_form_f_mi(name, 0.3, 3))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("slope", "offset"), [(0.5, 0.3), (0.8, -0.4)])
def test_suboptimal_critic_matches_its_expectation_below_f_mi(
    name: str, slope: float, offset: float
) -> None:
    """For S = c log r + b: E[Î_f] = E_p[f'(e^S)] - E_q[f*(f'(e^S))] < I_f, both by integration,
    and the batch mean agrees with that expectation (c <= 0.8 keeps Pearson's variance finite)."""
    rho = 0.3
    _, fp, fs = NUMPY_F[name]
    critic = lambda lr: fp(math.exp(slope * lr + offset))  # noqa: E731
    expected = expect_q(lambda lr: math.exp(lr) * critic(lr), rho) - expect_q(
        lambda lr: fs(critic(lr)), rho
    )
    assert expected < integrated_f_mi(name, rho)
    values = f_lower_bound(
        slope * oracle_scores(rho, 1, 500, 64, seed=13) + offset, divergence=name
    )
    assert_within_standard_errors(values, expected)


# ---------------------------------------------------------------------------------------------
# registry entries, generic properties, numerics


@pytest.mark.parametrize("name", NAMES)
def test_registered_entry(name: str) -> None:
    spec = estimators.get(f"fmicl_{name}")
    assert spec.kind == "f_bound" and spec.layout == "pairs" and not spec.needs
    assert spec.ceiling(64) is None
    scores = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    f_value = f_lower_bound(scores, divergence=name)
    torch.testing.assert_close(spec.value(scores), log_ratio_mi_estimate(scores))
    torch.testing.assert_close(spec.extras(scores)["f_value"], f_value)
    torch.testing.assert_close(spec.loss(scores), -f_value)
    assert set(spec.extras(scores)) == {"f_value"}


def test_tsallis_hyperparameter_is_used_and_validated() -> None:
    spec = estimators.get("fmicl_tsallis")
    assert spec.hyper == {"alpha": DEFAULT_TSALLIS_ALPHA}
    scores = torch.randn(4, 4, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    torch.testing.assert_close(
        spec.with_hyper(alpha=2.0).loss(scores), estimators.get("fmicl_pearson").loss(scores)
    )
    for bad in (1.0, 0.0, -0.5, math.inf):
        with pytest.raises(ValueError, match="alpha"):
            spec.with_hyper(alpha=bad).loss(scores)
    with pytest.raises(ValueError, match="no hyperparameter 'beta'"):
        f_lower_bound(scores, divergence="tsallis", beta=1.0)
    with pytest.raises(ValueError, match="no hyperparameter 'alpha'"):
        f_lower_bound(scores, divergence="kl", alpha=2.0)


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        f_lower_bound(torch.zeros(3, 4), divergence="kl")
    with pytest.raises(ValueError, match="valid choices: kl, js"):
        f_lower_bound(torch.zeros(3, 3), divergence="reverse_kl")


@pytest.mark.parametrize("name", NAMES)
def test_stacked_equals_looped_and_input_untouched(name: str) -> None:
    scores = torch.randn(
        2, 3, 5, 5, generator=torch.Generator().manual_seed(7), dtype=torch.float64
    )
    before = scores.clone()
    stacked = f_lower_bound(scores, divergence=name)
    assert stacked.shape == (2, 3)
    looped = torch.stack(
        [torch.stack([f_lower_bound(s, divergence=name) for s in row]) for row in scores]
    )
    torch.testing.assert_close(stacked, looped, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(scores, before, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name: str) -> None:
    scores = torch.randn(2, 4, 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    scores.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: f_lower_bound(s, divergence=name), (scores,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_kept(dtype: torch.dtype) -> None:
    scores = torch.randn(2, 4, 4, dtype=dtype)
    for name in NAMES:
        assert f_lower_bound(scores, divergence=name).dtype == dtype


def test_large_scores_are_honest_infinities_never_nan() -> None:
    """At |S| = 1e3 the bounds are finite or the correctly signed infinity of an out-of-range
    true value; which names can be infinite is exactly what UNBOUNDED_AT_LARGE_SCORES lists."""
    K, big = 6, 1e3
    eye = torch.eye(K, dtype=torch.float64)
    cases = {
        "off-diagonal +1e3": big * (1 - eye),  # e^{1e3} off the diagonal: value = 1 - e^{1e3}
        "all -1e3": -big * torch.ones(K, K, dtype=torch.float64),
        "diagonal +1e3, off -1e3": big * (2 * eye - 1),
        "random 1e3 N(0,1)": big
        * torch.randn(K, K, generator=torch.Generator().manual_seed(9), dtype=torch.float64),
    }
    assert set(UNBOUNDED_AT_LARGE_SCORES) == {f"fmicl_{n}" for n in NAMES}
    for case, scores in cases.items():
        for name in NAMES:
            spec = estimators.get(f"fmicl_{name}")
            for quantity in (spec.value(scores), spec.extras(scores)["f_value"]):
                assert not torch.isnan(quantity).any(), (case, name)
    off_big = cases["off-diagonal +1e3"]
    assert log_ratio_mi_estimate(off_big).item() == -math.inf
    assert math.isfinite(f_lower_bound(off_big, divergence="js").item())  # softplus terms only
    # all scores -1e3: every term is bounded in float64 (largest: sqhellinger's e^{500})
    for name in NAMES:
        assert math.isfinite(f_lower_bound(cases["all -1e3"], divergence=name).item()), name
    # dominant diagonal: Pearson's 2 mean e^{S_ii} = 2e^{1000} is beyond float64, honestly +inf
    assert f_lower_bound(cases["diagonal +1e3, off -1e3"], divergence="pearson").item() == math.inf
    assert math.isfinite(f_lower_bound(cases["random 1e3 N(0,1)"], divergence="js").item())


def test_gradients_finite_at_moderately_large_scores() -> None:
    scores = 40.0 * torch.randn(
        3, 8, 8, generator=torch.Generator().manual_seed(10), dtype=torch.float64
    )
    for name in NAMES:
        leaf = scores.clone().requires_grad_(True)
        f_lower_bound(leaf, divergence=name).sum().backward()
        assert torch.isfinite(leaf.grad).all(), name
