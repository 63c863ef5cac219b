"""Cell locks: a lock per cell of a results folder, so that two ``mibench run`` never train one run twice.

What a user gets: a second ``mibench run`` on the same ``--out`` trains only the cells that nobody
holds, then waits for the cells another process is training (it says so, naming the holder), and
takes over a cell whose holder died. Both end with the same complete folder and no run is trained
twice; a run's sidecar and Parquet file always come from one process.

The claim of cell ``<run_id>`` is the file ``runs/<run_id>.claim`` holding JSON ``{token, pid,
host, started_utc}``. It is made without any byte-range lock (``fcntl`` locks are unreliable on
NFS), only with operations that are atomic on a shared file system too:

* **claim**: write the JSON to a private temporary file, then ``os.link`` it to the claim name.
  ``link`` fails with EEXIST when the claim exists — the NFS-safe form of ``O_CREAT | O_EXCL``
  (where NFS may report an error for a link that succeeded, the link count of the temporary
  file says whether it did);
* **heartbeat**: the holder touches its claims (``os.utime``) every :data:`HEARTBEAT_S` seconds
  from a background thread;
* **stale**: a claim of this host whose pid is dead is stale at once; any claim whose mtime an
  observer has seen unchanged for :data:`STALE_S` seconds of the observer's own clock is stale
  (no comparison of two machines' clocks, so clock skew does not matter);
* **take-over**: rename the stale claim to a private name (atomic: of two observers only one
  succeeds), check that the renamed file is the claim judged stale (same token; otherwise put
  it back with ``link``), delete it and claim afresh;
* **release**: the holder deletes its claim after the run's files are written, or when it stops.

Right before writing a run, the writer checks that the claim still holds its token
(:func:`holds`): a holder that lost its claim (suspended for longer than :data:`STALE_S`) drops
its result instead of mixing files with the process that took over.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mibench.results import store, tempfiles

CLAIM_SUFFIX = ".claim"
HEARTBEAT_S = 5.0  # how often a holder touches its claims
STALE_S = 60.0  # a claim unchanged for this long (observer's clock) is abandoned
POLL_S = 0.5  # how often a waiting process looks at the claims it waits for


def claim_path(suite_dir: Path, run_id: str) -> Path:
    """``runs/<run_id>.claim``."""
    return store.runs_dir(suite_dir) / f"{run_id}{CLAIM_SUFFIX}"


@dataclass(frozen=True)
class Holder:
    """Who holds a claim (the claim file's JSON)."""

    token: str
    pid: int
    host: str
    started_utc: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started_utc}"


def read_holder(path: Path) -> Holder | None:
    """The holder recorded in a claim file; None when it is gone or unreadable."""
    try:
        record = json.loads(path.read_text())
        return Holder(
            token=str(record["token"]),
            pid=int(record["pid"]),
            host=str(record["host"]),
            started_utc=str(record["started_utc"]),
        )
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def holds(suite_dir: Path, run_id: str, token: str) -> bool:
    """Whether the claim of ``run_id`` holds ``token`` (checked right before writing a run)."""
    holder = read_holder(claim_path(suite_dir, run_id))
    return holder is not None and holder.token == token


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


class CellLocks:
    """This process's claims on the cells of one results folder.

    Args:
        suite_dir: the results folder (``runs/`` is created when missing).
        stale_s: seconds an unchanged claim of another process may sit before it is taken over.
        heartbeat_s: seconds between two touches of this process's claims.
        clock: monotonic clock (tests replace it).
    """

    def __init__(
        self,
        suite_dir: Path,
        *,
        stale_s: float = STALE_S,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.suite_dir = Path(suite_dir)
        self.token = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = tempfiles.host_name()
        self.stale_s = stale_s
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.mine: set[str] = set()
        # run_id -> (holder token, claim mtime, when this process first saw that pair)
        self._seen: dict[str, tuple[str | None, int | None, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        store.runs_dir(self.suite_dir).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------------------ claiming
    def _record(self) -> bytes:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        payload = {"token": self.token, "pid": self.pid, "host": self.host, "started_utc": started}
        return (json.dumps(payload, sort_keys=True) + "\n").encode()

    def try_claim(self, run_id: str) -> bool:
        """Claim ``run_id`` unless another live process holds it; True when it is now ours."""
        target = claim_path(self.suite_dir, run_id)
        for _ in range(3):  # a take-over may race with a third process: try again a few times
            if self._link_claim(target):
                with self._lock:
                    self.mine.add(run_id)
                self._seen.pop(run_id, None)
                return True
            holder = read_holder(target)
            if holder is not None and holder.token == self.token:
                return True
            if not self.is_stale(run_id, holder) or not self._take_over(target, holder):
                return False
        return False

    def _link_claim(self, target: Path) -> bool:
        tmp = tempfiles.temp_name(target, tempfiles.PARTIAL_SUFFIX)
        tmp.write_bytes(self._record())
        try:
            os.link(tmp, target)
            return True
        except FileExistsError:
            return False
        except OSError as error:  # NFS may report a failure for a link it made: check the count
            if error.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):  # no hard links
                return self._exclusive_create(target)
            with contextlib.suppress(FileNotFoundError):
                return os.stat(tmp).st_nlink == 2
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _exclusive_create(self, target: Path) -> bool:
        """``O_CREAT | O_EXCL`` for file systems without hard links (the claim then briefly
        exists empty; readers treat an unreadable claim as held and watch its mtime)."""
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._record())
            handle.flush()
            os.fsync(handle.fileno())
        return True

    def is_stale(self, run_id: str, holder: Holder | None) -> bool:
        """Whether the claim of ``run_id`` (held by ``holder``) is abandoned.

        Stale at once when its holder is a dead pid of this host; otherwise when this process
        has seen the same claim (same token, same mtime) for ``stale_s`` seconds.
        """
        if holder is not None and holder.host == self.host and not tempfiles.pid_alive(holder.pid):
            return True
        mtime = _mtime_ns(claim_path(self.suite_dir, run_id))
        if mtime is None:  # released meanwhile: not stale, simply free
            self._seen.pop(run_id, None)
            return False
        token = None if holder is None else holder.token
        now = self.clock()
        seen = self._seen.get(run_id)
        if seen is None or seen[:2] != (token, mtime):
            self._seen[run_id] = (token, mtime, now)
            return self.stale_s <= 0
        return now - seen[2] >= self.stale_s

    def _take_over(self, target: Path, holder: Holder | None) -> bool:
        """Move a stale claim out of the way; False when another process was faster."""
        aside = tempfiles.temp_name(target.with_name(f"{target.name}.stale"), tempfiles.PARTIAL_SUFFIX)
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            return True  # someone removed it: the name is free, claim again
        try:
            moved = read_holder(aside)
            judged = None if holder is None else holder.token
            if (None if moved is None else moved.token) != judged:
                # Not the claim judged stale: a fresh one made meanwhile. Put it back.
                with contextlib.suppress(FileExistsError):
                    os.link(aside, target)
                return False
            self._seen.pop(target.name.removesuffix(CLAIM_SUFFIX), None)
            return True
        finally:
            aside.unlink(missing_ok=True)

    def claim_all(self, run_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Claim every cell that nobody holds: (ours, held by others), in the order given."""
        ours, held = [], []
        for run_id in run_ids:
            (ours if self.try_claim(run_id) else held).append(run_id)
        return ours, held

    def holder_of(self, run_id: str) -> Holder | None:
        return read_holder(claim_path(self.suite_dir, run_id))

    # ------------------------------------------------------------------------------ waiting
    def wait_for(
        self,
        run_ids: Iterable[str],
        *,
        poll_s: float = POLL_S,
        finished: Callable[[str], bool] | None = None,
    ) -> Iterator[list[str]]:
        """Wait for cells held by others; yields lists of cells this process must train itself.

        A cell leaves the wait when its run file appears (the holder finished it) or when this
        process claims it (the holder released it unfinished, or died, or went stale); the
        claimed ones are yielded for the caller to train. Returns when no cell is left.
        ``finished`` says whether a cell is done (default :func:`store.is_finished`; the runner
        passes :class:`mibench.results.integrity.TrustedRuns`, so a damaged file is not done).
        """
        if finished is None:
            finished = functools.partial(store.is_finished, self.suite_dir)
        waiting = [r for r in run_ids if not finished(r)]
        while waiting:
            taken, still = [], []
            for run_id in waiting:
                if finished(run_id):
                    continue
                (taken if self.try_claim(run_id) else still).append(run_id)
            # A holder writes the run file before it releases the claim, so a claim taken after
            # the file appeared is already finished: release it instead of training it again.
            done = [r for r in taken if finished(r)]
            for run_id in done:
                self.release(run_id)
            taken = [r for r in taken if r not in done]
            if taken:
                yield taken
            waiting = still
            if waiting:
                time.sleep(poll_s)

    # ---------------------------------------------------------------------------- releasing
    def release(self, run_id: str) -> None:
        """Delete our claim of ``run_id`` (after its files are written, or when giving up)."""
        with self._lock:
            self.mine.discard(run_id)
        path = claim_path(self.suite_dir, run_id)
        if holds(self.suite_dir, run_id, self.token):
            path.unlink(missing_ok=True)

    def release_all(self) -> None:
        for run_id in list(self.mine):
            self.release(run_id)

    def release_finished(self) -> None:
        """Release the claims of cells whose run file exists (written by a worker process)."""
        for run_id in list(self.mine):
            if store.is_finished(self.suite_dir, run_id):
                self.release(run_id)

    # ---------------------------------------------------------------------------- heartbeat
    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                held = list(self.mine)
            for run_id in held:
                with contextlib.suppress(FileNotFoundError):
                    os.utime(claim_path(self.suite_dir, run_id))

    @contextlib.contextmanager
    def holding(self) -> Iterator[CellLocks]:
        """Heartbeat while inside; release every claim still held on the way out (also on an
        exception or Ctrl-C; a SIGKILL leaves them to go stale)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="mibench-claims", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            self.release_all()


def remove_dead_claims(suite_dir: Path) -> list[Path]:
    """Remove the claims whose holder is a dead process of this host; returns them.

    A run killed after writing a run file but before releasing its claim leaves the claim of a
    finished cell, which no later run would otherwise touch. Claims of other hosts are left to
    the stale rule of :meth:`CellLocks.is_stale` (their pid cannot be checked from here).
    """
    host = tempfiles.host_name()
    removed = []
    for path in leftover_claims(suite_dir):
        holder = read_holder(path)
        if holder is None or holder.host != host or tempfiles.pid_alive(holder.pid):
            continue
        aside = tempfiles.temp_name(path.with_name(f"{path.name}.stale"), tempfiles.PARTIAL_SUFFIX)
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            continue
        moved = read_holder(aside)
        if moved is None or moved.token != holder.token:  # a fresh claim made meanwhile
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        else:
            removed.append(path)
        aside.unlink(missing_ok=True)
    return removed


def leftover_claims(suite_dir: Path) -> list[Path]:
    """Claim files in ``runs/`` (a finished, unshared folder has none)."""
    directory = store.runs_dir(suite_dir)
    return sorted(directory.glob(f"*{CLAIM_SUFFIX}")) if directory.is_dir() else []


__all__ = [
    "CLAIM_SUFFIX",
    "HEARTBEAT_S",
    "POLL_S",
    "STALE_S",
    "CellLocks",
    "Holder",
    "claim_path",
    "holds",
    "leftover_claims",
    "read_holder",
    "remove_dead_claims",
]
