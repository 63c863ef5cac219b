"""Shaping the results frames: column checks, setting choice, step binning, panels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mibench.results import schema
from mibench.results.selection import (
    MISSING_KEY,
    STEP_BIN,
    Varies,
    bin_steps,
    load_summary,
    main_setting,
    panel_columns,
    project,
    require_columns,
    setting_label,
)


def _runs(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """One row per (estimator, run_id, K)."""
    return pd.DataFrame(rows, columns=[schema.ESTIMATOR, schema.RUN_ID, schema.BATCH_SIZE])


def test_require_columns_names_every_missing_column() -> None:
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match=r"fig: missing columns b, c"):
        require_columns(frame, ["a", "b", "c"], what="fig")


def test_require_columns_rejects_an_empty_frame() -> None:
    with pytest.raises(ValueError, match="empty"):
        require_columns(pd.DataFrame({"a": []}), ["a"], what="fig")


def test_load_summary_absent_and_present(tmp_path: Path) -> None:
    assert load_summary(tmp_path) is None
    frame = pd.DataFrame({schema.ESTIMATOR: ["infonce"], schema.BIAS: [0.5]})
    frame.to_parquet(tmp_path / "summary.parquet")
    pd.testing.assert_frame_equal(load_summary(tmp_path), frame)


def test_main_setting_is_chosen_per_estimator_by_run_count() -> None:
    frame = _runs(
        [("a", "r1", 16), ("a", "r1", 16), ("a", "r2", 16), ("a", "r3", 64),
         ("b", "r4", 64), ("b", "r5", 64), ("b", "r6", 16)]
    )  # fmt: skip
    chosen, setting = main_setting(frame, [schema.BATCH_SIZE])
    # a: two runs at K=16 (r1 counted once although it has two rows) vs one at 64; b: 64.
    assert set(chosen.loc[chosen[schema.ESTIMATOR] == "a", schema.BATCH_SIZE]) == {16}
    assert set(chosen.loc[chosen[schema.ESTIMATOR] == "b", schema.BATCH_SIZE]) == {64}
    assert len(chosen) == 5
    assert setting == {schema.BATCH_SIZE: Varies([64, 16])}
    assert setting_label(setting) == "K = 16/64"


def test_main_setting_breaks_ties_by_sort_order_for_every_estimator() -> None:
    frame = _runs([("a", "r1", 64), ("a", "r2", 16), ("b", "r3", 16), ("b", "r4", 64)])
    chosen, setting = main_setting(frame, [schema.BATCH_SIZE])
    assert set(chosen[schema.BATCH_SIZE]) == {16}
    assert setting == {schema.BATCH_SIZE: 16}


def test_main_setting_ignores_absent_columns() -> None:
    frame = _runs([("a", "r1", 64)])
    chosen, setting = main_setting(frame, ["no_such_column"])
    assert chosen is frame and setting == {}


def test_setting_label() -> None:
    label = setting_label({schema.BATCH_SIZE: 64, schema.DIM: 5.0, schema.DTYPE: "float32"})
    assert label == "K = 64, d = 5, float32"
    assert setting_label({schema.CRITIC: Varies(["separable", "encoder"])}) == (
        "critic = encoder/separable"
    )
    assert setting_label({schema.DIM: Varies([1, 2, 3, 4])}) == "d = varies by estimator"


@pytest.mark.parametrize(("statistic", "oracle"), [("median", np.median), ("mean", np.mean)])
def test_bin_steps_matches_numpy_block_statistics(statistic: str, oracle) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(100)
    values[7] = np.nan  # ignored, as are infinities
    values[55] = np.inf
    frame = pd.DataFrame({"run": "r", schema.STEP: np.arange(100), "v": values})
    binned = bin_steps(frame, ["v"], ["run"], n_bins=10, statistic=statistic)
    blocks = values.reshape(10, 10)
    expected = [oracle(b[np.isfinite(b)]) for b in blocks]
    assert np.allclose(binned["v"], expected)
    assert np.allclose(binned[schema.STEP], np.arange(100).reshape(10, 10).mean(axis=1))
    assert list(binned[STEP_BIN]) == list(range(10))


def test_bin_steps_median_is_the_default_and_ignores_one_exploding_batch() -> None:
    values = np.full(100, 2.0)
    values[33] = -1e61  # one exploding NWJ batch: the bin mean would be -1e60
    frame = pd.DataFrame({"run": "r", schema.STEP: np.arange(100), "v": values})
    assert bin_steps(frame, ["v"], ["run"], n_bins=10)["v"].tolist() == [2.0] * 10
    assert bin_steps(frame, ["v"], ["run"], n_bins=10, statistic="mean")["v"][3] < -1e59
    with pytest.raises(ValueError, match="unknown bin statistic 'mode'; valid: median, mean"):
        bin_steps(frame, ["v"], ["run"], n_bins=10, statistic="mode")


@pytest.mark.parametrize(
    ("tasks", "task_ids", "expected"),
    [
        # Two staircases of one registry name on different bases: told apart by the base.
        (
            ["staircase", "staircase"],
            ["staircase-gaussian-d5-mi2_4_6_8_10-every200", "staircase-cubic-d5-mi2_4_6-every200"],
            ["staircase (gaussian)", "staircase (cubic)"],
        ),
        # Ids that differ only in the MI level keep the task name.
        (
            ["gaussian", "gaussian", "cubic"],
            ["gaussian-d5-mi2", "gaussian-d5-mi4", "cubic-gaussian-d5-mi2"],
            ["gaussian", "gaussian", "cubic"],
        ),
        # A dimension sweep is named by its dimension.
        (
            ["gaussian", "gaussian"],
            ["gaussian-d5-mi2", "gaussian-d20-mi2"],
            ["gaussian (d5)", "gaussian (d20)"],
        ),
    ],
)
def test_label_tasks_tells_task_instances_apart(tasks, task_ids, expected) -> None:
    from mibench.results.selection import label_tasks

    frame = pd.DataFrame({schema.TASK: tasks, schema.TASK_ID: task_ids})
    labelled = label_tasks(frame)
    assert labelled[schema.TASK].tolist() == expected
    assert label_tasks(labelled)[schema.TASK].tolist() == expected  # idempotent
    assert frame[schema.TASK].tolist() == tasks  # the input is not changed


def test_bin_steps_width_rounds_up_and_bins_are_shared_between_groups() -> None:
    # 101 steps into 10 bins: width ceil(101 / 10) = 11, so 10 bins (0..9, the last holds 2 steps).
    frame = pd.concat(
        [pd.DataFrame({"run": r, schema.STEP: np.arange(101), "v": 1.0}) for r in ("a", "b")]
    )
    binned = bin_steps(frame, ["v"], ["run"], n_bins=10)
    width = math.ceil(101 / 10)
    assert binned.groupby("run")[STEP_BIN].max().tolist() == [100 // width] * 2
    with pytest.raises(ValueError, match="n_bins"):
        bin_steps(frame, ["v"], ["run"], n_bins=0)


def test_panel_columns_adds_critic_only_when_one_estimator_has_several() -> None:
    per_estimator = pd.DataFrame(
        {schema.ESTIMATOR: ["infonce", "ntxent"], schema.CRITIC: ["separable", "encoder"]}
    )
    assert panel_columns(per_estimator) == [schema.ESTIMATOR]
    both = pd.DataFrame(
        {schema.ESTIMATOR: ["infonce", "infonce"], schema.CRITIC: ["separable", "concat"]}
    )
    assert panel_columns(both) == [schema.ESTIMATOR, schema.CRITIC]


def test_project_fills_a_key_column_that_some_runs_lack() -> None:
    # A sample estimator's frame has no `system` column: concatenated, its rows hold NaN there.
    neural = pd.DataFrame({schema.ESTIMATOR: ["infonce"] * 2, "system": ["clip", "moco"]})
    sample = pd.DataFrame({schema.ESTIMATOR: ["ksg"]})
    frame = pd.concat([neural, sample], ignore_index=True)
    projected = project(frame, [schema.ESTIMATOR], ["system"])
    assert projected["system"].tolist() == ["clip", "moco", MISSING_KEY]
    groups = projected.groupby([schema.ESTIMATOR, "system"], observed=True).size()
    assert int(groups.sum()) == len(frame)  # no run lost to a dropped NaN group
    assert panel_columns(projected) == [schema.ESTIMATOR, "system"]


def test_the_results_package_exports_load_summary() -> None:
    import mibench.results
    from mibench.results import selection

    assert mibench.results.load_summary is selection.load_summary


def _main_setting_reference(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list]:
    """The rule written as a loop: per estimator, count distinct runs per combination of
    ``columns`` (NaN is a value), keep the most counted, ties to the combination sorting first
    (numbers numerically, before text)."""

    def key(value: object) -> tuple[int, float, str]:
        if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
            return (0, float(value), "")
        return (1, 0.0, str(value))

    mask = np.zeros(len(frame), dtype=bool)
    chosen_all = []
    rows = frame.to_dict("records")
    for estimator in dict.fromkeys(frame[schema.ESTIMATOR]):
        runs: dict[tuple, set] = {}
        for row in rows:
            if row[schema.ESTIMATOR] == estimator:
                combo = tuple(
                    None if isinstance(row[c], float) and math.isnan(row[c]) else row[c]
                    for c in columns
                )
                runs.setdefault(combo, set()).add(row[schema.RUN_ID])
        chosen = min(runs, key=lambda c: (-len(runs[c]), tuple(key(v) for v in c)))
        chosen_all.append(chosen)
        for index, row in enumerate(rows):
            combo = tuple(
                None if isinstance(row[c], float) and math.isnan(row[c]) else row[c]
                for c in columns
            )
            mask[index] |= row[schema.ESTIMATOR] == estimator and combo == chosen
    return mask, chosen_all


@pytest.mark.parametrize("seed", range(5))
def test_main_setting_matches_the_loop_reference_on_random_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    frame = pd.DataFrame(
        {
            schema.ESTIMATOR: rng.choice(["infonce", "nwj", "smile"], n),
            schema.RUN_ID: rng.choice([f"r{i}" for i in range(12)], n),
            schema.BATCH_SIZE: rng.choice([8, 64, 512], n),
            # NaN is a setting of its own (a task without a dimension).
            schema.DIM: rng.choice([2.0, 5.0, math.nan], n),
            schema.DTYPE: rng.choice(["float32", "float64"], n),
        }
    )
    columns = [schema.BATCH_SIZE, schema.DIM, schema.DTYPE]
    mask, chosen = _main_setting_reference(frame, columns)
    shown, setting = main_setting(frame, columns)
    pd.testing.assert_frame_equal(shown, frame[mask])
    for index, column in enumerate(columns):
        values = {c[index] for c in chosen}
        expected = values.pop() if len(values) == 1 else Varies(values)
        assert setting[column] == expected
