"""Gradient-identity claims: PASS with the project's estimators, FAIL with a wrong one."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import softplus

from mibench.claims import get as get_claim
from mibench.estimators import ess, get
from mibench.estimators._logspace import mask_diag
from mibench.estimators.contrastive import contrasts, flatnce_loss
from tests.claims._claim_helpers import fast_context, wrong


def check(claim_id: str, **overrides: object):
    return get_claim(claim_id).check(fast_context(**overrides))


def test_eq12_gradient_passes() -> None:
    result = check("flatnce-eq12-gradient")
    assert result.passed, result.summary
    assert result.evidence["max_abs_eq12_minus_one"] == 0.0


def test_eq12_gradient_fails_against_term_dropping_infonce() -> None:
    # Eq. (12) keeps the positive in the sum: its gradient is InfoNCE's, not term-dropping's.
    result = check("flatnce-eq12-gradient", estimators={"infonce": get("infonce_drop")})
    assert not result.passed
    assert result.evidence["violations"] > 0


def test_term_dropping_gradient_passes() -> None:
    result = check("flatnce-term-dropping-gradient")
    assert result.passed, result.summary


def test_term_dropping_gradient_fails_when_the_positive_stays_in() -> None:
    result = check("flatnce-term-dropping-gradient", estimators={"infonce_drop": get("infonce")})
    assert not result.passed


def test_term_dropping_gradient_fails_when_flatnce_is_not_flat() -> None:
    # the same gradient, but the value is not identically 1 (no detach): the flatness check fails
    undetached = wrong(
        "flatnce",
        loss=lambda s: torch.logsumexp(mask_diag(contrasts(s)), dim=-1).mean(-1),
    )
    result = check("flatnce-term-dropping-gradient", estimators={"flatnce": undetached})
    assert not result.passed
    assert result.evidence["max_abs_flatnce_loss_minus_one"] > 0.1


def test_importance_weight_gradient_passes() -> None:
    result = check("importance-weight-gradient")
    assert result.passed, result.summary
    assert result.evidence["infonce_max_abs_gradient_at_saturation"] == 0.0


def test_importance_weight_gradient_fails_for_a_summed_loss() -> None:
    # summing the rows instead of averaging scales the gradient by K: no longer (w - δ)/K
    summed = wrong("infonce", loss=lambda s: -get("infonce").value(s) * s.shape[-1])
    result = check("importance-weight-gradient", estimators={"infonce": summed})
    assert not result.passed
    assert result.evidence["infonce_violations"] > 0


def test_holder_gradient_passes() -> None:
    result = check("holder-flatnce-gradient")
    assert result.passed, result.summary


def test_holder_gradient_fails_when_gamma_is_ignored() -> None:
    ignores_gamma = wrong("holder_flatnce", loss=lambda s, gamma: flatnce_loss(s))
    result = check("holder-flatnce-gradient", estimators={"holder_flatnce": ignores_gamma})
    assert not result.passed
    assert result.evidence["violations"] > 0


def test_temperature_reweights_passes() -> None:
    result = check("temperature-reweights")
    assert result.passed, result.summary


def test_temperature_reweights_fails_for_non_softmax_weights() -> None:
    # a JS-style contrast loss: its gradient weights are sigmoids, not a tempered softmax
    def softplus_loss(scores: Tensor) -> Tensor:
        K = scores.shape[-1]
        off = ~torch.eye(K, dtype=torch.bool)
        return softplus(contrasts(scores))[..., off].mean(-1)

    result = check(
        "temperature-reweights", estimators={"flatnce": wrong("flatnce", loss=softplus_loss)}
    )
    assert not result.passed
    assert result.evidence["violations"] > 0


def test_temperature_reweights_fails_when_ess_rises_with_beta() -> None:
    result = check("temperature-reweights", functions={"ess": lambda s: 1.0 - ess(s)})
    assert not result.passed
    assert result.evidence["max_ess_increase_with_beta"] > 0.01
