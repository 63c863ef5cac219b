"""The Dask executor on a 2-process LocalCluster: same frames as in-process, a killed worker's
stack reruns (resuming from its checkpoint) with no run lost or written twice, an interrupted
sweep resumes, and bad targets exit 2 with one line and no files."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import distributed
import pandas as pd
import pytest
from typer.testing import CliRunner

from mibench.cli import app
from mibench.core.interface import RunConfig
from mibench.execute import executor, jobs, runner
from mibench.plan import cost
from mibench.results import schema, store

# Every test here trains on (or beside) a live Dask LocalCluster of worker processes.
pytestmark = pytest.mark.integration

# 8 runs of 640 steps in one stack key: blocks of 128 steps (K=8, d=2), so every stack writes
# checkpoints at steps 128 ... 512 when checkpoint_every_s=0; cut into 2 stacks for 2 workers.
SUITE = """
[suite]
name = "dask"
steps = 640
seeds = 2
batch_sizes = [8]
eval_every = 64
log_every = 4

[[grid]]
estimators = ["infonce", "mine"]
tasks = [{ name = "gaussian", dim = 2, mi = [0.5, 1] }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "dask.toml"
    path.write_text(textwrap.dedent(SUITE))
    return path


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster for the module (starting one costs seconds): 2 one-thread processes."""
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40,
    )  # fmt: skip
    yield local
    local.close()


@pytest.fixture(scope="module")
def reference(suite_file, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Every run trained in this process with one torch thread (what each worker uses)."""
    prepared = runner.prepare(suite_file, out=tmp_path_factory.mktemp("reference"))
    report = runner.execute(prepared, show_progress=False, threads=1)
    assert report.n_trained == 8
    return _frames(report.suite_dir)


def _frames(suite_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        run_id: store.read_run(suite_dir, run_id).drop(columns=[schema.TIME_S])
        for run_id in store.finished_run_ids(suite_dir)
    }


def _assert_same(frames: dict[str, pd.DataFrame], reference: dict[str, pd.DataFrame]) -> None:
    assert sorted(frames) == sorted(reference)
    for run_id, frame in frames.items():
        pd.testing.assert_frame_equal(frame, reference[run_id], obj=run_id)  # bit for bit


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # In-process stacks use the idle cores by default; the reference must use what a Dask worker
    # uses (one thread), since the thread count changes float reduction order.
    monkeypatch.setattr(executor, "in_process_threads", lambda cores=None: 1)


def test_local_cluster_gives_the_in_process_frames(tmp_path, suite_file, reference, cluster):
    # Through the module's cluster (what --workers 2 starts; tests/test_cli_run.py starts one
    # that way): 2 stacks of 4 runs on 2 workers vs one stack of 8 here, same numbers.
    prepared = runner.prepare(suite_file, out=tmp_path)
    report = runner.execute(prepared, scheduler=cluster.scheduler_address, show_progress=False)
    assert report.n_trained == 8
    _assert_same(_frames(report.suite_dir), reference)
    assert not jobs.checkpoint_dir(report.suite_dir).exists()  # removed once the runs landed


def _kill_a_busy_worker(cluster, suite_dir: Path, killed: list[int]) -> None:
    """Once a stack has written a checkpoint, SIGKILL a worker process that is training one."""
    folder = jobs.checkpoint_dir(suite_dir)
    deadline = time.monotonic() + 120
    with distributed.Client(cluster, set_as_default=False) as client:
        while time.monotonic() < deadline:
            if folder.is_dir() and any(folder.glob("*.pt")):
                busy = [addr for addr, keys in client.processing().items() if keys]
                if busy:
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.02)


def test_killed_worker_stack_reruns_and_every_run_is_written_once(
    tmp_path, suite_file, reference, cluster, monkeypatch
):
    written: list[str] = []
    write_run = store.write_run

    def counting(suite_dir, run_id, frame, sidecar):
        written.append(run_id)
        return write_run(suite_dir, run_id, frame, sidecar)

    monkeypatch.setattr(store, "write_run", counting)
    updates: dict[int, list[int]] = {}
    update = runner._Bars.update

    def recording(self, index, steps_done):
        updates.setdefault(index, []).append(steps_done)
        update(self, index, steps_done)

    monkeypatch.setattr(runner._Bars, "update", recording)
    prepared = runner.prepare(suite_file, out=tmp_path)
    killed: list[int] = []
    killer = threading.Thread(
        target=_kill_a_busy_worker, args=(cluster, prepared.suite_dir, killed), daemon=True
    )
    killer.start()
    report = runner.execute(
        prepared,
        scheduler=cluster.scheduler_address,
        show_progress=False,
        checkpoint_every_s=0,
    )
    killer.join(timeout=5)
    assert len(killed) == 1, "no worker was killed mid-stack"
    assert report.n_trained == 8
    assert sorted(written) == sorted(reference)  # every run once: none lost, none twice
    # The rerun of the killed stack starts (0) and jumps to its checkpoint (>= 128), not to 1.
    restarts = [
        steps[i + 1] for steps in updates.values() for i in range(1, len(steps) - 1)
        if steps[i] == 0
    ]  # fmt: skip
    assert restarts and all(128 <= step < 640 for step in restarts), updates
    _assert_same(_frames(report.suite_dir), reference)


def test_interrupted_sweep_resumes_from_checkpoints(tmp_path, suite_file, reference, monkeypatch):
    prepared = runner.prepare(suite_file, out=tmp_path)

    def interrupt(self, index, steps_done):
        if steps_done >= 256:  # two checkpoints of the first stack are on disk
            raise KeyboardInterrupt

    monkeypatch.setattr(runner._Bars, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.execute(prepared, show_progress=False, checkpoint_every_s=0)
    monkeypatch.undo()
    monkeypatch.setattr(executor, "in_process_threads", lambda cores=None: 1)
    assert store.finished_run_ids(prepared.suite_dir) == []
    assert len(list(jobs.checkpoint_dir(prepared.suite_dir).glob("*.pt"))) == 1
    resumed_at = []
    load = jobs.load_checkpoint
    monkeypatch.setattr(jobs, "load_checkpoint", lambda job: _record(load(job), resumed_at))
    report = runner.execute(prepared, show_progress=False)
    assert resumed_at == [256]  # the first stack went on from its checkpoint, not from step 0
    _assert_same(_frames(report.suite_dir), reference)
    assert not jobs.checkpoint_dir(prepared.suite_dir).exists()


def _record(state, seen: list[int]):
    if state is not None:
        seen.append(int(state["steps_done"]))
    return state


def _invoke(*args: str):
    return CliRunner().invoke(app, ["run", *args, "--no-plots", "--no-progress"])


def test_unreachable_scheduler_exits_2_with_one_line_and_no_files(
    tmp_path, suite_file, monkeypatch
):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    out = tmp_path / "out"
    result = _invoke(str(suite_file), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--scheduler: cannot reach 'tcp://127.0.0.1:9' within 1 s" in result.stderr
    assert not out.exists()


def test_missing_dask_jobqueue_exits_2_with_one_line(tmp_path, suite_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # import fails as if not installed
    out = tmp_path / "out"
    result = _invoke(str(suite_file), "--out", str(out), "--cluster", "slurm")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--cluster slurm: dask-jobqueue is not installed" in result.stderr
    assert not out.exists()


class _FakeFuture:
    def __init__(self, value):
        self.value = value

    def done(self) -> bool:
        return True

    def result(self):
        return self.value

    def release(self) -> None:
        pass


class _FakeClient:
    dashboard_link = None

    def __init__(self) -> None:
        self.submitted: list[dict] = []

    def subscribe_topic(self, topic, handler) -> None:
        pass

    def unsubscribe_topic(self, topic) -> None:
        pass

    def submit(self, function, job, topic, **options):
        self.submitted.append({"index": job.index, **options})
        return _FakeFuture([])


def test_cuda_stacks_ask_for_a_gpu_worker_and_long_stacks_go_first():
    def job(index: int, device: str, n_runs: int) -> jobs.StackJob:
        config = RunConfig.make(estimator="infonce", task="gaussian", device=device, seed=index)
        return jobs.StackJob(index=index, configs=(config,) * n_runs)

    client = _FakeClient()
    done = []
    dask = executor.Dask(client)
    dask.train([job(0, "cpu", 1), job(1, "cuda", 3), job(2, "cpu", 2)], lambda i, n: None,
               lambda j, runs: done.append(j.index))  # fmt: skip
    assert [s["index"] for s in client.submitted] == [1, 2, 0]  # costliest first
    assert [s["resources"] for s in client.submitted] == [{"GPU": 1}, None, None]
    config = RunConfig.make(estimator="infonce", task="gaussian")
    per_run = config.n_steps * cost.run_step_cost(config)  # equal shapes: priority ~ run-steps
    assert [s["priority"] for s in client.submitted] == [round(n * per_run) for n in (3, 2, 1)]
    assert sorted(done) == [0, 1, 2]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (executor.Target(scheduler="localhost:8786"), "is not an address like tcp://HOST:8786"),
        (executor.Target(scheduler="tcp://localhost"), "is not an address like tcp://HOST:8786"),
        (executor.Target(cluster="kubernetes"), "unknown 'kubernetes'; choose one of slurm"),
        (executor.Target(scheduler="tcp://a:1", cluster="slurm"), "exclude each other"),
        (executor.Target(workers=0), "--workers: must be an integer >= 1, got 0"),
    ],
)
def test_bad_targets_name_the_value(target, message):
    with pytest.raises(executor.ExecutorError, match=message):
        target.validate()
