"""The report's findings, checked on handmade summaries whose answers are known by construction."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mibench.report import findings
from mibench.results import schema


def _cell(estimator: str, level: float, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        schema.ESTIMATOR: estimator,
        schema.TASK: "staircase",
        schema.TASK_ID: "staircase-gaussian-d5-mi2_4_6-every200",
        schema.MI_LEVEL: level,
        schema.TRUE_MI: level,
        schema.BATCH_SIZE: 64,
        schema.CRITIC: "separable",
        schema.DIM: 5,
        schema.DTYPE: "float32",
        schema.NEGATIVES: "offdiag",
        schema.LOG_K: math.log(64),
        schema.BIAS: 0.0,
        schema.STD: 0.1,
        schema.MSE: 0.01,
        schema.MEAN_ESTIMATE: level,
        schema.MEDIAN_BIAS: 0.0,
        schema.IQR: 0.1,
        schema.WILD_FRACTION: 0.0,
        schema.UNSTABLE: False,
        schema.DIVERGED_FRACTION: 0.0,
        schema.N_SEEDS: 3,
    }
    return row | values


def test_best_per_level_ranks_stable_cells_by_robust_mse_and_skips_unstable_ones() -> None:
    summary = pd.DataFrame(
        [
            # robust MSE = median² + (IQR / 1.349)²: 0.25 + 0.0055 = 0.2555
            _cell("infonce", 2.0, **{schema.MEDIAN_BIAS: -0.5}),
            # 0.01 + (1.349 / 1.349)² = 1.01
            _cell("nwj", 2.0, **{schema.MEDIAN_BIAS: 0.1, schema.IQR: 1.349}),
            # Best robust MSE of all (0) but unstable: one 1e61 readout among its window's.
            _cell("js", 2.0, **{schema.IQR: 0.0, schema.BIAS: -9.8e61, schema.UNSTABLE: True}),
            # At I = 4 every cell is unstable.
            _cell("infonce", 4.0, **{schema.UNSTABLE: True, schema.WILD_FRACTION: 0.5}),
        ]
    )
    first, second = findings.best_per_level(summary)
    assert (first.level, first.best.estimator, first.runner_up.estimator) == (2.0, "infonce", "nwj")
    assert first.best.robust_mse == pytest.approx(0.25 + (0.1 / 1.349) ** 2)
    assert first.runner_up.robust_mse == pytest.approx(0.01 + 1.0)
    assert (first.n_stable, first.n_cells) == (2, 3)
    assert second.best is None and second.n_stable == 0


def test_saturation_at_log_k_only_above_log_k() -> None:
    log_k = math.log(64)  # 4.16
    summary = pd.DataFrame(
        [
            # At I = 4 < log K an estimate of 4.1 is not saturation, at I = 6 it is (within 5 %).
            _cell("infonce", 4.0, **{schema.MEAN_ESTIMATE: 4.1}),
            _cell("infonce", 6.0, **{schema.MEAN_ESTIMATE: 4.1}),
            _cell("infonce", 8.0, **{schema.MEAN_ESTIMATE: 4.15}),
            # 10 % below log K: not within 5 %.
            _cell("nwj", 6.0, **{schema.MEAN_ESTIMATE: 0.9 * log_k}),
            # Unstable: the exploded mean says nothing; the median (6 - 1.9 = 4.1) is saturated.
            _cell(
                "js",
                6.0,
                **{schema.MEAN_ESTIMATE: -9e61, schema.MEDIAN_BIAS: -1.9, schema.UNSTABLE: True},
            ),
        ]
    )
    found = {(s.estimator, s.from_level) for s in findings.saturation(summary)}
    assert found == {("infonce", 6.0), ("js", 6.0)}


def test_instability_lists_levels_and_largest_wild_share() -> None:
    summary = pd.DataFrame(
        [
            _cell("nwj", 2.0),
            _cell("nwj", 4.0, **{schema.UNSTABLE: True, schema.WILD_FRACTION: 0.01}),
            _cell("nwj", 6.0, **{schema.UNSTABLE: True, schema.WILD_FRACTION: 0.3}),
        ]
    )
    (item,) = findings.instability(summary)
    assert (item.estimator, item.levels, item.max_wild_share) == ("nwj", (4.0, 6.0), 0.3)
    assert findings.instability(summary.drop(columns=schema.UNSTABLE)) == []


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        ({"id": "a", "passed": True, "evidence": {"x": 1.0}}, "PASS"),
        ({"id": "a", "passed": False}, "FAIL"),
        ({"id": "a", "passed": False, "applicable": False}, findings.NOT_APPLICABLE),
        ({"id": "a", "passed": False, "verdict": "not applicable"}, findings.NOT_APPLICABLE),
        ({"id": "a", "passed": True, "verdict": "FAIL"}, "FAIL"),  # the verdict field decides
    ],
)
def test_verdict_of_claim_results(result: dict, verdict: str) -> None:
    assert findings.verdict_of(result).verdict == verdict


def test_result_claims_are_not_judged_without_a_summary(tmp_path) -> None:
    assert findings.result_claim_verdicts(tmp_path) is None
