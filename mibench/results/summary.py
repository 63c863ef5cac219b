r"""Per-cell summary metrics over the evaluation window (ESTIMATORS.md "Summary metrics").

A *cell* is one configuration minus its seed (estimator x task x MI level x K x critic x the other
settings); its runs are the seeds. A *segment* is a maximal range of steps at one fixed true MI:
the whole run for a fixed task, one level of a schedule task such as ``staircase``. Segments are
read off the data (consecutive training-readout rows with equal ``true_mi``), which is the truth the
trainer recorded step by step, so no task object is needed here.

Window. For a segment covering steps ``[a, b)`` the evaluation window is the last
``EVAL_FRACTION`` (0.2) of it: steps ``t >= b - ceil(0.2 (b - a))``.

For seed ``s`` with window estimates :math:`\hat I_{s,t}` (training readout, one per logged step)
and truth :math:`I_t`:

.. math::
    m_s = \operatorname{mean}_t \hat I_{s,t},\quad
    v_s = \operatorname{var}_t \hat I_{s,t}\ (\text{ddof}=1),\quad
    e_s = \operatorname{mean}_t (\hat I_{s,t} - I_t)^2

and over the :math:`n` seeds of the cell that have not diverged by the window's end:

.. math::
    \text{bias} = \operatorname{mean}_s\big(m_s - \bar I\big),\quad
    \text{var\_within} = \operatorname{mean}_s v_s,\quad
    \text{var\_across} = \operatorname{var}_s m_s\ (\text{ddof}=1),

``std`` = sqrt(var_within + var_across) (var_across counted as 0 with a single seed),
``mse`` = mean_s e_s, ``saturation_gap`` = log K - mean_s m_s, ``ess_mean`` = mean of ``ess``
over the window rows, ``diverged_fraction`` = share of seeds diverged by the window's end,
``failed_fraction`` = share of seeds that failed (a plug-in that produced no estimate:
:mod:`mibench.train.failures`; left out of every other metric) and ``failure`` the first failed
seed's reason ("" when none failed).
``steps_to_90``: per seed, the first step (counted from the segment's start) at which the
trailing moving average of the estimate over ``STEPS_TO_90_SMOOTH`` (5 %) of the segment's rows
reaches 0.9 min(I, ceiling); the cell value is the median over seeds, a seed that never reaches it
counting as +inf (NaN when the median is +inf).

Robust summaries. One exploding batch decides a mean (a single 1e61 among 10^4 readouts moves
it by 1e57), so beside the mean-based metrics every cell gets, over the window readouts pooled
across its non-diverged seeds, with errors :math:`e = \hat I - I`:

* ``median_bias`` = median e; ``iqr`` = q75(e) - q25(e) (the interquartile range: a spread that
  ignores the worst quarter on each side; for a normal it is 1.35 sigma);
* ``bias_ci_low``/``bias_ci_high``: a 95 % confidence interval of ``bias`` over seeds, the
  Student-t interval mean_s(m_s - I) +- t_{0.975, n-1} sd_s(m_s) / sqrt(n) (each seed's window mean
  is one independent observation, so the autocorrelation of a seed's readouts does not enter;
  NaN with one seed);
* ``wild_fraction``: the share of window readouts that are non-finite or farther than
  max(``WILD_NATS``, I) = max(10 nats, I) from the truth (schema.WILD_NATS);
* ``unstable``: ``wild_fraction > WILD_THRESHOLD`` (0: any wild readout). Tables, the report and
  the figures show an unstable cell as such, with its wild share and median bias, never its mean.

The held-out readout (``readout == "eval"``, a fresh batch every ``eval_every`` steps) gives the
``heldout_*`` columns with the same definitions over its rows in the window (robust ones:
``heldout_median_bias``, ``heldout_wild_fraction``). f-MICL runs add
``f_value`` (window mean), ``f_value_median``, ``true_f_mi`` and ``f_bias`` when their frames carry
those columns. ``pmi_std`` is the standard deviation of the task's pointwise MI at the segment's
last step (:mod:`mibench.tasks.pmi`; NaN where the task has no density ratio): a task-difficulty
column by which findings and figures can order tasks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from mibench.core.interface import Task
from mibench.results import schema
from mibench.tasks import pmi

FAILURE_KEY = "failure"  # the sidecar key of a failed run's reason (mibench.train.failures)
STEPS_TO_90_SMOOTH = 0.05
STEPS_TO_90_FRACTION = 0.9
# Config fields that identify a cell: everything but the seed (and device/suite, not in the maths).
_NOT_CELL_FIELDS = frozenset({"seed", "device", "suite"})


def cell_key(config: Mapping[str, Any]) -> str:
    """Canonical JSON of a config without its seed: runs with equal keys are seeds of one cell."""
    payload = {k: v for k, v in config.items() if k not in _NOT_CELL_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def fixed_task_params(task_params: str) -> str:
    """JSON (sorted keys) of a cell's ``task_params`` JSON minus the parameters that set the MI
    level (:data:`~mibench.results.schema.SWEPT_TASK_PARAMS`): one value per curve over levels."""
    params = json.loads(task_params or "{}")
    fixed = {k: v for k, v in params.items() if k not in schema.SWEPT_TASK_PARAMS}
    return json.dumps(fixed, sort_keys=True)


def with_fixed_task_params(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with the derived column :data:`~mibench.results.schema.FIXED_TASK_PARAMS`."""
    fixed = summary[schema.TASK_PARAMS].map(fixed_task_params)
    return summary.assign(**{schema.FIXED_TASK_PARAMS: fixed})


def segments(train_rows: pd.DataFrame) -> list[tuple[int, int, float]]:
    """``(start, end, true_mi)`` of each constant-truth range of one run's training rows.

    ``end`` is one past the last observed step of the range; ``train_rows`` must be one run's
    training readout sorted by step.
    """
    return _segments(train_rows[schema.STEP].to_numpy(), train_rows[schema.TRUE_MI].to_numpy())


def _segments(steps: np.ndarray, truth: np.ndarray) -> list[tuple[int, int, float]]:
    if len(steps) == 0:
        return []
    change = np.flatnonzero(truth[1:] != truth[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(steps)]])
    out = []
    for lo, hi in zip(starts, ends, strict=True):
        # The first segment starts at step 0 even when logging starts later.
        start = 0 if lo == 0 else int(steps[lo])
        out.append((start, int(steps[hi - 1]) + 1, float(truth[lo])))
    return out


def window_start(start: int, end: int, fraction: float = schema.EVAL_FRACTION) -> int:
    """First step of the evaluation window of segment ``[start, end)``."""
    return end - max(1, math.ceil(fraction * (end - start)))


# The columns the summary reads (and all :func:`read_summary_columns` loads from a run file).
NUMERIC_COLUMNS = (schema.ESTIMATE, schema.TRUE_MI, schema.ESS, schema.CEILING, schema.LOG_K,
                   schema.MI_LEVEL, schema.F_VALUE, schema.TRUE_F_MI)  # fmt: skip
SUMMARY_COLUMNS = (schema.STEP, schema.READOUT, schema.DIVERGED, schema.TASK_ID, schema.DIM,
                   *NUMERIC_COLUMNS)  # fmt: skip

Columns = Mapping[str, np.ndarray]


def frame_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The summary's columns of a per-step frame as NumPy arrays."""
    return {c: frame[c].to_numpy() for c in SUMMARY_COLUMNS if c in frame.columns}


class _Run:
    """One run's columns as NumPy arrays, split by readout and sorted by step."""

    def __init__(self, columns: Columns) -> None:
        # Plain NumPy throughout: pandas sorting/filtering of Arrow-backed frames costs ~10 ms a run.
        step = np.asarray(columns[schema.STEP])
        order = np.argsort(step, kind="stable")
        self.step = step[order]
        readout = np.asarray(columns[schema.READOUT], dtype=object)
        is_train = (readout == schema.READOUT_TRAIN)[order]
        self.diverged = np.asarray(columns[schema.DIVERGED], dtype=bool)[order]
        self.task_id = str(columns[schema.TASK_ID][0])
        self.dim = int(columns[schema.DIM][0])
        values = {
            c: np.asarray(columns[c], dtype=float)[order] for c in NUMERIC_COLUMNS if c in columns
        }
        self.train = {c: v[is_train] for c, v in values.items()}
        self.train_step = self.step[is_train]
        self.eval = {c: v[~is_train] for c, v in values.items()}
        self.eval_step = self.step[~is_train]

    def diverged_before(self, end: int) -> bool:
        return bool(self.diverged[self.step < end].any())


def _steps_to_target(steps: np.ndarray, estimate: np.ndarray, start: int, target: float) -> float:
    if len(steps) == 0:
        return math.nan
    smooth = max(1, round(STEPS_TO_90_SMOOTH * len(steps)))
    # Trailing mean over `smooth` rows (fewer at the start), from one cumulative sum.
    cumulative = np.concatenate([[0.0], np.cumsum(estimate)])
    index = np.arange(1, len(estimate) + 1)
    lower = np.maximum(index - smooth, 0)
    trailing = (cumulative[index] - cumulative[lower]) / (index - lower)
    hit = np.flatnonzero(trailing >= target)
    return math.inf if len(hit) == 0 else float(steps[hit[0]] - start)


CI_LEVEL = 0.95


def wild_mask(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """True where a readout is wild: non-finite, or farther than max(WILD_NATS, I) from I."""
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(estimate - truth)
        return ~np.isfinite(estimate) | (error > np.maximum(schema.WILD_NATS, np.abs(truth)))


def _robust_stats(per_seed: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Median bias, IQR, wild share (pooled readouts) and the bias's t-interval over seeds."""
    keys = ("median_bias", "iqr", "wild_fraction", "ci_low", "ci_high")
    if not per_seed:
        return dict.fromkeys(keys, math.nan)
    estimate = np.concatenate([est for est, _ in per_seed])
    truth = np.concatenate([tr for _, tr in per_seed])
    wild = wild_mask(estimate, truth)
    finite = np.isfinite(estimate)
    error = estimate[finite] - truth[finite]
    out = dict.fromkeys(keys, math.nan)
    out["wild_fraction"] = float(wild.mean())
    if len(error):
        q25, q50, q75 = np.quantile(error, [0.25, 0.5, 0.75])
        out.update(median_bias=float(q50), iqr=float(q75 - q25))
    seed_bias = np.array([np.mean(est - tr) for est, tr in per_seed])
    n = len(seed_bias)
    if n > 1 and np.isfinite(seed_bias).all():
        centre = float(seed_bias.mean())
        with np.errstate(over="ignore", invalid="ignore"):
            half = float(
                scipy_stats.t.ppf(0.5 + CI_LEVEL / 2, n - 1) * seed_bias.std(ddof=1) / math.sqrt(n)
            )
        out.update(ci_low=centre - half, ci_high=centre + half)
    return out


def _window_stats(per_seed: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Bias, variances, MSE and the robust statistics from (estimates, truths) window arrays,
    one pair per seed."""
    per_seed = [(est, truth) for est, truth in per_seed if len(est)]
    n = len(per_seed)
    if n == 0:
        keys = ("mean", "bias", "var_within", "var_across", "std", "mse")
        return dict.fromkeys(keys, math.nan) | _robust_stats([])
    # Exploding readouts (1e61 and beyond) overflow squares and variances to inf: the honest value.
    with np.errstate(over="ignore", invalid="ignore"):
        means = np.array([est.mean() for est, _ in per_seed])
        truths = np.array([truth.mean() for _, truth in per_seed])
        variances = [est.var(ddof=1) if len(est) > 1 else math.nan for est, _ in per_seed]
        sq_errors = [np.mean((est - truth) ** 2) for est, truth in per_seed]
        # One estimate per run (sample estimators): no within-run noise; the spread is across seeds.
        single = all(len(est) == 1 for est, _ in per_seed)
        var_within = 0.0 if single else float(np.mean(variances))
        var_across = float(np.var(means, ddof=1)) if n > 1 else math.nan
        total = var_within + (0.0 if n == 1 else var_across)
    return _robust_stats(per_seed) | {
        "mean": float(means.mean()),
        "bias": float(np.mean(means - truths)),
        "var_within": var_within,
        "var_across": var_across,
        "std": math.sqrt(total) if total >= 0 else math.nan,
        "mse": float(np.mean(sq_errors)),
    }


def _cell_rows(
    cell_runs: list[Columns], config: Mapping[str, Any], meta: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Summary rows (one per segment) of one cell whose seeds' columns are ``cell_runs``
    (failed runs, ``meta["n_failed"]`` of them, last: they count in no metric)."""
    n_failed = int(meta.get("n_failed", 0))
    runs = [_Run(columns) for columns in cell_runs]
    ref = runs[0]
    counted = runs[: len(runs) - n_failed]
    has_f = schema.F_VALUE in ref.train
    rows = []
    for index, (start, end, truth) in enumerate(
        _segments(ref.train_step, ref.train[schema.TRUE_MI])
    ):
        w0 = window_start(start, end)
        train_win, eval_win, ess, f_values, f_truths, to_90 = [], [], [], [], [], []
        n_diverged = 0
        for run in counted:
            if run.diverged_before(end):
                n_diverged += 1
                continue
            in_seg = (run.train_step >= start) & (run.train_step < end)
            in_win = (run.train_step >= w0) & (run.train_step < end)
            held = (run.eval_step >= w0) & (run.eval_step < end)
            train_win.append(
                (run.train[schema.ESTIMATE][in_win], run.train[schema.TRUE_MI][in_win])
            )
            eval_win.append((run.eval[schema.ESTIMATE][held], run.eval[schema.TRUE_MI][held]))
            # ESS is computed at every N-th train row only (the trainer's DIAGNOSTICS_EVERY;
            # NaN elsewhere): the window mean is over the rows where it was computed.
            window_ess = run.train[schema.ESS][in_win]
            ess.append(window_ess[np.isfinite(window_ess)])
            if has_f:
                f_values.append(run.train[schema.F_VALUE][in_win])
                if schema.TRUE_F_MI in run.train:
                    f_truths.append(run.train[schema.TRUE_F_MI][in_win])
            ceilings = run.train[schema.CEILING][in_seg]
            ceiling = ceilings[-1] if len(ceilings) else math.nan
            bound = truth if not np.isfinite(ceiling) else min(truth, float(ceiling))
            to_90.append(
                _steps_to_target(
                    run.train_step[in_seg],
                    run.train[schema.ESTIMATE][in_seg],
                    start,
                    STEPS_TO_90_FRACTION * bound,
                )
            )
        stats = _window_stats(train_win)
        held_stats = _window_stats(eval_win)
        ess_all = np.concatenate(ess) if ess else np.array([])
        log_k = float(ref.train[schema.LOG_K][-1])
        ceiling = float(ref.train[schema.CEILING][-1])
        median_90 = float(np.median(to_90)) if to_90 else math.nan
        # The level at the segment's first row (constant over a run except where the truth
        # scored is not the level's I, as for the sliced-MI estimator on a staircase).
        levels = ref.train[schema.MI_LEVEL][ref.train_step >= start]
        mi_level = float(levels[0]) if len(levels) else math.nan
        row: dict[str, Any] = {
            schema.CELL_ID: meta["cell_id"],
            schema.ESTIMATOR: config["estimator"],
            schema.TASK: config["task"],
            schema.TASK_ID: ref.task_id,
            schema.TARGET: meta.get("target", "mi"),
            schema.DIM: ref.dim,
            schema.MI_LEVEL: truth if not np.isfinite(mi_level) else mi_level,
            schema.SEGMENT: index,
            schema.WINDOW_START: w0,
            schema.WINDOW_END: end,
            schema.TRUE_MI: truth,
            schema.BATCH_SIZE: int(config["batch_size"]),
            schema.CRITIC: config["critic"],
            schema.CRITIC_ARCHITECTURE: meta.get("critic_architecture", ""),
            schema.N_PARAMETERS: meta.get("n_parameters", -1),
            schema.DTYPE: config["dtype"],
            schema.NEGATIVES: config["negatives"],
            schema.N_STEPS: int(config["n_steps"]),
            schema.LR: float(config["lr"]),
            schema.ESTIMATOR_PARAMS: json.dumps(config.get("estimator_params", {}), sort_keys=True),
            schema.CRITIC_PARAMS: json.dumps(config.get("critic_params", {}), sort_keys=True),
            schema.TASK_PARAMS: json.dumps(config.get("task_params", {}), sort_keys=True),
            schema.N_SEEDS: len(cell_runs),
            schema.MEAN_ESTIMATE: stats["mean"],
            schema.BIAS: stats["bias"],
            schema.VAR_WITHIN: stats["var_within"],
            schema.VAR_ACROSS: stats["var_across"],
            schema.STD: stats["std"],
            schema.MSE: stats["mse"],
            schema.LOG_K: log_k,
            schema.CEILING: ceiling,
            schema.SATURATION_GAP: log_k - stats["mean"],
            schema.STEPS_TO_90: median_90 if np.isfinite(median_90) else math.nan,
            schema.ESS_MEAN: float(ess_all.mean()) if len(ess_all) else math.nan,
            schema.DIVERGED_FRACTION: n_diverged / len(cell_runs),
            schema.FAILED_FRACTION: n_failed / len(cell_runs),
            schema.FAILURE: meta.get("failure", ""),
            schema.HELDOUT_MEAN: held_stats["mean"],
            schema.HELDOUT_BIAS: held_stats["bias"],
            schema.HELDOUT_STD: held_stats["std"],
            schema.HELDOUT_MSE: held_stats["mse"],
            schema.MEDIAN_BIAS: stats["median_bias"],
            schema.IQR: stats["iqr"],
            schema.BIAS_CI_LOW: stats["ci_low"],
            schema.BIAS_CI_HIGH: stats["ci_high"],
            schema.WILD_FRACTION: stats["wild_fraction"],
            schema.UNSTABLE: bool(stats["wild_fraction"] > schema.WILD_THRESHOLD),
            schema.HELDOUT_MEDIAN_BIAS: held_stats["median_bias"],
            schema.HELDOUT_WILD_FRACTION: held_stats["wild_fraction"],
        }
        if has_f:
            f_all = np.concatenate(f_values) if f_values else np.array([])
            with np.errstate(over="ignore", invalid="ignore"):
                f_mean = float(f_all.mean()) if len(f_all) else math.nan
            f_finite = f_all[np.isfinite(f_all)]
            f_median = float(np.median(f_finite)) if len(f_finite) else math.nan
            f_truth = np.concatenate(f_truths) if f_truths else np.array([])
            true_f = float(f_truth.mean()) if len(f_truth) else math.nan
            row.update(
                {
                    schema.F_VALUE: f_mean,
                    schema.F_VALUE_MEDIAN: f_median,
                    schema.TRUE_F_MI: true_f,
                    schema.F_BIAS: f_mean - true_f,
                }
            )
        rows.append(row)
    return rows


def summarize(
    frames: Mapping[str, pd.DataFrame | Columns],
    sidecars: Mapping[str, Mapping[str, Any]],
    *,
    targets: Mapping[str, str] | None = None,
    tasks: Mapping[str, Task] | None = None,
) -> pd.DataFrame:
    """Summary table, one row per cell and segment, from per-run frames and their sidecars.

    Args:
        frames: run id -> per-step frame (columns of :mod:`mibench.results.schema`), or just
            its ``SUMMARY_COLUMNS`` as NumPy arrays (:func:`frame_columns`).
        sidecars: run id -> sidecar record (needs ``config``; ``critic_architecture`` and
            ``n_parameters`` are copied when present).
        targets: optional run id -> ``"mi"``/``"kl"`` (what ``true_mi`` measures); a sidecar's
            own ``target`` (``"sliced"`` for the sliced-MI estimator) takes precedence.
        tasks: optional run id -> task; gives each row the ``pmi_std`` of its task at the
            segment's last step (:func:`mibench.tasks.pmi.pmi_std`; NaN without a task or a
            density ratio).
    Returns:
        DataFrame sorted by estimator, task, MI level, batch size, critic and segment.
    """
    groups: dict[str, list[str]] = {}
    for run_id in sorted(frames):
        groups.setdefault(cell_key(sidecars[run_id]["config"]), []).append(run_id)
    rows: list[dict[str, Any]] = []
    for key, run_ids in groups.items():
        failures = {r: sidecars[r].get(FAILURE_KEY) for r in run_ids}
        run_ids = sorted(run_ids, key=lambda r: failures[r] is not None)  # failed ones last
        failed = [failures[r] for r in run_ids if failures[r] is not None]
        first = sidecars[run_ids[0]]
        meta = {
            schema.CELL_ID: json_hash(key),
            # A sample estimator of another quantity (sliced MI) records it in its sidecar.
            schema.TARGET: first.get("target") or (targets or {}).get(run_ids[0], "mi"),
            schema.CRITIC_ARCHITECTURE: first.get("critic_architecture", ""),
            schema.N_PARAMETERS: first.get("n_parameters", -1),
            "n_failed": len(failed),
            "failure": str(failed[0].get("reason", "")) if failed else "",
        }
        runs = [_as_columns(frames[r]) for r in run_ids]
        cell = _cell_rows(runs, first["config"], meta)
        task = (tasks or {}).get(run_ids[0])
        for row in cell:
            end = int(row[schema.WINDOW_END]) - 1
            row[schema.PMI_STD] = math.nan if task is None else pmi.pmi_std(task, end)
        rows.extend(cell)
    if not rows:
        return pd.DataFrame(columns=[schema.ESTIMATOR, schema.TASK, schema.MI_LEVEL])
    out = pd.DataFrame(rows)
    order = [
        schema.ESTIMATOR,
        schema.TASK,
        schema.MI_LEVEL,
        schema.BATCH_SIZE,
        schema.CRITIC,
        schema.CELL_ID,
        schema.SEGMENT,
    ]
    return out.sort_values(order, kind="stable").reset_index(drop=True)


def _as_columns(frame: pd.DataFrame | Columns) -> Columns:
    return frame_columns(frame) if isinstance(frame, pd.DataFrame) else frame


def json_hash(text: str) -> str:
    """16 hex digits of the SHA-256 of ``text`` (the cell id)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
