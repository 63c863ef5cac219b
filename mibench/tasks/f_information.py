r"""f-mutual information ground truth of the correlated Gaussian task.

For a convex :math:`f` with :math:`f(1) = 0` the f-mutual information is the f-divergence from
the product of marginals :math:`q = p(x)p(y)` to the joint :math:`p = p(x, y)`,

.. math::  I_f(X;Y) = \mathbb E_{q}\big[f(r)\big], \qquad r = \frac{p(x,y)}{p(x)p(y)},

Definition 1 of [1] (Csiszár's f-divergence). The generators follow the f-MICL table and are
named after the estimators ``fmicl_<name>`` that bound them:

============== ============================================== ===================================
name           f(u)                                           value on the Gaussian task
============== ============================================== ===================================
``kl``         :math:`u\log u`                                 :math:`I = -\tfrac d2\log(1-\rho^2)`
``pearson``    :math:`(u-1)^2`                                 :math:`M_2 - 1 = e^{2I} - 1`
``sqhellinger`` :math:`(\sqrt u - 1)^2`                        :math:`2(1 - M_{1/2})`
``tsallis``    :math:`(u^\alpha - u)/(\alpha - 1)`             :math:`(M_\alpha - 1)/(\alpha - 1)`
``js``         :math:`u\log u - (u+1)\log\frac{u+1}{2}`        no closed form: Monte Carlo + SE
============== ============================================== ===================================

Every closed form comes from one quantity, the Chernoff (Rényi) coefficient
:math:`M_\alpha = \mathbb E_q[r^\alpha] = \int p^\alpha q^{1-\alpha}`. Derivation: the task has
d independent coordinate pairs, so :math:`r = \prod_k r_k` and :math:`M_\alpha` is a product over
coordinates. For one pair, p = N(0, Σ) with Σ = [[1, ρ], [ρ, 1]] and q = N(0, I₂), so
:math:`p^\alpha q^{1-\alpha} = (2\pi)^{-1}|\Sigma|^{-\alpha/2}\exp(-\tfrac12 z^\top A z)` with
precision :math:`A = \alpha\Sigma^{-1} + (1-\alpha)I`. Σ has eigenvalues 1 ± ρ, hence A has
eigenvalues :math:`(1 \pm (\alpha-1)\rho)/(1 \mp \rho)` and
:math:`|A| = (1 - (\alpha-1)^2\rho^2)/(1-\rho^2)`. The Gaussian integral gives
:math:`|\Sigma|^{-\alpha/2}|A|^{-1/2}`, so

.. math::  M_\alpha = \Big[(1-\rho^2)^{\frac{1-\alpha}2}\,\big(1-(\alpha-1)^2\rho^2\big)^{-\frac12}
           \Big]^d,

finite iff A is positive definite, i.e. :math:`(\alpha-1)^2\rho^2 < 1` (always for
α ∈ (0, 2]); otherwise the divergence is +∞. Because :math:`\mathbb E_q[r] = 1`, the linear part
of every generator integrates to a constant, which gives the right-hand column: Pearson
:math:`M_2 - 1 = (1-\rho^2)^{-d} - 1`; squared Hellinger
:math:`2 - 2\,\mathbb E_q\sqrt r = 2 - 2[(1-\rho^2)^{1/4}(1-\rho^2/4)^{-1/2}]^d` (the Bhattacharyya
coefficient; note this f gives twice the "½-normalised" Hellinger distance); Tsallis-α
:math:`(M_\alpha - 1)/(\alpha-1)`, which tends to the KL value as α → 1, equals Pearson at α = 2
and squared Hellinger at α = ½.

JS: with this f, :math:`I_{JS} = \mathrm{KL}(p\,\|\,m) + \mathrm{KL}(q\,\|\,m)` with
m = (p + q)/2, i.e. twice the Jensen–Shannon divergence, in [0, 2 log 2]. It does not factorise
over coordinates and has no closed form for Gaussians, so it is a Monte Carlo value with a
standard error. Two exact reductions make it cheap and precise at any d:

1. :math:`I_{JS} = \mathbb E_p\big[\log\frac{2r}{1+r}\big] + \mathbb E_q\big[\log\frac{2}{1+r}\big]`,
   two integrands bounded above by log 2 whose variance stays small even at high MI (unlike
   :math:`\mathbb E_q[f(r)]`, whose variance grows like :math:`e^{2I}`).
2. :math:`\log r` is a constant plus a quadratic form in Gaussians. Under p, with
   y_k = ρx_k + sε_k (s² = 1 − ρ²), the per-coordinate term is
   :math:`-\tfrac12\log(1-\rho^2) + \tfrac12[(\rho x_k + s\varepsilon_k)^2 - \varepsilon_k^2]`, a
   form with matrix [[ρ², ρs], [ρs, −ρ²]] of eigenvalues ±ρ; under q (x, y independent) the
   matrix :math:`\frac{1}{2(1-\rho^2)}[[-\rho^2, \rho], [\rho, -\rho^2]]` has eigenvalues
   :math:`\frac{\rho}{2(1+\rho)}` and :math:`-\frac{\rho}{2(1-\rho)}`. Summing d coordinates,
   with A, B independent :math:`\chi^2_d` and :math:`I = -\tfrac d2\log(1-\rho^2)`:

   .. math::  \log r \overset{p}{=} I + \tfrac\rho2 (A - B), \qquad
              \log r \overset{q}{=} I + \tfrac{\rho}{2(1+\rho)} A - \tfrac{\rho}{2(1-\rho)} B.

   (Check: :math:`\mathbb E_q[r^2] = e^{2I}(1-\tfrac{2\rho}{1+\rho})^{-d/2}
   (1+\tfrac{2\rho}{1-\rho})^{-d/2} = (1-\rho^2)^{-d}`, the Pearson value above.)

So the estimate draws :data:`JS_MC_SAMPLES` pairs (A, B) per measure from a NumPy generator with
a fixed seed (deterministic, cached per (ρ, d)), and uses :math:`\log r` as a control variate
with its known mean (I under p; :math:`I + d\big(\tfrac{\rho}{2(1+\rho)} - \tfrac{\rho}{2(1-\rho)}\big)`
under q), which cuts the standard error several-fold at low MI; the fitted coefficient adds an
O(1/n) bias, far below the standard error.

f-divergences are invariant under a bijection applied to both of their arguments; a map
(x, y) ↦ (g(x), h(y)) sends p(x, y) to the transformed joint and p(x)p(y) to the product of the
transformed marginals, so every value here also holds for the transformed Gaussian tasks.

References:
    [1] Lu, Zhang, Sun, Guo, Yu, f-MICL: Understanding and Generalizing InfoNCE-based
        Contrastive Learning, 2023, Definition 1 and the table of f-divergences.
    [2] Csiszár, Information-type measures of difference of probability distributions, 1967.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import numpy as np

from mibench.core.interface import UnknownNameError

F_NAMES = ("kl", "pearson", "sqhellinger", "js", "tsallis")
"""f-divergence names with a ground truth hook; they match the estimators ``fmicl_<name>``."""

DEFAULT_TSALLIS_ALPHA = 1.5
"""Tsallis order used when none is given: the default of the ``fmicl_tsallis`` estimator (a test
keeps the two equal), so ``task.f_mi("tsallis")`` matches that estimator's default cell."""

JS_MC_SAMPLES = 2**20
"""(A, B) pairs drawn for each of p and q in the Jensen–Shannon Monte Carlo value."""

JS_MC_SEED = 20240
"""Fixed seed of the Jensen–Shannon Monte Carlo value, so the ground truth is deterministic."""

_LOG_FLOAT_MAX = math.log(sys.float_info.max)

Method = Literal["closed_form", "monte_carlo"]


class FValue(NamedTuple):
    """An f-MI ground truth: the value in nats, its standard error (0 for closed forms), the method."""

    value: float
    standard_error: float
    method: Method


def validate_f_name(name: Any) -> str:
    """``name`` if it is one of :data:`F_NAMES`; otherwise an error listing them."""
    if name not in F_NAMES:
        raise UnknownNameError("f-divergence", str(name), list(F_NAMES))
    return str(name)


def validate_alpha(alpha: Any) -> float:
    """The Tsallis order: a finite number > 0 other than 1 (α = 1 is the KL limit: use ``kl``)."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float):
        raise ValueError(f"alpha must be a number > 0 and != 1, got {alpha!r}")
    if not (math.isfinite(alpha) and alpha > 0 and alpha != 1):
        raise ValueError(f"alpha must be a number > 0 and != 1, got {alpha!r}")
    return float(alpha)


def gaussian_alpha_coefficient(rho: float, dim: int, alpha: float) -> float:
    r"""Chernoff coefficient :math:`M_\alpha = \mathbb E_{p(x)p(y)}[r^\alpha]` of the Gaussian task.

    .. math::  M_\alpha = \Big[(1-\rho^2)^{\frac{1-\alpha}2}\big(1-(\alpha-1)^2\rho^2\big)^{-\frac12}\Big]^d

    derived in the module docstring; +inf where :math:`(\alpha-1)^2\rho^2 \ge 1`.

    Args:
        rho: per-coordinate correlation in (-1, 1).
        dim: number of independent coordinate pairs.
        alpha: order, > 0.
    Returns:
        The coefficient (> 0), or ``math.inf``.
    """
    log_coefficient = log_gaussian_alpha_coefficient(rho, dim, alpha)
    return math.inf if log_coefficient > _LOG_FLOAT_MAX else math.exp(log_coefficient)


def log_gaussian_alpha_coefficient(rho: float, dim: int, alpha: float) -> float:
    """log M_α of :func:`gaussian_alpha_coefficient` (+inf where the integral diverges)."""
    shrink = (alpha - 1.0) ** 2 * rho * rho
    if shrink >= 1.0:
        return math.inf
    return dim * (0.5 * (1.0 - alpha) * math.log1p(-rho * rho) - 0.5 * math.log1p(-shrink))


def _tsallis_closed_form(rho: float, dim: int, alpha: float) -> float:
    """(M_α - 1)/(α - 1), with M_α - 1 as expm1(log M_α) so that small values stay exact."""
    log_coefficient = log_gaussian_alpha_coefficient(rho, dim, alpha)
    if log_coefficient > _LOG_FLOAT_MAX:  # only reachable for alpha > 1: the value is +inf
        return math.inf
    return math.expm1(log_coefficient) / (alpha - 1.0)


def gaussian_f_mi(name: str, rho: float, dim: int, *, alpha: float | None = None) -> FValue:
    r"""f-mutual information :math:`I_f = \mathbb E_{p(x)p(y)}[f(r)]` of the correlated Gaussian task.

    .. math::  I_{\rm KL} = -\tfrac d2\log(1-\rho^2),\quad I_{\chi^2} = (1-\rho^2)^{-d} - 1,\quad
               I_{H^2} = 2 - 2\Big[\frac{(1-\rho^2)^{1/4}}{(1-\rho^2/4)^{1/2}}\Big]^d,\quad
               I_{T_\alpha} = \frac{M_\alpha - 1}{\alpha - 1}

    with the generators and derivations of the module docstring (Definition 1 of [1]); ``js`` is a
    cached Monte Carlo value (:func:`gaussian_js_monte_carlo`).

    Args:
        name: one of :data:`F_NAMES`.
        rho: per-coordinate correlation in (-1, 1).
        dim: number of independent coordinate pairs.
        alpha: the Tsallis order (default :data:`DEFAULT_TSALLIS_ALPHA`); ignored for other names.
    Returns:
        :class:`FValue` (value in nats; standard error 0 for closed forms).

    References:
        [1] Lu et al., f-MICL, 2023, Definition 1.
    """
    name = validate_f_name(name)
    if name == "kl":
        return FValue(-0.5 * dim * math.log1p(-rho * rho), 0.0, "closed_form")
    if name == "pearson":
        return FValue(_tsallis_closed_form(rho, dim, 2.0), 0.0, "closed_form")
    if name == "sqhellinger":
        # (√u - 1)² = u - 2√u + 1 integrates to 2 - 2 M_½, which is Tsallis-½: (M_½ - 1)/(½ - 1)
        return FValue(_tsallis_closed_form(rho, dim, 0.5), 0.0, "closed_form")
    if name == "tsallis":
        order = DEFAULT_TSALLIS_ALPHA if alpha is None else validate_alpha(alpha)
        return FValue(_tsallis_closed_form(rho, dim, order), 0.0, "closed_form")
    return gaussian_js_monte_carlo(float(rho), int(dim))


def _control_variate_mean(
    values: np.ndarray, control: np.ndarray, control_mean: float
) -> tuple[float, float]:
    """Mean of ``values`` adjusted by a control variate with known mean, and its variance / n."""
    centred = control - control_mean
    beta = float(np.mean((values - values.mean()) * centred) / np.mean(centred * centred))
    adjusted = values - beta * centred
    return float(adjusted.mean()), float(adjusted.var()) / values.size


@lru_cache(maxsize=256)
def gaussian_js_monte_carlo(
    rho: float, dim: int, n_samples: int = JS_MC_SAMPLES, seed: int = JS_MC_SEED
) -> FValue:
    r"""Monte Carlo value of :math:`I_{JS} = \mathrm{KL}(p\|m) + \mathrm{KL}(q\|m)` with its SE.

    .. math::  \hat I_{JS} = \frac1n\sum_i \log\frac{2}{1+e^{-\ell^p_i}}
               + \frac1n\sum_i \log\frac{2}{1+e^{\ell^q_i}},\quad
               \ell^p = I + \tfrac\rho2(A-B),\ \ell^q = I + \tfrac{\rho}{2(1+\rho)}A' - \tfrac{\rho}{2(1-\rho)}B'

    with A, B, A', B' independent :math:`\chi^2_d` (the reduction of the module docstring), each
    sum adjusted by the control variate :math:`\ell` with its known mean. Deterministic (NumPy
    generator seeded with ``seed``) and cached per argument tuple. The standard error is
    :math:`\sqrt{v_p/n + v_q/n}` from the two independent adjusted sample sets.

    Args:
        rho: per-coordinate correlation in (-1, 1).
        dim: number of independent coordinate pairs.
        n_samples: (A, B) pairs drawn for each of p and q.
        seed: seed of the NumPy generator.
    Returns:
        :class:`FValue` with ``method == "monte_carlo"``.
    """
    rho = abs(rho)  # the law of (x, -y) has the same f-MI
    if rho == 0.0:  # independence: r = 1 everywhere and the divergence is exactly 0
        return FValue(0.0, 0.0, "closed_form")
    rng = np.random.default_rng(seed)
    mi = -0.5 * dim * math.log1p(-rho * rho)
    coef_a, coef_b = rho / (2.0 * (1.0 + rho)), rho / (2.0 * (1.0 - rho))
    log_two = math.log(2.0)
    log_r_joint = mi + 0.5 * rho * (rng.chisquare(dim, n_samples) - rng.chisquare(dim, n_samples))
    log_r_product = (
        mi + coef_a * rng.chisquare(dim, n_samples) - coef_b * rng.chisquare(dim, n_samples)
    )
    # log(2r/(1+r)) = log 2 - softplus(-log r);  log(2/(1+r)) = log 2 - softplus(log r)
    mean_p, var_p = _control_variate_mean(
        log_two - np.logaddexp(0.0, -log_r_joint), log_r_joint, mi
    )
    mean_q, var_q = _control_variate_mean(
        log_two - np.logaddexp(0.0, log_r_product), log_r_product, mi + dim * (coef_a - coef_b)
    )
    return FValue(mean_p + mean_q, math.sqrt(var_p + var_q), "monte_carlo")
