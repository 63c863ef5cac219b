"""The shared staircase setting (mibench.reproduce.staircases)."""

from __future__ import annotations

from mibench.plan.suite import plan
from mibench.reproduce import staircases
from mibench.reproduce.base import Budget


def test_staircase_suite_has_the_papers_schedule():
    grid = {"estimators": ["infonce"], "tasks": [staircases.staircase_task("cubic", 10)]}
    suite = staircases.staircase_suite(
        name="s", description="d", budget=Budget("x", 10, 2), lr=1e-3, grids=[grid]
    )
    cells = plan(suite).configs
    assert {c.seed for c in cells} == {0, 1} and {c.n_steps for c in cells} == {50}
    params = dict(cells[0].task_params)
    assert (params["dim"], params["base"], params["apply_to"]) == (20, "cubic", "y")
    assert cells[0].log_every == 1 and cells[0].batch_size == 64


def test_task_labels_and_critic_selection():
    assert staircases.task_label({"task_params": {"base": "cubic"}}) == "Cubic"
    critics = {"separable": {"hidden": [8]}, "concat": {"hidden": [8]}}
    picked = staircases.critics_of(Budget("q", 1, 1, critics=("concat",)), critics)
    assert picked == [{"name": "concat", "hidden": [8]}]
    assert len(staircases.critics_of(Budget("q", 1, 1), critics)) == 2
