"""``mibench run`` end to end on a tiny suite with the real trainer: output, resume, kill, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import mibench.train
from mibench.cli import app
from mibench.results import schema, store

TINY = """
[suite]
name = "tiny"
steps = 30
seeds = 2
batch_sizes = [8]
eval_every = 10

[[grid]]
estimators = ["infonce", "nwj"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY))
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, ["run", *args, "--no-plots", "--no-progress"])


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


def test_run_end_to_end_then_resume_byte_identical(tmp_path, tiny, monkeypatch):
    out = tmp_path / "out"
    result = invoke(str(tiny), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Best stable estimator per level" in result.output and "I=1" in result.output
    assert "bias/std/MSE" not in result.output  # the per-setting tables only with --tables
    assert "4 runs (4 trained, 0 already finished)" in result.output
    suite_dir = out / "tiny"
    assert len(store.finished_run_ids(suite_dir)) == 4
    summary = pd.read_parquet(suite_dir / store.SUMMARY_FILE)
    assert sorted(summary[schema.ESTIMATOR]) == ["infonce", "nwj"]
    sidecar = store.read_sidecar(suite_dir, store.finished_run_ids(suite_dir)[0])
    assert sidecar["n_parameters"] > 0 and "8" in sidecar["critic_architecture"]
    before = files(out)

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished cell was retrained")

    monkeypatch.setattr(mibench.train, "train_stack", must_not_train)
    again = invoke(str(tiny), "--out", str(out), "--tables")
    assert again.exit_code == 0, again.output
    assert "4 runs (0 trained, 4 already finished)" in again.output
    assert again.output.index("bias/std/MSE") < again.output.index("Best stable estimator")
    assert files(out) == before


def test_same_seed_same_numbers(tmp_path, tiny):
    for name in ("a", "b"):
        assert invoke(str(tiny), "--out", str(tmp_path / name)).exit_code == 0
    ids = store.finished_run_ids(tmp_path / "a" / "tiny")
    assert ids == store.finished_run_ids(tmp_path / "b" / "tiny")
    for run_id in ids:
        a = store.read_run(tmp_path / "a" / "tiny", run_id).drop(columns=[schema.TIME_S])
        b = store.read_run(tmp_path / "b" / "tiny", run_id).drop(columns=[schema.TIME_S])
        pd.testing.assert_frame_equal(a, b)  # exact: same seed, same computation


def test_overrides_reach_the_cells(tmp_path, tiny):
    result = invoke(str(tiny), "--out", str(tmp_path), "--estimators", "infonce", "--steps", "12",
                    "--seeds", "5,6", "--batch-sizes", "6",
                    "--tasks", '{ name = "cubic", dim = 2, mi = [0.5] }')  # fmt: skip
    assert result.exit_code == 0, result.output
    sidecars = store.load_sidecars(tmp_path / "tiny")
    assert sorted(sidecars["config.seed"]) == [5, 6]
    assert set(sidecars["config.n_steps"]) == {12}
    assert set(sidecars["config.batch_size"]) == {6}
    assert set(sidecars["config.task"]) == {"cubic"}
    assert set(sidecars["config.estimator"]) == {"infonce"}


BAD_ARGS = {
    "unknown estimator": (["--estimators", "infonse"], "unknown estimator 'infonse'; valid choices"),
    "unknown task": (["--tasks", "gausian"], "unknown task 'gausian'; valid choices"),
    "MI < 0": (["--tasks", '{name = "gaussian", mi = -1}'], "mi must be a number >= 0"),
    "rho outside (-1, 1)": (["--tasks", '{name = "gaussian", rho = 1.5}'],
                            "rho must lie in the open interval (-1, 1), got 1.5"),
    "dim < 1": (["--tasks", '{name = "gaussian", dim = 0}'], "dim must be an integer >= 1, got 0"),
    "batch < 2": (["--batch-sizes", "1"], "--batch-sizes: must be an integer >= 2, got 1"),
    "steps < 1": (["--steps", "0"], "--steps: must be an integer >= 1, got 0"),
    "bad seeds": (["--seeds", "x"], "--seeds: invalid value 'x'"),
    "bad dtype": (["--dtype", "float16"], "invalid value 'float16'; valid choices: float32, float64"),
    "bad device": (["--device", "tpu"], "invalid device 'tpu'; valid choices: cpu, cuda, cuda:N"),
    "no workers": (["--workers", "0"], "--workers: must be an integer >= 1, got '0'"),
    "bad scheduler": (["--scheduler", "localhost"], "--scheduler: 'localhost' is not an address"),
    "unknown cluster": (["--cluster", "k8s"], "--cluster: unknown 'k8s'; choose one of slurm"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
def test_bad_options_exit_2_with_one_line_and_write_nothing(case, tmp_path, tiny):
    args, expected = BAD_ARGS[case]
    out = tmp_path / "out"
    result = invoke(str(tiny), "--out", str(out), *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert not out.exists()


BAD_SUITES = {
    "unknown critic": (('name = "separable"', 'name = "mlp"'), "unknown critic 'mlp'; valid"),
    "malformed TOML": (("steps = 30", "steps = [30"), "not valid TOML"),
    "unknown key": (("steps = 30", "step = 30"), "unknown key 'step'; valid keys"),
    "MI < 0 in the file": (("mi = 1", "mi = -0.5"), "mi must be a number >= 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_suite_files_exit_2(case, tmp_path, tiny):
    (old, new), expected = BAD_SUITES[case]
    tiny.write_text(tiny.read_text().replace(old, new))
    out = tmp_path / "out"
    result = invoke(str(tiny), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert not out.exists()


def test_missing_suite_names_the_choices(tmp_path):
    result = invoke("no_such_suite", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "suite 'no_such_suite' not found; valid choices: " in result.stderr
    assert "default" in result.stderr


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.integration
def test_sigkill_mid_run_then_rerun_completes(tmp_path):
    # Four stacks (one per K) so that the first finished file appears long before the last.
    suite = tmp_path / "kill.toml"
    text = textwrap.dedent(TINY).replace('name = "tiny"', 'name = "kill"')
    text = text.replace("steps = 30", "steps = 60")
    suite.write_text(text.replace("batch_sizes = [8]", "batch_sizes = [8, 10, 12, 14]"))
    out = tmp_path / "out"
    runs = out / "kill" / store.RUNS_DIR
    command = [sys.executable, "-m", "mibench.cli", "run", str(suite), "--out", str(out),
               "--no-plots", "--no-progress", "--workers", "2"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not list(runs.glob("*.parquet")) and process.poll() is None:
        assert time.monotonic() < deadline, "no run file appeared within 120 s"
        time.sleep(0.05)
    children = _children(process.pid)  # the worker processes (mibench run trains in 2 here)
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while [c for c in children if _alive(c)]:  # workers die with their parent, no orphans
        assert time.monotonic() < deadline, f"orphaned workers: {children}"
        time.sleep(0.1)
    finished_at_kill = len(list(runs.glob("*.parquet")))
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    assert 0 < finished_at_kill < 16  # killed mid-run: some cells done, not all
    result = invoke(str(suite), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"{finished_at_kill} already finished" in result.output
    ids = store.finished_run_ids(out / "kill")
    assert len(ids) == 16
    manifest = json.loads((out / "kill" / store.MANIFEST_FILE).read_text())
    assert sorted(manifest["run_ids"]) == ids
    for run_id in ids:
        frame = store.read_run(out / "kill", run_id)  # every file readable and complete
        assert frame[schema.STEP].max() == 59
        assert store.read_sidecar(out / "kill", run_id)["run_id"] == run_id
    leftovers = [p.name for p in (out / "kill").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.integration
def test_a_local_cluster_prints_no_dask_info_lines(tmp_path, tiny):
    # The CLI configures the root logger before distributed is imported, so distributed's loggers
    # propagate to it; without mibench's level rule each cluster start and close printed ~30
    # "INFO:distributed..." lines around the results. A fresh process: the import order matters.
    command = [sys.executable, "-m", "mibench.cli", "run", str(tiny), "--out", str(tmp_path / "out"),
               "--no-plots", "--no-progress", "--workers", "2"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "training on a local Dask cluster of 2 processes" in done.stdout
    assert "INFO:distributed" not in done.stdout + done.stderr, done.stderr
