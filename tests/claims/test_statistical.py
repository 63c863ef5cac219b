"""Statistical claims: each decision on synthetic numbers (PASS and FAIL), and each full check at
reduced sample sizes FAILING with a deliberately wrong estimator.

Reduced sizes keep the default test run fast; the claims' statistical margins scale with the
standard errors, so a smaller sample only makes a decision less powerful, never looser. The
full-size checks with the real estimators run in ``mibench verify`` and in the slow tests.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import Tensor

import mibench.claims.statistical as statistical
from mibench.claims import ClaimContext
from mibench.claims import get as get_claim
from mibench.claims.statistical import (
    FBoundRow,
    MeanCurve,
    SnrLevel,
    VarianceCurve,
    decide_flo_tight,
    decide_fmicl,
    decide_rises_to_mi,
    decide_snr,
    decide_variance_growth,
)
from mibench.estimators import get
from mibench.estimators._logspace import diag
from mibench.estimators.contrastive import flo_lower_bound
from tests.claims._claim_helpers import wrong


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink every statistical claim's sample (same code path)."""
    monkeypatch.setattr(statistical, "RISE_SIZES", ((4, 512), (16, 128), (64, 32)))
    monkeypatch.setattr(statistical, "FLO_SIZES", ((2, 2048), (16, 128)))
    monkeypatch.setattr(statistical, "FMICL_BATCHES", 32)
    monkeypatch.setattr(statistical, "VARIANCE_BATCHES", 1024)
    monkeypatch.setattr(statistical, "VARIANCE_BOOTSTRAP", 50)
    monkeypatch.setattr(statistical, "SNR_BATCHES", 400)
    monkeypatch.setattr(statistical, "SNR_BOOTSTRAP", 100)


# --- infonce-rises-to-mi ---------------------------------------------------------------------
def _curve(means: list[float], se: float = 0.01) -> MeanCurve:
    return MeanCurve([4, 16, 64, 256], means, [se] * len(means), [100] * len(means))


def test_rises_decision_passes_a_curve_that_closes_its_gap() -> None:
    # gaps 1.0, 0.4, 0.15, 0.05: rising by >> 4 SE, below I, closed to 5 % (< 10 %)
    assert decide_rises_to_mi(_curve([1.0, 1.6, 1.85, 1.95]), 2.0).passed


@pytest.mark.parametrize(
    "means",
    [
        [1.0, 1.3, 1.4, 1.45],  # plateaus below I: the gap closes to 55 % only
        [1.0, 1.6, 1.85, 2.2],  # ends above I by 20 SE: not a lower bound
        [1.0, 1.6, 1.55, 1.95],  # falls between K = 16 and 64
    ],
)
def test_rises_decision_fails(means: list[float]) -> None:
    assert not decide_rises_to_mi(_curve(means), 2.0).passed


def test_rises_fails_without_the_log_k_term(small: None) -> None:
    no_log_k = wrong("infonce", value=lambda s: get("infonce").value(s) - math.log(s.shape[-1]))
    result = get_claim("infonce-rises-to-mi").check(ClaimContext(estimators={"infonce": no_log_k}))
    assert not result.passed
    assert not all(result.evidence["rises"])


# --- flo-tight-at-optimum --------------------------------------------------------------------
def test_flo_decision() -> None:
    tight = MeanCurve([2, 16], [1.01, 0.99], [0.02, 0.02], [10, 10])
    assert decide_flo_tight(tight, 1.0, [0.4, 0.8]).passed
    low = MeanCurve([2, 16], [0.7, 0.99], [0.02, 0.02], [10, 10])  # 15 SE below I at K = 2
    assert not decide_flo_tight(low, 1.0, [0.4, 0.8]).passed


def test_flo_tight_passes_at_reduced_size(small: None) -> None:
    result = get_claim("flo-tight-at-optimum").check(ClaimContext())
    assert result.passed, result.summary


def test_flo_tight_fails_without_the_constant(small: None) -> None:
    minus_one = wrong("flo", value=lambda s, dual: flo_lower_bound(s, dual=dual) - 1.0)
    result = get_claim("flo-tight-at-optimum").check(ClaimContext(estimators={"flo": minus_one}))
    assert not result.passed


# --- fmicl-le-f-mi ---------------------------------------------------------------------------
def test_fmicl_decision() -> None:
    good = FBoundRow("fmicl_kl", 0.1, 0.0, 0.101, 0.003, [0.08, 0.07, 0.09], [0.003] * 3)
    assert decide_fmicl([good]).passed
    above = replace(good, perturbed_means=[0.08, 0.2, 0.09])  # a perturbed critic 33 SE above I_f
    assert not decide_fmicl([above]).passed
    loose = replace(good, oracle_mean=0.05)  # not tight at the optimum
    assert not decide_fmicl([loose]).passed
    assert not decide_fmicl([]).passed


def test_fmicl_passes_at_reduced_size(small: None) -> None:
    result = get_claim("fmicl-le-f-mi").check(ClaimContext())
    assert result.passed, result.summary


def test_fmicl_fails_for_a_bound_shifted_up(small: None) -> None:
    spec = get("fmicl_kl")
    shifted = replace(spec, extras_fn=lambda s, **h: {"f_value": spec.extras(s)["f_value"] + 0.5})
    result = get_claim("fmicl-le-f-mi").check(ClaimContext(estimators={"fmicl_kl": shifted}))
    assert not result.passed
    assert any("kl" in failure for failure in result.evidence["failures"])


# --- nwj-dv-variance-growth ------------------------------------------------------------------
def _variance_curve(name: str, slope: float, se: float = 0.05) -> VarianceCurve:
    levels = [1.0, 2.0, 3.0]
    variances = [0.1 * math.exp(slope * (level - 1.0)) for level in levels]
    lower = [math.expm1(level) / 56 for level in levels]
    return VarianceCurve(name, levels, variances, slope, se, lower)


def test_variance_decision() -> None:
    assert decide_variance_growth([_variance_curve("nwj", 1.5), _variance_curve("dv", 1.2)]).passed
    # DV's log-variance slope 0.5 +- 0.05: more than 4 SE below the e^I rate
    assert not decide_variance_growth(
        [_variance_curve("nwj", 1.5), _variance_curve("dv", 0.5)]
    ).passed
    below_bound = replace(_variance_curve("nwj", 1.5), variances=[1e-4, 1e-4, 1e-4])
    assert not decide_variance_growth([below_bound]).passed


def test_variance_growth_fails_for_an_estimator_without_a_partition_term(small: None) -> None:
    # mean of the positive scores only: its variance grows like I/K, not e^I
    positives_only = wrong("nwj", value=lambda s: diag(s).mean(-1))
    result = get_claim("nwj-dv-variance-growth").check(
        ClaimContext(estimators={"nwj": positives_only})
    )
    assert not result.passed
    assert result.evidence["nwj_log_variance_slope"] < 0.8


# --- float32-gradient-snr --------------------------------------------------------------------
def _level(gap: float, ratio: float, se: float = 0.01) -> SnrLevel:
    return SnrLevel(8.0, gap, -1.0, -ratio, ratio, se, 0.1, 0.0)


def test_snr_decision() -> None:
    assert decide_snr([_level(0.5, 1.0), _level(1e-4, 0.5)]).passed
    assert not decide_snr([_level(0.5, 1.0), _level(1e-4, 0.99)]).passed
    assert not decide_snr([_level(0.5, 0.5)]).passed  # the drop is not near saturation


def test_snr_passes_for_an_infonce_evaluated_in_bfloat16(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check detects a precision-induced SNR loss when there is one: an InfoNCE whose float32
    path rounds its scores to bfloat16 (8-bit mantissa) loses the near-saturation signal
    (SNR ratio ~0.68 +- 0.04 at 1000 batches, 5-8 SE below the 0.9 threshold)."""
    monkeypatch.setattr(statistical, "SNR_BATCHES", 1000)
    monkeypatch.setattr(statistical, "SNR_BOOTSTRAP", 200)
    infonce = get("infonce")

    def low_precision_loss(scores: Tensor) -> Tensor:
        if scores.dtype == torch.float32:
            return infonce.loss(scores.to(torch.bfloat16)).to(scores.dtype)
        return infonce.loss(scores)

    result = get_claim("float32-gradient-snr").check(
        ClaimContext(estimators={"infonce": wrong("infonce", loss=low_precision_loss)})
    )
    assert result.passed, result.summary
