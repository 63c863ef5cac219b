"""How many torch threads an in-process stack takes: the idle cores sampled from ``/proc/stat``,
the load average where that file is missing.

These tests live apart from tests/test_executor.py on purpose: that module keeps a Dask
LocalCluster (and its event-loop thread) alive for all its tests. Nothing here replaces a
function of the ``time`` or ``os`` modules that another thread could call; the sample's clock and
sleep are handed to :func:`executor.idle_cores` as arguments.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mibench.execute import executor


def _ticks(monkeypatch, samples):
    """Make executor._cpu_ticks return ``samples`` in order (idle, all) and forget old samples."""
    values = iter(samples)
    monkeypatch.setattr(executor, "_cpu_ticks", lambda: next(values))
    monkeypatch.setattr(executor, "_idle_sample", None)


def _load_average(monkeypatch, one_minute: float) -> None:
    # os.getloadavg is global, but nothing but in_process_threads calls it in a test process.
    monkeypatch.setattr(executor.os, "getloadavg", lambda: (one_minute, one_minute, one_minute))


def test_threads_follow_the_idle_cores_sampled_from_proc_stat(monkeypatch):
    # Half of all ticks idle on 4 cores: 2 idle cores, whatever the load average says.
    _load_average(monkeypatch, 3.9)
    _ticks(monkeypatch, [(1000, 4000), (1200, 4400)])
    assert executor.in_process_threads(4) == 2
    # Every core busy: still one thread.
    _ticks(monkeypatch, [(1000, 4000), (1000, 4400)])
    assert executor.in_process_threads(4) == 1
    # An idle machine gives every core, even right after this process's own work (load 3.9).
    _ticks(monkeypatch, [(1000, 4000), (1400, 4400)])
    assert executor.in_process_threads(4) == 4


def test_an_idle_sample_is_reused_for_a_while_then_taken_again(monkeypatch):
    _ticks(monkeypatch, [(0, 100), (50, 200), (50, 300), (150, 400)])
    clock = iter([0.0, 0.1, 5.0, 100.0, 100.1]).__next__
    slept: list[float] = []

    def idle() -> float | None:
        return executor.idle_cores(2, clock=clock, sleep=slept.append)

    assert idle() == pytest.approx(1.0)
    assert idle() == pytest.approx(1.0)  # 5 s later: the same sample, no second sleep
    assert slept == [executor.IDLE_SAMPLE_S]
    assert idle() == pytest.approx(2.0)  # past IDLE_REUSE_S: sampled again
    assert slept == [executor.IDLE_SAMPLE_S] * 2


def test_threads_fall_back_to_the_load_average_without_proc_stat(monkeypatch):
    def missing() -> tuple[int, int]:
        raise OSError("no /proc/stat")

    monkeypatch.setattr(executor, "_cpu_ticks", missing)
    monkeypatch.setattr(executor, "_idle_sample", None)
    _load_average(monkeypatch, 2.8)
    assert executor.in_process_threads(4) == 1
    _load_average(monkeypatch, 0.2)
    assert executor.in_process_threads(4) == 4


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc/stat")
def test_proc_stat_parses_on_this_machine():
    idle, total = executor._cpu_ticks()
    assert 0 <= idle <= total
