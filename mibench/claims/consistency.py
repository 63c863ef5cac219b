r"""Song & Ermon's (2020, §6) self-consistency tests, judged on a finished suite's results.

Each claim reads the cells of tasks with a ``consistency`` parameter (``mibench run digits``
trains them; the pairing and the ratios are :mod:`mibench.results.consistency`) and holds when
*every* estimator meets the test's exact target within the stated tolerance:

* independence: \|Î\| ≤ 0.1 nats (target 0);
* data processing: Î([X, h(X)]; Y) / Î(X; Y) within 10 % of 1;
* additivity: Î([X₁, X₂]; [Y₁, Y₂]) / Î(X; Y) within 10 % of 2.

The tolerances are fixed, not statistical: the tests ask whether an estimator is consistent to
a stated precision, and a systematic violation (Song & Ermon's finding for several estimators)
does not shrink with more seeds. Each case's standard error over seeds is printed beside it, so a
verdict decided by noise is visible. A ratio needs a positive plain estimate: where Î(X; Y) ≤
0.05 nats the ratio is undefined and the case fails. A suite without these tests gets ``N/A``.

References:
    Song & Ermon, Understanding the Limitations of Variational Mutual Information Estimators,
    ICLR 2020, arXiv:1910.06222, §6.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mibench.claims.base import ClaimResult
from mibench.claims.results import SuiteResults, not_applicable, result_claim
from mibench.results import consistency, schema

INDEPENDENCE_TOLERANCE_NATS = consistency.INDEPENDENCE_TOLERANCE_NATS
RATIO_TOLERANCE = consistency.RATIO_TOLERANCE  # relative to the target ratio
MIN_PLAIN_ESTIMATE_NATS = 0.05  # below it Î(X; Y) cannot be divided by
SOURCE = "Song & Ermon 2020, §6 (self-consistency tests)"


def _case_name(row: pd.Series) -> str:
    return (f"{row[schema.ESTIMATOR]} on {row[consistency.BASE]} "
            f"({row[schema.CRITIC]}, K={int(row[schema.BATCH_SIZE])})")  # fmt: skip


def _plus_minus(value: float, se: float) -> str:
    """Three decimals, or three significant digits for values under 0.01 (independence)."""

    def text(v: float) -> str:
        return f"{v:.3f}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"

    return text(value) + (f" ± {text(se)}" if np.isfinite(se) else "")


def _verdict(cases: Sequence[tuple[str, bool]], *, tolerance: str, why: str) -> ClaimResult:
    failing = [text for text, holds in cases if not holds]
    return ClaimResult(
        passed=not failing,
        evidence={"cases": [text for text, _ in cases], "failing": failing},
        summary=f"{len(cases) - len(failing)} of {len(cases)} within tolerance; "
        + "; ".join(text for text, _ in cases),
        tolerance=tolerance,
        why=why,
    )


@result_claim(
    id="results-self-consistency-independence",
    statement="On independent pairs (an image against the target of an independently drawn one) "
    "every estimator reads 0: |estimate| <= 0.1 nats.",
    source=SOURCE,
)
def independence_reads_zero(results: SuiteResults) -> ClaimResult:
    table = consistency.independence_table(results.summary)
    if table.empty:
        return not_applicable("the suite has no consistency = independence task")
    cases = []
    for _, row in table.iterrows():
        estimate = float(row[consistency.ESTIMATE])
        text = f"{_case_name(row)}: {_plus_minus(estimate, row[consistency.ESTIMATE_SE])} nats"
        cases.append((text, bool(abs(estimate) <= INDEPENDENCE_TOLERANCE_NATS)))
    return _verdict(
        cases,
        tolerance=f"|estimate| <= {INDEPENDENCE_TOLERANCE_NATS:g} nats",
        why="the truth is exactly 0 (p(x, y) = p(x) p(y)); estimate = window mean over seeds "
        "± its standard error over seeds",
    )


def _ratio_claim(results: SuiteResults, test: str) -> ClaimResult:
    table = consistency.ratio_table(results.summary)
    table = table[table[consistency.TEST] == test]
    if table.empty:
        return not_applicable(f"the suite has no consistency = {test} task beside its plain task")
    target = consistency.RATIO_TARGETS[test]
    cases = []
    for _, row in table.iterrows():
        plain = float(row[consistency.PLAIN_ESTIMATE])
        if not plain > MIN_PLAIN_ESTIMATE_NATS:
            text = (f"{_case_name(row)}: plain estimate {plain:.3f} <= "
                    f"{MIN_PLAIN_ESTIMATE_NATS:g} nats, ratio undefined")  # fmt: skip
            cases.append((text, False))
            continue
        ratio = float(row[consistency.RATIO])
        text = (f"{_case_name(row)}: ratio {_plus_minus(ratio, row[consistency.RATIO_SE])} "
                f"({float(row[consistency.ESTIMATE]):.3f} / {plain:.3f}; target {target:g})")  # fmt: skip
        cases.append((text, bool(abs(ratio - target) <= RATIO_TOLERANCE * target)))
    return _verdict(
        cases,
        tolerance=f"|ratio - {target:g}| <= {RATIO_TOLERANCE:.0%} of {target:g}",
        why="ratio of window means over seeds (the plain cell: the same estimator, critic, K and "
        "base task); ± its delta-method standard error over seeds",
    )


@result_claim(
    id="results-self-consistency-data-processing",
    statement="Data processing: for a deterministic h, every estimator's Î([X, h(X)]; Y) / "
    "Î(X; Y) is 1 within 10 %.",
    source=SOURCE,
)
def data_processing_ratio_is_one(results: SuiteResults) -> ClaimResult:
    return _ratio_claim(results, "data_processing")


@result_claim(
    id="results-self-consistency-additivity",
    statement="Additivity: on two independent pairs concatenated, every estimator's "
    "Î([X1, X2]; [Y1, Y2]) / Î(X; Y) is 2 within 10 %.",
    source=SOURCE,
)
def additivity_ratio_is_two(results: SuiteResults) -> ClaimResult:
    return _ratio_claim(results, "additivity")
