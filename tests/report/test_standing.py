"""The rank view: each plug-in against the built-in estimators, per task and MI level."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mibench.report.standing import STABLE, standing, standing_table, table_rows

NORMAL_IQR = 1.349


def _summary(cells: list[tuple[str, float, float, float, bool]]) -> pd.DataFrame:
    """Rows (estimator, MI level, median bias, IQR, unstable) on one Gaussian task."""
    return pd.DataFrame(
        [
            {"estimator": e, "task": "gaussian", "task_id": f"gaussian-d2-mi{level:g}",
             "mi_level": level, "true_mi": level, "target": "mi", "median_bias": bias,
             "iqr": iqr, "unstable": unstable, "diverged_fraction": 0.0,
             "failed_fraction": 0.0}
            for e, level, bias, iqr, unstable in cells
        ]
    )  # fmt: skip


def test_ranks_use_the_robust_mse_among_stable_cells_only() -> None:
    summary = _summary(
        [
            ("infonce", 1.0, -0.30, 0.10, False),  # robust MSE 0.0955
            ("nwj", 1.0, -0.05, 0.20, False),  # 0.0245: the best built-in
            ("smile", 1.0, 0.00, 0.01, True),  # unstable: not ranked, whatever its numbers
            ("mine_x", 1.0, -0.10, 0.50, False),  # 0.1474: third of three
        ]
    )
    row = standing(summary).iloc[0]
    assert (row["estimator"], row["state"], int(row["rank"]), int(row["n_ranked"])) == (
        "mine_x", STABLE, 3, 3)  # fmt: skip
    assert row["best_builtin"] == "nwj"
    assert row["robust_mse"] == pytest.approx(0.01 + (0.5 / NORMAL_IQR) ** 2)
    assert (row["builtin_median_bias"], row["builtin_iqr"]) == (-0.05, 0.20)


def test_an_estimator_is_ranked_by_its_best_stable_cell_and_ties_share_a_rank() -> None:
    summary = _summary(
        [
            ("infonce", 2.0, -0.2, 0.1, False),
            ("mine_x", 2.0, -0.2, 0.1, False),  # tie with infonce
            ("mine_x", 2.0, -3.0, 0.1, False),  # its worse setting (another critic, say)
            ("mine_y", 2.0, 0.0, 0.0, True),  # unstable at its only cell
        ]
    )
    frame = standing(summary).set_index("estimator")
    assert int(frame.loc["mine_x", "rank"]) == 1 and int(frame.loc["mine_x", "n_ranked"]) == 2
    assert frame.loc["mine_y", "state"] == "unstable" and pd.isna(frame.loc["mine_y", "rank"])
    text = {row[0]: row for row in table_rows(standing(summary))}
    assert text["mine_x"][3] == "1/2" and text["mine_y"][3] == "unstable"


def test_a_failed_plugin_is_listed_with_its_state_and_no_rank() -> None:
    summary = _summary(
        [("infonce", 1.0, -0.3, 0.1, False), ("cmd", 1.0, math.nan, math.nan, False)]
    )
    summary.loc[1, "failed_fraction"] = 1.0
    row = standing(summary).iloc[0]
    assert row["state"] == "failed" and pd.isna(row["rank"])


def test_no_plugin_no_table() -> None:
    summary = _summary([("infonce", 1.0, -0.3, 0.1, False)])
    assert standing(summary).empty and standing_table(summary) is None
    table = standing_table(_summary([("mine_x", 1.0, 0.0, 0.1, False)]))
    assert table is not None and table.check() is table
    assert table.columns[:3] == ("estimator", "task", "I") and table.key_columns == 3
