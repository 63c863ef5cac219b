"""CLUB (Cheng et al. 2020): the planned setting and the verdicts on synthetic curves."""

from __future__ import annotations

from mibench.plan.suite import plan
from mibench.reproduce import club2020
from tests.reproduce._frames import readings, staircase_frame, verdict_of


def test_full_budget_plans_their_notebook_setting():
    cells = plan(club2020.build_suite(club2020.BUDGETS["full"])).configs
    assert len(cells) == 5 * 2
    for c in cells:
        assert (c.batch_size, c.lr, c.n_steps) == (64, 5e-3, 20000)
        assert dict(c.task_params)["steps_per_level"] == 4000
        assert list(dict(c.critic_params)["hidden"]) == [15]
    by_estimator = {c.estimator: c for c in cells}
    assert by_estimator["dv"].negatives == "derangement"  # their MINE: one shuffled y per x
    assert by_estimator["club"].critic == "gaussian_conditional"
    assert by_estimator["nwj"].critic == "concat"


def _curves(club_offset: float):
    curves = {}
    for task in ("Gaussian", "Cubic"):
        curves |= {
            ("NWJ", "concat", task): lambda i: (i - 1, 0.3 * i),
            ("MINE", "concat", task): lambda i: (i - 1, 0.3 * i),
            ("InfoNCE", "concat", task): lambda i: (min(i, 4.1), 0.05),
            ("CLUB", "gaussian_conditional", task): lambda i: (i + club_offset, 0.1),
        }
    return curves


def test_verdicts_on_an_upper_bound_above_the_truth():
    rows = club2020.verdicts(readings(staircase_frame(_curves(0.3))), club2020.BUDGETS["quick"])
    assert {r.verdict for r in rows} == {"agrees"}


def test_club_below_the_truth_differs():
    rows = club2020.verdicts(readings(staircase_frame(_curves(-1.0))), club2020.BUDGETS["quick"])
    assert verdict_of(rows, "With q(y|x) fitted") == "differs"
