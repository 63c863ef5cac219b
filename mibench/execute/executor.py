"""Where stacks train: one interface, in this process or as Dask tasks on a cluster.

:func:`open_executor` turns a :class:`Target` into an :class:`Executor`:

* ``Target(workers=1)``: this process, no Dask (:class:`InProcess`);
* ``Target(workers=N)``: a ``distributed.LocalCluster`` of N worker processes with one thread
  (and one torch thread) each, started here and closed at the end;
* ``Target(scheduler="tcp://HOST:8786")``: an existing cluster (``dask scheduler`` and
  ``dask worker`` processes on any machines that can import mibench);
* ``Target(cluster="slurm")`` (pbs, sge, lsf, htcondor, oar, moab): a dask-jobqueue cluster from
  its standard configuration file (``~/.config/dask/jobqueue.yaml``), scaled to the plan.

Every backend calls ``on_done(job, runs)`` in this process with each stack's finished runs, so the
caller writes all results itself. On Dask each stack is one task: the scheduler reruns the task of
a worker that dies (``distributed.scheduler.allowed-failures`` times), the rerun resumes from the
stack's checkpoint where the filesystem is shared, and a future's result arrives once, so no run is
lost or written twice. Stacks whose runs ask for CUDA need the worker resource ``GPU`` (start such
workers with ``dask worker ... --resources GPU=1``); CPU stacks go to any worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import importlib.util
import logging
import math
import os
import queue
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mibench.execute import jobs
from mibench.execute.jobs import FinishedRun, StackJob

logger = logging.getLogger(__name__)

JOBQUEUE_CLUSTERS = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
    "oar": "OARCluster",
    "moab": "MoabCluster",
}
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
CONNECT_TIMEOUT_S = 10.0  # how long to try an unreachable --scheduler before giving up
GPU_RESOURCE = "GPU"
_POLL_S = 0.2

Progress = Callable[[int, int], None]  # (job index, steps done)
Done = Callable[[StackJob, list[FinishedRun]], None]


class ExecutorError(ValueError):
    """A bad or unreachable execution target (one line, for the CLI's exit 2)."""


@dataclass(frozen=True)
class Target:
    """Where to train: ``workers`` processes here, or an existing or job-queue cluster."""

    workers: int = 1
    scheduler: str | None = None
    cluster: str | None = None

    def validate(self) -> None:
        """Raise ExecutorError naming the bad value (nothing is contacted)."""
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ExecutorError(f"--workers: must be an integer >= 1, got {self.workers!r}")
        if self.scheduler is not None and self.cluster is not None:
            raise ExecutorError("--scheduler and --cluster exclude each other: give one")
        if self.scheduler is not None:
            parts = urlsplit(self.scheduler)
            try:
                port = parts.port
            except ValueError:
                port = None
            if parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or port is None:
                schemes = ", ".join(f"{s}://" for s in SCHEDULER_SCHEMES)
                raise ExecutorError(
                    f"--scheduler: {self.scheduler!r} is not an address like tcp://HOST:8786 "
                    f"(schemes: {schemes})"
                )
        if self.cluster is not None and self.cluster not in JOBQUEUE_CLUSTERS:
            raise ExecutorError(
                f"--cluster: unknown {self.cluster!r}; choose one of {', '.join(JOBQUEUE_CLUSTERS)}"
            )

    @property
    def uses_dask(self) -> bool:
        return self.workers > 1 or self.scheduler is not None or self.cluster is not None


class Executor:
    """Trains jobs and hands each one's finished runs to ``on_done``, in this process."""

    description = "this process"
    dashboard: str | None = None
    parallelism = 1  # stacks that train at the same time (make_stacks cuts the plan for them)

    def train(self, jobs_: Iterable[StackJob], on_progress: Progress, on_done: Done) -> None:
        """Train every job of ``jobs_``, taking the next one from it only when a slot is free
        to start it (the runner claims a stack's cells when it hands the stack out)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started."""


class InProcess(Executor):
    """Stacks one after the other in this process, with :func:`in_process_threads` threads."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads

    def train(self, jobs_: Iterable[StackJob], on_progress: Progress, on_done: Done) -> None:
        for job in jobs_:
            on_progress(job.index, 0)
            threads = in_process_threads() if self.threads is None else self.threads
            runs = jobs.train_job(
                job, lambda n, index=job.index: on_progress(index, n), threads=threads
            )
            on_done(job, runs)


def in_process_threads(cores: int | None = None) -> int:
    """Torch threads for a stack trained in this process: the cores no other work is using.

    Measured on a 2-core machine under a load average of 8: a 2-run K=64 stack trained at 146
    run-steps/s on one thread and 7 on two; 12 runs at K=64, 146 vs 15; 12 runs at K=256, 34 vs
    10. Threads that must wait for busy cores stall every small kernel, so the count follows the
    idle cores, at least 1: on Linux the cores' idle share over a short sample of ``/proc/stat``
    taken while this process waits (:func:`idle_cores`), elsewhere the CPU count minus the
    one-minute load average. The load average is not used where the sample exists: it trails by
    a minute and counts this process's own work, so a stack started right after another one (a
    benchmark, the previous stack of a plan) saw its own predecessor as load and got one thread
    where two were idle (measured: the staircase suite at 1 thread, 524 run-steps/s, against 745 on 2).
    ``cores`` defaults to this machine's CPU count.
    """
    cores = cores or os.cpu_count() or 1
    idle = idle_cores(cores)
    if idle is None:
        try:
            idle = cores - os.getloadavg()[0]
        except OSError:  # not available on this platform
            return 1
    return max(1, min(cores, math.floor(idle + 0.5)))


IDLE_SAMPLE_S = 0.1  # /proc/stat counts in 10 ms ticks: 20 ticks per sample on 2 cores
IDLE_REUSE_S = 30.0  # a sample is reused for stacks started within this many seconds
_idle_sample: tuple[float, float] | None = None  # (monotonic time, idle cores)


def idle_cores(
    cores: int,
    *,
    sample_s: float = IDLE_SAMPLE_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float | None:
    """Cores idle during ``sample_s`` seconds in which this process sleeps (Linux ``/proc/stat``:
    idle + iowait ticks over all ticks, times ``cores``), or None where that file is missing.
    A sample taken less than ``IDLE_REUSE_S`` ago (by ``clock``) is reused (a plan of many short
    stacks pays one sample, not one per stack). ``clock`` and ``sleep`` are parameters so that a
    test can drive them without replacing the ``time`` module's functions, which every other
    thread of the process (a Dask event loop) shares."""
    global _idle_sample
    now = clock()
    if _idle_sample is not None and now - _idle_sample[0] < IDLE_REUSE_S:
        return _idle_sample[1]
    try:
        idle_before, total_before = _cpu_ticks()
        sleep(sample_s)
        idle_after, total_after = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        return None
    if total_after <= total_before:
        return None
    idle = cores * (idle_after - idle_before) / (total_after - total_before)
    _idle_sample = (clock(), idle)
    return idle


def _cpu_ticks() -> tuple[int, int]:
    """(idle + iowait, all) ticks of the first line of ``/proc/stat`` (every core together)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()
    if not fields or fields[0] != "cpu":
        raise ValueError("unexpected /proc/stat")
    # user nice system idle iowait irq softirq steal (guest time is already in user/nice)
    ticks = [int(v) for v in fields[1:9]]
    return ticks[3] + ticks[4], sum(ticks)


# Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's
# dynamic mmap threshold: every tensor above 128 KiB is then a fresh mmap, and the default suite
# on 2 workers took 3.7x the page faults, 3.8x the system CPU time and 1.3x the wall time of
# the process pool that --workers used before Dask. Workers started here get no such variable; in others (a user's
# `dask worker`, job-queue jobs) the first task sets the thresholds glibc would reach itself.
_MALLOC_TRIM_ENV = "MALLOC_TRIM_THRESHOLD_"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc malloc.h
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's ceiling for the dynamic threshold (64-bit)
_malloc_tuned = False


def _tune_malloc() -> None:
    global _malloc_tuned
    if _malloc_tuned or _MALLOC_TRIM_ENV not in os.environ or not sys.platform.startswith("linux"):
        return
    _malloc_tuned = True
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)


def _dask_task(job: StackJob, topic: str) -> list[FinishedRun]:
    """What a Dask worker runs: one stack, reporting progress to ``topic``, with one torch thread
    (torch's thread count is per process, and a worker may run several tasks at once: start
    workers with ``--nthreads 1`` and one worker per core)."""
    from distributed import get_worker

    worker = get_worker()
    _tune_malloc()

    def report(steps_done: int) -> None:
        worker.log_event(topic, {"index": job.index, "steps": int(steps_done), "pid": os.getpid()})

    report(0)
    return jobs.train_job(job, report, threads=1)


class Dask(Executor):
    """Stacks as tasks on a ``distributed`` cluster; results come back to this process."""

    def __init__(
        self, client: Any, cluster: Any = None, description: str = "", parallelism: int = 1
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.description = description
        self.parallelism = max(1, parallelism)
        link = getattr(client, "dashboard_link", None)
        self.dashboard = link if _has_dashboard() else None

    def train(self, jobs_: Iterable[StackJob], on_progress: Progress, on_done: Done) -> None:
        """At most ``parallelism`` stacks in flight; the next one is taken from ``jobs_`` (and
        its cells claimed by the runner) only when one finishes. A list is first sorted longest
        first; the runner's generator already yields them in that order."""
        from distributed import CancelledError

        token = uuid.uuid4().hex[:12]
        topic = f"mibench-progress-{token}"
        events: queue.SimpleQueue[dict[str, int]] = queue.SimpleQueue()
        self.client.subscribe_topic(topic, lambda event: events.put(event[1]))
        # Longest stacks first (Dask runs higher priorities first), so that the last worker to
        # finish is not handed the biggest stack late.
        source = iter(
            sorted(jobs_, key=lambda j: -j.work) if isinstance(jobs_, Sequence) else jobs_
        )
        pending: dict[Any, StackJob] = {}
        try:
            while True:
                while len(pending) < self.parallelism:
                    job = next(source, None)
                    if job is None:
                        break
                    pending[self._submit(job, topic, token)] = job
                if not pending:
                    break
                time.sleep(_POLL_S)
                _drain(events, on_progress)
                for future in [f for f in pending if f.done()]:
                    job = pending.pop(future)
                    try:
                        runs = future.result()  # a task's exception is raised here
                    except CancelledError:
                        raise ExecutorError("the Dask cluster cancelled a stack") from None
                    _drain(events, on_progress)
                    on_done(job, runs)
                    future.release()
        finally:
            for future in pending:
                future.cancel()
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(topic)

    def _submit(self, job: StackJob, topic: str, token: str) -> Any:
        return self.client.submit(
            _dask_task,
            job,
            topic,
            key=f"mibench-stack-{job.index}-{token}",
            pure=False,
            priority=round(job.work),
            resources={GPU_RESOURCE: 1} if job.device.startswith("cuda") else None,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


def _drain(events: queue.SimpleQueue[dict[str, int]], on_progress: Progress) -> None:
    while True:
        try:
            message = events.get_nowait()
        except queue.Empty:
            return
        on_progress(int(message["index"]), int(message["steps"]))


def _dask_logs_follow_root() -> None:
    """Dask's loggers show no more than the root logger does (WARNING; DEBUG with ``--verbose``).

    ``distributed`` installs its own stderr handler at import only where the root logger has
    none; after ``logging.basicConfig`` (the CLI) it propagates to the root's handler instead, at
    its configured INFO level, and every cluster start and close printed some 30 INFO lines
    (``silence_logs`` only quiets distributed's own handlers). Called by each Dask executor after
    it imports distributed, whose import-time setup would otherwise set the level back.
    """
    root_level = logging.getLogger().getEffectiveLevel()
    for name in ("distributed", "bokeh"):
        dask_logger = logging.getLogger(name)
        if dask_logger.propagate and dask_logger.getEffectiveLevel() < root_level:
            dask_logger.setLevel(root_level)


def _has_dashboard() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def _local_cluster(workers: int) -> Dask:
    import dask
    from distributed import Client, LocalCluster

    _dask_logs_follow_root()
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop(_MALLOC_TRIM_ENV, None)  # see _tune_malloc; the nannies keep this for restarts
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0" if _has_dashboard() else None,
            silence_logs=logging.ERROR,
        )
    return Dask(Client(cluster), cluster, f"a local Dask cluster of {workers} processes", workers)


def _connect(address: str) -> Dask:
    from distributed import Client

    _dask_logs_follow_root()
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ExecutorError(
            f"--scheduler: cannot reach {address!r} within {CONNECT_TIMEOUT_S:g} s ({reason})"
        ) from None
    workers = client.scheduler_info().get("workers", {})
    threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
    description = f"the Dask scheduler at {address} ({len(workers)} workers, {threads} threads)"
    return Dask(client, None, description, threads)


def _jobqueue_cluster(kind: str, workers: int) -> Dask:
    try:
        module = importlib.import_module("dask_jobqueue")
    except ImportError:
        raise ExecutorError(
            f"--cluster {kind}: dask-jobqueue is not installed; pip install 'mibench[cluster]'"
        ) from None
    from distributed import Client

    _dask_logs_follow_root()
    try:
        cluster = getattr(module, JOBQUEUE_CLUSTERS[kind])()
    except Exception as error:  # missing or bad jobqueue.yaml, no sbatch/qsub on this machine
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ExecutorError(
            f"--cluster {kind}: cannot start a dask-jobqueue cluster ({reason})"
        ) from None
    cluster.scale(workers)
    description = f"a dask-jobqueue {kind} cluster of {workers} workers"
    return Dask(Client(cluster), cluster, description, workers)


@contextlib.contextmanager
def open_executor(target: Target, n_jobs: int, *, threads: int | None = None) -> Iterator[Executor]:
    """The executor for ``target`` (validated; ExecutorError if unreachable), closed on exit.

    A LocalCluster gets ``min(workers, n_jobs)`` processes; with ``n_jobs`` <= 1 and no scheduler
    or cluster named, training stays in this process. A job-queue cluster is scaled to
    ``workers`` when more than 1 is given, else to one worker per stack.
    """
    target.validate()
    executor: Executor
    if target.scheduler is not None:
        executor = _connect(target.scheduler)
    elif target.cluster is not None:
        size = target.workers if target.workers > 1 else max(1, n_jobs)
        executor = _jobqueue_cluster(target.cluster, size)
    elif target.workers > 1 and n_jobs > 1:
        executor = _local_cluster(min(target.workers, n_jobs))
    else:
        executor = InProcess(threads)
    try:
        yield executor
    finally:
        executor.close()
