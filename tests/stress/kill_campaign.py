"""SIGKILL a small sweep at random moments, resume it, and compare with an uninterrupted run.

Usage (from the repository root; about a minute for the defaults on a 2-core machine)::

    python tests/stress/kill_campaign.py [--kills 10] [--workers 2] [--plots] [--seed 0]

What it does: trains a small sweep once without interruption (the reference), then starts the
same ``mibench run`` into a second folder and SIGKILLs it ``--kills`` times, each time at a
moment drawn uniformly over the reference's wall time (so kills land in start-up, training,
the writing of run files, the summary and, with ``--plots``, the figures). After every kill it
checks that each run file present is readable and complete and has a readable sidecar that
matches its footer. Then it lets one run finish and checks: no run lost, no temporary file or
claim left over, every run's frame identical to the reference's (all columns but the wall time
``time_s``; runs are resumed in other stacks, so this also tests stack independence), and the
summary equal to the reference's apart from wall-time columns. Prints one table row per check
and exits 1 if any fails. ``tests/stress/test_kill_campaign.py`` runs it (marked slow).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from mibench.results import lock, schema, store

SWEEP = """
[suite]
name = "campaign"
steps = 200
seeds = 1
batch_sizes = [8, 10, 12, 14, 16, 18]
eval_every = 50

[[grid]]
estimators = ["infonce", "nwj", "flo"]
tasks = [{ name = "gaussian", dim = 2, mi = [0.5, 1.5] }]
critics = [{ name = "separable", hidden = [16], embed_dim = 8 }]
"""
N_RUNS = 3 * 2 * 6  # six stacks (one per K) of six runs: files appear stack by stack
KILL_WINDOW = 0.8
WALL_TIME_COLUMNS = {schema.TIME_S, "wall_time_s", "run_steps_per_s"}


@dataclass
class Outcome:
    kills: int = 0
    killed_with_files: list[int] = field(default_factory=list)
    corrupt_files: list[str] = field(default_factory=list)
    lost_runs: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    frames_differing: list[str] = field(default_factory=list)
    summary_columns_differing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.corrupt_files
            or self.lost_runs
            or self.leftovers
            or self.frames_differing
            or self.summary_columns_differing
        )

    def table(self) -> str:
        rows = [
            ("kills", str(self.kills)),
            ("run files present at each kill", ", ".join(map(str, self.killed_with_files))),
            ("corrupt files", str(len(self.corrupt_files))),
            ("lost runs", str(len(self.lost_runs))),
            ("leftover temporary/claim files", str(len(self.leftovers))),
            ("frames differing from the uninterrupted run", str(len(self.frames_differing))),
            ("summary columns differing", ", ".join(self.summary_columns_differing) or "0"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _command(suite: Path, out: Path, workers: int, plots: bool) -> list[str]:
    command = [sys.executable, "-m", "mibench.cli", "run", str(suite), "--out", str(out),
               "--no-progress", "--workers", str(workers)]  # fmt: skip
    return command if plots else [*command, "--no-plots"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _check_files(suite_dir: Path) -> list[str]:
    """Names of run files that are not readable, incomplete, or whose sidecar does not match."""
    bad = []
    for run_id in store.finished_run_ids(suite_dir):
        try:
            table = pq.read_table(store.run_path(suite_dir, run_id))
            footer = json.loads(table.schema.metadata[store.PARQUET_METADATA_KEY])
            sidecar = store.read_sidecar(suite_dir, run_id)
            if footer != sidecar or table.num_rows != sidecar["n_rows"]:
                bad.append(f"{run_id}: sidecar does not match")
        except Exception as error:  # any unreadable file is a finding, whatever the error
            bad.append(f"{run_id}: {type(error).__name__}: {error}")
    for name in (store.SUMMARY_FILE,):
        path = suite_dir / name
        if path.exists():
            try:
                pq.read_table(path)
            except Exception as error:
                bad.append(f"{name}: {type(error).__name__}: {error}")
    for name in (store.MANIFEST_FILE, store.SUITE_FILE, store.SKIPPED_FILE):
        path = suite_dir / name
        if path.exists():
            try:
                json.loads(path.read_text())
            except ValueError as error:
                bad.append(f"{name}: {error}")
    return bad


def _frame(suite_dir: Path, run_id: str) -> pd.DataFrame:
    frame = store.read_run(suite_dir, run_id)
    return frame.drop(columns=[c for c in frame.columns if c in WALL_TIME_COLUMNS])


def run_campaign(
    workdir: Path, *, kills: int = 10, workers: int = 2, plots: bool = False, seed: int = 0
) -> Outcome:
    """The campaign of the module docstring in ``workdir``; returns what it found."""
    rng = random.Random(seed)
    suite = workdir / "campaign.toml"
    suite.write_text(textwrap.dedent(SWEEP))
    reference_out, killed_out = workdir / "reference", workdir / "killed"
    started = time.monotonic()
    subprocess.run(
        _command(suite, reference_out, workers, plots),
        check=True, env=_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    duration = time.monotonic() - started
    started = time.monotonic()  # a run with nothing left to train: start-up, summary, figures
    subprocess.run(
        _command(suite, reference_out, workers, plots),
        check=True, env=_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    overhead = time.monotonic() - started
    reference_dir, killed_dir = reference_out / "campaign", killed_out / "campaign"
    outcome = Outcome()
    for _ in range(kills):
        process = subprocess.Popen(
            _command(suite, killed_out, workers, plots),
            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # Kill uniformly over what this invocation still has to do: start-up and summary plus
        # the training time of the runs still missing (so kills spread over the whole sweep),
        # cut to KILL_WINDOW of it so that most kills land before the invocation ends.
        left = 1 - len(store.finished_run_ids(killed_dir)) / N_RUNS
        window = KILL_WINDOW * (overhead + left * max(0.0, duration - overhead))
        try:
            process.wait(timeout=rng.uniform(0.2, max(0.3, window)))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        outcome.kills += 1
        time.sleep(0.3)  # its workers die with it (death signal)
        outcome.killed_with_files.append(len(store.finished_run_ids(killed_dir)))
        outcome.corrupt_files.extend(_check_files(killed_dir))
    subprocess.run(
        _command(suite, killed_out, workers, plots),
        check=True, env=_env(), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    outcome.corrupt_files.extend(_check_files(killed_dir))
    expected = store.finished_run_ids(reference_dir)
    assert len(expected) == N_RUNS, len(expected)
    outcome.lost_runs = sorted(set(expected) - set(store.finished_run_ids(killed_dir)))
    outcome.leftovers = sorted(
        str(p.relative_to(killed_dir))
        for p in killed_dir.rglob("*")
        if p.name.startswith(".") or p.name.endswith(lock.CLAIM_SUFFIX)
    )
    for run_id in expected:
        if run_id in outcome.lost_runs:
            continue
        try:
            pd.testing.assert_frame_equal(
                _frame(reference_dir, run_id), _frame(killed_dir, run_id), check_exact=True
            )
        except AssertionError:
            outcome.frames_differing.append(run_id)
    reference = pd.read_parquet(reference_dir / store.SUMMARY_FILE)
    resumed = pd.read_parquet(killed_dir / store.SUMMARY_FILE)
    for column in reference.columns:
        if column in WALL_TIME_COLUMNS:
            continue
        try:
            pd.testing.assert_series_equal(reference[column], resumed[column], check_exact=True)
        except AssertionError:
            outcome.summary_columns_differing.append(column)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--plots", action="store_true", help="draw figures (kills land there too)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        outcome = run_campaign(
            workdir, kills=args.kills, workers=args.workers, plots=args.plots, seed=args.seed
        )
    print(outcome.table())
    for finding in [*outcome.corrupt_files, *outcome.leftovers, *outcome.frames_differing]:
        print(f"  {finding}")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
