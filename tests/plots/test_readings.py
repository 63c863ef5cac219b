"""The report's one-line readings name what the frames say (checked against pandas oracles)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _plot_fixtures import BATCH_SIZES

from mibench.plots import readings
from mibench.results import schema


def _drawn(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary[schema.BATCH_SIZE] == min(BATCH_SIZES)]  # K = 16 wins the tie


def test_training_curves_reading_names_closest_and_farthest(runs_frame: pd.DataFrame) -> None:
    text = readings.training_curves_reading(runs_frame)
    train = runs_frame[
        (runs_frame[schema.READOUT] == schema.READOUT_TRAIN)
        & (runs_frame[schema.BATCH_SIZE] == min(BATCH_SIZES))
    ]
    last = train[schema.STEP].max()
    final = train[train[schema.STEP] >= last - readings.FINAL_FRACTION * (last + 1)]
    top = final[schema.TRUE_MI].max()
    means = final[final[schema.TRUE_MI] == top].groupby(schema.ESTIMATOR)[schema.ESTIMATE].mean()
    gap = (means - top).abs()
    assert f"closest: {gap.idxmin()} ({means[gap.idxmin()]:.2f})" in text
    assert f"farthest: {gap.idxmax()} ({means[gap.idxmax()]:.2f})" in text
    assert gap.idxmax() == "infonce"  # the capped one, at I = 6 > log 16


def test_ess_reading_splits_falling_and_rising(runs_frame: pd.DataFrame) -> None:
    text = readings.ess_reading(runs_frame)
    # The synthetic capped estimator's ESS decays; the others' rise.
    assert "falls over training for 1 estimator, most for infonce" in text
    assert "rises for 2" in text


def test_bias_variance_reading(summary_frame: pd.DataFrame) -> None:
    text = readings.bias_variance_reading(summary_frame)
    cells = _drawn(summary_frame)
    top = cells[cells[schema.TRUE_MI] == cells[schema.TRUE_MI].max()].set_index(schema.ESTIMATOR)
    worst = top[schema.BIAS].abs().idxmax()
    assert f"largest for {worst} ({top.loc[worst, schema.BIAS]:+.2f})" in text


def test_mse_reading_ranks_by_geometric_mean(summary_frame: pd.DataFrame) -> None:
    text = readings.mse_reading(summary_frame)
    cells = _drawn(summary_frame)
    geo = np.exp(np.log(cells[schema.MSE]).groupby(cells[schema.ESTIMATOR]).mean()).sort_values()
    assert f"lowest for {geo.index[0]} ({geo.iloc[0]:.2g})" in text
    assert f"highest for {geo.index[-1]} ({geo.iloc[-1]:.2g})" in text


def test_batch_size_reading(summary_frame: pd.DataFrame) -> None:
    text = readings.batch_size_reading(summary_frame)
    assert f"from K = {min(BATCH_SIZES)} to K = {max(BATCH_SIZES)}" in text


def test_divergence_reading(summary_frame: pd.DataFrame) -> None:
    total = (summary_frame[schema.DIVERGED_FRACTION] * summary_frame[schema.N_SEEDS]).sum()
    n = summary_frame[schema.N_SEEDS].sum()
    assert readings.divergence_reading(summary_frame).startswith(
        f"{int(total)} of {int(n)} runs diverged"
    )
    clean = summary_frame.assign(**{schema.DIVERGED_FRACTION: 0.0})
    assert readings.divergence_reading(clean) == f"None of the {int(n)} runs produced a NaN/Inf."


def test_ess_reading_counts_a_flat_ess_as_steady(runs_frame: pd.DataFrame) -> None:
    flat = runs_frame.copy()
    flat.loc[flat[schema.ESTIMATOR] == "flatnce", schema.ESS] = 0.3
    text = readings.ess_reading(flat)
    assert "rises for 1, most for nwj" in text
    assert f"stays within {readings.STEADY_FRACTION:.0%} for 1" in text
