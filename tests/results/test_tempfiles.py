"""Temporary files of atomic writes (mibench.results.tempfiles): names, writer liveness, leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mibench.results import tempfiles
from mibench.results.tempfiles import (
    FOREIGN_LEFTOVER_AGE_S,
    PARTIAL_SUFFIX,
    TMP_SUFFIX,
    host_name,
    is_leftover,
    pid_alive,
    remove_leftovers,
    temp_name,
)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _touch(path: Path, *, age_s: float = 0.0) -> Path:
    path.write_bytes(b"x")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def test_temp_name_is_hidden_beside_the_target_and_names_its_writer(tmp_path: Path) -> None:
    name = temp_name(tmp_path / "runs" / "ab12.parquet", PARTIAL_SUFFIX)
    assert name.parent == tmp_path / "runs"
    assert name.name == f".ab12.parquet.{os.getpid()}@{host_name()}.partial"


def test_host_name_has_no_separator_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfiles.socket, "gethostname", lambda: "a@b/c")
    assert host_name() == "a_b_c"
    monkeypatch.setattr(tempfiles.socket, "gethostname", lambda: "")
    assert host_name() == "localhost"


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-5)
    assert not pid_alive(_dead_pid())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombie state read from /proc")
def test_a_zombie_is_not_alive() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{process.pid}/stat")
        deadline = time.time() + 30
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" and time.time() < deadline:
            time.sleep(0.02)
        assert not pid_alive(process.pid)  # exited, not yet reaped
    finally:
        process.wait()


def test_is_leftover_on_this_host_follows_the_writer_pid(tmp_path: Path) -> None:
    host = host_name()
    live = _touch(tmp_path / f".a.parquet.{os.getpid()}@{host}.partial", age_s=10 * 3600)
    dead = _touch(tmp_path / f".b.parquet.{_dead_pid()}@{host}.partial")
    assert not is_leftover(live, PARTIAL_SUFFIX)  # however old: its writer runs
    assert is_leftover(dead, PARTIAL_SUFFIX)  # however new: its writer is gone


def test_is_leftover_of_another_host_follows_the_age(tmp_path: Path) -> None:
    foreign = _touch(tmp_path / ".c.png.12@elsewhere.tmp")
    mtime = foreign.stat().st_mtime
    assert not is_leftover(foreign, TMP_SUFFIX, now=mtime + FOREIGN_LEFTOVER_AGE_S - 1)
    assert is_leftover(foreign, TMP_SUFFIX, now=mtime + FOREIGN_LEFTOVER_AGE_S + 1)
    assert not is_leftover(tmp_path / ".gone.png.12@elsewhere.tmp", TMP_SUFFIX)  # no file


def test_is_leftover_of_the_old_pid_only_name(tmp_path: Path) -> None:
    live = _touch(tmp_path / f".d.json.{os.getpid()}.partial")
    dead = _touch(tmp_path / f".e.json.{_dead_pid()}.partial")
    assert not is_leftover(live, PARTIAL_SUFFIX)
    assert is_leftover(dead, PARTIAL_SUFFIX)


def test_remove_leftovers_removes_only_dead_writers_files_of_the_given_suffixes(
    tmp_path: Path,
) -> None:
    host, dead_pid = host_name(), _dead_pid()
    keep = [
        _touch(tmp_path / "f.parquet"),  # a finished file, not temporary
        _touch(tmp_path / f".g.parquet.{os.getpid()}@{host}.partial"),  # in flight
        _touch(tmp_path / ".h.png.12@elsewhere.tmp"),  # another host's, recent
        _touch(tmp_path / f".i.txt.{dead_pid}@{host}.other"),  # not a temporary suffix
    ]
    gone = [
        _touch(tmp_path / f".j.parquet.{dead_pid}@{host}.partial"),
        _touch(tmp_path / ".k.png.13@elsewhere.tmp", age_s=FOREIGN_LEFTOVER_AGE_S + 60),
    ]
    tmp_only = remove_leftovers(tmp_path, suffixes=(TMP_SUFFIX,))
    assert tmp_only == [gone[1]]
    assert sorted(remove_leftovers(tmp_path)) == [gone[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in keep)
    assert remove_leftovers(tmp_path / "missing") == []
