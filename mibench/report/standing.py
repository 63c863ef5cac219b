r"""Where each plug-in estimator stands against the built-in ones, per task and MI level.

:func:`standing` is a pure function of the summary frame. For every estimator that is not built
in (a plug-in: :mod:`mibench.plan.plugins`) and every (task, MI level) it has cells at, it gives

* its **rank** by robust MSE, :math:`b_{\mathrm{med}}^2 + (\mathrm{IQR}/1.349)^2`
  (:func:`mibench.results.robust.robust_mse`), among the estimators whose cell there is
  *stable* (not unstable, not every seed diverged or failed): 1 is the most accurate; equal robust
  MSEs share a rank;
* its median bias and spread (the IQR of the window readouts' errors, nats), beside those of the
  **best built-in** estimator at that level.

An estimator with several cells at one level (critics, batch sizes, hyperparameters) is
represented by its best stable one, built-in and plug-in alike; a plug-in with no stable cell at a
level is listed with its state (``unstable``, ``diverged`` or ``failed``) and no rank. Tasks are
labelled as in the figures (:func:`mibench.results.selection.label_tasks`); only MI targets
are ranked. The screen's first table (:mod:`mibench.report.screen`), the report's first section
and the ``standing`` figure (:mod:`mibench.plots.standing`) show it whenever a suite holds
plug-ins.

Examples:
    >>> import pandas as pd
    >>> summary = pd.DataFrame({
    ...     "estimator": ["infonce", "nwj", "mine_x"], "task": "gaussian",
    ...     "task_id": "gaussian-d2-mi1", "mi_level": 1.0, "true_mi": 1.0, "target": "mi",
    ...     "median_bias": [-0.2, -0.1, 0.05], "iqr": [0.1, 0.4, 0.2],
    ...     "unstable": False, "diverged_fraction": 0.0})
    >>> row = standing(summary).iloc[0]
    >>> row["estimator"], int(row["rank"]), int(row["n_ranked"]), row["best_builtin"]
    ('mine_x', 1, 3, 'infonce')
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from mibench.report.tables import Table
from mibench.results import schema
from mibench.results.formatting import number
from mibench.results.robust import robust_mse, unstable_mask
from mibench.results.selection import label_tasks

STABLE = "stable"
COLUMNS = (
    "estimator", "task", "mi_level", "true_mi", "state", "rank", "n_ranked", "robust_mse",
    "median_bias", "iqr", "best_builtin", "builtin_robust_mse", "builtin_median_bias",
    "builtin_iqr",
)  # fmt: skip
TITLE = "where the plug-ins stand: rank by robust MSE among stable estimators (1 = best); nats"


def _built_in_names() -> set[str]:
    from mibench import estimators

    return set(estimators.names())


def _states(cells: pd.DataFrame) -> np.ndarray:
    """Per summary row: stable, unstable, diverged (every seed) or failed (every seed)."""
    state = np.full(len(cells), STABLE, dtype=object)
    state[unstable_mask(cells) | ~np.isfinite(robust_mse(cells))] = "unstable"
    for column, name in (
        (schema.DIVERGED_FRACTION, "diverged"),
        (schema.FAILED_FRACTION, "failed"),
    ):
        if column in cells.columns:
            state[cells[column].fillna(0.0).to_numpy(dtype=float) >= 1.0] = name
    return state


def _best_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, level, estimator): its best stable cell, else its first one."""
    order = cells.assign(_unstable=cells["_state"] != STABLE).sort_values(
        ["_unstable", "_robust"], kind="stable"
    )
    keys = [schema.TASK, schema.MI_LEVEL, schema.ESTIMATOR]
    return order.drop_duplicates(keys).sort_values(keys, kind="stable")


def _level_rows(level: pd.DataFrame, built_in: set[str]) -> list[dict[str, object]]:
    ranked = level[level["_state"] == STABLE]
    robust = ranked["_robust"].to_numpy(dtype=float)
    builtins = ranked[ranked[schema.ESTIMATOR].isin(built_in)]
    best = builtins.loc[builtins["_robust"].idxmin()] if not builtins.empty else None
    rows = []
    for _, cell in level[~level[schema.ESTIMATOR].isin(built_in)].iterrows():
        stable = cell["_state"] == STABLE
        rows.append(
            {
                "estimator": str(cell[schema.ESTIMATOR]),
                "task": str(cell[schema.TASK]),
                "mi_level": float(cell[schema.MI_LEVEL]),
                "true_mi": float(cell.get(schema.TRUE_MI, cell[schema.MI_LEVEL])),
                "state": str(cell["_state"]),
                "rank": int((robust < cell["_robust"]).sum()) + 1 if stable else None,
                "n_ranked": len(ranked),
                "robust_mse": float(cell["_robust"]),
                "median_bias": float(cell[schema.MEDIAN_BIAS]),
                "iqr": float(cell[schema.IQR]),
                "best_builtin": None if best is None else str(best[schema.ESTIMATOR]),
                "builtin_robust_mse": math.nan if best is None else float(best["_robust"]),
                "builtin_median_bias": math.nan
                if best is None
                else float(best[schema.MEDIAN_BIAS]),
                "builtin_iqr": math.nan if best is None else float(best[schema.IQR]),
            }
        )
    return rows


def standing(summary: pd.DataFrame, *, built_in: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per plug-in estimator, task and MI level (columns :data:`COLUMNS`; the module
    docstring defines them); empty when the summary holds no plug-in. ``built_in`` names the
    built-in estimators (default: the registry's)."""
    names = _built_in_names() if built_in is None else set(built_in)
    empty = pd.DataFrame(columns=list(COLUMNS))
    if summary.empty or summary[schema.ESTIMATOR].astype(str).isin(names).all():
        return empty
    cells = summary
    if schema.TARGET in cells.columns:
        cells = cells[cells[schema.TARGET] == "mi"]
    if cells.empty:
        return empty
    cells = label_tasks(cells).reset_index(drop=True)
    cells = cells.assign(_robust=robust_mse(cells), _state=_states(cells))
    cells[schema.ESTIMATOR] = cells[schema.ESTIMATOR].astype(str)
    rows: list[dict[str, object]] = []
    for _, level in _best_cells(cells).groupby([schema.TASK, schema.MI_LEVEL], sort=True):
        rows.extend(_level_rows(level, names))
    if not rows:
        return empty
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["rank"] = out["rank"].astype("Int64")
    return out.sort_values(["estimator", "task", "mi_level"], kind="stable").reset_index(drop=True)


HEADERS = ["estimator", "task", "I", "rank", "median bias", "IQR", "best built-in",
           "its median bias", "its IQR"]  # fmt: skip


def table_rows(frame: pd.DataFrame) -> list[list[str]]:
    """:func:`standing`'s rows as text under :data:`HEADERS` (console and report alike)."""
    rows = []
    for _, row in frame.iterrows():
        stable = row["state"] == STABLE
        rank = f"{row['rank']}/{row['n_ranked']}" if stable else str(row["state"])
        best = row["best_builtin"]
        rows.append(
            [
                str(row["estimator"]),
                str(row["task"]),
                f"{row['mi_level']:.3g}",
                rank,
                number(row["median_bias"], signed=True),
                number(row["iqr"]),
                "-" if best is None or best is pd.NA else str(best),
                number(row["builtin_median_bias"], signed=True),
                number(row["builtin_iqr"]),
            ]
        )
    return rows


def standing_table(summary: pd.DataFrame) -> Table | None:
    """:func:`standing` as the table the screen and the report show first (rows keyed by
    estimator, task and level), or None when the summary holds no plug-in."""
    frame = standing(summary)
    if frame.empty:
        return None
    return Table(TITLE, HEADERS, table_rows(frame), key_columns=3)
