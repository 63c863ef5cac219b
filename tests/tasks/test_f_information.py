"""f-MI ground truth of the Gaussian task against numerical integration and brute-force Monte Carlo."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import integrate

from mibench.core.interface import UnknownNameError
from mibench.tasks import build
from mibench.tasks.f_information import (
    DEFAULT_TSALLIS_ALPHA,
    F_NAMES,
    gaussian_alpha_coefficient,
    gaussian_f_mi,
    gaussian_js_monte_carlo,
)
from mibench.tasks.gaussian import gaussian_log_ratio, mi_from_rho
from tests.tasks._task_stats import (
    Z_TOLERANCE,
    assert_close_in_standard_errors,
    mean_and_standard_error,
    seeded,
)

INTEGRATION_HALF_WIDTH = 40.0
"""Integrate over [-40, 40]^2: the slowest-decaying integrand here (Pearson at rho = 0.8) has
Gaussian tails with standard deviation 3 (eigenvalue (1 - rho)/(1 + rho) of its precision), so the
mass left outside is below e^{-88}."""

QUAD_TOLERANCE = 1e-10

JS_HALF_WIDTH = 16.0
"""The JS integrand is bounded by p + q, whose widest direction (rho = 0.99) has variance
1 + rho < 2: outside [-16, 16]^2 less than e^{-64} of the mass remains."""


def _log_densities(x: float, y: float, rho: float) -> tuple[float, float]:
    """log p(x, y) of the bivariate normal and log q = log p(x) p(y)."""
    one_minus = 1.0 - rho * rho
    log_p = -math.log(2 * math.pi) - 0.5 * math.log(one_minus)
    log_p -= (x * x - 2 * rho * x * y + y * y) / (2 * one_minus)
    log_q = -math.log(2 * math.pi) - 0.5 * (x * x + y * y)
    return log_p, log_q


def _integrand(name: str, alpha: float | None) -> Callable[[float, float, float], float]:
    """q f(p/q) for the generator of each name, written from the definitions of f (not from r^α)."""

    def value(y: float, x: float, rho: float) -> float:
        log_p, log_q = _log_densities(x, y, rho)
        p, q = math.exp(log_p), math.exp(log_q)
        if name == "kl":  # f(u) = u log u
            return p * (log_p - log_q)
        if name == "pearson":  # f(u) = (u - 1)^2
            return (p - q) ** 2 / q if q > 0 else 0.0
        if name == "sqhellinger":  # f(u) = (sqrt u - 1)^2
            return (math.sqrt(p) - math.sqrt(q)) ** 2
        if name == "tsallis":  # f(u) = (u^a - u)/(a - 1)
            assert alpha is not None
            return (math.exp(alpha * log_p + (1 - alpha) * log_q) - p) / (alpha - 1)
        # js: f(u) = u log u - (u + 1) log((u + 1)/2) -> p log(2p/(p+q)) + q log(2q/(p+q))
        log_m = np.logaddexp(log_p, log_q) - math.log(2)
        return p * (log_p - log_m) + q * (log_q - log_m)

    return value


def integrate_f_mi(
    name: str, rho: float, alpha: float | None = None, *, half_width: float = INTEGRATION_HALF_WIDTH
) -> float:
    """The f-MI of one coordinate pair by scipy's adaptive 2-D quadrature over [-w, w]^2."""
    width = half_width
    value, _ = integrate.dblquad(
        _integrand(name, alpha),
        -width,
        width,
        -width,
        width,
        args=(rho,),
        epsabs=QUAD_TOLERANCE,
        epsrel=QUAD_TOLERANCE,
    )
    return value


@pytest.mark.parametrize(
    ("name", "alpha", "rho"),
    [
        pytest.param("kl", None, 0.3, marks=pytest.mark.slow),
        ("kl", None, 0.8),
        pytest.param("pearson", None, 0.3, marks=pytest.mark.slow),
        ("pearson", None, 0.8),
        pytest.param("sqhellinger", None, 0.3, marks=pytest.mark.slow),
        ("sqhellinger", None, 0.8),
        ("tsallis", 0.5, 0.8),
        ("tsallis", 1.5, 0.8),
        ("tsallis", 3.0, 0.3),
    ],
)
def test_closed_forms_match_numerical_integration_in_one_dimension(
    name: str, alpha: float | None, rho: float
) -> None:
    expected = integrate_f_mi(name, rho, alpha)
    result = gaussian_f_mi(name, rho, 1, alpha=alpha)
    assert result.method == "closed_form" and result.standard_error == 0.0
    # the quadrature's absolute/relative tolerance is 1e-10; 1e-7 leaves room for its error estimate
    assert result.value == pytest.approx(expected, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize(
    ("name", "alpha"), [("pearson", None), ("sqhellinger", None), ("tsallis", 1.5)]
)
def test_closed_forms_factorise_over_coordinates(name: str, alpha: float | None) -> None:
    """Brute-force Monte Carlo in d = 3 (independent of the product formula) against the closed form.

    rho = 0.3 keeps every integrand's variance finite: E_q[r^(2a)] needs (2a - 1)^2 rho^2 < 1.
    """
    rho, dim, n = 0.3, 3, 400_000
    generator = seeded(11)
    x = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    y = torch.randn(n, dim, generator=generator, dtype=torch.float64)  # independent: q = p(x)p(y)
    ratio = gaussian_log_ratio(x, y, rho).exp()
    if name == "pearson":
        values = (ratio - 1).square()
    elif name == "sqhellinger":
        values = (ratio.sqrt() - 1).square()
    else:
        assert alpha is not None
        values = (ratio**alpha - ratio) / (alpha - 1)
    estimate, standard_error = mean_and_standard_error(values)
    assert_close_in_standard_errors(
        estimate, standard_error, gaussian_f_mi(name, rho, dim, alpha=alpha).value
    )


def test_tsallis_family_links_kl_pearson_and_squared_hellinger() -> None:
    rho, dim = 0.6, 4
    kl = gaussian_f_mi("kl", rho, dim).value
    assert kl == pytest.approx(mi_from_rho(rho, dim))
    # alpha -> 1: (M_a - 1)/(a - 1) -> d/da M_a at 1 = E_q[r log r]; first-order error ~ (a - 1)
    assert gaussian_f_mi("tsallis", rho, dim, alpha=1 + 1e-6).value == pytest.approx(kl, rel=1e-5)
    assert gaussian_f_mi("tsallis", rho, dim, alpha=2.0).value == pytest.approx(
        gaussian_f_mi("pearson", rho, dim).value, rel=1e-13
    )
    assert gaussian_f_mi("tsallis", rho, dim, alpha=0.5).value == pytest.approx(
        gaussian_f_mi("sqhellinger", rho, dim).value, rel=1e-13
    )
    assert gaussian_f_mi("pearson", rho, dim).value == pytest.approx(math.expm1(2 * kl), rel=1e-13)


def test_tsallis_is_infinite_where_the_chernoff_integral_diverges() -> None:
    # (alpha - 1)^2 rho^2 < 1 is the condition; alpha = 3 allows |rho| < 1/2 only
    assert math.isfinite(gaussian_alpha_coefficient(0.49, 2, 3.0))
    assert gaussian_alpha_coefficient(0.5, 2, 3.0) == math.inf
    assert gaussian_f_mi("tsallis", 0.6, 2, alpha=3.0).value == math.inf
    # the truncated integral of a divergent case keeps growing with the window
    narrow = integrate.dblquad(_integrand("tsallis", 3.0), -6, 6, -6, 6, args=(0.6,))[0]
    wide = integrate.dblquad(_integrand("tsallis", 3.0), -12, 12, -12, 12, args=(0.6,))[0]
    assert wide > 2 * narrow


@pytest.mark.parametrize(
    "rho",
    [pytest.param(0.3, marks=pytest.mark.slow), pytest.param(0.8, marks=pytest.mark.slow), 0.99],
)
def test_js_monte_carlo_matches_numerical_integration_in_one_dimension(rho: float) -> None:
    """rho = 0.99 is the hard case of the chi-square reduction: coefficient rho/(2(1-rho)) = 49.5."""
    result = gaussian_js_monte_carlo(rho, 1)
    assert result.method == "monte_carlo"
    expected = integrate_f_mi("js", rho, half_width=JS_HALF_WIDTH)
    assert_close_in_standard_errors(result.value, result.standard_error, expected)


def test_js_monte_carlo_matches_brute_force_sampling_in_four_dimensions() -> None:
    """Brute force in d = 4 (no chi-square reduction, torch sampler) against the reduced estimate."""
    task = build("gaussian", dim=4, mi=1.5)
    n = 200_000
    joint = task.sample(n, seeded(5), dtype=torch.float64)
    y_independent = torch.randn(n, 4, generator=seeded(6), dtype=torch.float64)
    log_r_joint = task.log_ratio(joint.x, joint.y)
    log_r_product = task.log_ratio(joint.x, y_independent)
    mean_p, se_p = mean_and_standard_error(math.log(2) - torch.nn.functional.softplus(-log_r_joint))
    mean_q, se_q = mean_and_standard_error(
        math.log(2) - torch.nn.functional.softplus(log_r_product)
    )
    reduced = gaussian_js_monte_carlo(task.rho, 4)
    combined = math.sqrt(se_p**2 + se_q**2 + reduced.standard_error**2)
    assert_close_in_standard_errors(mean_p + mean_q, combined, reduced.value)


def test_js_is_bounded_deterministic_and_seed_consistent() -> None:
    low = gaussian_js_monte_carlo(0.2, 3)
    assert 0 < low.value < 2 * math.log(2)
    assert gaussian_js_monte_carlo(0.2, 3) == low  # fixed seed (and cache): same value
    other = gaussian_js_monte_carlo(0.2, 3, seed=123)
    assert abs(other.value - low.value) <= Z_TOLERANCE * math.hypot(
        other.standard_error, low.standard_error
    )
    assert gaussian_js_monte_carlo(0.0, 3).value == 0.0
    # at 40 nats the joint and the product are nearly disjoint: JS -> 2 log 2
    saturated = gaussian_f_mi("js", math.sqrt(-math.expm1(-2 * 40.0 / 5)), 5)
    assert saturated.value == pytest.approx(2 * math.log(2), abs=1e-3)


def test_task_f_mi_api() -> None:
    task = build("gaussian", dim=5, mi=2.0)
    assert task.f_mi("kl") == pytest.approx(2.0)
    assert task.f_mi("pearson") == pytest.approx(math.expm1(4.0))
    assert task.f_mi_standard_error("pearson") == 0.0
    assert task.f_mi_standard_error("js") > 0
    assert (
        task.f_mi("tsallis")
        == gaussian_f_mi("tsallis", task.rho, 5, alpha=DEFAULT_TSALLIS_ALPHA).value
    )
    assert set(F_NAMES) == {"kl", "pearson", "sqhellinger", "js", "tsallis"}
    with pytest.raises(
        UnknownNameError, match="valid choices: kl, pearson, sqhellinger, js, tsallis"
    ):
        task.f_mi("reverse_kl")
    with pytest.raises(ValueError, match=re.escape("alpha must be a number > 0 and != 1, got 1.0")):
        task.f_mi("tsallis", alpha=1.0)


def test_default_tsallis_alpha_matches_the_fmicl_estimator() -> None:
    from mibench.estimators import fdiv

    assert DEFAULT_TSALLIS_ALPHA == fdiv.DEFAULT_TSALLIS_ALPHA
