"""Three ``mibench run`` processes on one results folder split a 12-cell plan.

Each claims a stack's cells right before training them (mibench.results.lock), so the three
train disjoint parts, every cell is trained exactly once, and each run's sidecar and Parquet
file come from one process.
"""

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

from mibench.results import lock, store

# Six stacks (one per K) of two runs: enough stacks for three processes to each claim some.
SUITE = """
[suite]
name = "shared"
steps = 400
seeds = 1
batch_sizes = [8, 10, 12, 14, 16, 18]
eval_every = 100

[[grid]]
estimators = ["infonce", "nwj"]
tasks = [{ name = "gaussian", dim = 2, mi = 1.0 }]
critics = [{ name = "separable", hidden = [16], embed_dim = 8 }]
"""
N_CELLS = 12
N_PROCESSES = 3
_TOTALS = re.compile(r"(\d+) runs \((\d+) trained, (\d+) already finished\)")


@pytest.mark.slow  # three processes start torch and train: about a minute on a loaded 2-core box
@pytest.mark.integration
def test_three_concurrent_runs_each_train_part_and_together_every_cell_once(tmp_path: Path):
    suite = tmp_path / "shared.toml"
    suite.write_text(textwrap.dedent(SUITE))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "mibench.cli", "run", str(suite), "--out", str(out),
               "--no-plots", "--no-progress", "--workers", "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        for _ in range(N_PROCESSES)
    ]
    outputs = [p.communicate(timeout=600)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0] * N_PROCESSES, outputs
    totals = [_TOTALS.search(text) for text in outputs]
    assert all(totals), outputs
    assert {int(t.group(1)) for t in totals if t} == {N_CELLS}
    split = [int(t.group(2)) for t in totals if t]
    print(f"cells trained per process: {split}")
    assert sum(split) == N_CELLS, outputs  # every cell trained exactly once
    assert all(n > 0 for n in split), (split, outputs)  # and the work was shared
    suite_dir = out / "shared"
    ids = store.finished_run_ids(suite_dir)
    assert len(ids) == N_CELLS
    for run_id in ids:  # sidecar and Parquet of each run come from the same process
        sidecar = store.read_sidecar(suite_dir, run_id)
        footer = json.loads(pq.read_schema(store.run_path(suite_dir, run_id)).metadata[b"mibench"])
        assert footer == sidecar, run_id
    assert lock.leftover_claims(suite_dir) == []
    assert [p.name for p in suite_dir.rglob(".*")] == []
