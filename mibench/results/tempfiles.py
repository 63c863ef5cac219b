"""Temporary files of atomic writes, named after their writer, and the removal of dead ones.

Every atomic write in a suite folder (run files, summary, manifest, figures, report) goes to a
hidden name in the target's folder and is then renamed over the target::

    .<target name>.<pid>@<host><suffix>        e.g. runs/.ab12.parquet.4711@node3.partial

The writer's pid and host in the name let :func:`remove_leftovers` tell a killed writer's file
(pid no longer alive on this host) from one a live process is writing right now, which matters
when two ``mibench run`` share a results folder. A temporary file of another host is removed
only when it has not changed for :data:`FOREIGN_LEFTOVER_AGE_S` (a write takes seconds; the
pid of another host cannot be checked from here).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

PARTIAL_SUFFIX = ".partial"  # run files and JSON/Parquet of the store
TMP_SUFFIX = ".tmp"  # figures and reports
FOREIGN_LEFTOVER_AGE_S = 3600.0


def host_name() -> str:
    """This machine's name as it appears in temporary and claim files (no '@' or '/')."""
    return socket.gethostname().replace("@", "_").replace("/", "_") or "localhost"


def temp_name(target: Path, suffix: str) -> Path:
    """The hidden temporary path of an atomic write of ``target`` by this process."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid()}@{host_name()}{suffix}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (another user's counts; a zombie, which
    has exited and only waits to be reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # Linux: the state follows the parenthesised command name
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _writer(path: Path, suffix: str) -> tuple[int, str] | None:
    """(pid, host) from a temporary file's name; None for a name of the old ``.<pid>`` form."""
    stem = path.name[: -len(suffix)]
    pid_host = stem.rsplit(".", 1)[-1]
    pid, at, host = pid_host.partition("@")
    if not at or not pid.isdigit():
        return None
    return int(pid), host


def is_leftover(path: Path, suffix: str, *, now: float | None = None) -> bool:
    """True when the writer of ``path`` is gone: a dead pid of this host, or an old file."""
    writer = _writer(path, suffix)
    if writer is not None and writer[1] == host_name():
        return not pid_alive(writer[0])
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if writer is None:  # the old name without a host: pid only (written by this host's mibench)
        stem = path.name[: -len(suffix)]
        pid = stem.rsplit(".", 1)[-1]
        if pid.isdigit():
            return not pid_alive(int(pid))
    return age > FOREIGN_LEFTOVER_AGE_S


def remove_leftovers(
    directory: Path, suffixes: Iterable[str] = (PARTIAL_SUFFIX, TMP_SUFFIX)
) -> list[Path]:
    """Remove the temporary files of dead writers in ``directory``; returns what was removed."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for suffix in suffixes:
        for path in directory.glob(f".*{suffix}"):
            if is_leftover(path, suffix):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


__all__ = [
    "FOREIGN_LEFTOVER_AGE_S",
    "PARTIAL_SUFFIX",
    "TMP_SUFFIX",
    "host_name",
    "is_leftover",
    "pid_alive",
    "remove_leftovers",
    "temp_name",
]
