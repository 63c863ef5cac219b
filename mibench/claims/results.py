r"""The literature's qualitative findings, judged on a finished suite's own stored runs.

``mibench verify --results DIR`` (and the report of a finished suite) runs these: unlike the paper
claims of the other modules, which compute their own evidence, each of these reads the runs and the
``summary.parquet`` that ``mibench run`` wrote to ``DIR`` and says whether the finding holds *there*.
A claim whose data the suite lacks (no InfoNCE run, one batch size, fewer than three MI levels)
is "not applicable" (``N/A``), never FAIL.

Variance, where a claim compares or regresses it, is the plain variance of a cell's window
readouts (``var_within``: per seed over the window's steps, averaged over seeds), not a robust
spread: for these claims the heavy tail is the finding (Song & Ermon: NWJ's variance is driven by
rare, huge e^{S} terms), and an IQR would hide exactly what is claimed. A variance that overflows
float64 counts as the largest finite one.

References:
    Poole et al., On Variational Bounds of Mutual Information, ICML 2019 (Fig. 2).
    Song & Ermon, Understanding the Limitations of Variational Mutual Information Estimators,
    ICLR 2020 (Theorem 2 and Fig. 1: the variance of NWJ-type estimators grows exponentially with
    the true MI; SMILE's clipping bounds it).
    van den Oord et al. 2018 (CPC) / Chen et al. 2021 (FlatNCE) Eq. (1): InfoNCE <= log K.
    Chen et al. 2021 (FlatNCE), Appendix C: the FlatNCE critic read with InfoNCE.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from mibench.claims.base import ClaimResult, fmt
from mibench.core.interface import UnknownNameError
from mibench.results import schema, store
from mibench.results.summary import SUMMARY_COLUMNS, summarize, with_fixed_task_params

ROUNDING = 1e-9  # float64 rounding allowance of a readout against its ceiling (relative to log K)
NWJ_TYPE = ("nwj", "tuba", "js")  # estimators reporting an NWJ value (Song & Ermon 2020, Thm. 2)
FLATNCE_FAMILY = ("flatnce", "holder_flatnce", "infonce_drop")
SATURATION_MARGIN_NATS = 2.0  # levels with I >= log K + this count as "far above log K"
SATURATION_TOLERANCE = 0.15  # InfoNCE within 15 % of log K below it counts as saturated
CI_LEVEL = 0.95


@dataclass
class SuiteResults:
    """A finished suite folder, read lazily: its summary, sidecars and (per estimator) readouts."""

    suite_dir: Path
    _readouts: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """``summary.parquet``; recomputed from the run files when it predates the robust columns
        (a folder written by an older mibench), without rewriting it."""
        summary = store.read_summary(self.suite_dir)
        if summary is None:
            raise FileNotFoundError(f"no {store.SUMMARY_FILE} in {self.suite_dir}")
        if schema.WILD_FRACTION in summary.columns:
            return summary
        ids = list(self.run_estimators)
        frames = {r: store.read_columns(self.suite_dir, r, SUMMARY_COLUMNS) for r in ids}
        sidecars = {r: store.read_sidecar(self.suite_dir, r) for r in ids}
        targets = {r: sidecars[r].get("target", "mi") for r in ids}
        return summarize(frames, sidecars, targets=targets)

    @cached_property
    def run_estimators(self) -> dict[str, str]:
        """run id -> estimator of the latest invocation's runs (manifest, else every run)."""
        ids = store.latest_run_ids(self.suite_dir)
        return {
            run_id: store.read_sidecar(self.suite_dir, run_id)["config"]["estimator"]
            for run_id in ids
            if store.is_finished(self.suite_dir, run_id)
        }

    def readouts(self, estimators: Sequence[str]) -> pd.DataFrame:
        """Every stored readout (train and held-out rows) of the runs of ``estimators``."""
        key = tuple(sorted(estimators))
        if key not in self._readouts:
            columns = (schema.ESTIMATOR, schema.TASK_ID, schema.STEP, schema.READOUT,
                       schema.ESTIMATE, schema.TRUE_MI, schema.LOG_K, schema.CEILING,
                       schema.DIVERGED)  # fmt: skip
            frames = [
                pd.DataFrame(store.read_columns(self.suite_dir, run_id, columns))
                for run_id, estimator in self.run_estimators.items()
                if estimator in key
            ]
            self._readouts[key] = (
                pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
            )
        return self._readouts[key]

    def cells(self, estimators: Sequence[str]) -> pd.DataFrame:
        """Summary rows of ``estimators`` (pair-layout MI targets only)."""
        summary = self.summary
        rows = summary[summary[schema.ESTIMATOR].isin(list(estimators))]
        if schema.TARGET in rows.columns:
            rows = rows[rows[schema.TARGET] == "mi"]
        return rows


@dataclass(frozen=True)
class ResultClaim:
    """A finding of the literature, checked on a suite's stored results."""

    id: str
    statement: str
    source: str
    check: Callable[[SuiteResults], ClaimResult]


_RESULT_CLAIMS: list[ResultClaim] = []


def result_claim(
    *, id: str, statement: str, source: str
) -> Callable[[Callable[[SuiteResults], ClaimResult]], Callable[[SuiteResults], ClaimResult]]:
    def wrap(check: Callable[[SuiteResults], ClaimResult]) -> Callable[[SuiteResults], ClaimResult]:
        if any(c.id == id for c in _RESULT_CLAIMS):
            raise ValueError(f"result claim {id!r} is already registered")
        _RESULT_CLAIMS.append(ResultClaim(id=id, statement=statement, source=source, check=check))
        return check

    return wrap


def result_claims() -> list[ResultClaim]:
    """The registered result claims, in registration order."""
    return list(_RESULT_CLAIMS)


def not_applicable(reason: str) -> ClaimResult:
    """The verdict of a claim whose data the suite lacks (counts as not failed)."""
    return ClaimResult(
        passed=True,
        applicable=False,
        evidence={"reason": reason},
        summary=f"not applicable: {reason}",
        tolerance="-",
        why="a finding cannot be judged on data the suite does not have",
    )


def _variance(cells: pd.DataFrame) -> np.ndarray:
    """``var_within`` of each cell, an overflow (inf) counted as the largest finite float."""
    variance = cells[schema.VAR_WITHIN].to_numpy(dtype=float)
    return np.where(np.isposinf(variance), np.finfo(float).max, variance)


def _slope_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """OLS slope of y on x with its CI_LEVEL Student-t interval (n - 2 degrees of freedom)."""
    fit = scipy_stats.linregress(x, y)
    half = scipy_stats.t.ppf(0.5 + CI_LEVEL / 2, len(x) - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half), float(fit.slope + half)


def _in_every_group(
    groups: Iterable[tuple[Any, pd.DataFrame]],
    case: Callable[[Any, pd.DataFrame], tuple[str, bool] | None],
    *,
    keys: tuple[str, str],
    none: str,
    tolerance: str,
    why: str,
) -> ClaimResult:
    """A claim that must hold in every group: ``case(key, rows)`` is (what was compared, whether
    it holds), or None for a group where it cannot be checked. PASS when it holds everywhere;
    not applicable (``none`` says why) when no group could be checked. The evidence lists every
    case under ``keys[0]`` and the failing ones under ``keys[1]``."""
    cases = [found for key, rows in groups if (found := case(key, rows)) is not None]
    if not cases:
        return not_applicable(none)
    failing = [text for text, holds in cases if not holds]
    return ClaimResult(
        passed=not failing,
        evidence={keys[0]: [text for text, _ in cases], keys[1]: failing},
        summary="; ".join(text for text, _ in cases),
        tolerance=tolerance,
        why=why,
    )


def _setting_groups(cells: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Rows of one estimator on one task (all but its MI level), critic, K and lr: one curve over
    MI levels (a fixed-MI task's levels are separate task instances; a staircase's are segments)."""
    cells = with_fixed_task_params(cells)
    by = [c for c in (schema.ESTIMATOR, schema.TASK, schema.FIXED_TASK_PARAMS, schema.DIM, schema.CRITIC,
                      schema.BATCH_SIZE, schema.LR, schema.ESTIMATOR_PARAMS)
          if c in cells.columns]  # fmt: skip
    out = []
    for _, rows in cells.groupby(by, sort=True, observed=True):
        first = rows.iloc[0]
        label = f"{first[schema.ESTIMATOR]} on {_curve_name(first)}"
        out.append((label, rows.sort_values(schema.MI_LEVEL)))
    return out


def _curve_name(row: pd.Series) -> str:
    """The task of a curve without its MI level: the staircase's id, else task name + its rest."""
    rest = json.loads(row[schema.FIXED_TASK_PARAMS])
    base = rest.get("base")
    name = str(row[schema.TASK]) + (f" ({base})" if base and base != "gaussian" else "")
    return name


# --------------------------------------------------------------------------------------------
@result_claim(
    id="results-infonce-le-log-k",
    statement="Every stored InfoNCE readout (training batch and held-out) is <= log K of its "
    "score matrix.",
    source="van den Oord et al. 2018; FlatNCE (Chen et al. 2021) Eq. (1)",
)
def infonce_below_log_k(results: SuiteResults) -> ClaimResult:
    rows = results.readouts(["infonce"])
    if rows.empty:
        return not_applicable("the suite has no infonce run")
    estimate = rows[schema.ESTIMATE].to_numpy(dtype=float)
    log_k = rows[schema.LOG_K].to_numpy(dtype=float)  # of this readout's score matrix
    finite = np.isfinite(estimate)
    excess = estimate[finite] - log_k[finite]
    above = excess > ROUNDING * np.maximum(1.0, log_k[finite])
    worst = float(excess.max()) if excess.size else math.nan
    return ClaimResult(
        passed=not above.any(),
        evidence={
            "readouts": int(finite.sum()),
            "above_log_k": int(above.sum()),
            "max_estimate_minus_log_k": worst,
            "non_finite": int((~finite).sum()),
        },
        summary=f"{int(above.sum())} of {int(finite.sum())} readouts above log K; "
        f"max(estimate - log K) = {fmt(worst)} nats",
        tolerance=f"{ROUNDING:g} x max(1, log K)",
        why="readouts are evaluated in float64; the bound holds for every score matrix",
    )


@result_claim(
    id="results-nwj-variance-grows-with-mi",
    statement="The variance of the NWJ-type estimators (nwj, tuba, js) grows with the true MI: the "
    "slope of log variance against I is positive (95 % interval above 0) on every task.",
    source="Song & Ermon 2020, Theorem 2 and Fig. 1; Poole et al. 2019 Fig. 2",
)
def nwj_variance_grows(results: SuiteResults) -> ClaimResult:
    groups = [
        (label, rows)
        for label, rows in _setting_groups(results.cells(NWJ_TYPE))
        if rows[schema.MI_LEVEL].nunique() >= 3
    ]
    if not groups:
        return not_applicable("no NWJ-type estimator at three or more MI levels")
    slopes, failing = [], []
    for label, rows in groups:
        variance = _variance(rows)
        level = rows[schema.MI_LEVEL].to_numpy(dtype=float)
        keep = np.isfinite(variance) & (variance > 0)
        if keep.sum() < 3:
            failing.append(f"{label}: fewer than 3 levels with a positive variance")
            continue
        slope, low, high = _slope_interval(level[keep], np.log(variance[keep]))
        slopes.append(f"{label}: {slope:.2f} [{low:.2f}, {high:.2f}]")
        if not low > 0:
            failing.append(slopes[-1])
    return ClaimResult(
        passed=not failing,
        evidence={"slopes_per_nat": slopes, "not_growing": failing},
        summary=f"d log(variance)/dI per nat (95 % interval): {'; '.join(slopes)}",
        tolerance="the interval's lower end > 0",
        why="OLS over the MI levels with a Student-t interval; variance = var_within of the "
        "window readouts (their heavy tail is the claimed effect)",
    )


@result_claim(
    id="results-smile-lower-variance-than-nwj",
    statement="At the highest MI level of each task, SMILE (clip 5) has a lower variance than NWJ.",
    source="Song & Ermon 2020, §4 and Fig. 2 (SMILE's clipping bounds the variance)",
)
def smile_lower_variance(results: SuiteResults) -> ClaimResult:
    cells = results.cells(["smile", "nwj"])
    if schema.ESTIMATOR_PARAMS in cells.columns:  # SMILE at its default clip = 5 only
        is_smile = cells[schema.ESTIMATOR] == "smile"
        clip = cells[schema.ESTIMATOR_PARAMS].map(lambda p: json.loads(p or "{}").get("clip", 5.0))
        cells = cells[~is_smile | np.isclose(clip.astype(float), 5.0)]
    cells = with_fixed_task_params(cells)
    by = [c for c in (schema.TASK, schema.FIXED_TASK_PARAMS, schema.DIM, schema.CRITIC, schema.BATCH_SIZE)
          if c in cells.columns]  # fmt: skip

    def case(_: Any, rows: pd.DataFrame) -> tuple[str, bool] | None:
        top = rows[rows[schema.MI_LEVEL] == rows[schema.MI_LEVEL].max()]
        variance = dict(zip(top[schema.ESTIMATOR], _variance(top), strict=True))
        if not {"smile", "nwj"} <= set(variance):
            return None
        level = float(top[schema.MI_LEVEL].iloc[0])
        name = _curve_name(top.iloc[0])
        text = f"{name} I={level:g}: smile {fmt(variance['smile'])} vs nwj {fmt(variance['nwj'])}"
        return text, variance["smile"] < variance["nwj"]

    return _in_every_group(
        cells.groupby(by, sort=True, observed=True),
        case,
        keys=("variances", "not_lower"),
        none="no task where both smile (clip 5) and nwj ran",
        tolerance="strict inequality",
        why="variance = var_within of the window readouts (per seed, averaged over seeds)",
    )


@result_claim(
    id="results-infonce-gap-shrinks-with-k",
    statement="Where the suite sweeps K, InfoNCE's saturation gap (I - estimate) at a level above "
    "log K shrinks as K grows.",
    source="Poole et al. 2019 §2.3 (InfoNCE <= log K); FlatNCE (Chen et al. 2021) §2, Fig. 2",
)
def infonce_gap_shrinks(results: SuiteResults) -> ClaimResult:
    cells = results.cells(["infonce"])
    if cells.empty or cells[schema.BATCH_SIZE].nunique() < 2:
        return not_applicable("the suite does not sweep K for infonce")
    by = [c for c in (schema.TASK_ID, schema.CRITIC, schema.MI_LEVEL) if c in cells.columns]

    def case(key: tuple[Any, ...], rows: pd.DataFrame) -> tuple[str, bool] | None:
        rows = rows.sort_values(schema.BATCH_SIZE)
        level = float(rows[schema.MI_LEVEL].iloc[0])
        if len(rows) < 2 or level <= math.log(int(rows[schema.BATCH_SIZE].iloc[0])):
            return None
        gap = level - rows[schema.MEAN_ESTIMATE].to_numpy(dtype=float)
        k_values = rows[schema.BATCH_SIZE].astype(int).tolist()
        text = f"{key[0]} I={level:g}: gap " + ", ".join(
            f"{g:.2f} (K={k})" for g, k in zip(gap, k_values, strict=True)
        )
        return text, bool((np.diff(gap) < 0).all())

    return _in_every_group(
        cells.groupby(by, sort=True, observed=True),
        case,
        keys=("gaps", "not_shrinking"),
        none="no infonce level above log K at two or more K",
        tolerance="strictly decreasing from each K to the next larger one",
        why="the ceiling log K rises with K, so a saturated estimate must follow it",
    )


@result_claim(
    id="results-flatnce-readouts-in-range",
    statement="The FlatNCE-family readouts (the InfoNCE value of their critics) stay within "
    "[0, log K] over every evaluation window.",
    source="FlatNCE (Chen et al. 2021) Eq. (1) and Appendix C (Fig. 1)",
)
def flatnce_readouts_in_range(results: SuiteResults) -> ClaimResult:
    rows = results.readouts(FLATNCE_FAMILY)
    if rows.empty:
        return not_applicable("the suite has no flatnce, holder_flatnce or infonce_drop run")
    rows = _in_windows(rows, results.summary)
    estimate = rows[schema.ESTIMATE].to_numpy(dtype=float)
    ceiling = rows[schema.CEILING].to_numpy(dtype=float)
    tolerance = ROUNDING * np.maximum(1.0, ceiling)
    outside = ~np.isfinite(estimate) | (estimate < -tolerance) | (estimate > ceiling + tolerance)
    low = float(np.nanmin(estimate)) if len(estimate) else math.nan
    high = float(np.nanmax(estimate - ceiling)) if len(estimate) else math.nan
    return ClaimResult(
        passed=bool(len(estimate)) and not outside.any(),
        evidence={
            "window_readouts": len(estimate),
            "outside": int(outside.sum()),
            "min_estimate": low,
            "max_estimate_minus_log_k": high,
        },
        summary=f"{int(outside.sum())} of {len(estimate)} window readouts outside [0, log K]; "
        f"min {fmt(low)}, max - log K {fmt(high)} nats",
        tolerance=f"{ROUNDING:g} x max(1, log K)",
        why="the InfoNCE value is <= log K for any critic; a trained critic scores positives "
        "above negatives, so it is >= 0 once training has settled (the windows)",
    )


@result_claim(
    id="results-infonce-saturates-near-log-k",
    statement="Far above its ceiling (I >= log K + 2 nats) InfoNCE's window mean sits just under "
    "log K: within 15 % of it.",
    source="Poole et al. 2019 Fig. 2 (InfoNCE flat under log K); FlatNCE §2 (the log-K curse)",
)
def infonce_saturates(results: SuiteResults) -> ClaimResult:
    cells = results.cells(["infonce"])
    cells = cells[cells[schema.MI_LEVEL] >= cells[schema.LOG_K] + SATURATION_MARGIN_NATS]
    if cells.empty:
        return not_applicable(f"no infonce cell with I >= log K + {SATURATION_MARGIN_NATS:g}")
    ratio = cells[schema.MEAN_ESTIMATE].to_numpy(dtype=float) / cells[schema.LOG_K].to_numpy(
        dtype=float
    )
    ok = (ratio >= 1 - SATURATION_TOLERANCE) & (ratio <= 1 + ROUNDING)
    labels = [
        f"{t} I={lv:g}: {r:.1%} of log K"
        for t, lv, r in zip(cells[schema.TASK_ID], cells[schema.MI_LEVEL], ratio, strict=True)
    ]
    return ClaimResult(
        passed=bool(ok.all()),
        evidence={"cells": labels, "lowest_fraction_of_log_k": float(ratio.min())},
        summary=f"{int(ok.sum())} of {len(ok)} cells within 15 % under log K; lowest "
        f"{ratio.min():.1%}",
        tolerance=f"mean estimate in [{1 - SATURATION_TOLERANCE:.0%}, 100 %] of log K",
        why="the bound caps the estimate at log K; a critic good enough to separate the pairs "
        "reaches its plateau, while the truth is >= 2 nats higher",
    )


@result_claim(
    id="results-smile-exceeds-log-k",
    statement="SMILE is not capped at log K: where I >= log K + 2 nats its median estimate lies "
    "above log K (it tracks the staircase where InfoNCE flattens).",
    source="Song & Ermon 2020 Fig. 1; Poole et al. 2019 Fig. 2",
)
def smile_exceeds_log_k(results: SuiteResults) -> ClaimResult:
    cells = results.cells(["smile"])
    cells = cells[cells[schema.MI_LEVEL] >= cells[schema.LOG_K] + SATURATION_MARGIN_NATS]
    if cells.empty:
        return not_applicable(f"no smile cell with I >= log K + {SATURATION_MARGIN_NATS:g}")
    median = cells[schema.MEDIAN_BIAS].to_numpy(dtype=float) + cells[schema.TRUE_MI].to_numpy(
        dtype=float
    )
    log_k = cells[schema.LOG_K].to_numpy(dtype=float)
    above = median > log_k
    labels = [
        f"{t} I={lv:g}: median {m:.2f} vs log K {k:.2f}"
        for t, lv, m, k in zip(
            cells[schema.TASK_ID], cells[schema.MI_LEVEL], median, log_k, strict=True
        )
    ]
    return ClaimResult(
        passed=bool(above.all()),
        evidence={"cells": labels},
        summary=f"{int(above.sum())} of {len(above)} cells above log K: " + "; ".join(labels),
        tolerance="median estimate > log K",
        why="the median of the window readouts, robust to SMILE's occasional spikes",
    )


def _in_windows(rows: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Training readouts inside their cell's evaluation windows (from the summary rows)."""
    train = rows[rows[schema.READOUT] == schema.READOUT_TRAIN]
    windows = summary[[schema.TASK_ID, schema.WINDOW_START, schema.WINDOW_END]].drop_duplicates()
    keep = np.zeros(len(train), dtype=bool)
    steps = train[schema.STEP].to_numpy()
    task_ids = train[schema.TASK_ID].to_numpy()
    for task_id, start, end in windows.itertuples(index=False):
        keep |= (task_ids == task_id) & (steps >= start) & (steps < end)
    return train[keep]


def judge(suite_dir: str | Path, ids: Sequence[str] | None = None) -> list[ClaimResult]:
    """Run the result claims (all, or ``ids``) on the suite folder ``suite_dir`` (with the
    plug-in claims of :mod:`mibench.claims.plugin_claims`).

    Raises:
        FileNotFoundError: ``suite_dir`` has no ``summary.parquet`` (not a finished suite).
        UnknownNameError: an unknown claim id (the message lists the valid ones).
    """
    from mibench.claims import plugin_claims  # noqa: F401  (registers the plug-in claims)

    results = SuiteResults(Path(suite_dir))
    _ = results.summary  # fail early, before any claim, on a folder that is not a suite
    chosen = result_claims()
    if ids:
        valid = [c.id for c in chosen]
        unknown = [i for i in ids if i not in valid]
        if unknown:
            raise UnknownNameError("result claim", unknown[0], valid)
        chosen = [c for c in chosen if c.id in ids]
    verdicts = []
    for claim in chosen:
        start = time.perf_counter()
        verdict = claim.check(results)
        verdicts.append(
            replace(
                verdict,
                claim_id=claim.id,
                statement=claim.statement,
                source=claim.source,
                seconds=time.perf_counter() - start,
            )
        )
    return verdicts


def as_records(verdicts: Sequence[ClaimResult]) -> list[dict[str, Any]]:
    """JSON records of result-claim verdicts (as ``mibench verify --json``)."""
    return [v.as_dict() for v in verdicts]
