"""BMI's benchmark table: its v1 task list planned, the converged-only rule, the verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mibench.plan.suite import plan
from mibench.reproduce import bmi2023


def test_full_budget_plans_the_v1_list_with_bmi_defaults():
    full = plan(bmi2023.build_suite(bmi2023.BUDGETS["full"]))
    neural = [c for c in full.configs if c.estimator in bmi2023.NEURAL]
    assert {(c.batch_size, c.lr, c.n_steps, c.critic) for c in neural} == {
        (256, 0.1, 10000, "concat")
    }
    assert {tuple(dict(c.critic_params)["hidden"]) for c in neural} == {(10, 5)}
    assert {c.seed for c in full.configs} == set(range(10))
    samples = [c for c in full.configs if c.estimator in bmi2023.SAMPLE]
    assert {c.batch_size for c in samples} == {5000}  # a sample run records n here
    tasks = {run.task.id for run in full.runs.values()}
    assert len(tasks) == 32  # the tasks of tasks/bmi_v1.toml


def test_quick_budget_keeps_the_first_task_entries():
    quick = plan(bmi2023.build_suite(bmi2023.BUDGETS["quick"]))
    assert {c.seed for c in quick.configs} == {0, 1}
    assert len({run.task.id for run in quick.runs.values()}) <= 12


def test_converged_only_drops_failed_seeds_and_colours_by_log2():
    estimates = pd.DataFrame(
        {
            "label": ["InfoNCE"] * 3 + ["CCA"] * 3,
            "task_label": ["t"] * 6,
            "true_mi": [2.0] * 6,
            "estimate": [1.0, 1.0, 0.01, 2.0, 2.0, 2.0],
        }
    )
    means, ratio = bmi2023.benchmark_table(estimates, converged_only=True)
    assert means.loc["t", "InfoNCE"] == pytest.approx(1.0)  # the 0.01 seed is dropped
    assert ratio.loc["t", "InfoNCE"] == pytest.approx(-1.0)  # log2(1 / 2)
    plain, _ = bmi2023.benchmark_table(estimates, converged_only=False)
    assert plain.loc["t", "InfoNCE"] == pytest.approx(2.01 / 3)
    assert list(means.columns) == ["InfoNCE", "CCA", "True MI"]


def _readings(cca_transformed: float) -> bmi2023.Readings:
    rows = []
    for task, truth, cca in (("gaussian-d1", 1.0, 1.0), ("wiggly-rho0.75", 1.0, cca_transformed)):
        for label, value in (("CCA", cca), ("KSG", truth), ("InfoNCE", 0.9 * truth)):
            rows.append(
                {
                    "run_id": f"{task}{label}",
                    "label": label,
                    "task_label": task,
                    "true_mi": truth,
                    "estimate": value,
                    "step": 0,
                }
            )
    train = pd.DataFrame(rows)
    return bmi2023.Readings(train=train, heldout=train.iloc[0:0], summary=pd.DataFrame())


def test_verdicts_on_a_cca_that_fails_off_the_normal_tasks():
    rows = bmi2023.verdicts(_readings(0.3), bmi2023.BUDGETS["quick"])
    # no neural seed failed in these readings, so the converged-only statement is not shown
    assert [r.verdict for r in rows] == ["agrees"] * 3 + ["differs"]
    rows = bmi2023.verdicts(_readings(1.0), bmi2023.BUDGETS["quick"])
    assert rows[0].verdict == "differs" and rows[2].verdict == "differs"


def test_a_failed_neural_seed_shows_the_converged_only_statement():
    readings = _readings(0.3)
    failed = readings.train.iloc[[2]].assign(run_id="failed", estimate=0.01)
    readings = bmi2023.Readings(
        pd.concat([readings.train, failed]), readings.heldout, readings.summary
    )
    assert bmi2023.verdicts(readings, bmi2023.BUDGETS["quick"])[3].verdict == "agrees"


def test_run_estimates_read_the_heldout_window():
    train = pd.DataFrame(
        {
            "run_id": "r",
            "label": "NWJ",
            "task_label": "t",
            "true_mi": 1.0,
            "step": np.arange(10),
            "estimate": np.arange(10.0),
        }
    )
    heldout = train.assign(estimate=[math.nan] * 8 + [4.0, 6.0])
    got = bmi2023.run_estimates(bmi2023.Readings(train, heldout, pd.DataFrame()))
    assert got.loc[0, "estimate"] == pytest.approx(5.0)
