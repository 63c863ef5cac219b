"""SINCERE claims: coefficient ranges and the KL bound, with wrong estimators that must FAIL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

import mibench.claims.supervised as supervised
from mibench.claims import ClaimContext
from mibench.claims import get as get_claim
from mibench.claims.statistical import MeanCurve
from mibench.claims.supervised import decide_kl_bound, oracle_sincere_scores
from mibench.estimators import get
from mibench.estimators.supervised import supcon_loss
from mibench.tasks import build
from tests.claims._claim_helpers import wrong


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervised, "COEFFICIENT_SIZES", (6, 16))
    monkeypatch.setattr(supervised, "COEFFICIENT_DRAWS", 8)
    monkeypatch.setattr(supervised, "KL_SIZES", ((8, 1024), (32, 256), (128, 64)))


def test_sincere_coefficient_passes(small: None) -> None:
    result = get_claim("sincere-coefficient").check(ClaimContext())
    assert result.passed, result.summary
    assert result.evidence["sincere_max_multiplier"] <= 1e-12
    assert result.evidence["sincere_min_multiplier"] >= -1.0 - 1e-12
    assert result.evidence["supcon_max_multiplier"] > 0.0


def test_sincere_coefficient_fails_when_sincere_keeps_same_class_negatives(small: None) -> None:
    as_supcon = wrong("sincere", loss=supcon_loss)
    result = get_claim("sincere-coefficient").check(ClaimContext(estimators={"sincere": as_supcon}))
    assert not result.passed
    assert result.evidence["sincere_max_multiplier"] > 0.0


def test_oracle_scores_match_a_scipy_loop() -> None:
    task = build("labeled_gaussians", n_classes=3, dim=2, separation=2.0, sigma=1.0)
    generator = torch.Generator().manual_seed(3)
    batch = task.sample(7, generator, dtype=torch.float64)
    scores = oracle_sincere_scores(task, batch.x, batch.labels)
    means = task.means.numpy()
    x, labels = batch.x.numpy(), batch.labels.numpy()
    for t in range(7):
        c = labels[t]
        for i in range(7):
            own = multivariate_normal(means[c], np.eye(2)).pdf(x[i])
            noise = np.mean(
                [multivariate_normal(means[k], np.eye(2)).pdf(x[i]) for k in range(3) if k != c]
            )
            assert scores[t, i].item() == pytest.approx(math.log(own / noise), rel=1e-10)


def test_kl_bound_decision() -> None:
    rising = MeanCurve([8, 32, 128], [0.6, 1.4, 1.8], [0.01, 0.01, 0.02], [10, 10, 10])
    assert decide_kl_bound(rising, 2.0, 0.0, [4, 16, 64]).passed
    above = MeanCurve([8, 32, 128], [0.6, 1.4, 2.3], [0.01, 0.01, 0.02], [10, 10, 10])
    assert not decide_kl_bound(above, 2.0, 0.0, [4, 16, 64]).passed  # 15 SE above KL
    flat = MeanCurve([8, 32, 128], [0.6, 0.61, 0.6], [0.01, 0.01, 0.02], [10, 10, 10])
    assert not decide_kl_bound(flat, 2.0, 0.0, [4, 16, 64]).passed  # does not tighten


def test_sincere_kl_bound_passes_at_reduced_size(small: None) -> None:
    result = get_claim("sincere-kl-bound").check(ClaimContext())
    assert result.passed, result.summary


def test_sincere_kl_bound_fails_for_supcon(small: None) -> None:
    # SupCon keeps same-class members in its denominators: log|N_t| - L stops tightening
    as_supcon = wrong("sincere", value=get("supcon").value_fn)
    result = get_claim("sincere-kl-bound").check(ClaimContext(estimators={"sincere": as_supcon}))
    assert not result.passed
    assert not all(result.evidence["rises"])
