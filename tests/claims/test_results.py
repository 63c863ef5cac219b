"""Result claims (``mibench verify --results DIR``) on synthetic suite folders with known answers.

Each claim is shown to PASS on data built to satisfy it, to FAIL when one stored number is made to
contradict it, and to be N/A when the suite lacks its data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mibench.claims.results import judge, result_claims
from mibench.cli import app
from mibench.core.interface import UnknownNameError
from mibench.results import schema
from tests.plots.synthetic import synthetic_runs, write_synthetic_suite

ESTIMATORS = ("infonce", "flatnce", "nwj", "smile")


def _runs(batch_sizes=(64,), estimators=ESTIMATORS, seed=0) -> pd.DataFrame:
    runs = synthetic_runs(
        estimators=estimators,
        capped=("infonce", "flatnce"),
        rng=np.random.default_rng(seed),
        batch_sizes=batch_sizes,
        seeds=(0, 1),
        n_steps=100,
    )
    # Bounded readouts really are bounded: clip the capped estimators into [0, log K] of each
    # readout's own score matrix (held-out rows: log 4K).
    capped = runs[schema.ESTIMATOR].isin(["infonce", "flatnce"])
    runs.loc[capped, schema.ESTIMATE] = runs.loc[capped, schema.ESTIMATE].clip(
        lower=0.0, upper=runs.loc[capped, schema.LOG_K]
    )
    return runs


def _shrink_smile_noise(runs: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Scale SMILE's deviations from its per-run mean by ``factor`` (its variance by factor²)."""
    smile = runs[schema.ESTIMATOR] == "smile"
    mean = (
        runs[smile]
        .groupby([schema.RUN_ID, schema.READOUT, schema.TRUE_MI])[schema.ESTIMATE]
        .transform("mean")
    )
    runs.loc[smile, schema.ESTIMATE] = mean + factor * (runs.loc[smile, schema.ESTIMATE] - mean)
    return runs


def _verdicts(tmp_path: Path, runs: pd.DataFrame) -> dict[str, str]:
    suite = write_synthetic_suite(tmp_path / "suite", runs)
    return {v.claim_id: v.verdict for v in judge(suite)}


def test_at_least_five_result_claims_are_registered() -> None:
    ids = [c.id for c in result_claims()]
    assert len(ids) >= 5 and len(set(ids)) == len(ids)
    assert all(i.startswith("results-") for i in ids)


def test_claims_pass_on_data_built_to_satisfy_them(tmp_path: Path) -> None:
    runs = _shrink_smile_noise(_runs(batch_sizes=(16, 256)), 0.5)
    verdicts = _verdicts(tmp_path, runs)
    # Not applicable here: the self-consistency claims need digits cells
    # (tests/claims/test_consistency.py), the plug-in claims need plug-ins.
    consistency = {k: verdicts.pop(k) for k in list(verdicts) if "self-consistency" in k}
    plugin_claims = {k: verdicts.pop(k) for k in list(verdicts) if k.startswith("results-plugin-")}
    assert set(verdicts.values()) == {"PASS"}, verdicts
    assert set(consistency.values()) == {"N/A"}
    assert set(plugin_claims.values()) == {"N/A"} and len(plugin_claims) == 2


def test_one_readout_above_log_k_fails_the_infonce_claim(tmp_path: Path) -> None:
    runs = _runs()
    row = runs.index[(runs[schema.ESTIMATOR] == "infonce") & (runs[schema.STEP] == 3)][0]
    runs.loc[row, schema.ESTIMATE] = runs.loc[row, schema.LOG_K] + 1e-6
    suite = write_synthetic_suite(tmp_path / "suite", runs)
    (verdict,) = judge(suite, ["results-infonce-le-log-k"])
    assert verdict.verdict == "FAIL"
    assert verdict.evidence["above_log_k"] == 1
    assert verdict.evidence["max_estimate_minus_log_k"] == pytest.approx(1e-6, rel=1e-3)


def test_constant_nwj_noise_fails_the_variance_growth_claim(tmp_path: Path) -> None:
    runs = _runs()
    nwj = runs[schema.ESTIMATOR] == "nwj"
    rng = np.random.default_rng(5)
    runs.loc[nwj, schema.ESTIMATE] = runs.loc[nwj, schema.TRUE_MI] + rng.normal(0, 0.3, nwj.sum())
    assert _verdicts(tmp_path, runs)["results-nwj-variance-grows-with-mi"] == "FAIL"


def test_noisier_smile_fails_the_smile_variance_claim(tmp_path: Path) -> None:
    runs = _shrink_smile_noise(_runs(), 2.0)
    assert _verdicts(tmp_path, runs)["results-smile-lower-variance-than-nwj"] == "FAIL"


def test_a_negative_flatnce_readout_fails_the_range_claim(tmp_path: Path) -> None:
    runs = _runs()
    late = (runs[schema.ESTIMATOR] == "flatnce") & (runs[schema.STEP] == 95)
    runs.loc[runs.index[late][0], schema.ESTIMATE] = -0.5
    assert _verdicts(tmp_path, runs)["results-flatnce-readouts-in-range"] == "FAIL"


def test_a_gap_growing_with_k_fails(tmp_path: Path) -> None:
    runs = _runs(batch_sizes=(16, 256))
    big = (runs[schema.ESTIMATOR] == "infonce") & (runs[schema.BATCH_SIZE] == 256)
    runs.loc[big, schema.ESTIMATE] = 0.5  # far below the K = 16 plateau of log 16
    assert _verdicts(tmp_path, runs)["results-infonce-gap-shrinks-with-k"] == "FAIL"


def test_claims_without_their_data_are_not_applicable(tmp_path: Path) -> None:
    verdicts = _verdicts(tmp_path, _runs(estimators=("dv",)))
    assert set(verdicts.values()) == {"N/A"}, verdicts


def test_unknown_claim_id_names_the_valid_ones(tmp_path: Path) -> None:
    suite = write_synthetic_suite(tmp_path / "suite", _runs(estimators=("infonce",)))
    with pytest.raises(UnknownNameError, match="results-infonce-le-log-k"):
        judge(suite, ["no-such-claim"])


def test_cli_verify_results(tmp_path: Path) -> None:
    runner = CliRunner()
    suite = write_synthetic_suite(tmp_path / "suite", _shrink_smile_noise(_runs(), 0.5))
    json_file = tmp_path / "verdicts.json"
    outcome = runner.invoke(app, ["verify", "--results", str(suite), "--json", str(json_file)])
    assert outcome.exit_code == 0, outcome.output
    # not applicable: the K sweep, the three self-consistency claims (no digits cells) and the
    # two plug-in claims (no plug-in)
    assert "6/6 claims pass (6 not applicable)" in outcome.output
    import json

    records = json.loads(json_file.read_text())
    assert {r["verdict"] for r in records} == {"PASS", "N/A"}
    missing = runner.invoke(app, ["verify", "--results", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "summary.parquet" in missing.output


def test_cli_verify_results_exits_1_on_a_fail(tmp_path: Path) -> None:
    runs = _shrink_smile_noise(_runs(), 2.0)
    suite = write_synthetic_suite(tmp_path / "suite", runs)
    outcome = CliRunner().invoke(app, ["verify", "--results", str(suite)])
    assert outcome.exit_code == 1
    assert "FAIL" in outcome.output
