"""The report's one-line readings name what the frames say (checked against pandas oracles)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from mibench.plots import readings
from mibench.results import schema
from tests.plots._plot_fixtures import BATCH_SIZES


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
    at_top = final[final[schema.TRUE_MI] == top]
    medians = at_top.groupby(schema.ESTIMATOR)[schema.ESTIMATE].median()
    gap = (medians - top).abs()
    assert f"closest: {gap.idxmin()} ({medians[gap.idxmin()]:.2f})" in text
    assert f"farthest: {gap.idxmax()} ({medians[gap.idxmax()]:.2f})" in text
    assert gap.idxmax() == "infonce"  # the capped one, at I = 6 > log 16


def test_training_curves_reading_quotes_medians_never_an_exploding_batch(
    runs_frame: pd.DataFrame,
) -> None:
    exploding = runs_frame.copy()
    rows = exploding.index[
        (exploding[schema.ESTIMATOR] == "nwj")
        & (exploding[schema.READOUT] == schema.READOUT_TRAIN)
        & (exploding[schema.STEP] == exploding[schema.STEP].max())
    ]
    exploding.loc[rows, schema.ESTIMATE] = -9.8e61
    text = readings.training_curves_reading(exploding)
    assert "e+" not in text  # a mean would read -9.8e+59 or so
    low, high = map(float, re.search(r"run from (\S+) to (\S+) nats", text).groups())
    assert -1.0 < low < high < 10.0  # the medians of the healthy readouts (truth 6 nats)


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
    # Oracle: median bias² + (IQR / 1.349)², the MSE of a normal with that median and IQR.
    robust = cells[schema.MEDIAN_BIAS] ** 2 + (cells[schema.IQR] / 1.349) ** 2
    geo = np.exp(np.log(robust).groupby(cells[schema.ESTIMATOR]).mean()).sort_values()
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


def _exploded(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with nwj's top-level cell (K = 16) exploded: a 1e61 mean, flagged unstable."""
    frame = summary.copy()
    top = frame[schema.TRUE_MI] == frame[schema.TRUE_MI].max()
    cell = top & (frame[schema.ESTIMATOR] == "nwj") & (frame[schema.BATCH_SIZE] == min(BATCH_SIZES))
    frame.loc[cell, [schema.BIAS, schema.STD, schema.MSE]] = [-9.8e61, 1e62, 1e124]
    frame.loc[cell, [schema.MEDIAN_BIAS, schema.WILD_FRACTION]] = [-5.004, 0.004]
    frame.loc[cell, schema.UNSTABLE] = True
    return frame


def test_readings_quote_unstable_cells_by_median_and_wild_share(
    summary_frame: pd.DataFrame,
) -> None:
    frame = _exploded(summary_frame)
    for reading in (readings.bias_variance_reading, readings.mse_reading):
        assert "e+61" not in reading(frame) and "e+124" not in reading(frame)
        assert "e+62" not in reading(frame)
    bias_text = readings.bias_variance_reading(frame)
    assert "nwj (wild 0.4%)" in bias_text
    assert "largest for nwj (-5.00 median, unstable)" in bias_text  # infonce: -3.30
    assert "1 cell of" in readings.mse_reading(frame) and "unstable" in readings.mse_reading(frame)


def test_readings_work_on_summaries_without_the_robust_columns(
    summary_frame: pd.DataFrame,
) -> None:
    """Results folders written before the robust columns: mean-based numbers, no unstable."""
    from mibench.results.robust import ROBUST_COLUMNS

    old = summary_frame.drop(columns=[*ROBUST_COLUMNS, schema.IQR], errors="ignore")
    cells = _drawn(old)
    geo = np.exp(np.log(cells[schema.MSE]).groupby(cells[schema.ESTIMATOR]).mean()).sort_values()
    assert f"lowest for {geo.index[0]} ({geo.iloc[0]:.2g})" in readings.mse_reading(old)
    assert "unstable" not in readings.bias_variance_reading(old)


def test_divergence_reading_counts_each_staircase_run_once() -> None:
    """A staircase cell has one summary row per level over the same two runs: one diverged at
    level 4 is 1 of 2 runs, not 2 of 10."""
    rows = pd.DataFrame(
        {
            schema.CELL_ID: "c0",
            schema.ESTIMATOR: "nwj",
            schema.TASK: "staircase",
            schema.MI_LEVEL: [2.0, 4.0, 6.0, 8.0, 10.0],
            schema.N_SEEDS: 2,
            schema.DIVERGED_FRACTION: [0.0, 0.0, 0.0, 0.5, 0.5],
        }
    )
    assert readings.divergence_reading(rows).startswith("1 of 2 runs diverged, in 1 estimator")
