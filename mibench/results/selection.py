"""Reading and shaping the tidy results frames for the figures (no estimation happens here).

The figures read two frames written by the runner (column names in
:mod:`mibench.results.schema`): the per-step *runs* frame, the concatenation of
``results/<suite>/runs/<cell-hash>.parquet``, and the per-cell *summary* frame,
``results/<suite>/summary.parquet``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mibench.results import schema, store

# Columns that define the "setting" of a run besides its estimator and task. A figure comparing
# estimators draws, for each estimator, its most common setting and names it in the title.
SETTING_COLUMNS: tuple[str, ...] = (schema.BATCH_SIZE, schema.DIM, schema.DTYPE, schema.NEGATIVES)
# Summary figures also fix the critic (the runs figures give critics their own panels instead).
SUMMARY_SETTING_COLUMNS: tuple[str, ...] = (
    schema.BATCH_SIZE,
    schema.CRITIC,
    schema.DIM,
    schema.DTYPE,
    schema.NEGATIVES,
)
# The batch-size figure compares K, so only the other settings are fixed.
BATCH_SWEEP_SETTING_COLUMNS: tuple[str, ...] = (
    schema.CRITIC,
    schema.DIM,
    schema.DTYPE,
    schema.NEGATIVES,
)
# Columns that get their own panels next to the estimator when one estimator has several values.
PANEL_EXTRA_COLUMNS: tuple[str, ...] = (schema.CRITIC, "system")
STEP_BIN = "step_bin"  # bin index column added by bin_steps
# Text value of a key column a run does not have: a sample estimator's frame has no ``system``
# column, so the concatenated runs frame holds NaN there, and pandas' groupby drops NaN groups by
# default. Filled in by :func:`project`, like the ``critic = "none"`` a sample run records.
MISSING_KEY = "none"
MAX_VALUES_NAMED = 3  # a setting that differs by estimator is named "a/b/c" up to this many


class Varies(tuple):
    """Setting value when estimators were drawn at different values (sorted, distinct)."""

    def __new__(cls, values: Iterable[object]) -> Varies:
        return super().__new__(cls, sorted(set(values), key=str))

    def __str__(self) -> str:
        if len(self) > MAX_VALUES_NAMED:
            return "varies by estimator"
        return "/".join(_plain(v) for v in self)


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class FigureNotApplicableError(ValueError):
    """The frame is valid but the figure has nothing to show (e.g. one batch size only);
    :func:`mibench.plots.draw_all` skips the figure with a logged note."""


def load_summary(suite_dir: str | Path) -> pd.DataFrame | None:
    """``summary.parquet`` of a suite (written by the runner), or None where there is none."""
    return store.read_summary(Path(suite_dir))


def project(frame: pd.DataFrame, required: Sequence[str], optional: Sequence[str]) -> pd.DataFrame:
    """Only the ``required`` and present ``optional`` columns (filters on a narrow frame are cheap).

    Text columns become categoricals, their missing values :data:`MISSING_KEY` (a run without
    that column), so that every grouping by them keeps every run.
    """
    keep = list(dict.fromkeys([*required, *(c for c in optional if c in frame.columns)]))
    narrow = frame[keep]
    # Text columns become categoricals: row selection on Arrow-backed strings is the slow part.
    text = [c for c in keep if not pd.api.types.is_numeric_dtype(narrow[c].dtype)]
    text = [c for c in text if not pd.api.types.is_bool_dtype(narrow[c].dtype)]
    if not text:
        return narrow
    holed = [c for c in text if narrow[c].isna().any()]
    if holed:
        narrow = narrow.assign(**{c: narrow[c].astype(object).fillna(MISSING_KEY) for c in holed})
    return narrow.astype(dict.fromkeys(text, "category"))


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str) -> None:
    """Raise ValueError naming ``what`` and every missing column, or saying the frame is empty."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"{what}: the results frame is empty (no rows)")


def _most_common(frame: pd.DataFrame, present: list[str]) -> tuple:
    grouped = frame.groupby(present, dropna=False, sort=False, observed=True)
    counts = grouped[schema.RUN_ID].nunique() if schema.RUN_ID in frame.columns else grouped.size()
    keys = [k if isinstance(k, tuple) else (k,) for k in counts.index]
    ranked = sorted(
        zip(keys, counts.to_numpy(), strict=True),
        key=lambda kv: (-kv[1], tuple(_sort_key(v) for v in kv[0])),
    )
    return tuple(None if pd.isna(v) else v for v in ranked[0][0])


def _sort_key(value: object) -> tuple[int, float, str]:
    """Numbers first and numerically (K = 8 before K = 32), then text."""
    if isinstance(value, int | float | np.integer | np.floating) and not pd.isna(value):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _matching(frame: pd.DataFrame, present: list[str], chosen: tuple) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in zip(present, chosen, strict=True):
        col = frame[column]
        mask &= col.isna().to_numpy() if value is None else (col == value).to_numpy()
    return mask


def _most_common_per_estimator(
    frame: pd.DataFrame, present: list[str]
) -> tuple[np.ndarray, list[tuple]]:
    """Rows of each estimator's most common combination of ``present`` (as :func:`_most_common`
    ranks them), and the combinations in order of the estimators' first rows: one grouping of
    the whole frame instead of a filtered copy per estimator."""
    grouped = frame.groupby([schema.ESTIMATOR, *present], dropna=False, sort=False, observed=True)
    counts = grouped[schema.RUN_ID].nunique() if schema.RUN_ID in frame.columns else grouped.size()
    group_of_row = grouped.ngroup().to_numpy()
    # ngroup numbers the groups in order of first appearance (sort=False), as counts lists them.
    best: dict[object, tuple[tuple, int, tuple]] = {}
    for index, (key, count) in enumerate(zip(counts.index, counts.to_numpy(), strict=True)):
        estimator, combination = key[0], tuple(key[1:])
        rank = (-int(count), tuple(_sort_key(v) for v in combination))
        if estimator not in best or rank < best[estimator][0]:
            best[estimator] = (rank, index, combination)
    chosen_groups = np.zeros(len(counts), dtype=bool)
    chosen_groups[[index for _, index, _ in best.values()]] = True
    order = frame[schema.ESTIMATOR].unique()
    combinations = [
        tuple(None if pd.isna(v) else v for v in best[e][2]) for e in order if e in best
    ]
    return chosen_groups[group_of_row], combinations


def main_setting(
    frame: pd.DataFrame, columns: Sequence[str] = SETTING_COLUMNS
) -> tuple[pd.DataFrame, dict[str, object]]:
    """For each estimator, its rows in its most common combination of the setting ``columns``.

    Runs are counted by ``run_id`` where the frame has it (rows otherwise); ties go to the
    combination that sorts first, so a sweep over K draws the same K for every estimator. The
    choice is made per estimator because some settings are: the runner's ``auto`` critic gives
    NT-Xent and SINCERE an encoder where the others get a separable critic. Returns the filtered
    frame and ``{column: value}`` for the columns present (a :class:`Varies` of the values where
    estimators differ).
    """
    present = [c for c in columns if c in frame.columns]
    if not present or frame.empty:
        return frame, {}
    if schema.ESTIMATOR in frame.columns:
        mask, chosen_per_estimator = _most_common_per_estimator(frame, present)
    else:
        chosen = _most_common(frame, present)
        chosen_per_estimator = [chosen]
        mask = _matching(frame, present, chosen)
    setting: dict[str, object] = {}
    for index, column in enumerate(present):
        values = {c[index] for c in chosen_per_estimator}
        setting[column] = values.pop() if len(values) == 1 else Varies(values)
    return frame[mask], setting


def setting_label(setting: dict[str, object]) -> str:
    """``"K = 64, d = 5/8, float32"``-style text for a figure title."""
    names = {schema.BATCH_SIZE: "K", schema.DIM: "d", schema.CRITIC: "critic"}
    parts = []
    for column, value in setting.items():
        if value is None:
            continue
        text = str(value) if isinstance(value, Varies) else _plain(value)
        if column in names:
            parts.append(f"{names[column]} = {text}")
        elif column == schema.NEGATIVES:
            parts.append(f"negatives: {text}")
        else:
            parts.append(text)
    return ", ".join(parts)


def panel_columns(frame: pd.DataFrame) -> list[str]:
    """``[estimator]`` plus each of :data:`PANEL_EXTRA_COLUMNS` taking several values for one
    estimator (e.g. the separable and concat critics of the Poole et al. suite)."""
    extra = [
        c
        for c in PANEL_EXTRA_COLUMNS
        if c in frame.columns
        and frame.groupby(schema.ESTIMATOR, observed=True)[c].nunique(dropna=False).max() > 1
    ]
    return [schema.ESTIMATOR, *extra]


BIN_STATISTICS = ("median", "mean")


def bin_steps(
    frame: pd.DataFrame,
    values: Sequence[str],
    by: Sequence[str],
    *,
    n_bins: int,
    statistic: str = "median",
) -> pd.DataFrame:
    """Downsample per-step rows to at most ``n_bins`` points per ``by`` group.

    Steps are cut into ``n_bins`` equal-width bins over ``[0, max step]``; each output row is the
    bin index (column :data:`STEP_BIN`, shared by every group), the mean step and the
    ``statistic`` (median or mean) of each ``values`` column within the bin (NaN/Inf ignored, so
    a diverged run's line stops where its values stop). A bin median is a rolling median with a
    window of ``(max step + 1) / n_bins`` steps: it smooths a noisy mini-batch estimate like a
    rolling mean would, but one exploding batch (1e61) in the bin cannot move it.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if statistic not in BIN_STATISTICS:
        raise ValueError(f"unknown bin statistic {statistic!r}; valid: {', '.join(BIN_STATISTICS)}")
    width = max(1, math.ceil((int(frame[schema.STEP].max()) + 1) / n_bins))
    finite = frame[[*by, schema.STEP, *values]].copy()
    for column in values:
        col = finite[column].astype(float)
        finite[column] = col.where(np.isfinite(col))
    finite[STEP_BIN] = finite[schema.STEP].to_numpy() // width
    grouped = finite.groupby([*by, STEP_BIN], sort=True, dropna=False, observed=True)
    steps = grouped[[schema.STEP]].mean()
    binned = grouped[list(values)].agg(statistic)
    return steps.join(binned).reset_index()


def truth_column(summary: pd.DataFrame) -> str:
    """The summary column holding the ground truth: ``true_mi`` if present, else ``mi_level``."""
    return schema.TRUE_MI if schema.TRUE_MI in summary.columns else schema.MI_LEVEL


# A task id token naming the MI level (``mi2``, ``mi2_4_6_8_10``): levels are the figures' x axis
# or their curves, never what tells two tasks apart.
_MI_TOKEN = re.compile(r"^mi[0-9._]+$")


def _distinguishing(task_ids: Sequence[str]) -> dict[str, str]:
    """``{task id: the tokens of it that the other ids lack}`` (MI-level tokens left out)."""
    tokens = {t: [p for p in t.split("-") if not _MI_TOKEN.match(p)] for t in task_ids}
    common = set.intersection(*(set(p) for p in tokens.values())) if tokens else set()
    return {t: "-".join(p for p in parts if p not in common) for t, parts in tokens.items()}


def label_tasks(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the ``task`` column replaced by a display label that tells task instances
    apart beyond their MI level: ``"staircase (cubic)"`` and ``"staircase (gaussian)"`` for two
    staircases of one registry name on different bases, ``"gaussian (d20)"`` beside
    ``"gaussian (d5)"``; a task whose ids differ only in the MI level keeps its name.

    The figures group by ``task`` (one figure, row or heat-map block per task), so without this
    two bases of one schedule task would be drawn as one. Idempotent; frames without
    ``task_id`` are returned unchanged.
    """
    if schema.TASK_ID not in frame.columns or schema.TASK not in frame.columns or frame.empty:
        return frame
    pairs = frame[[schema.TASK, schema.TASK_ID]].astype(str).drop_duplicates()
    if pairs[schema.TASK_ID].duplicated().any():  # one id under two task names: leave as is
        return frame
    labels: dict[str, str] = {}
    for task, ids in pairs.groupby(schema.TASK, sort=False)[schema.TASK_ID]:
        for task_id, part in _distinguishing(list(ids)).items():
            labels[task_id] = f"{task} ({part})" if part else task
    if all(labels[t] == task for task, t in pairs.itertuples(index=False)):
        return frame
    # Mapped through the task id (one id, one task): fast on categorical columns.
    shown = frame[schema.TASK_ID].astype(str).map(labels)
    return frame.assign(**{schema.TASK: shown.to_numpy()})


def diverged_runs_per_cell(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: ``estimator``, ``task``, ``runs`` (its seeds) and ``diverged`` (seeds
    diverged by its last segment's end).

    A schedule task's cell has one summary row per level, all over the same runs, so counting
    runs row by row would count each run once per level; rows of one ``cell_id`` are one cell
    (``diverged_fraction`` only grows along the segments: its maximum is the last). Summaries
    without ``cell_id`` count each row as a cell.
    """
    runs = summary[schema.N_SEEDS].astype(float)
    diverged = (summary[schema.DIVERGED_FRACTION].astype(float) * runs).round()
    frame = pd.DataFrame(
        {
            schema.ESTIMATOR: summary[schema.ESTIMATOR].astype(str).to_numpy(),
            schema.TASK: summary[schema.TASK].astype(str).to_numpy(),
            "runs": runs.to_numpy(),
            "diverged": diverged.to_numpy(),
        }
    )
    if schema.CELL_ID not in summary.columns:
        return frame
    frame[schema.CELL_ID] = summary[schema.CELL_ID].astype(str).to_numpy()
    cells = frame.groupby(schema.CELL_ID, sort=False).agg(
        {schema.ESTIMATOR: "first", schema.TASK: "first", "runs": "first", "diverged": "max"}
    )
    return cells.reset_index(drop=True)
