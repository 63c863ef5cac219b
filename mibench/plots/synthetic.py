"""Synthetic results in the runner's schema, for testing figures and reports without training.

Nothing here estimates anything: the curves are made-up shapes (a capped estimator saturates at
a smooth minimum of I and log K, an uncapped one approaches I with noise growing like e^{I/3}),
chosen only so every figure has something recognisable to draw. The frames follow
:mod:`mibench.results.schema` column for column, and :func:`synthetic_summary` computes the
per-cell metrics with the definitions of ESTIMATORS.md ("Summary metrics"), so tests can write a
complete fake ``results/<suite>/`` folder with :func:`write_synthetic_suite`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mibench.results import schema

DEFAULT_MI_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
STAIRCASE_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
RISE_FRACTION = 1 / 6  # time constant of the made-up learning curve, as a fraction of the run
CAPPED_NOISE_STD = 0.05
UNCAPPED_NOISE_SCALE = 0.05  # noise std = scale * exp(I / 3): variance growing with I
UNCAPPED_BIAS_FRACTION = 0.05
DIVERGE_AT_FRACTION = 0.7


def _smooth_min(a: float, b: float) -> float:
    return -math.log(math.exp(-a) + math.exp(-b))


def synthetic_runs(
    *,
    estimators: Sequence[str],
    capped: Sequence[str] = (),
    rng: np.random.Generator,
    task: str = "gaussian",
    mi_levels: Sequence[float] = DEFAULT_MI_LEVELS,
    batch_sizes: Sequence[int] = (64,),
    seeds: Sequence[int] = (0, 1, 2),
    n_steps: int = 200,
    eval_every: int = 50,
    staircase: bool = False,
    diverging: Sequence[str] = (),
    suite: str = "synthetic",
) -> pd.DataFrame:
    """A long runs frame: one run per (estimator, MI level, K, seed), every step logged.

    ``capped`` estimators saturate at a smooth min(I, log K) and get ``ceiling = log K``;
    ``diverging`` ones turn NaN (``diverged`` True) from 70 % of the run in seed ``seeds[0]`` at
    the highest MI level. ``staircase`` makes one schedule task whose true MI climbs through
    2, 4, 6, 8, 10 nats in equal blocks (``mi_level`` NaN, as the schema says).
    """
    levels: Sequence[float | None] = [None] if staircase else list(mi_levels)
    steps = np.arange(n_steps)
    frames = []
    for estimator in estimators:
        for level in levels:
            for batch_size in batch_sizes:
                log_k = math.log(batch_size)
                for seed in seeds:
                    if level is None:
                        block = np.minimum(steps * len(STAIRCASE_LEVELS) // n_steps, 4)
                        true_mi = np.asarray(STAIRCASE_LEVELS)[block]
                        task_id = f"{task}-staircase"
                    else:
                        true_mi = np.full(n_steps, float(level))
                        task_id = f"{task}-d5-mi{level:g}"
                    is_capped = estimator in capped
                    if is_capped:
                        target = np.array([_smooth_min(i, log_k) for i in true_mi])
                        noise = CAPPED_NOISE_STD * np.ones(n_steps)
                    else:
                        target = true_mi * (1 - UNCAPPED_BIAS_FRACTION)
                        noise = UNCAPPED_NOISE_SCALE * np.exp(true_mi / 3)
                    rise = 1 - np.exp(-steps / (RISE_FRACTION * n_steps))
                    estimate = target * rise + noise * rng.standard_normal(n_steps)
                    ess = np.clip(
                        (0.6 * np.exp(-2 * rise) if is_capped else 0.1 + 0.3 * rise)
                        + 0.01 * rng.standard_normal(n_steps),
                        1 / (batch_size - 1),
                        1.0,
                    )
                    diverged = np.zeros(n_steps, dtype=bool)
                    if estimator in diverging and seed == seeds[0] and level == max(mi_levels):
                        diverged[int(DIVERGE_AT_FRACTION * n_steps) :] = True
                        estimate = np.where(diverged, np.nan, estimate)
                    ident = f"{suite}/{task}/{estimator}/{level}/{batch_size}/{seed}"
                    run_id = hashlib.sha256(ident.encode()).hexdigest()[:16]
                    base = {
                        schema.RUN_ID: run_id,
                        schema.SUITE: suite,
                        schema.ESTIMATOR: estimator,
                        schema.TASK: task,
                        schema.TASK_ID: task_id,
                        schema.DIM: 5,
                        schema.MI_LEVEL: np.nan if level is None else level,
                        schema.BATCH_SIZE: batch_size,
                        schema.CRITIC: "separable",
                        schema.SEED: seed,
                        schema.DTYPE: "float32",
                        schema.NEGATIVES: "offdiag",
                    }
                    train = pd.DataFrame(
                        {
                            **base,
                            schema.STEP: steps,
                            schema.READOUT: schema.READOUT_TRAIN,
                            schema.TRUE_MI: true_mi,
                            schema.ESTIMATE: estimate,
                            schema.LOSS: -estimate,
                            schema.INFONCE_VALUE: np.minimum(estimate, log_k),
                            schema.ESS: ess,
                            schema.LOG_K: log_k,
                            schema.CEILING: log_k if is_capped else np.nan,
                            schema.GRAD_NORM: np.abs(rng.standard_normal(n_steps)),
                            schema.DIVERGED: diverged,
                            schema.TIME_S: steps * 1e-3,
                        }
                    )
                    at = steps[::eval_every]
                    evals = train.iloc[at].copy()
                    evals[schema.READOUT] = schema.READOUT_EVAL
                    evals[schema.ESTIMATE] = estimate[at] + 0.5 * noise[at] * rng.standard_normal(
                        at.size
                    )
                    evals[schema.LOSS] = np.nan
                    evals[schema.LOG_K] = math.log(4 * batch_size)
                    frames += [train, evals]
    return pd.DataFrame(pd.concat(frames, ignore_index=True))[list(schema.COLUMNS)]


def synthetic_summary(
    runs: pd.DataFrame, *, eval_fraction: float = schema.EVAL_FRACTION
) -> pd.DataFrame:
    """Per-cell metrics of a runs frame over its last ``eval_fraction`` of training steps.

    bias = mean(Î) − I; var_within = mean over seeds of the window variance (ddof 1); var_across =
    variance over seeds (ddof 1) of the per-seed window means; std = sqrt of their sum; mse =
    mean (Î − I)^2 over all window rows; saturation_gap = log K − mean(Î); steps_to_90 = first
    step whose seed-mean estimate reaches 0.9 min(I, log K) for capped cells (0.9 I otherwise);
    ess_mean; diverged_fraction = share of seeds with any diverged step. Schedule tasks (NaN
    ``mi_level``) have no fixed-level window and are left out.
    """
    train = runs[(runs[schema.READOUT] == schema.READOUT_TRAIN) & runs[schema.MI_LEVEL].notna()]
    rows = []
    keys = [schema.ESTIMATOR, schema.TASK, schema.MI_LEVEL, schema.BATCH_SIZE, schema.CRITIC]
    for key, cell in train.groupby(keys, sort=True):
        start = cell[schema.STEP].max() * (1 - eval_fraction)
        window = cell[cell[schema.STEP] >= start]
        true_mi = float(cell[schema.TRUE_MI].iloc[0])
        per_seed = window.groupby(schema.SEED)[schema.ESTIMATE]
        seed_means = per_seed.mean()
        var_within = float(per_seed.var(ddof=1).mean())
        var_across = float(seed_means.var(ddof=1)) if len(seed_means) > 1 else 0.0
        mean = float(window[schema.ESTIMATE].mean())
        log_k = float(cell[schema.LOG_K].iloc[0])
        ceiling = float(cell[schema.CEILING].iloc[0])
        goal = 0.9 * (min(true_mi, ceiling) if math.isfinite(ceiling) else true_mi)
        curve = cell.groupby(schema.STEP)[schema.ESTIMATE].mean()
        reached = curve.index[curve.to_numpy() >= goal]
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                schema.BIAS: mean - true_mi,
                schema.VAR_WITHIN: var_within,
                schema.VAR_ACROSS: var_across,
                schema.STD: math.sqrt(var_within + var_across),
                schema.MSE: float(((window[schema.ESTIMATE] - true_mi) ** 2).mean()),
                schema.SATURATION_GAP: log_k - mean,
                schema.STEPS_TO_90: float(reached[0]) if len(reached) else math.nan,
                schema.ESS_MEAN: float(window[schema.ESS].mean()),
                schema.DIVERGED_FRACTION: float(
                    cell.groupby(schema.SEED)[schema.DIVERGED].any().mean()
                ),
                schema.N_SEEDS: int(cell[schema.SEED].nunique()),
            }
        )
    return pd.DataFrame(rows)


def write_synthetic_suite(
    suite_dir: str | Path, runs: pd.DataFrame, *, summary: bool = True
) -> Path:
    """Write ``runs`` as ``runs/<run_id>.parquet`` files with JSON sidecars (and
    ``summary.parquet`` from :func:`synthetic_summary`) under ``suite_dir``; returns it."""
    suite_dir = Path(suite_dir)
    runs_dir = suite_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for run_id, run in runs.groupby(schema.RUN_ID, sort=True):
        first = run.iloc[0]
        sidecar = {
            "hash": run_id,
            "synthetic": True,
            "config": {
                "estimator": first[schema.ESTIMATOR],
                "task": first[schema.TASK],
                "batch_size": int(first[schema.BATCH_SIZE]),
                "critic": first[schema.CRITIC],
                "seed": int(first[schema.SEED]),
                "dtype": first[schema.DTYPE],
                "n_steps": int(run[schema.STEP].max() + 1),
                "suite": first[schema.SUITE],
                "device": "cpu",
            },
            "versions": {"mibench": "0.1.0", "torch": "2.13.0", "numpy": np.__version__},
            "device": "cpu",
            "wall_time_s": float(run[schema.TIME_S].max()),
            "diverged_step": (
                int(run.loc[run[schema.DIVERGED], schema.STEP].min())
                if run[schema.DIVERGED].any()
                else None
            ),
        }
        (runs_dir / f"{run_id}.json").write_text(json.dumps(sidecar, indent=1))
        run.to_parquet(runs_dir / f"{run_id}.parquet", index=False)
    if summary:
        synthetic_summary(runs).to_parquet(suite_dir / "summary.parquet", index=False)
    return suite_dir
