r"""Song & Ermon's (2020, §6) self-consistency tests read from a suite's summary.

A task with a ``consistency`` parameter (:mod:`mibench.tasks.consistency`) is one of the tests
when the parameter is ``independence``, ``data_processing`` or ``additivity``, and the *plain*
task when it is ``none``. Each test cell is paired with the plain cell of the same estimator,
critic, K, learning rate and base-task parameters (all task parameters but ``consistency``); the
tests' targets are

* independence: the estimate itself, target 0 nats;
* data processing: :math:`\hat I([X, h(X)]; Y) / \hat I(X; Y)`, target 1;
* additivity: :math:`\hat I([X_1, X_2]; [Y_1, Y_2]) / \hat I(X; Y)`, target 2.

An estimate is a cell's window mean over its seeds, or truth + median bias where the cell is
unstable (the rule of the figures and tables, :func:`mibench.results.robust.shown_estimate`). The
standard error of a cell's mean over its n seeds is the half-width of its 95 % Student-t interval
divided by :math:`t_{0.975, n-1}`; a ratio's standard error is the delta-method
:math:`r\sqrt{(s_a/a)^2 + (s_b/b)^2}` (NaN with one seed).

References:
    Song & Ermon, Understanding the Limitations of Variational Mutual Information Estimators,
    ICLR 2020, arXiv:1910.06222, §6.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from mibench.results.robust import shown_estimate
from mibench.results import schema

CONSISTENCY_PARAM = "consistency"
PLAIN = "none"
INDEPENDENCE = "independence"
RATIO_TARGETS = {"data_processing": 1.0, "additivity": 2.0}
"""Target of Î(test) / Î(plain) for each ratio test."""
CI_LEVEL = 0.95
INDEPENDENCE_TOLERANCE_NATS = 0.1
"""A consistent estimator reads |Î| <= this on independent pairs (the claims' and figure's band)."""
RATIO_TOLERANCE = 0.10
"""A consistent estimator's ratio lies within this fraction of its target."""

# columns of the frames returned here
TEST = "test"
BASE = "base"  # the base task in words: "digits_label reroll=0.25"
ESTIMATE = "estimate"
ESTIMATE_SE = "estimate_se"
PLAIN_ESTIMATE = "plain_estimate"
PLAIN_TRUE_MI = "plain_true_mi"
RATIO = "ratio"
RATIO_SE = "ratio_se"
TARGET_RATIO = "target_ratio"

_SETTING = (schema.ESTIMATOR, schema.ESTIMATOR_PARAMS, schema.TASK, BASE, schema.CRITIC,
            schema.CRITIC_PARAMS, schema.BATCH_SIZE, schema.LR, schema.DTYPE, schema.NEGATIVES,
            schema.N_STEPS)  # fmt: skip


def _base_label(task: str, params_json: str) -> str:
    params = json.loads(params_json or "{}")
    rest = " ".join(f"{k}={v}" for k, v in sorted(params.items()) if k != CONSISTENCY_PARAM)
    return f"{task} {rest}".strip()


def consistency_cells(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of tasks with a ``consistency`` parameter, plus the columns
    :data:`TEST` (the parameter's value), :data:`BASE`, :data:`ESTIMATE` and :data:`ESTIMATE_SE`.

    Examples:
        >>> row = {schema.TASK: "digits_label", schema.TASK_PARAMS: '{"consistency": "none", '
        ...        '"reroll": 0.5}', schema.TRUE_MI: 0.63, schema.MEAN_ESTIMATE: 0.6,
        ...        schema.BIAS: -0.03, schema.N_SEEDS: 1}
        >>> consistency_cells(pd.DataFrame([row]))[[TEST, BASE, ESTIMATE]].values.tolist()
        [['none', 'digits_label reroll=0.5', 0.6]]
    """
    if summary.empty or schema.TASK_PARAMS not in summary.columns:
        return summary.iloc[0:0].assign(**{TEST: [], BASE: [], ESTIMATE: [], ESTIMATE_SE: []})
    params = summary[schema.TASK_PARAMS].map(lambda p: json.loads(p or "{}"))
    rows = summary[params.map(lambda p: CONSISTENCY_PARAM in p).to_numpy(dtype=bool)]
    if schema.TARGET in rows.columns:
        rows = rows[rows[schema.TARGET] == "mi"]
    tests = rows[schema.TASK_PARAMS].map(lambda p: json.loads(p)[CONSISTENCY_PARAM])
    bases = [_base_label(t, p) for t, p in zip(rows[schema.TASK], rows[schema.TASK_PARAMS], strict=True)]
    return rows.assign(**{
        TEST: tests.to_numpy(), BASE: bases,
        ESTIMATE: shown_estimate(rows, schema.TRUE_MI), ESTIMATE_SE: _seed_standard_error(rows),
    })  # fmt: skip


def _seed_standard_error(rows: pd.DataFrame) -> np.ndarray:
    """Standard error of each cell's mean over its seeds, from its 95 % t-interval (NaN: 1 seed)."""
    if schema.BIAS_CI_LOW not in rows.columns or rows.empty:
        return np.full(len(rows), np.nan)
    n = rows[schema.N_SEEDS].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        t = scipy_stats.t.ppf(0.5 + CI_LEVEL / 2, np.where(n > 1, n - 1, np.nan))
    half = (rows[schema.BIAS_CI_HIGH].to_numpy(float) - rows[schema.BIAS_CI_LOW].to_numpy(float)) / 2
    return half / t


def _setting_columns(cells: pd.DataFrame) -> list[str]:
    return [c for c in _SETTING if c in cells.columns]


def ratio_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per ratio test cell with its plain partner: the setting columns, :data:`TEST`,
    the two estimates, :data:`RATIO`, :data:`RATIO_SE`, :data:`TARGET_RATIO` and both truths.
    Test cells without a plain partner are left out."""
    cells = consistency_cells(summary)
    by = _setting_columns(cells)
    plain = cells[cells[TEST] == PLAIN][[*by, ESTIMATE, ESTIMATE_SE, schema.TRUE_MI]].rename(
        columns={ESTIMATE: PLAIN_ESTIMATE, ESTIMATE_SE: "plain_se", schema.TRUE_MI: PLAIN_TRUE_MI}
    )
    tests = cells[cells[TEST].isin(list(RATIO_TARGETS))]
    paired = tests.merge(plain.drop_duplicates(by), on=by, how="inner")
    a, b = paired[ESTIMATE].to_numpy(float), paired[PLAIN_ESTIMATE].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a / b
        relative = np.hypot(paired[ESTIMATE_SE].to_numpy(float) / a,
                            paired["plain_se"].to_numpy(float) / b)  # fmt: skip
    columns = [*by, TEST, ESTIMATE, PLAIN_ESTIMATE, schema.TRUE_MI, PLAIN_TRUE_MI]
    out = paired[columns].assign(**{
        RATIO: ratio, RATIO_SE: np.abs(ratio) * relative,
        TARGET_RATIO: paired[TEST].map(RATIO_TARGETS).to_numpy(dtype=float),
    })  # fmt: skip
    return out.sort_values([*by, TEST], kind="stable").reset_index(drop=True)


def independence_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per independence cell: the setting columns, :data:`ESTIMATE` (target 0) and
    :data:`ESTIMATE_SE`."""
    cells = consistency_cells(summary)
    by = _setting_columns(cells)
    rows = cells[cells[TEST] == INDEPENDENCE]
    return rows[[*by, ESTIMATE, ESTIMATE_SE]].sort_values(by, kind="stable").reset_index(drop=True)
