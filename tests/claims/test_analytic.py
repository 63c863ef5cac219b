"""Analytic claims: PASS with the project's estimators, FAIL with a deliberately wrong one."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibench.claims import get as get_claim
from mibench.claims.analytic import _cyclic_candidates
from mibench.estimators import ess, get
from mibench.estimators._logspace import diag, lme_off, lse_row
from mibench.estimators.contrastive import flo_lower_bound
from mibench.estimators.ntxent import mate_index
from tests.claims._claim_helpers import fast_context, wrong


def check(claim_id: str, **overrides: object):
    return get_claim(claim_id).check(fast_context(**overrides))


# --- infonce-le-log-k ------------------------------------------------------------------------
def test_infonce_le_log_k_passes() -> None:
    result = check("infonce-le-log-k")
    assert result.passed, result.summary
    assert result.evidence["violations"] == 0
    assert result.evidence["max_value_minus_log_k"] <= 0.0 + 1e-12


def test_infonce_le_log_k_fails_when_the_value_exceeds_the_cap() -> None:
    # log K added twice: the value reaches 2 log K
    doubled = wrong("infonce", value=lambda s: get("infonce").value(s) + math.log(s.shape[-1]))
    result = check("infonce-le-log-k", estimators={"infonce": doubled})
    assert not result.passed
    assert result.evidence["violations"] > 0


def test_infonce_le_log_k_fails_without_the_log_k_term() -> None:
    # Without + log K the value is <= 0 <= log K everywhere: only the attainment check catches it.
    no_log_k = wrong("infonce", value=lambda s: get("infonce").value(s) - math.log(s.shape[-1]))
    result = check("infonce-le-log-k", estimators={"infonce": no_log_k})
    assert not result.passed
    assert result.evidence["violations"] == 0
    assert result.evidence["attain_max_abs_gap"] > 0.5


# --- dv-ge-nwj -------------------------------------------------------------------------------
def test_dv_ge_nwj_passes() -> None:
    result = check("dv-ge-nwj")
    assert result.passed, result.summary
    assert result.evidence["equality_max_abs_gap"] < 1e-9


def test_dv_ge_nwj_fails_for_an_nwj_without_its_exponential() -> None:
    # mean diag - lme_off/e: exceeds DV wherever lme_off > 0 (log t > t/e fails for t = L)
    no_exp = wrong("nwj", value=lambda s: diag(s).mean(-1) - lme_off(s) / math.e)
    result = check("dv-ge-nwj", estimators={"nwj": no_exp})
    assert not result.passed
    assert result.evidence["violations"] > 0


# --- fenchel-equality ------------------------------------------------------------------------
def test_fenchel_equality_passes_and_reports_the_printed_point_gap() -> None:
    result = check("fenchel-equality")
    assert result.passed, result.summary
    # Lemma S3 prints u = t = mean exp(...) as the equality point; there the gap is e^-δ - 1 + δ
    # with δ = t - log t >= 1, i.e. at least e^-1 = 0.37 in every row: never tight.
    assert result.evidence["lemma_s3_printed_point_median_gap"] > math.exp(-1) - 1e-9
    assert result.evidence["lemma_s3_printed_point_fraction_not_tight"] == 1.0


def test_fenchel_equality_fails_for_flo_without_its_constant() -> None:
    minus_one = wrong("flo", value=lambda s, dual: flo_lower_bound(s, dual=dual) - 1.0)
    result = check("fenchel-equality", estimators={"flo": minus_one})
    assert not result.passed
    assert result.evidence["gap_formula_violations"] > 0


# --- ess-range -------------------------------------------------------------------------------
def test_ess_range_passes() -> None:
    result = check("ess-range")
    assert result.passed, result.summary


def test_ess_range_fails_when_normalised_by_k_instead_of_k_minus_1() -> None:
    def ess_over_k(scores: Tensor) -> Tensor:
        K = scores.shape[-1]
        return ess(scores) * (K - 1) / K  # 1/(K sum w^2): never reaches 1

    result = check("ess-range", functions={"ess": ess_over_k})
    assert not result.passed
    assert result.evidence["constant_max_abs_ess_minus_one"] > 0.1


# --- ntxent-eq-infonce -----------------------------------------------------------------------
def test_cyclic_candidates_put_each_rows_positive_on_the_diagonal() -> None:
    n = 3
    scores = torch.arange(36, dtype=torch.float64).reshape(6, 6)
    blocks = _cyclic_candidates(scores)  # (6, 5, 5)
    mates = mate_index(6)
    for i in range(6):
        expected_positive = scores[i, int(mates[i])]
        assert torch.all(torch.diagonal(blocks[i]) == expected_positive)
        others = sorted(float(v) for k, v in enumerate(scores[i]) if k not in (i, int(mates[i])))
        assert sorted(float(v) for v in blocks[i, 0, 1:]) == others
    assert blocks.shape == (2 * n, 2 * n - 1, 2 * n - 1)


def test_ntxent_eq_infonce_passes() -> None:
    result = check("ntxent-eq-infonce")
    assert result.passed, result.summary


def test_ntxent_eq_infonce_fails_when_self_similarity_enters_the_denominator() -> None:
    def loss_with_self(scores: Tensor) -> Tensor:
        mates = mate_index(scores.shape[-1])
        positives = torch.gather(scores, -1, mates.expand(scores.shape[:-1]).unsqueeze(-1))
        return (lse_row(scores) - positives.squeeze(-1)).mean(-1)

    def value_with_self(scores: Tensor) -> Tensor:
        return math.log(scores.shape[-1] - 1) - loss_with_self(scores)

    result = check(
        "ntxent-eq-infonce",
        estimators={"ntxent": wrong("ntxent", value=value_with_self, loss=loss_with_self)},
    )
    assert not result.passed
    assert result.evidence["max_abs_value_gap"] > 1e-3
