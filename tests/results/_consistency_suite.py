"""Synthetic suite folders of self-consistency cells, for the results, claims and figure tests.

Each cell is one estimator on one digits task at one ``consistency`` value; its runs (one per
seed) log a constant estimate plus small Gaussian noise, so the window means, and hence every
ratio, are known in advance. The runs go through the runner's own store and summary code.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mibench.core.interface import RunConfig
from mibench.results import schema, store
from mibench.results.summary import summarize

NOISE_STD = 0.01
N_STEPS = 100
SEED_OFFSETS = (-0.005, 0.005)  # seed-to-seed spread of the window means
PLAIN_TRUTH = {"digits_label": 1.27, "digits_pixels": 1.35}
BASE_PARAMS = {"digits_label": {"reroll": 0.25}, "digits_pixels": {"pixels": 2}}
FACTOR = {"none": 1.0, "independence": 0.0, "data_processing": 1.0, "additivity": 2.0}


@dataclass(frozen=True)
class Cell:
    estimator: str
    task: str
    consistency: str
    estimate: float  # window mean over seeds
    params: dict = field(default_factory=dict)
    true_mi: float | None = None
    batch_size: int = 64


def standard_cells(
    estimators=("infonce", "nwj"),
    *,
    plain: float = 1.2,
    data_processing: float = 1.0,
    additivity: float = 2.0,
    independence: float = 0.0,
) -> list[Cell]:
    """Every estimator on both tasks, plain and the three tests at the given ratios / estimate."""
    cells = []
    for estimator in estimators:
        for task in PLAIN_TRUTH:
            for test, value in (("none", plain), ("independence", independence),
                                ("data_processing", plain * data_processing),
                                ("additivity", plain * additivity)):  # fmt: skip
                cells.append(Cell(estimator, task, test, value))
    return cells


def _run(cell: Cell, seed: int, rng: np.random.Generator) -> tuple[str, pd.DataFrame, dict]:
    params = {**BASE_PARAMS[cell.task], **cell.params, "consistency": cell.consistency}
    truth = cell.true_mi if cell.true_mi is not None else FACTOR[cell.consistency] * PLAIN_TRUTH[cell.task]
    ident = json.dumps([cell.estimator, cell.task, params, cell.batch_size, seed], sort_keys=True)
    run_id = hashlib.sha256(ident.encode()).hexdigest()[:16]
    steps = np.arange(N_STEPS)
    estimate = cell.estimate + SEED_OFFSETS[seed] + NOISE_STD * rng.standard_normal(N_STEPS)
    log_k = math.log(cell.batch_size)
    task_id = f"{cell.task}-{json.dumps(params, sort_keys=True)}"
    frame = pd.DataFrame({
        schema.RUN_ID: run_id, schema.SUITE: "digits", schema.ESTIMATOR: cell.estimator,
        schema.TASK: cell.task, schema.TASK_ID: task_id, schema.DIM: 64, schema.TRUE_MI: truth,
        schema.MI_LEVEL: truth, schema.BATCH_SIZE: cell.batch_size, schema.CRITIC: "separable",
        schema.SEED: seed, schema.DTYPE: "float32", schema.NEGATIVES: "offdiag",
        schema.STEP: steps, schema.READOUT: schema.READOUT_TRAIN, schema.ESTIMATE: estimate,
        schema.LOSS: -estimate, schema.INFONCE_VALUE: np.minimum(estimate, log_k),
        schema.ESS: 0.5, schema.LOG_K: log_k, schema.CEILING: np.nan, schema.GRAD_NORM: 1.0,
        schema.DIVERGED: False, schema.TIME_S: steps * 1e-3,
    })[list(schema.COLUMNS)]  # fmt: skip
    config = RunConfig.make(estimator=cell.estimator, task=cell.task, task_params=params,
                            batch_size=cell.batch_size, n_steps=N_STEPS, seed=seed,
                            suite="digits").as_dict()  # fmt: skip
    sidecar = store.sidecar_record(config=config, run_id=run_id, wall_time_s=0.1,
                                   critic_architecture="synthetic (no critic)", n_parameters=0,
                                   diverged_step=None, task_id=task_id, n_rows=len(frame))  # fmt: skip
    return run_id, frame, sidecar


def write_consistency_suite(suite_dir: Path, cells: list[Cell], *, seed: int = 0) -> Path:
    """Store two seeds of every cell under ``suite_dir`` and write its ``summary.parquet``."""
    rng = np.random.default_rng(seed)
    frames, sidecars = {}, {}
    for cell in cells:
        for run_seed in range(len(SEED_OFFSETS)):
            run_id, frame, sidecar = _run(cell, run_seed, rng)
            store.write_run(suite_dir, run_id, frame, sidecar)
            frames[run_id], sidecars[run_id] = frame, sidecar
    store.write_summary(suite_dir, summarize(frames, sidecars))
    return suite_dir


def consistency_summary(tmp_path: Path, cells: list[Cell]) -> pd.DataFrame:
    """The summary frame of :func:`write_consistency_suite` (read back from disk)."""
    suite = write_consistency_suite(tmp_path / "digits", cells)
    summary = store.read_summary(suite)
    assert summary is not None
    return summary
