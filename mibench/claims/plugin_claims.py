"""The generic claims every plug-in estimator is judged on, from what it declares.

A plug-in (:mod:`mibench.plan.plugins`) says what its number is: ``kind = "lower_bound"``
promises an estimate at most the truth, ``caps_at_log_k`` one at most log K of its score matrix.
``mibench verify --results`` checks both promises on the suite's stored runs, reading each
plug-in's declaration from the folder's ``plugins.json`` (the plug-in itself is not imported).
Built-in estimators are not judged here: their own claims are the papers' (the other result
claims), and a noisy built-in bound above the truth is a finding, not a broken promise.
"""

from __future__ import annotations

import math

import numpy as np

from mibench.claims.base import ClaimResult, fmt
from mibench.claims.results import ROUNDING, SuiteResults, not_applicable, result_claim
from mibench.results import schema, store


def _declared(results: SuiteResults, test: str) -> list[str]:
    """Names of the suite's plug-ins whose record satisfies ``test`` ("lower" or "capped")."""
    records = store.read_plugins(results.suite_dir).values()
    if test == "lower":
        return sorted(r["name"] for r in records if r.get("kind") == "lower_bound")
    return sorted(r["name"] for r in records if r.get("caps_at_log_k"))


def _above_truth(row: object) -> bool:
    """A cell whose whole 95 % bias interval lies above 0 (one seed: median bias > IQR)."""
    low = float(row[schema.BIAS_CI_LOW])  # type: ignore[index]
    if math.isfinite(low):
        return low > 0
    return float(row[schema.MEDIAN_BIAS]) > float(row[schema.IQR])  # type: ignore[index]


@result_claim(
    id="results-plugin-lower-bound-le-truth",
    statement="Every plug-in estimator declared a lower bound stays at or below the true MI: no "
    "stable cell's 95 % bias interval lies entirely above 0.",
    source="the plug-in's own declaration (kind = lower_bound); Poole et al. 2019 Sec. 2",
)
def plugin_lower_bounds(results: SuiteResults) -> ClaimResult:
    names = _declared(results, "lower")
    if not names:
        return not_applicable("the suite has no plug-in declared a lower bound")
    cells = results.cells(names)
    if schema.UNSTABLE in cells.columns:
        cells = cells[~cells[schema.UNSTABLE].fillna(False).astype(bool)]
    cells = cells[np.isfinite(cells[schema.BIAS].to_numpy(dtype=float))]
    if cells.empty:
        return not_applicable(f"no stable cell of {', '.join(names)}")
    above = [
        f"{row[schema.ESTIMATOR]} on {row[schema.TASK_ID]} at I={row[schema.TRUE_MI]:.3g}: "
        f"bias {fmt(row[schema.BIAS])} [{fmt(row[schema.BIAS_CI_LOW])}, "
        f"{fmt(row[schema.BIAS_CI_HIGH])}]"
        for _, row in cells.iterrows()
        if _above_truth(row)
    ]
    return ClaimResult(
        passed=not above,
        evidence={"estimators": names, "cells": len(cells), "above_truth": above},
        summary=f"{len(above)} of {len(cells)} cells of {', '.join(names)} above the truth",
        tolerance="95 % Student-t interval of the bias over seeds (one seed: median bias > IQR)",
        why="a lower bound's estimate may scatter above the truth, its mean over seeds may not",
    )


@result_claim(
    id="results-plugin-le-log-k",
    statement="Every stored readout of a plug-in estimator that declares caps_at_log_k is <= log "
    "K of its score matrix.",
    source="the plug-in's own declaration (caps_at_log_k); van den Oord et al. 2018",
)
def plugin_below_log_k(results: SuiteResults) -> ClaimResult:
    names = _declared(results, "capped")
    if not names:
        return not_applicable("the suite has no plug-in that declares caps_at_log_k")
    rows = results.readouts(names)
    estimate = rows[schema.ESTIMATE].to_numpy(dtype=float)
    log_k = rows[schema.LOG_K].to_numpy(dtype=float)
    finite = np.isfinite(estimate) & np.isfinite(log_k)
    excess = estimate[finite] - log_k[finite]
    above = excess > ROUNDING * np.maximum(1.0, log_k[finite])
    worst = float(excess.max()) if excess.size else math.nan
    return ClaimResult(
        passed=not above.any(),
        evidence={
            "estimators": names,
            "readouts": int(finite.sum()),
            "above_log_k": int(above.sum()),
            "max_estimate_minus_log_k": worst,
        },
        summary=f"{int(above.sum())} of {int(finite.sum())} readouts of {', '.join(names)} above "
        f"log K; max(estimate - log K) = {fmt(worst)} nats",
        tolerance=f"{ROUNDING:g} x max(1, log K)",
        why="the declared cap holds for every score matrix; readouts are float64",
    )
