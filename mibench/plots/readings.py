"""One-sentence readings of what each figure shows for the data at hand (used by the report).

Each function takes the same frame as its figure, reduces it the same way (most common
setting, evaluation window) and states the numbers a reader would look for first. Only means and
counts of recorded values are taken here; nothing is re-estimated.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mibench.plots.frames import (
    BATCH_SWEEP_SETTING_COLUMNS,
    SUMMARY_SETTING_COLUMNS,
    main_setting,
    truth_column,
)
from mibench.plots.palette import sort_estimators
from mibench.results import schema

FINAL_FRACTION = 0.1  # "final" = the last 10 % of logged training steps
NEAR_TRUTH_FRACTION = 0.1  # an estimate within 10 % of the truth counts as "near the truth"
AT_LOG_K_FRACTION = 0.05  # a final estimate within 5 % of log K counts as saturated
STEADY_FRACTION = 0.05  # an ESS that ends within 5 % of where it started "stays"
N_NAMED = 3  # how many estimators a reading names at most


def _names(items: list[str]) -> str:
    return ", ".join(items[:N_NAMED]) + (
        f" and {len(items) - N_NAMED} more" if len(items) > N_NAMED else ""
    )


def _num(value: float) -> str:
    """Two decimals for ordinary values, 3 significant digits for exploding ones."""
    return f"{value:.2f}" if abs(value) < 1e4 else f"{value:.3g}"


def _signed(value: float) -> str:
    return f"{value:+.2f}" if abs(value) < 1e4 else f"{value:+.3g}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _final_window(train: pd.DataFrame) -> pd.DataFrame:
    last = train[schema.STEP].max()
    return train[train[schema.STEP] >= last - FINAL_FRACTION * (last + 1)]


def training_curves_reading(runs: pd.DataFrame) -> str:
    """Final mean estimate per estimator at the highest true MI, against the truth and log K."""
    data, _ = main_setting(runs)
    train = data[data[schema.READOUT] == schema.READOUT_TRAIN]
    final = _final_window(train)
    final = final[np.isfinite(final[schema.ESTIMATE].astype(float))]
    if final.empty:
        return "No finite estimate in the last 10 % of training."
    top = float(final[schema.TRUE_MI].max())
    at_top = final[np.isclose(final[schema.TRUE_MI].astype(float), top)]
    means = at_top.groupby(schema.ESTIMATOR, observed=True)[schema.ESTIMATE].mean()
    means = means.reindex(sort_estimators(means.index.astype(str)))
    log_k = float(at_top[schema.LOG_K].median())
    near = [e for e, v in means.items() if abs(v - top) <= NEAR_TRUTH_FRACTION * top]
    # Saturated: within AT_LOG_K_FRACTION of log K while the truth is above it.
    capped = [
        e for e, v in means.items() if top > log_k and abs(v - log_k) <= AT_LOG_K_FRACTION * log_k
    ]
    best, worst = (means - top).abs().idxmin(), (means - top).abs().idxmax()
    text = (
        f"At the highest true MI ({top:.3g} nats; log K = {log_k:.2f}) the final mean estimates "
        f"(last 10 % of steps) run from {_num(means.min())} to {_num(means.max())} nats; "
        f"closest: {best} ({_num(means[best])}), farthest: {worst} ({_num(means[worst])})."
    )
    text += f" {len(near)} of {len(means)} end within 10 % of the truth"
    if capped:
        text += f"; saturated at log K (within 5 %): {_names(capped)}"
    return text + "."


def ess_reading(runs: pd.DataFrame) -> str:
    """Estimators whose mean ESS falls or rises most between the first and last 10 % of steps."""
    data, _ = main_setting(runs)
    train = data[data[schema.READOUT] == schema.READOUT_TRAIN]
    train = train[np.isfinite(train[schema.ESS].astype(float))]
    if train.empty:
        return "No finite ESS was recorded."
    last = train[schema.STEP].max()
    window = FINAL_FRACTION * (last + 1)
    start = train[train[schema.STEP] < window].groupby(schema.ESTIMATOR, observed=True)[schema.ESS]
    end = _final_window(train).groupby(schema.ESTIMATOR, observed=True)[schema.ESS]
    change = pd.DataFrame({"start": start.mean(), "end": end.mean()}).dropna()
    change["ratio"] = change["end"] / change["start"]
    falls = change[change["ratio"] < 1 - STEADY_FRACTION].sort_values("ratio")
    rises = change[change["ratio"] > 1 + STEADY_FRACTION].sort_values("ratio", ascending=False)
    steady = len(change) - len(falls) - len(rises)

    def describe(rows: pd.DataFrame) -> str:
        return _names([f"{e} ({r.start:.2f} → {r.end:.2f})" for e, r in rows.iterrows()])

    parts = []
    if not falls.empty:
        parts.append(
            f"ESS falls over training for {_count(len(falls), 'estimator')}, most for "
            f"{describe(falls)}"
        )
    if not rises.empty:
        parts.append(f"rises for {len(rises)}, most for {describe(rises)}")
    if steady:
        parts.append(f"stays within {STEADY_FRACTION:.0%} for {steady}")
    return (
        "; ".join(parts) or "ESS does not change over training"
    ) + " (means over MI levels and seeds)."


def bias_variance_reading(summary: pd.DataFrame) -> str:
    """Smallest and largest |bias| and variance at the highest MI level of each task."""
    fixed = summary[np.isfinite(summary[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    truth = truth_column(data)
    sentences = []
    for task, cells in data.groupby(schema.TASK, observed=True, sort=True):
        top = cells[truth].astype(float).max()
        at_top = cells[np.isclose(cells[truth].astype(float), top)].set_index(schema.ESTIMATOR)
        bias = at_top[schema.BIAS].astype(float).dropna()
        variance = (at_top[schema.STD].astype(float) ** 2).dropna()
        if bias.empty:
            continue
        low, high = bias.abs().idxmin(), bias.abs().idxmax()
        sentence = (
            f"{task} at I = {top:.3g}: |bias| smallest for {low} ({_signed(bias[low])}), "
            f"largest for {high} ({_signed(bias[high])})"
        )
        if not variance.empty:
            sentence += (
                f"; variance from {variance.min():.2g} ({variance.idxmin()}) to "
                f"{variance.max():.2g} ({variance.idxmax()})"
            )
        sentences.append(sentence)
    return ". ".join(sentences) + "." if sentences else "No cell has a finite bias."


def mse_reading(summary: pd.DataFrame) -> str:
    """Estimators with the lowest and highest geometric-mean MSE over the drawn cells."""
    fixed = summary[np.isfinite(summary[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    mse = data.assign(_log=np.log(data[schema.MSE].astype(float).where(data[schema.MSE] > 0)))
    geo = np.exp(mse.groupby(schema.ESTIMATOR, observed=True)["_log"].mean()).dropna()
    if geo.empty:
        return "No cell has a finite, positive MSE."
    ranked = geo.sort_values()
    shown = N_NAMED if len(ranked) > 2 * N_NAMED else max(1, len(ranked) // 2)
    low = [f"{e} ({v:.2g})" for e, v in ranked.items()][:shown]
    high = [f"{e} ({v:.2g})" for e, v in ranked[::-1].items()][:shown]
    return (
        f"Geometric-mean MSE over all tasks and MI levels is lowest for {_names(low)} and "
        f"highest for {_names(high)} (nats²)."
    )


def batch_size_reading(summary: pd.DataFrame) -> str:
    """How much the mean estimate at the highest MI level moves from the smallest to largest K."""
    fixed = summary[np.isfinite(summary[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, BATCH_SWEEP_SETTING_COLUMNS)
    truth = truth_column(data)
    top = data[truth].astype(float).max()
    cells = data[np.isclose(data[truth].astype(float), top)]
    k_min, k_max = cells[schema.BATCH_SIZE].min(), cells[schema.BATCH_SIZE].max()
    mean = cells.assign(
        _mean=cells[schema.MEAN_ESTIMATE].astype(float)
        if schema.MEAN_ESTIMATE in cells.columns
        else cells[truth].astype(float) + cells[schema.BIAS].astype(float)
    )
    table = mean.pivot_table(
        index=schema.ESTIMATOR, columns=schema.BATCH_SIZE, values="_mean", observed=True
    )
    if k_min not in table.columns or k_max not in table.columns:
        return "The smallest and largest batch sizes share no estimator."
    rise = (table[k_max] - table[k_min]).dropna().sort_values(ascending=False)
    if rise.empty:
        return "No estimator ran at both the smallest and the largest batch size."
    names = [f"{e} ({_num(table.loc[e, k_min])} → {_num(table.loc[e, k_max])})" for e in rise.index]
    return (
        f"At I = {top:.3g} nats, from K = {int(k_min)} to K = {int(k_max)} (log K {math.log(k_min):.2f} "
        f"→ {math.log(k_max):.2f}) the mean estimate rises most for {_names(names)}."
    )


def divergence_reading(summary: pd.DataFrame) -> str:
    """How many runs diverged, and the estimator and MI level with the most."""
    fixed = summary[np.isfinite(summary[schema.MI_LEVEL].astype(float))]
    runs = fixed[schema.N_SEEDS].astype(float)
    diverged = (fixed[schema.DIVERGED_FRACTION].astype(float) * runs).round()
    total, n = int(diverged.sum()), int(runs.sum())
    if total == 0:
        return f"None of the {n} runs produced a NaN/Inf."
    worst = fixed.assign(_d=diverged.to_numpy()).sort_values("_d", ascending=False)
    by_estimator = worst.groupby(schema.ESTIMATOR, observed=True)["_d"].sum()
    by_estimator = by_estimator[by_estimator > 0].sort_values(ascending=False)
    first = worst.iloc[0]
    return (
        f"{total} of {n} runs diverged, in {_count(len(by_estimator), 'estimator')} "
        f"({_names([f'{e}: {int(v)}' for e, v in by_estimator.items()])}); the worst cell is "
        f"{first[schema.ESTIMATOR]} on {first[schema.TASK]} at I = {float(first[schema.MI_LEVEL]):.3g}."
    )
