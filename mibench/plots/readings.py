"""One-sentence readings of what each figure shows for the data at hand (used by the report).

Each function takes the same frame as its figure, reduces it the same way (most common
setting, evaluation window) and states the numbers a reader would look for first. Only medians,
means and counts of recorded values are taken here; nothing is re-estimated. Numbers that one
exploding batch could decide are never quoted: the curve readings use medians over the final
steps, and an unstable summary cell (:mod:`mibench.results.robust`) is quoted by its median bias
and wild share, never by its mean, variance or MSE.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mibench.plots.palette import sort_estimators
from mibench.results import schema
from mibench.results.formatting import number, share
from mibench.results.robust import (
    robust_mse,
    shown_bias,
    shown_estimate,
    unstable_mask,
    wild_share,
)
from mibench.results.selection import (
    BATCH_SWEEP_SETTING_COLUMNS,
    SUMMARY_SETTING_COLUMNS,
    diverged_runs_per_cell,
    label_tasks,
    main_setting,
    truth_column,
)

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
    """Two decimals for ordinary values, 3 significant digits for large ones (as the tables)."""
    return number(value)


def _signed(value: float) -> str:
    return number(value, signed=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _final_window(train: pd.DataFrame) -> pd.DataFrame:
    last = train[schema.STEP].max()
    return train[train[schema.STEP] >= last - FINAL_FRACTION * (last + 1)]


def training_curves_reading(runs: pd.DataFrame) -> str:
    """Final median estimate per estimator at the highest true MI, against the truth and log K.

    The median over the last 10 % of logged training steps (all seeds pooled): one exploding batch
    cannot move it, as it would a mean.
    """
    data, _ = main_setting(runs)
    train = data[data[schema.READOUT] == schema.READOUT_TRAIN]
    final = _final_window(train)
    final = final[np.isfinite(final[schema.ESTIMATE].astype(float))]
    if final.empty:
        return "No finite estimate in the last 10 % of training."
    top = float(final[schema.TRUE_MI].max())
    at_top = final[np.isclose(final[schema.TRUE_MI].astype(float), top)]
    medians = at_top.groupby(schema.ESTIMATOR, observed=True)[schema.ESTIMATE].median()
    medians = medians.reindex(sort_estimators(medians.index.astype(str)))
    log_k = float(at_top[schema.LOG_K].median())
    near = [e for e, v in medians.items() if abs(v - top) <= NEAR_TRUTH_FRACTION * top]
    # Saturated: within AT_LOG_K_FRACTION of log K while the truth is above it.
    capped = [
        e for e, v in medians.items() if top > log_k and abs(v - log_k) <= AT_LOG_K_FRACTION * log_k
    ]
    best, worst = (medians - top).abs().idxmin(), (medians - top).abs().idxmax()
    text = (
        f"At the highest true MI ({top:.3g} nats; log K = {log_k:.2f}) the final median "
        f"estimates (last 10 % of steps) run from {_num(medians.min())} to "
        f"{_num(medians.max())} nats; closest: {best} ({_num(medians[best])}), farthest: "
        f"{worst} ({_num(medians[worst])})."
    )
    text += f" {len(near)} of {len(medians)} end within 10 % of the truth"
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


def _unstable_note(cells: pd.DataFrame) -> str:
    """``"unstable: js (wild 40%), nwj (wild 1.2%)"`` for the unstable rows of ``cells``."""
    flagged = cells[unstable_mask(cells)]
    if flagged.empty:
        return ""
    shares = dict(zip(flagged[schema.ESTIMATOR].astype(str), wild_share(flagged), strict=True))
    names = [f"{e} (wild {share(shares[e])})" for e in sort_estimators(shares)]
    return f"unstable (median shown, mean left out): {_names(names)}"


def _tagged(name: str, bias: pd.Series, unstable: pd.Series) -> str:
    """``"nwj (-1.23)"``, or ``"js (-4.00 median, unstable)"`` for an unstable cell."""
    flag = " median, unstable" if unstable[name] else ""
    return f"{name} ({_signed(bias[name])}{flag})"


def bias_variance_reading(summary: pd.DataFrame) -> str:
    """Smallest and largest |bias| and variance at the highest MI level of each task.

    An unstable cell's bias is its median bias (marked), and it takes no part in the variance
    range (its variance is the exploded one).
    """
    labelled = label_tasks(summary)
    fixed = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    truth = truth_column(data)
    sentences = []
    for task, cells in data.groupby(schema.TASK, observed=True, sort=True):
        top = cells[truth].astype(float).max()
        at_top = cells[np.isclose(cells[truth].astype(float), top)]
        at_top = at_top.drop_duplicates(schema.ESTIMATOR)  # one row per estimator
        estimators = at_top[schema.ESTIMATOR].astype(str).to_numpy()
        unstable = pd.Series(unstable_mask(at_top), index=estimators)
        bias = pd.Series(shown_bias(at_top), index=estimators).dropna()
        stable = at_top[~unstable.to_numpy()]
        variance = pd.Series(
            stable[schema.STD].to_numpy(dtype=float) ** 2,
            index=stable[schema.ESTIMATOR].astype(str).to_numpy(),
        ).dropna()
        if bias.empty:
            continue
        low, high = bias.abs().idxmin(), bias.abs().idxmax()
        sentence = (
            f"{task} at I = {top:.3g}: |bias| smallest for {_tagged(low, bias, unstable)}, "
            f"largest for {_tagged(high, bias, unstable)}"
        )
        if not variance.empty:
            sentence += (
                f"; variance from {variance.min():.2g} ({variance.idxmin()}) to "
                f"{variance.max():.2g} ({variance.idxmax()})"
            )
        note = _unstable_note(at_top)
        if note:
            sentence += f"; {note}"
        sentences.append(sentence)
    return ". ".join(sentences) + "." if sentences else "No cell has a finite bias."


def mse_reading(summary: pd.DataFrame) -> str:
    """Estimators with the lowest and highest geometric-mean robust MSE over the drawn cells.

    The robust MSE (:func:`mibench.results.robust.robust_mse`, median bias² + (IQR/1.349)²) is the
    same for every cell, stable or not, so one exploding readout cannot decide the ranking; the
    count of unstable cells per estimator is named beside it.
    """
    labelled = label_tasks(summary)
    fixed = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    robust = robust_mse(data)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(robust > 0, np.log(robust), np.nan)
    mse = data.assign(_log=logs, _unstable=unstable_mask(data))
    groups = mse.groupby(schema.ESTIMATOR, observed=True)
    geo = np.exp(groups["_log"].mean()).dropna()
    if geo.empty:
        return "No cell has a finite, positive MSE."
    n_unstable = groups["_unstable"].sum()
    ranked = geo.sort_values()
    shown = N_NAMED if len(ranked) > 2 * N_NAMED else max(1, len(ranked) // 2)

    def entry(name: str, value: float) -> str:
        count = int(n_unstable.get(name, 0))
        note = f", {count} unstable" if count else ""
        return f"{name} ({value:.2g}{note})"

    low = [entry(e, v) for e, v in ranked.items()][:shown]
    high = [entry(e, v) for e, v in ranked[::-1].items()][:shown]
    text = (
        f"Geometric-mean robust MSE (median bias² + (IQR/1.349)², nats²) over all tasks and "
        f"MI levels is lowest for {_names(low)} and highest for {_names(high)}"
    )
    total = int(n_unstable.sum())
    if total:
        text += (
            f"; {_count(total, 'cell')} of {len(data)} unstable (hatched in the heat map, "
            "their mean-based MSE not shown)"
        )
    return text + "."


def batch_size_reading(summary: pd.DataFrame) -> str:
    """How much the mean estimate at the highest MI level moves from the smallest to largest K."""
    labelled = label_tasks(summary)
    fixed = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, BATCH_SWEEP_SETTING_COLUMNS)
    truth = truth_column(data)
    top = data[truth].astype(float).max()
    cells = data[np.isclose(data[truth].astype(float), top)]
    k_min, k_max = cells[schema.BATCH_SIZE].min(), cells[schema.BATCH_SIZE].max()
    # Unstable cells: truth + median bias (the figure's X markers), never the exploded mean.
    mean = cells.assign(_mean=shown_estimate(cells, truth))
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
    labelled = label_tasks(summary)
    fixed = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    per_cell = diverged_runs_per_cell(fixed)  # each run once, however many levels it spans
    total, n = int(per_cell["diverged"].sum()), int(per_cell["runs"].sum())
    if total == 0:
        return f"None of the {n} runs produced a NaN/Inf."
    runs = fixed[schema.N_SEEDS].astype(float)
    diverged = (fixed[schema.DIVERGED_FRACTION].astype(float) * runs).round()
    worst = fixed.assign(_d=diverged.to_numpy()).sort_values("_d", ascending=False)
    by_estimator = per_cell.groupby(schema.ESTIMATOR)["diverged"].sum()
    by_estimator = by_estimator[by_estimator > 0].sort_values(ascending=False)
    first = worst.iloc[0]
    return (
        f"{total} of {n} runs diverged, in {_count(len(by_estimator), 'estimator')} "
        f"({_names([f'{e}: {int(v)}' for e, v in by_estimator.items()])}); the worst cell is "
        f"{first[schema.ESTIMATOR]} on {first[schema.TASK]} at I = {float(first[schema.MI_LEVEL]):.3g}."
    )
