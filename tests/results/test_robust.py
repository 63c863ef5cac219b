"""What the figures show per cell (mibench.results.robust): mean-based numbers, or the robust ones
where a cell is unstable; robust MSE = median_bias² + (IQR / 1.349)²."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mibench.results.robust import (
    NORMAL_IQR_IN_SIGMA,
    ROBUST_COLUMNS,
    has_robust_columns,
    robust_mse,
    shown_bias,
    shown_estimate,
    unstable_mask,
    wild_share,
)
from mibench.results import schema


def _summary(**extra: list) -> pd.DataFrame:
    base = {
        schema.TRUE_MI: [2.0, 4.0, 6.0],
        schema.BIAS: [0.1, -0.5, 1e30],
        schema.MSE: [0.02, 0.3, 1e60],
        schema.MEDIAN_BIAS: [0.2, -0.4, -1.0],
        schema.IQR: [0.0, 1.349, 2.698],
        schema.WILD_FRACTION: [0.0, 0.0, 0.25],
        schema.UNSTABLE: [False, None, True],
    }
    base.update(extra)
    return pd.DataFrame(base)


def test_the_normal_iqr_constant_is_q75_minus_q25_of_a_standard_normal() -> None:
    assert abs(NORMAL_IQR_IN_SIGMA - (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))) < 5e-4


def test_unstable_and_wild_with_and_without_the_columns() -> None:
    summary = _summary()
    assert has_robust_columns(summary)
    assert unstable_mask(summary).tolist() == [False, False, True]  # missing flag: stable
    assert wild_share(summary).tolist() == [0.0, 0.0, 0.25]
    old = summary.drop(columns=list(ROBUST_COLUMNS))
    assert not has_robust_columns(old)
    assert unstable_mask(old).tolist() == [False] * 3 and wild_share(old).tolist() == [0.0] * 3


def test_shown_bias_and_estimate_switch_to_the_median_on_unstable_cells_only() -> None:
    summary = _summary()
    assert shown_bias(summary).tolist() == [0.1, -0.5, -1.0]
    np.testing.assert_allclose(shown_estimate(summary, schema.TRUE_MI), [2.1, 3.5, 5.0])
    with_mean = _summary(**{schema.MEAN_ESTIMATE: [2.2, 3.3, 1e30]})
    np.testing.assert_allclose(shown_estimate(with_mean, schema.TRUE_MI), [2.2, 3.3, 5.0])
    stable = _summary(**{schema.UNSTABLE: [False, False, False]})
    assert shown_bias(stable).tolist() == stable[schema.BIAS].tolist()


def test_robust_mse_and_its_fallback() -> None:
    summary = _summary()
    np.testing.assert_allclose(robust_mse(summary), [0.04, 0.16 + 1.0, 1.0 + 4.0], rtol=1e-12)
    old = summary.drop(columns=[schema.IQR])
    assert robust_mse(old).tolist() == summary[schema.MSE].tolist()
