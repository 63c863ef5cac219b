"""The synthetic results generator: schema-complete frames, stored the way the runner stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mibench.results import load_runs, schema
from tests.plots._plot_fixtures import BATCH_SIZES, ESTIMATORS, MI_LEVELS, N_STEPS, SEEDS, make_runs
from tests.plots.synthetic import STAIRCASE_LEVELS, write_synthetic_suite


def test_frame_has_the_schema_columns_and_one_run_per_cell_and_seed(
    runs_frame: pd.DataFrame,
) -> None:
    assert tuple(runs_frame.columns) == schema.COLUMNS
    n_runs = len(ESTIMATORS) * len(MI_LEVELS) * len(BATCH_SIZES) * len(SEEDS)
    assert runs_frame[schema.RUN_ID].nunique() == n_runs
    train = runs_frame[runs_frame[schema.READOUT] == schema.READOUT_TRAIN]
    assert (train.groupby(schema.RUN_ID)[schema.STEP].count() == N_STEPS).all()


def test_diverged_rows_have_no_estimate(runs_frame: pd.DataFrame) -> None:
    diverged = runs_frame[runs_frame[schema.DIVERGED]]
    assert len(diverged) > 0
    assert diverged[schema.ESTIMATE].isna().all()
    assert set(diverged[schema.ESTIMATOR]) == {"nwj"}


def test_staircase_climbs_through_the_levels() -> None:
    frame = make_runs(staircase=True, batch_sizes=(64,), diverging=())
    assert frame[schema.MI_LEVEL].isna().all()
    train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
    first = train[train[schema.RUN_ID] == train[schema.RUN_ID].iloc[0]].sort_values(schema.STEP)
    levels = first[schema.TRUE_MI].to_numpy()
    assert list(dict.fromkeys(levels)) == list(STAIRCASE_LEVELS)
    assert np.all(np.diff(levels) >= 0)


def test_same_generator_seed_same_frame() -> None:
    pd.testing.assert_frame_equal(make_runs(), make_runs())


def test_written_suite_reads_back_through_the_results_store(
    suite_dir: Path, runs_frame: pd.DataFrame
) -> None:
    stored = load_runs(suite_dir).sort_values([schema.RUN_ID, schema.READOUT, schema.STEP])
    original = runs_frame.sort_values([schema.RUN_ID, schema.READOUT, schema.STEP])
    pd.testing.assert_frame_equal(
        stored.reset_index(drop=True), original.reset_index(drop=True), check_dtype=False
    )
    summary = pd.read_parquet(suite_dir / "summary.parquet")
    assert len(summary) == len(ESTIMATORS) * len(MI_LEVELS) * len(BATCH_SIZES)


def test_written_suite_without_summary(tmp_path: Path) -> None:
    write_synthetic_suite(tmp_path, make_runs(estimators=("infonce",)), summary=False)
    assert not (tmp_path / "summary.parquet").exists()
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == len(MI_LEVELS) * len(
        BATCH_SIZES
    ) * len(SEEDS)
