"""Wall and CPU seconds of ``mibench plot``, ``mibench report`` and ``load_runs`` on a finished
suite, for this source tree and optionally another one (a baseline checkout), alternating.

Run (not part of the test suite)::

    mibench run --estimators all --out <results> --no-plots        # once: the default suite
    python benchmarks/bench_plots.py --results <results>/default [--baseline <checkout>] [--repeats 3]

Each measurement is a fresh process (start-up and imports included, as a user waits for them)
on its own copy of the suite folder, so one tree's figures never count as the other's:

* ``plot``: ``python -m mibench.cli plot <copy>`` (draws every figure);
* ``report --redraw``: the report with every figure drawn again;
* ``report``: the report again, reusing the figures newer than the summary (where the tree
  supports it; a baseline without reuse draws them again);
* ``load_runs``: ``mibench.results.load_runs(<copy>)`` timed inside the process.

A (this tree) and B (the baseline) run in turn, A B A B ..., so a drift in the machine's load
hits both; the table gives medians and the median of the pair-by-pair ratios A/B.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD_SNIPPET = (
    "import sys, time; t = time.perf_counter(); from mibench.results import load_runs; "
    "t0 = time.perf_counter(); load_runs(sys.argv[1]); "
    "print(f'LOAD {time.perf_counter() - t0:.4f}')"
)


def _commands(folder: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "mibench.cli"]
    return {
        "plot": [*cli, "plot", str(folder)],
        "report --redraw": [*cli, "report", str(folder), "--redraw"],
        "report": [*cli, "report", str(folder)],
        "load_runs": [sys.executable, "-c", LOAD_SNIPPET, str(folder)],
    }


def _report_help(env: dict[str, str]) -> str:
    """``mibench report --help`` of the tree on ``env``'s PYTHONPATH."""
    help_command = [sys.executable, "-m", "mibench.cli", "report", "--help"]
    return subprocess.run(help_command, env=env, capture_output=True, text=True).stdout


def _timed(command: list[str], source: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one command; for
    ``load_runs`` the wall time is the one printed from inside the process."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    if "--redraw" in command and "--redraw" not in _report_help(env):
        command = command[:-1]  # a baseline without --redraw draws every figure anyway
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in done.stdout.splitlines():
        if line.startswith("LOAD "):
            wall = float(line.split()[1])
    return wall, cpu


def measure(results: Path, trees: dict[str, Path], repeats: int) -> dict[str, dict]:
    scratch = Path(tempfile.mkdtemp(prefix="bench_plots-"))
    copies = {}
    for name in trees:
        copies[name] = scratch / name / results.name
        shutil.copytree(results, copies[name], ignore=shutil.ignore_patterns("figures", "report.*"))
    table: dict[str, dict] = {}
    try:
        for _ in range(repeats):
            for what in _commands(scratch):
                for name, source in trees.items():
                    wall, cpu = _timed(_commands(copies[name])[what], source)
                    cell = table.setdefault(what, {}).setdefault(name, {"wall": [], "cpu": []})
                    cell["wall"].append(wall)
                    cell["cpu"].append(cpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return table


def render(table: dict[str, dict]) -> str:
    med = statistics.median
    names = list(next(iter(table.values())))
    head = " | ".join(f"{n} wall s | {n} CPU s" for n in names)
    lines = [f"| command | {head} |" + (" A/B wall |" if len(names) == 2 else ""),
             "|---" * (1 + 2 * len(names) + (len(names) == 2)) + "|"]  # fmt: skip
    for what, cells in table.items():
        row = " | ".join(f"{med(c['wall']):.2f} | {med(c['cpu']):.2f}" for c in cells.values())
        if len(names) == 2:
            a, b = (cells[n]["wall"] for n in names)
            row += f" | {med([x / y for x, y in zip(a, b, strict=True)]):.2f}"
        lines.append(f"| {what} | {row} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="a finished suite folder")
    parser.add_argument("--baseline", type=Path, default=None, help="another source checkout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the raw timings")
    args = parser.parse_args(argv)
    trees = {"A": ROOT}
    if args.baseline is not None:
        trees["B"] = args.baseline.resolve()
    table = measure(args.results.resolve(), trees, args.repeats)
    sys.stdout.write(render(table) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps({"trees": {k: str(v) for k, v in trees.items()},
                                         "timings": table}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
