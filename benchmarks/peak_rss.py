"""Wall time and peak memory of a whole command, summed over its process tree.

Run (not part of the test suite)::

    python benchmarks/peak_rss.py -- mibench run --estimators all --out <results>

``/usr/bin/time -v`` reports the largest single process; a ``mibench run`` on a Dask cluster or
drawing figures in worker processes has several at once. This samples the resident set size of
the command and all its descendants every ``--every`` seconds (``/proc/<pid>/status`` VmRSS,
Linux) and prints the wall seconds, the peak of the sum and the peak of the largest process.
Pages shared between processes (a forked worker's copy-on-write frames) are counted in each
RSS, so that sum is an upper bound; the summed PSS (proportional set size, each shared page split
between its sharers) is printed beside it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree(pid: int) -> list[int]:
    """``pid`` and every descendant alive now."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(_children(current))
    return out


def rss_mib(pid: int) -> float:
    """Resident set size of one process (0 when it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mib(pid: int) -> float:
    """Proportional set size of one process: each shared page split between its sharers
    (``/proc/<pid>/smaps_rollup``; 0 when it has exited or the file is missing)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(command: Sequence[str], every_s: float) -> dict[str, float]:
    """Run ``command``; wall seconds, exit code, peak summed / single RSS and peak summed PSS
    (MiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command)
    peak_sum = peak_one = peak_pss = 0.0
    while process.poll() is None:
        pids = tree(process.pid)
        sizes = [rss_mib(pid) for pid in pids]
        peak_sum, peak_one = max(peak_sum, sum(sizes)), max(peak_one, max(sizes, default=0.0))
        peak_pss = max(peak_pss, sum(pss_mib(pid) for pid in pids))
        time.sleep(every_s)
    return {
        "wall_s": time.perf_counter() - start,
        "returncode": float(process.returncode),
        "peak_sum_mib": peak_sum,
        "peak_single_mib": peak_one,
        "peak_sum_pss_mib": peak_pss,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=float, default=0.1, help="sampling interval (s)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    result = measure(command, args.every)
    sys.stdout.write(
        f"wall {result['wall_s']:.1f} s, peak RSS summed over the process tree "
        f"{result['peak_sum_mib']:.0f} MiB (largest process {result['peak_single_mib']:.0f} MiB; "
        f"PSS summed {result['peak_sum_pss_mib']:.0f} MiB), exit {int(result['returncode'])}\n"
    )
    return int(result["returncode"])


if __name__ == "__main__":
    raise SystemExit(main())
