"""Claims on the cells of a results folder: exclusive, stale detection, take-over, two processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mibench.results import lock, store, tempfiles


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _fake_claim(suite_dir: Path, run_id: str, *, pid: int, host: str, token: str = "t0") -> Path:
    path = lock.claim_path(suite_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"token": token, "pid": pid, "host": host, "started_utc": "2026-01-01T00:00:00"}
    path.write_text(json.dumps(record))
    return path


def test_a_claim_is_exclusive_between_two_holders(tmp_path: Path) -> None:
    first, second = lock.CellLocks(tmp_path), lock.CellLocks(tmp_path)
    assert first.claim_all(["a", "b"]) == (["a", "b"], [])
    assert second.claim_all(["a", "b", "c"]) == (["c"], ["a", "b"])
    holder = second.holder_of("a")
    assert holder is not None and holder.token == first.token and holder.pid == os.getpid()
    assert lock.holds(tmp_path, "a", first.token) and not lock.holds(tmp_path, "a", second.token)
    first.release("a")
    assert second.try_claim("a")  # released: free for the next one
    assert not lock.claim_path(tmp_path, "b").with_suffix("").exists()


def test_release_only_removes_our_own_claim(tmp_path: Path) -> None:
    ours = lock.CellLocks(tmp_path)
    path = _fake_claim(tmp_path, "a", pid=os.getpid(), host=tempfiles.host_name())
    ours.mine.add("a")  # as if we had held it before it was taken over
    ours.release("a")
    assert path.exists()


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    _fake_claim(tmp_path, "a", pid=_dead_pid(), host=tempfiles.host_name())
    claims = lock.CellLocks(tmp_path)
    assert claims.try_claim("a")
    assert lock.holds(tmp_path, "a", claims.token)
    assert [p.name for p in store.runs_dir(tmp_path).iterdir()] == ["a.claim"]  # no leftovers


def test_dead_claims_of_this_host_are_removed_and_others_kept(tmp_path: Path) -> None:
    host = tempfiles.host_name()
    dead = _fake_claim(tmp_path, "dead", pid=_dead_pid(), host=host)
    live = _fake_claim(tmp_path, "live", pid=os.getpid(), host=host)
    foreign = _fake_claim(tmp_path, "foreign", pid=_dead_pid(), host="elsewhere")
    assert lock.remove_dead_claims(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and foreign.exists()
    assert [p.name for p in store.runs_dir(tmp_path).glob(".*")] == []


def test_another_hosts_claim_is_stale_only_after_its_heartbeat_stops(tmp_path: Path) -> None:
    path = _fake_claim(tmp_path, "a", pid=1, host="elsewhere")
    now = [0.0]
    claims = lock.CellLocks(tmp_path, stale_s=60.0, clock=lambda: now[0])
    assert not claims.try_claim("a")  # first sight: watched, not judged
    now[0] = 59.0
    assert not claims.try_claim("a")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a heartbeat
    now[0] = 100.0
    assert not claims.try_claim("a")  # changed: the watch starts again
    now[0] = 159.0
    assert not claims.try_claim("a")
    now[0] = 161.0
    assert claims.try_claim("a")  # unchanged for 61 s of our clock: abandoned
    assert lock.holds(tmp_path, "a", claims.token)


def test_a_live_holder_on_this_host_is_never_taken_over_early(tmp_path: Path) -> None:
    _fake_claim(tmp_path, "a", pid=os.getpid(), host=tempfiles.host_name())
    claims = lock.CellLocks(tmp_path, stale_s=60.0, clock=lambda: 0.0)
    assert not claims.try_claim("a") and not claims.try_claim("a")


def test_holding_heartbeats_and_releases_on_the_way_out(tmp_path: Path) -> None:
    claims = lock.CellLocks(tmp_path, heartbeat_s=0.01)
    with pytest.raises(KeyboardInterrupt), claims.holding():
        claims.claim_all(["a", "b"])
        path = lock.claim_path(tmp_path, "a")
        before = path.stat().st_mtime_ns
        os.utime(path, ns=(before - 10**9, before - 10**9))
        deadline = 200
        while path.stat().st_mtime_ns <= before - 10**9 and deadline:
            os.sched_yield()
            import time

            time.sleep(0.01)
            deadline -= 1
        assert path.stat().st_mtime_ns > before - 10**9  # touched by the heartbeat thread
        raise KeyboardInterrupt
    assert lock.leftover_claims(tmp_path) == []


def test_wait_for_yields_cells_released_unfinished_and_skips_finished(tmp_path: Path) -> None:
    other = lock.CellLocks(tmp_path)
    other.claim_all(["done", "dropped"])
    (store.runs_dir(tmp_path) / "done.parquet").write_bytes(b"x")  # the holder finished it
    other.release("done")
    other.release("dropped")  # the holder gave up (Ctrl-C) before finishing
    waiter = lock.CellLocks(tmp_path)
    assert list(waiter.wait_for(["done", "dropped"], poll_s=0.01)) == [["dropped"]]
    assert waiter.mine == {"dropped"}


SUITE = """
[suite]
name = "shared"
steps = 150
seeds = 2
batch_sizes = [8, 10, 12]
eval_every = 50

[[grid]]
estimators = ["infonce", "nwj"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""
_TOTALS = re.compile(r"(\d+) runs \((\d+) trained, (\d+) already finished\)")


@pytest.mark.integration
def test_two_concurrent_runs_on_one_folder_train_each_run_once(tmp_path: Path) -> None:
    suite = tmp_path / "shared.toml"
    suite.write_text(textwrap.dedent(SUITE))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "mibench.cli", "run", str(suite), "--out", str(out),
               "--no-plots", "--no-progress", "--workers", "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    totals = [_TOTALS.search(text) for text in outputs]
    assert all(totals), outputs
    cells = {int(t.group(1)) for t in totals if t}
    assert cells == {12}
    trained = sum(int(t.group(2)) for t in totals if t)
    assert trained == 12, outputs  # every run trained exactly once, by one of the two
    suite_dir = out / "shared"
    ids = store.finished_run_ids(suite_dir)
    assert len(ids) == 12
    for run_id in ids:  # sidecar and Parquet of each run come from the same process
        sidecar = store.read_sidecar(suite_dir, run_id)
        footer = json.loads(pq.read_schema(store.run_path(suite_dir, run_id)).metadata[b"mibench"])
        assert footer == sidecar, run_id
    assert lock.leftover_claims(suite_dir) == []
    assert [p.name for p in suite_dir.rglob(".*")] == []
