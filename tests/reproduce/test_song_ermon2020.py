"""Song & Ermon 2020 Fig. 1-2: the planned setting and the verdicts on synthetic curves."""

from __future__ import annotations

import math

from mibench.plan.suite import plan
from mibench.reproduce import song_ermon2020 as song
from tests.reproduce._frames import readings, staircase_frame, verdict_of


def test_full_budget_plans_their_code_setting():
    cells = plan(song.build_suite(song.BUDGETS["full"])).configs
    # (InfoNCE, NWJ, JS, MINE, SMILE x 3) x (Gaussian, cubic) x (separable, concat)
    assert len(cells) == 7 * 2 * 2
    for c in cells:
        assert list(dict(c.critic_params)["hidden"]) == [256, 256, 256]  # their mlp(layers=2)
        assert (c.batch_size, c.lr, c.n_steps) == (64, 5e-4, 20000)
    bases = {dict(c.task_params)["base"] for c in cells}
    assert bases == {"gaussian", "cubic"}
    cubic = next(c for c in cells if dict(c.task_params)["base"] == "cubic")
    assert dict(cubic.task_params)["apply_to"] == "y"
    taus = {dict(c.estimator_params)["clip"] for c in cells if c.estimator == "smile"}
    assert taus == {1.0, 5.0, math.inf}
    mine = {dict(c.estimator_params)["ema_rate"] for c in cells if c.estimator == "mine"}
    assert mine == {0.1}


def test_quick_budget_trains_the_separable_critic_and_says_so():
    budget = song.BUDGETS["quick"]
    cells = plan(song.build_suite(budget)).configs
    assert {c.critic for c in cells} == {"separable"}
    assert any(d.setting == "critics (quick budget)" for d in song.differences(budget))


def _curves(smile5_sd: float):
    def grows(i):
        return (i - 1, 0.05 * math.exp(0.4 * i))

    curves = {}
    for task in ("Gaussian", "Cubic"):
        curves |= {
            ("InfoNCE", "separable", task): lambda i: (min(i, 4.0), 0.05),
            ("NWJ", "separable", task): grows,
            ("MINE", "separable", task): grows,
            ("SMILE (τ = 1)", "separable", task): lambda i: (i - 2, 0.01),
            ("SMILE (τ = 5)", "separable", task): lambda i: (i - 0.5, smile5_sd),
            ("SMILE (τ = ∞)", "separable", task): lambda i: (i - 0.5, 2.0),
        }
    return curves


def test_verdicts_agree_when_smile_is_the_low_variance_one():
    rows = song.verdicts(readings(staircase_frame(_curves(0.1))), song.BUDGETS["quick"])
    assert {r.verdict for r in rows} == {"agrees"}


def test_verdicts_differ_when_smile_is_noisier_than_nwj():
    rows = song.verdicts(readings(staircase_frame(_curves(5.0))), song.BUDGETS["quick"])
    assert verdict_of(rows, "SMILE (τ = 5) has lower variance") == "differs"
    assert verdict_of(rows, "Without clipping") == "differs"


def test_smile_labels_show_tau():
    assert song.label_run({"estimator": "smile", "estimator_params": {"clip": math.inf}}) == (
        "SMILE (τ = ∞)"
    )
