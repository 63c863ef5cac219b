r"""The findings of a finished suite, read off its summary: what the report says first.

Everything here is computed from ``summary.parquet`` (nothing is re-estimated), at the setting the
summary figures draw (each estimator's most common K, critic, d, dtype and negatives, with task
instances told apart as in the figures: :func:`mibench.results.selection.label_tasks`):

* **Best estimator per MI level**: the lowest *robust MSE* among the level's stable cells,
  :math:`b_{\mathrm{med}}^2 + (\mathrm{IQR}/1.349)^2` (:func:`mibench.results.robust.robust_mse`:
  the MSE of a normal with the cell's median bias and interquartile range, the same formula for
  every cell, so one exploding readout cannot decide it). Unstable cells (some window readout
  farther than max(10, I) nats from the truth) are not eligible: an estimator that explodes in
  the window is not one to trust there, whatever its typical error. Where every cell of a level is
  unstable the level says so.
* **Saturation**: an estimator saturates at a level when the true value is above log K and its
  shown estimate (the window mean; for an unstable cell the median, truth + median bias) lies
  within ``SATURATION_FRACTION`` (5 %) of log K.
* **Instability**: the levels at which an estimator's cells are unstable, with the largest wild
  share among them.
* **Claim verdicts**: the result claims judged on this suite's own runs
  (``mibench.claims.results.judge(suite_dir)``) and the ``verify.json``
  paper claims, as PASS / FAIL / not applicable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mibench.plots.palette import sort_estimators
from mibench.results import schema, store
from mibench.results.robust import (
    has_robust_columns,
    robust_mse,
    shown_estimate,
    unstable_mask,
    wild_share,
)
from mibench.results.selection import (
    SUMMARY_SETTING_COLUMNS,
    label_tasks,
    main_setting,
    truth_column,
)

SATURATION_FRACTION = 0.05  # a shown estimate within 5 % of log K (while I > log K) is saturated
NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Ranked:
    """One estimator's cell at a level: its robust MSE and median bias (nats², nats)."""

    estimator: str
    robust_mse: float
    median_bias: float


@dataclass(frozen=True)
class LevelWinner:
    """The best and second-best stable estimators at one (task, level), and how many were stable."""

    task: str
    level: float
    unit: str  # "I" (mutual information) or "KL" (SINCERE/SupCon targets)
    best: Ranked | None
    runner_up: Ranked | None
    n_stable: int
    n_cells: int


@dataclass(frozen=True)
class Saturation:
    """An estimator at log K from ``from_level`` on (the lowest level above log K where it is)."""

    task: str
    estimator: str
    log_k: float
    from_level: float
    estimate: float  # its shown estimate at from_level


@dataclass(frozen=True)
class Instability:
    """The levels at which an estimator's cells are unstable, and the largest wild share there."""

    task: str
    estimator: str
    levels: tuple[float, ...]
    max_wild_share: float


@dataclass(frozen=True)
class Verdict:
    """One claim's verdict for the report: PASS, FAIL or not applicable, with its evidence."""

    claim_id: str
    statement: str
    verdict: str
    evidence: str
    source: str = ""


def findings_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows the findings read: fixed levels, the figures' setting, tasks labelled."""
    labelled = label_tasks(summary)
    if schema.TARGET in labelled.columns:
        # Sliced-MI cells are scored on another quantity: never ranked against MI estimators.
        labelled = labelled[labelled[schema.TARGET] != "sliced"]
    fixed = labelled[np.isfinite(labelled[schema.MI_LEVEL].astype(float))]
    data, _ = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
    # One row per (task, estimator, level): hyperparameter sets of one estimator keep the first.
    keys = [schema.TASK, schema.ESTIMATOR, schema.MI_LEVEL]
    return data.drop_duplicates(keys).reset_index(drop=True)


def _usable(cells: pd.DataFrame) -> np.ndarray:
    """Cells with a finite robust MSE whose seeds did not all diverge."""
    finite = np.isfinite(robust_mse(cells))
    if schema.DIVERGED_FRACTION in cells.columns:
        finite &= cells[schema.DIVERGED_FRACTION].to_numpy(dtype=float) < 1.0
    return finite


def best_per_level(summary: pd.DataFrame) -> list[LevelWinner]:
    """For each (task, level) the stable estimators with the lowest robust MSE (module docstring)."""
    data = findings_frame(summary)
    if data.empty:
        return []
    data = data.assign(
        _robust=robust_mse(data), _unstable=unstable_mask(data), _usable=_usable(data)
    )
    median = (
        data[schema.MEDIAN_BIAS].to_numpy(dtype=float)
        if schema.MEDIAN_BIAS in data.columns
        else data[schema.BIAS].to_numpy(dtype=float)
    )
    data = data.assign(_median=median)
    winners = []
    for (task, level), cells in data.groupby([schema.TASK, schema.MI_LEVEL], sort=True):
        usable = cells[cells["_usable"]]
        stable = usable[~usable["_unstable"]].sort_values("_robust", kind="stable")
        ranked = [
            Ranked(str(row[schema.ESTIMATOR]), float(row["_robust"]), float(row["_median"]))
            for _, row in stable.head(2).iterrows()
        ]
        unit = "KL" if cells.get(schema.TARGET, pd.Series(["mi"])).iloc[0] == "kl" else "I"
        winners.append(
            LevelWinner(
                task=str(task),
                level=float(level),
                unit=unit,
                best=ranked[0] if ranked else None,
                runner_up=ranked[1] if len(ranked) > 1 else None,
                n_stable=len(stable),
                n_cells=len(cells),
            )
        )
    return winners


def saturation(summary: pd.DataFrame) -> list[Saturation]:
    """Estimators whose shown estimate sits within 5 % of log K at a level above log K."""
    data = findings_frame(summary)
    if data.empty or schema.LOG_K not in data.columns:
        return []
    truth = truth_column(data)
    data = data.assign(_shown=shown_estimate(data, truth))
    out = []
    for (task, estimator), cells in data.groupby([schema.TASK, schema.ESTIMATOR], sort=False):
        cells = cells.sort_values(schema.MI_LEVEL)
        log_k = cells[schema.LOG_K].to_numpy(dtype=float)
        level = cells[truth].to_numpy(dtype=float)
        shown = cells["_shown"].to_numpy(dtype=float)
        at_ceiling = (level > log_k) & (np.abs(shown - log_k) <= SATURATION_FRACTION * log_k)
        if at_ceiling.any():
            first = int(np.flatnonzero(at_ceiling)[0])
            out.append(
                Saturation(
                    str(task), str(estimator), float(log_k[first]), level[first], shown[first]
                )
            )
    return _in_estimator_order(out)


def instability(summary: pd.DataFrame) -> list[Instability]:
    """Per task and estimator, the levels with unstable cells and their largest wild share."""
    data = findings_frame(summary)
    flagged = data[unstable_mask(data)]
    if flagged.empty:
        return []
    flagged = flagged.assign(_wild=wild_share(flagged))
    out = []
    for (task, estimator), cells in flagged.groupby([schema.TASK, schema.ESTIMATOR], sort=False):
        levels = tuple(sorted(float(v) for v in cells[schema.MI_LEVEL]))
        out.append(Instability(str(task), str(estimator), levels, float(cells["_wild"].max())))
    return _in_estimator_order(out)


def _in_estimator_order(items: Sequence[Any]) -> list[Any]:
    order = {name: i for i, name in enumerate(sort_estimators(i.estimator for i in items))}
    return sorted(items, key=lambda i: (i.task, order[i.estimator]))


# --------------------------------------------------------------------------- claims


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k} = {_text(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return "" if value is None else str(value)


def _field(result: Any, *names: str) -> Any:
    """The first of ``names`` present on ``result`` (an object's attribute or a mapping's key)."""
    for name in names:
        if isinstance(result, Mapping) and name in result:
            return result[name]
        if not isinstance(result, Mapping) and hasattr(result, name):
            return getattr(result, name)
    return None


def verdict_of(result: Any) -> Verdict:
    """A :class:`Verdict` from a claim result: a :class:`mibench.claims.base.ClaimResult`-like
    object or a ``verify.json`` entry. "not applicable" where the result says so (an
    ``applicable`` of False, or a ``verdict`` naming it), else PASS/FAIL from ``passed``."""
    verdict = _field(result, "verdict")
    applicable = _field(result, "applicable")
    if applicable is False or (isinstance(verdict, str) and "applicable" in verdict.lower()):
        text = NOT_APPLICABLE
    elif isinstance(verdict, str) and verdict.upper() in {"PASS", "FAIL"}:
        text = verdict.upper()
    else:
        text = "PASS" if bool(_field(result, "passed")) else "FAIL"
    summary = _field(result, "summary")
    evidence = summary if summary else _field(result, "evidence")
    return Verdict(
        claim_id=_text(_field(result, "claim_id", "id")),
        statement=_text(_field(result, "statement")),
        verdict=text,
        evidence=_text(evidence),
        source=_text(_field(result, "source")),
    )


def result_claim_verdicts(suite_dir: str | Path) -> list[Verdict] | None:
    """The result claims (:func:`mibench.claims.results.judge`) judged on this suite's stored
    runs, or None where the folder has no ``summary.parquet`` to judge them on."""
    from mibench.claims.results import judge

    if not store.has_summary(Path(suite_dir)):
        return None
    return [verdict_of(result) for result in judge(Path(suite_dir))]


def verdict_counts(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """``{"PASS": n, "FAIL": m, "not applicable": k}`` (zero counts left out)."""
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
    return {k: counts[k] for k in ("PASS", "FAIL", NOT_APPLICABLE) if k in counts}


def has_robust_summary(summary: pd.DataFrame) -> bool:
    """True when the summary carries the robust columns (so "no unstable cell" is a finding)."""
    return has_robust_columns(summary)
