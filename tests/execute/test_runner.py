"""Orchestration with a fake ``train_stack``: stacking, storing, resume, force, summary, hooks."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mibench.plan.resolve
import mibench.train
from mibench.core.interface import RunConfig
from mibench.execute import jobs, runner
from mibench.plan import cost
from mibench.plan.suite import Overrides, SuiteError
from mibench.report.console import print_report
from mibench.results import schema, store
from mibench.results.formatting import number
from mibench.train.record import RunResult

SUITE = """
[suite]
name = "tiny"
steps = 40
seeds = 2
batch_sizes = [8]
eval_every = 10

[[grid]]
estimators = ["infonce", "nwj"]
tasks = [{ name = "gaussian", dim = 2, mi = [1, 2] }]
critics = [{ name = "separable", hidden = [4], embed_dim = 2 }]
batch_sizes = [8, 16]
"""


def fake_frame(config: RunConfig) -> pd.DataFrame:
    """Deterministic rows from the config: estimate = truth - 0.1 + seed-specific noise."""
    truth = float(dict(config.task_params)["mi"])
    rng = np.random.default_rng(config.seed)
    parts = []
    for readout, every in (("train", config.log_every), ("eval", config.eval_every)):
        steps = np.arange(0, config.n_steps, every)
        est = truth - 0.1 + rng.normal(0, 0.05, len(steps))
        parts.append(pd.DataFrame({
            schema.RUN_ID: config.cell_hash(), schema.SUITE: config.suite,
            schema.ESTIMATOR: config.estimator, schema.TASK: config.task,
            schema.TASK_ID: f"gaussian-mi{truth}", schema.DIM: 2, schema.TRUE_MI: truth,
            schema.MI_LEVEL: truth, schema.BATCH_SIZE: config.batch_size,
            schema.CRITIC: config.critic, schema.SEED: config.seed, schema.DTYPE: config.dtype,
            schema.NEGATIVES: config.negatives, schema.STEP: steps, schema.READOUT: readout,
            schema.ESTIMATE: est, schema.LOSS: -est, schema.INFONCE_VALUE: est, schema.ESS: 0.5,
            schema.LOG_K: math.log(config.batch_size), schema.CEILING: math.nan,
            schema.GRAD_NORM: 1.0, schema.DIVERGED: False, schema.TIME_S: 0.0,
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


class FakeTrainer:
    """Records every call; stacks share (critic, K, steps) like the real stack key's shapes."""

    def __init__(self) -> None:
        self.calls: list[list[RunConfig]] = []

    @staticmethod
    def stack_key(config: RunConfig) -> tuple:
        return (config.critic, config.batch_size, config.n_steps)

    def train_stack(self, runs, *, device="cpu", progress=None, **checkpointing):
        configs = [run.config for run in runs]  # jobs hand the trainer resolved runs
        self.calls.append(configs)
        assert len({self.stack_key(c) for c in configs}) == 1
        if progress is not None:
            progress(configs[0].n_steps // 2)
            progress(configs[0].n_steps)
        return [RunResult(config=c, frame=fake_frame(c), diverged_step=None, wall_time_s=0.5,
                          critic_architecture="fake", n_parameters=12, task_id="gaussian-fake")
                for c in configs]  # fmt: skip


@pytest.fixture
def trainer(monkeypatch) -> FakeTrainer:
    fake = FakeTrainer()
    monkeypatch.setattr(mibench.train, "train_stack", fake.train_stack, raising=False)
    monkeypatch.setattr(mibench.train, "stack_key", fake.stack_key, raising=False)
    monkeypatch.setattr(mibench.plan.resolve, "compatibility", lambda e, t, c: None)
    return fake


@pytest.fixture
def suite_file(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(SUITE))
    return path


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_execute_stores_every_cell_and_the_summary(tmp_path, suite_file, trainer):
    report = runner.run_suite(suite_file, out=tmp_path / "out", show_progress=False)
    suite_dir = tmp_path / "out" / "tiny"
    # 2 estimators x 2 MI x 2 K x 2 seeds = 16 runs in 2 stacks (one per K).
    assert (report.n_cells, report.n_trained, report.n_reused) == (16, 16, 0)
    assert sorted(len(call) for call in trainer.calls) == [8, 8]
    assert report.run_steps == 16 * 40
    assert len(store.finished_run_ids(suite_dir)) == 16
    sidecar = store.read_sidecar(suite_dir, trainer.calls[0][0].cell_hash())
    for key in (
        "config",
        "versions",
        "seed",
        "device",
        "dtype",
        "wall_time_s",
        "critic_architecture",
        "n_parameters",
        "diverged_step",
        "task_id",
        "created_utc",
    ):
        assert key in sidecar, key  # fmt: skip
    manifest = json.loads((suite_dir / store.MANIFEST_FILE).read_text())
    assert len(manifest["run_ids"]) == 16
    summary = pd.read_parquet(suite_dir / store.SUMMARY_FILE)
    assert len(summary) == 8  # cells = runs / seeds
    assert set(summary[schema.N_SEEDS]) == {2}
    # Every fake estimate is truth - 0.1 + N(0, 0.05^2) noise: bias within 5 sd of the window mean.
    window_rows = 2 * 8  # 2 seeds x ceil(0.2 * 40) steps
    assert np.all(np.abs(summary[schema.BIAS] + 0.1) < 5 * 0.05 / math.sqrt(window_rows))
    assert json.loads((suite_dir / store.SKIPPED_FILE).read_text()) == []
    assert json.loads((suite_dir / store.SUITE_FILE).read_text())["name"] == "tiny"


def test_rerun_trains_nothing_and_leaves_files_byte_identical(tmp_path, suite_file, trainer):
    runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    before = snapshot(tmp_path)
    trainer.calls.clear()
    report = runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    assert trainer.calls == []
    assert (report.n_trained, report.n_reused) == (0, 16)
    assert snapshot(tmp_path) == before


def test_force_recomputes_every_cell(tmp_path, suite_file, trainer):
    runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    trainer.calls.clear()
    report = runner.run_suite(suite_file, out=tmp_path, force=True, show_progress=False)
    assert report.n_trained == 16
    assert sum(len(c) for c in trainer.calls) == 16


def test_only_missing_cells_are_trained(tmp_path, suite_file, trainer):
    runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    victim = trainer.calls[0][3]
    store.run_path(tmp_path / "tiny", victim.cell_hash()).unlink()
    trainer.calls.clear()
    runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    assert trainer.calls == [[victim]]


def test_max_stack_splits_groups(suite_file, trainer, tmp_path):
    prepared = runner.prepare(suite_file, out=tmp_path)
    stacks = runner.make_stacks(runner.pending_configs(prepared), max_stack=3)
    # Two groups (K = 8, 16) of 8 runs, each cut into 3 + 3 + 2; costliest first: K = 16's
    # 3-run stacks, K = 8's, then the 2-run stacks.
    assert [(len(s), s[0].batch_size) for s in stacks] == [
        (3, 16), (3, 16), (3, 8), (3, 8), (2, 16), (2, 8)]  # fmt: skip
    assert sorted(c.cell_hash() for s in stacks for c in s) == sorted(
        c.cell_hash() for c in prepared.plan.configs
    )
    assert all(len({c.batch_size for c in s}) == 1 for s in stacks)


def test_bad_input_writes_nothing(tmp_path, suite_file, trainer):
    out = tmp_path / "out"
    with pytest.raises(SuiteError, match=r"--steps: must be an integer >= 1"):
        runner.run_suite(suite_file, out=out, overrides=Overrides(steps=0), show_progress=False)
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace("mi = [1, 2]", "mi = [1, -2]"))
    with pytest.raises(SuiteError, match=r"mi must be"):
        runner.run_suite(bad, out=out, show_progress=False)
    assert not out.exists()
    assert trainer.calls == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SuiteError, match=r"--out: .* is not a directory"):
        runner.prepare(suite_file, out=blocker)


def test_figures_hook_is_called_when_given(tmp_path, suite_file, trainer):
    seen = []
    hook = lambda d: seen.append(d) or [d / "f.png"]  # noqa: E731
    report = runner.run_suite(suite_file, out=tmp_path, show_progress=False, figures=hook)
    assert seen == [tmp_path / "tiny"]
    assert report.figures == [tmp_path / "tiny" / "f.png"]
    report = runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    assert len(seen) == 1 and report.figures == []


def test_skipped_pairs_are_written(tmp_path, suite_file, trainer, monkeypatch):
    monkeypatch.setattr(mibench.plan.resolve, "compatibility",
                        lambda e, t, c: "no labels" if e.name == "nwj" else None)  # fmt: skip
    report = runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    assert report.n_cells == 8
    assert json.loads((tmp_path / "tiny" / store.SKIPPED_FILE).read_text()) == [
        {"estimator": "nwj", "task": "gaussian", "critic": "separable", "reason": "no labels"}]  # fmt: skip


def test_summary_tables_show_bias_std_mse_per_level(tmp_path, suite_file, trainer):
    from rich.console import Console

    report = runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    console = Console(record=True, width=200)
    print_report(report, console, tables=True)
    text = console.export_text()
    assert "I=1" in text and "I=2" in text and "bias/std/MSE" in text
    row = report.summary.iloc[0]
    assert f"{row[schema.BIAS]:+.2f}/{row[schema.STD]:.2f}/{row[schema.MSE]:.2f}" in text
    # Exploding estimates switch to three significant digits instead of widening the table.
    assert number(-4.08e8, signed=True) == "-4.08e+08"
    assert number(math.nan) == "-"
    assert "16 runs (16 trained, 0 already finished)" in text


def test_f_truth_is_added_per_level_for_fmicl_runs():
    from mibench import tasks
    from mibench.plan.resolve import resolve_estimator

    calls = []

    class Staircase:
        def f_mi(self, name, *, step=0, alpha=None):
            calls.append((name, step, alpha))
            return 10.0 * (step >= 20) + (alpha or 0.0)

    config = RunConfig.make(estimator="fmicl_tsallis", task="gaussian",
                            task_params={"dim": 2, "mi": 1.0}, estimator_params={"alpha": 0.5},
                            n_steps=40, eval_every=10)  # fmt: skip
    frame = fake_frame(config)
    frame[schema.TRUE_MI] = np.where(frame[schema.STEP] < 20, 1.0, 2.0)
    out = jobs.with_f_truth(frame, resolve_estimator(config), Staircase())
    expected = np.where(frame[schema.STEP] < 20, 0.5, 10.5)
    np.testing.assert_array_equal(out[schema.TRUE_F_MI].to_numpy(), expected)
    assert sorted(calls) == [("tsallis", 0, 0.5), ("tsallis", 20, 0.5)]  # once per level
    # A real Gaussian: Pearson chi^2 of d independent pairs is prod 1/(1 - rho^2) - 1 = e^{2I} - 1.
    pearson = config.__class__.make(**{**config.as_dict(), "estimator": "fmicl_pearson",
                                       "estimator_params": {}})  # fmt: skip
    task = tasks.build("gaussian", dim=2, mi=1.0)
    out = jobs.with_f_truth(fake_frame(pearson), resolve_estimator(pearson), task)
    assert out[schema.TRUE_F_MI].to_numpy() == pytest.approx(math.expm1(2.0))
    # Not an f-MICL estimator: unchanged.
    plain = RunConfig.make(estimator="nwj", task="gaussian", task_params={"dim": 2, "mi": 1.0})
    assert schema.TRUE_F_MI not in jobs.with_f_truth(
        fake_frame(plain), resolve_estimator(plain), task
    )


def test_single_group_is_cut_for_every_worker(tmp_path, trainer, suite_file):
    prepared = runner.prepare(suite_file, out=tmp_path,
                              overrides=Overrides(batch_sizes=(8,)))  # fmt: skip
    configs = runner.pending_configs(prepared)  # 8 runs, one stack key
    assert [len(s) for s in runner.make_stacks(configs, workers=1)] == [8]
    assert [len(s) for s in runner.make_stacks(configs, workers=3)] == [3, 3, 2]
    assert [len(s) for s in runner.make_stacks(configs, max_stack=5, workers=1)] == [4, 4]


def test_large_k_groups_are_split_by_their_cost(tmp_path, trainer, suite_file):
    """A K = 512 step costs ~17 K = 8 steps (mibench.plan.cost): with two workers its group is cut in
    two and trained first, while the cheap K = 8 group stays one stack."""
    prepared = runner.prepare(suite_file, out=tmp_path,
                              overrides=Overrides(batch_sizes=(8, 512)))  # fmt: skip
    configs = runner.pending_configs(prepared)  # 8 runs at K = 8, 8 at K = 512
    stacks = runner.make_stacks(configs, workers=2)
    assert [(len(s), s[0].batch_size) for s in stacks] == [(4, 512), (4, 512), (8, 8)]
    assert cost.work(stacks[0]) == pytest.approx(4 * 40 * (1 + 4**2))


def test_large_score_matrices_make_small_stacks(tmp_path, trainer, suite_file):
    prepared = runner.prepare(suite_file, out=tmp_path,
                              overrides=Overrides(batch_sizes=(1024,)))  # fmt: skip
    configs = runner.pending_configs(prepared)  # 8 runs at K = 1024: at most 2 per stack
    assert [len(s) for s in runner.make_stacks(configs, workers=1)] == [2, 2, 2, 2]


def test_workers_by_default_only_for_large_plans(tmp_path, trainer, suite_file, monkeypatch):
    import os

    prepared = runner.prepare(suite_file, out=tmp_path)  # 16 runs x 40 steps = 640 run-steps
    work = cost.work(runner.pending_configs(prepared))  # K-weighted run-steps: a bit over 640
    assert runner.default_workers(prepared) == 1
    monkeypatch.setattr(runner, "PARALLEL_MIN_WORK", work)
    assert runner.default_workers(prepared) == max(1, os.cpu_count() or 1)
    monkeypatch.setattr(runner, "PARALLEL_MIN_WORK", work + 1)
    assert runner.default_workers(prepared) == 1
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        runner.execute(prepared, workers=0, show_progress=False)


def test_tables_never_truncate_numbers_on_narrow_consoles(tmp_path, suite_file, trainer):
    from rich.console import Console

    report = runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    console = Console(record=True, width=40)
    print_report(report, console, tables=True)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 40
    # Only the claims' one-line evidence is cut (with "…"); no table cell ever is.
    cut = [line for line in lines if "…" in line]
    assert all(line.split()[0] in {"PASS", "FAIL", "N/A"} for line in cut), cut
    row = report.summary.iloc[-1]
    assert f"{row[schema.BIAS]:+.2f}/{row[schema.STD]:.2f}/{row[schema.MSE]:.2f}" in text


def test_a_stack_is_claimed_only_when_it_starts_training(
    tmp_path, suite_file, trainer, monkeypatch
):
    # While the first stack trains, the later stacks' cells are still free for another
    # `mibench run` on the folder to claim (they were all claimed up front before).
    from mibench.results import lock

    prepared = runner.prepare(suite_file, out=tmp_path)
    claimed_during: list[set[str]] = []
    fake_train = trainer.train_stack

    def train_and_look(runs, **options):
        claims = {p.name.removesuffix(lock.CLAIM_SUFFIX)
                  for p in lock.leftover_claims(prepared.suite_dir)}  # fmt: skip
        claimed_during.append(claims)
        return fake_train(runs, **options)

    monkeypatch.setattr(mibench.train, "train_stack", train_and_look)
    runner.execute(prepared, show_progress=False)
    assert len(trainer.calls) == 2  # two stacks (K = 8, 16)
    for stack, claims in zip(trainer.calls, claimed_during, strict=True):
        assert claims == {c.cell_hash() for c in stack}


def test_cells_another_run_holds_are_left_to_it_and_the_rest_trained(
    tmp_path, suite_file, trainer, monkeypatch
):
    from mibench.results import lock

    prepared = runner.prepare(suite_file, out=tmp_path)
    first_stack = runner.make_stacks(runner.pending_configs(prepared))[0]
    other = lock.CellLocks(prepared.suite_dir)
    ours, _ = other.claim_all(c.cell_hash() for c in first_stack)
    held = set(ours)

    def finish_them(_self, _run_ids, **_options):  # the other run finishes its cells while we wait
        for config in first_stack:
            frame = fake_frame(config)
            sidecar = {"run_id": config.cell_hash(), "config": config.as_dict()}
            store.write_run(prepared.suite_dir, config.cell_hash(), frame, sidecar)
            other.release(config.cell_hash())
        yield from ()

    monkeypatch.setattr(lock.CellLocks, "wait_for", finish_them)
    report = runner.execute(prepared, show_progress=False)
    trained_here = {c.cell_hash() for call in trainer.calls for c in call}
    assert trained_here.isdisjoint(held) and len(trained_here) == len(prepared.plan.configs) - 8
    assert report.n_by_others == len(held)


def test_force_leaves_cells_another_run_rewrote_meanwhile(
    tmp_path, suite_file, trainer, monkeypatch
):
    import os

    runner.run_suite(suite_file, out=tmp_path, show_progress=False)
    prepared = runner.prepare(suite_file, out=tmp_path)
    later = runner.make_stacks(runner.pending_configs(prepared, force=True))[1]
    fake_train = trainer.train_stack

    def train_and_rewrite_the_rest(runs, **options):
        for config in later:  # another `mibench run --force` stores these meanwhile
            path = store.run_path(prepared.suite_dir, config.cell_hash())
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        return fake_train(runs, **options)

    monkeypatch.setattr(mibench.train, "train_stack", train_and_rewrite_the_rest)
    trainer.calls.clear()
    report = runner.execute(prepared, force=True, show_progress=False)
    assert len(trainer.calls) == 1 and report.n_trained == len(prepared.plan.configs) - len(later)
