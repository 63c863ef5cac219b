"""Pairing and ratios of the self-consistency tests (mibench.results.consistency), on synthetic
suites whose window means are set in advance (tests/results/_consistency_suite.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mibench.results import consistency, schema
from tests.results._consistency_suite import (
    NOISE_STD,
    N_STEPS,
    SEED_OFFSETS,
    Cell,
    consistency_summary,
    standard_cells,
)

# window means are set to within noise: NOISE_STD / sqrt(window rows x seeds) << this
MEAN_TOLERANCE = 10 * NOISE_STD / np.sqrt(0.2 * N_STEPS)


def test_ratios_of_known_means(tmp_path: Path) -> None:
    summary = consistency_summary(
        tmp_path, standard_cells(plain=1.2, data_processing=0.9, additivity=1.7)
    )
    table = consistency.ratio_table(summary)
    assert len(table) == 2 * 2 * 2  # estimators x tasks x ratio tests
    expected = table[consistency.TEST].map({"data_processing": 0.9, "additivity": 1.7})
    assert table[consistency.RATIO].to_numpy() == pytest.approx(expected.to_numpy(), abs=0.02)
    assert set(table[consistency.TARGET_RATIO]) == {1.0, 2.0}
    assert table[consistency.PLAIN_ESTIMATE].to_numpy() == pytest.approx(1.2, abs=MEAN_TOLERANCE)
    additivity = table[table[consistency.TEST] == "additivity"]
    assert additivity[schema.TRUE_MI].to_numpy() == pytest.approx(
        2 * additivity[consistency.PLAIN_TRUE_MI].to_numpy()
    )
    assert set(table[consistency.BASE]) == {"digits_label reroll=0.25", "digits_pixels pixels=2"}


def test_standard_errors_come_from_the_seeds(tmp_path: Path) -> None:
    """Two seeds whose window means differ by 0.01: SE of the mean = sd / sqrt(2) = 0.005 (plus the
    window noise); the ratio's SE follows by the delta method."""
    summary = consistency_summary(tmp_path, standard_cells(plain=1.0))
    cells = consistency.consistency_cells(summary)
    spread = abs(SEED_OFFSETS[1] - SEED_OFFSETS[0]) / np.sqrt(2) / np.sqrt(2)
    plain = cells[cells[consistency.TEST] == "none"]
    assert plain[consistency.ESTIMATE_SE].to_numpy() == pytest.approx(spread, abs=0.004)
    table = consistency.ratio_table(summary)
    expected = table[consistency.RATIO] * np.hypot(spread / table[consistency.ESTIMATE],
                                                   spread / table[consistency.PLAIN_ESTIMATE])  # fmt: skip
    assert table[consistency.RATIO_SE].to_numpy() == pytest.approx(expected.to_numpy(), rel=0.8)


def test_tests_pair_only_with_their_own_setting(tmp_path: Path) -> None:
    """A K = 128 additivity cell has no K = 128 plain partner and is left out; another base level
    (reroll 0.5) neither."""
    cells = [
        Cell("infonce", "digits_label", "none", 1.2),
        Cell("infonce", "digits_label", "additivity", 2.4, batch_size=128),
        Cell("infonce", "digits_label", "additivity", 1.0, params={"reroll": 0.5}, true_mi=1.25),
        Cell("infonce", "digits_label", "data_processing", 1.2),
    ]
    table = consistency.ratio_table(consistency_summary(tmp_path, cells))
    assert table[consistency.TEST].tolist() == ["data_processing"]


def test_independence_table(tmp_path: Path) -> None:
    summary = consistency_summary(tmp_path, standard_cells(independence=0.03))
    table = consistency.independence_table(summary)
    assert len(table) == 4
    assert table[consistency.ESTIMATE].to_numpy() == pytest.approx(0.03, abs=MEAN_TOLERANCE)


def test_unstable_cells_are_read_by_their_median() -> None:
    row = {schema.TASK: "digits_label", schema.TASK_PARAMS: json.dumps({"consistency": "none"}),
           schema.TRUE_MI: 1.0, schema.MEAN_ESTIMATE: 1e30, schema.BIAS: 1e30,
           schema.MEDIAN_BIAS: -0.1, schema.UNSTABLE: True, schema.N_SEEDS: 1}  # fmt: skip
    cells = consistency.consistency_cells(pd.DataFrame([row]))
    assert cells[consistency.ESTIMATE].tolist() == pytest.approx([0.9])


def test_tasks_without_the_parameter_are_ignored() -> None:
    row = {schema.TASK: "gaussian", schema.TASK_PARAMS: json.dumps({"mi": 1.0, "dim": 5}),
           schema.TRUE_MI: 1.0, schema.MEAN_ESTIMATE: 1.0, schema.BIAS: 0.0, schema.N_SEEDS: 1}  # fmt: skip
    frame = pd.DataFrame([row])
    assert consistency.consistency_cells(frame).empty
    assert consistency.ratio_table(frame).empty and consistency.independence_table(frame).empty
    assert consistency.consistency_cells(pd.DataFrame()).empty
