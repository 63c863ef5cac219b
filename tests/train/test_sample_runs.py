"""The runner's sample-estimator path (mibench.train.sample_runs): cells, run files, summary."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mibench import estimators, tasks
from mibench.core import rng
from mibench.execute import runner
from mibench.plan.suite import SuiteError, load_suite, plan
from mibench.results import schema, store
from mibench.train import sample_runs

SUITE = """
[suite]
name = "tiny_sample"
steps = 30
seeds = 3
batch_sizes = [8, 16]
eval_every = 10
sample_size = 400

[[grid]]
estimators = ["infonce", "ksg", "cca"]
tasks = [{ name = "gaussian", dim = 1, mi = 0.5 }, "labeled_gaussians"]
critics = [{ name = "separable", hidden = [4], embed_dim = 2 }, { name = "concat", hidden = [4] }]
"""


def write(tmp_path: Path, text: str = SUITE) -> Path:
    path = tmp_path / "tiny_sample.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_sample_cells_are_one_per_task_estimator_and_seed(tmp_path: Path) -> None:
    result = plan(load_suite(write(tmp_path)))
    sample = [c for c in result.configs if estimators.is_sample(c.estimator)]
    # 2 estimators x 1 paired task x 3 seeds, whatever the number of critics and batch sizes
    assert len(sample) == 6
    assert {(c.critic, c.batch_size, c.n_steps, c.dtype) for c in sample} == {
        ("none", 400, 1, "float64")
    }
    trained = [c for c in result.configs if not estimators.is_sample(c.estimator)]
    assert len(trained) == 1 * 2 * 2 * 3  # infonce x critics x batch sizes x seeds
    reasons = {(s.estimator, s.critic) for s in result.skipped}
    assert ("ksg", "none") in reasons and ("cca", "none") in reasons  # labeled task: no y


def test_neural_settings_do_not_change_a_sample_cell(tmp_path: Path) -> None:
    first = plan(load_suite(write(tmp_path)))
    changed = plan(load_suite(write(tmp_path, SUITE.replace("steps = 30", "steps = 31\nlr = 0.5"))))

    def ids(p):
        return {c.cell_hash() for c in p.configs if estimators.is_sample(c.estimator)}

    assert ids(first) == ids(changed)
    resized = plan(
        load_suite(write(tmp_path, SUITE.replace("sample_size = 400", "sample_size = 500")))
    )
    assert not ids(first) & ids(resized)


def test_bad_sample_size_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"\[suite\]\.sample_size: must be an integer >= 2, got 1"):
        load_suite(write(tmp_path, SUITE.replace("sample_size = 400", "sample_size = 1")))


def _config(task_name: str, params: dict, estimator: str = "ksg", steps: int = 30, seed: int = 0):
    task = tasks.build(task_name, **params)
    config = sample_runs.sample_config(
        estimator=estimator, task_name=task_name, task=task, task_params=params,
        estimator_params=dict(estimators.get(estimator).hyper), seed=seed, sample_size=300,
        steps=steps, suite="t",
    )  # fmt: skip
    return config, task


def test_run_estimates_the_runs_own_draw() -> None:
    """The stored estimate is the estimator applied to the sample drawn from the run's data
    stream; recomputed here from the same stream (exact)."""
    config, task = _config("gaussian", {"dim": 2, "mi": 1.0})
    frame, sidecar = sample_runs.run_one(config, task)
    store.check_frame(frame)
    draw = task.sample(300, rng.generator(config, rng.STREAM_DATA), dtype=torch.float64)
    expected = estimators.get("ksg").estimate(draw.x.numpy(), draw.y.numpy())
    assert set(frame[schema.READOUT]) == {schema.READOUT_TRAIN, schema.READOUT_EVAL}
    assert (frame[schema.ESTIMATE] == expected).all() and len(frame) == 2
    assert frame[schema.TRUE_MI].iloc[0] == pytest.approx(1.0)
    assert sidecar["kind"] == "sample" and sidecar["sample_size"] == 300
    assert "true_mi_standard_error" not in sidecar
    other, _ = _config("gaussian", {"dim": 2, "mi": 1.0}, seed=1)
    assert sample_runs.run_one(other, task)[0][schema.ESTIMATE].iloc[0] != expected


def test_staircase_gets_one_estimate_per_level_at_its_last_step() -> None:
    params = {"dim": 2, "levels": [0.5, 2.0], "steps_per_level": 10}
    config, task = _config("staircase", params, estimator="cca", steps=30)
    frame, _ = sample_runs.run_one(config, task)
    train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
    assert list(train[schema.STEP]) == [9, 29]  # the last level runs on to the end
    assert list(train[schema.TRUE_MI]) == [0.5, 2.0]
    # CCA is exact on Gaussians up to sampling error (SD ~ 0.05-0.1 nats at n = 300): 0.3
    assert np.allclose(train[schema.ESTIMATE], [0.5, 2.0], atol=0.3)


def test_mixture_truth_standard_error_reaches_the_sidecar() -> None:
    config, task = _config("mixture_x", {"n_mc": 1000, "mc_seed": 0, "rho": 0.9}, estimator="cca")
    _, sidecar = sample_runs.run_one(config, task)
    assert sidecar["true_mi_standard_error"] == pytest.approx(task.true_mi_standard_error())


def test_execute_stores_summarises_and_resumes(tmp_path: Path) -> None:
    text = SUITE.replace('estimators = ["infonce", "ksg", "cca"]', 'estimators = ["ksg", "cca"]')
    prepared = runner.prepare(write(tmp_path, text), out=tmp_path / "out")
    report = runner.execute(prepared, show_progress=False)
    assert report.n_trained == 6 and report.n_reused == 0
    summary = report.summary
    rows = summary[summary[schema.ESTIMATOR] == "ksg"]
    assert len(rows) == 1
    row = rows.iloc[0]
    estimates = [
        store.read_run(prepared.suite_dir, c.cell_hash())[schema.ESTIMATE].iloc[0]
        for c in prepared.plan.configs
        if c.estimator == "ksg"
    ]
    truth = 0.5
    assert row[schema.N_SEEDS] == 3 and row[schema.VAR_WITHIN] == 0.0
    assert row[schema.BIAS] == pytest.approx(np.mean(estimates) - truth)
    assert row[schema.STD] == pytest.approx(np.std(estimates, ddof=1))
    assert row[schema.HELDOUT_MEAN] == pytest.approx(np.mean(estimates))
    again = runner.execute(prepared, show_progress=False)
    assert again.n_trained == 0 and again.n_reused == 6


def test_comparison_table_puts_estimators_beside_the_truth(tmp_path: Path) -> None:
    from mibench.report.summary_tables import truth_tables

    text = SUITE.replace("steps = 30", "steps = 4").replace("seeds = 3", "seeds = 1")
    prepared = runner.prepare(write(tmp_path, text), out=tmp_path / "out")
    report = runner.execute(prepared, show_progress=False)
    (table,) = truth_tables(report.summary)
    assert table.title == "estimate vs truth on gaussian"
    assert table.columns == ("estimator", "I=0.50")  # the column is headed by the truth
    assert [row[0] for row in table.rows] == ["ksg", "cca", "infonce"]  # registry order
    no_sample = report.summary[~report.summary[schema.ESTIMATOR].isin(["ksg", "cca"])]
    assert truth_tables(no_sample) == []
    assert truth_tables(replace_empty(report.summary)) == []


def replace_empty(frame):
    return frame.iloc[0:0]


def test_sample_configs_never_reach_the_stacked_trainer(tmp_path: Path) -> None:
    prepared = runner.prepare(write(tmp_path), out=tmp_path / "out")
    sample, trained = sample_runs.split(prepared.plan.configs)
    assert sample and trained
    assert all(not estimators.is_sample(c.estimator) for c in trained)
    assert all(replace(c, seed=0).critic == "none" for c in sample)
