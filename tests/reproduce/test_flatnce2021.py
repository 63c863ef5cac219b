"""FlatNCE Fig. 1: the planned setting and the verdicts on synthetic training curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mibench.plan.suite import plan
from mibench.reproduce import flatnce2021 as flat
from tests.reproduce._frames import readings, verdict_of


def test_full_budget_plans_small_batch_with_a_hundredfold_pool():
    cells = plan(flat.build_suite(flat.BUDGETS["full"])).configs
    assert {c.estimator for c in cells} == {"infonce", "flatnce"}
    assert {c.critic for c in cells} == {"cosine"}  # one critic for both objectives
    assert {(c.batch_size, c.eval_batch_size) for c in cells} == {(16, 1600)}
    assert {c.seed for c in cells} == {0, 1, 2}


def _frame(label: str, start: float, end: float, ess: tuple[float, float], n: int = 100):
    steps = np.arange(n)
    return pd.DataFrame(
        {
            "run_id": label,
            "label": label,
            "step": steps,
            "estimate": np.linspace(start, end, n),
            "ess": np.linspace(*ess, n),
        }
    )


def test_verdicts_follow_the_curves():
    train = pd.concat(
        [_frame("InfoNCE", 1.0, 2.7, (0.06, 0.05)), _frame("FlatNCE", 1.0, 2.7, (0.17, 0.35))]
    )
    good = pd.concat([_frame("InfoNCE", 1.0, 3.0, (0, 0)), _frame("FlatNCE", 1.0, 5.0, (0, 0))])
    rows = flat.verdicts(readings(train, good), flat.BUDGETS["quick"])
    assert {r.verdict for r in rows} == {"agrees"}
    bad = pd.concat([_frame("InfoNCE", 1.0, 5.0, (0, 0)), _frame("FlatNCE", 1.0, 3.0, (0, 0))])
    rows = flat.verdicts(readings(train, bad), flat.BUDGETS["quick"])
    assert verdict_of(rows, "FlatNCE's large-pool MI") == "differs"
    # a gap inside the stated margin is not "above"
    near = pd.concat([_frame("InfoNCE", 1.0, 4.0, (0, 0)), _frame("FlatNCE", 1.0, 4.05, (0, 0))])
    rows = flat.verdicts(readings(train, near), flat.BUDGETS["quick"])
    assert verdict_of(rows, "FlatNCE's large-pool MI") == "differs"
