"""Poole et al. 2019 Fig. 2: the planned setting and the verdicts on synthetic curves."""

from __future__ import annotations

import math

import pytest

from mibench.plan.suite import plan
from mibench.reproduce import poole2019
from tests.reproduce._frames import readings, staircase_frame, verdict_of

LOG_K = math.log(64)


def test_full_budget_plans_the_colab_setting():
    cells = plan(poole2019.build_suite(poole2019.BUDGETS["full"])).configs
    assert len(cells) == 7 * 2  # NWJ, TUBA, InfoNCE, JS, alpha x 3; separable and concat
    assert {c.critic for c in cells} == {"separable", "concat"}
    for c in cells:
        params = dict(c.task_params)
        assert (c.batch_size, c.lr, c.n_steps, c.seed, c.dtype) == (64, 5e-4, 20000, 0, "float32")
        assert params["dim"] == 20 and params["steps_per_level"] == 4000
        assert list(params["levels"]) == [2.0, 4.0, 6.0, 8.0, 10.0]
        critic = dict(c.critic_params)
        assert list(critic["hidden"]) == [256, 256]
        if c.critic == "separable":
            assert critic["embed_dim"] == 32
    alphas = sorted(dict(c.estimator_params)["alpha"] for c in cells if c.estimator == "alpha")
    assert alphas == [0.01, 0.01, 0.5, 0.5, 0.99, 0.99]


def test_quick_budget_is_labelled_and_shorter():
    budget = poole2019.BUDGETS["quick"]
    suite = poole2019.build_suite(budget)
    assert suite.name == "poole2019-quick" and "quick budget" in suite.description
    assert {c.n_steps for c in plan(suite).configs} == {5 * budget.steps}
    assert any("quick budget" in d.setting for d in poole2019.differences(budget))


def _curves(infonce_top: float, nwj_growth: float):
    def infonce(i):
        return (min(i, infonce_top), 0.05)

    def nwj(i):
        return (i - 1, 0.05 * nwj_growth ** (i / 2))

    return {
        ("InfoNCE", "separable", "Gaussian"): infonce,
        ("NWJ", "separable", "Gaussian"): nwj,
        ("TUBA", "separable", "Gaussian"): nwj,
        ("JS", "separable", "Gaussian"): lambda i: (i - 0.5, 0.02),
        ("α = 0.01", "separable", "Gaussian"): lambda i: (i - 0.5, 0.5),
        ("α = 0.99", "separable", "Gaussian"): lambda i: (min(i, 4.5), 0.05),
    }


def test_verdicts_agree_on_curves_that_show_the_paper():
    rows = poole2019.verdicts(
        readings(staircase_frame(_curves(LOG_K - 0.1, 2.0))), poole2019.BUDGETS["quick"]
    )
    assert {r.verdict for r in rows} == {"agrees"}


@pytest.mark.parametrize(
    ("infonce_top", "growth", "statement", "expected"),
    [
        (2.0, 2.0, "InfoNCE saturates", "differs"),  # far under log K
        (LOG_K, 0.5, "NWJ and TUBA", "differs"),  # variance shrinking with I
    ],
)
def test_verdicts_differ_on_curves_that_do_not(infonce_top, growth, statement, expected):
    rows = poole2019.verdicts(
        readings(staircase_frame(_curves(infonce_top, growth))), poole2019.BUDGETS["quick"]
    )
    assert verdict_of(rows, statement) == expected


def test_missing_curves_give_no_verdict():
    frame = staircase_frame({("InfoNCE", "separable", "Gaussian"): lambda i: (4.0, 0.1)})
    rows = poole2019.verdicts(readings(frame), poole2019.BUDGETS["quick"])
    assert verdict_of(rows, "NWJ and TUBA") == "n/a"


def test_labels_name_the_papers_curves():
    assert poole2019.label_run({"estimator": "alpha", "estimator_params": {"alpha": 0.5}}) == (
        "α = 0.5"
    )
    assert poole2019.label_run({"estimator": "infonce", "estimator_params": {}}) == "InfoNCE"
