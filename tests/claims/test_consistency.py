"""The self-consistency result claims (mibench.claims.consistency) on synthetic suites: PASS on
data built to satisfy each test, FAIL when one estimator misses the target by more than the
tolerance, N/A without the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.claims.consistency import (
    INDEPENDENCE_TOLERANCE_NATS,
    MIN_PLAIN_ESTIMATE_NATS,
    RATIO_TOLERANCE,
)
from mibench.claims.results import judge, result_claims
from mibench.cli import app
from tests.results._consistency_suite import Cell, standard_cells, write_consistency_suite

IDS = (
    "results-self-consistency-independence",
    "results-self-consistency-data-processing",
    "results-self-consistency-additivity",
)


def _verdicts(tmp_path: Path, cells: list[Cell]) -> dict[str, str]:
    suite = write_consistency_suite(tmp_path / "digits", cells)
    return {v.claim_id: v.verdict for v in judge(suite, list(IDS))}


def test_the_three_claims_are_registered() -> None:
    assert set(IDS) <= {c.id for c in result_claims()}


def test_consistent_estimates_pass(tmp_path: Path) -> None:
    cells = standard_cells(data_processing=1.0 + RATIO_TOLERANCE / 2, additivity=2 * 0.96,
                           independence=INDEPENDENCE_TOLERANCE_NATS / 2)  # fmt: skip
    assert _verdicts(tmp_path, cells) == dict.fromkeys(IDS, "PASS")


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({"independence": 2 * INDEPENDENCE_TOLERANCE_NATS}, IDS[0]),
        ({"independence": -2 * INDEPENDENCE_TOLERANCE_NATS}, IDS[0]),
        ({"data_processing": 1 + 2 * RATIO_TOLERANCE}, IDS[1]),
        ({"additivity": 2 * (1 - 2 * RATIO_TOLERANCE)}, IDS[2]),
    ],
)
def test_one_estimator_off_target_fails_its_claim_only(
    tmp_path: Path, changes: dict, failing: str
) -> None:
    cells = standard_cells(("infonce",)) + standard_cells(("nwj",), **changes)
    verdicts = _verdicts(tmp_path, cells)
    assert verdicts == {i: ("FAIL" if i == failing else "PASS") for i in IDS}


def test_a_plain_estimate_near_zero_makes_the_ratio_undefined(tmp_path: Path) -> None:
    cells = standard_cells(plain=MIN_PLAIN_ESTIMATE_NATS / 2)
    suite = write_consistency_suite(tmp_path / "digits", cells)
    (verdict,) = judge(suite, [IDS[1]])
    assert verdict.verdict == "FAIL" and "ratio undefined" in verdict.evidence["failing"][0]


def test_without_the_tests_the_claims_are_not_applicable(tmp_path: Path) -> None:
    plain_only = [c for c in standard_cells() if c.consistency == "none"]
    assert _verdicts(tmp_path, plain_only) == dict.fromkeys(IDS, "N/A")


def test_cli_verify_results_shows_the_verdicts(tmp_path: Path) -> None:
    cells = standard_cells(additivity=1.5)
    suite = write_consistency_suite(tmp_path / "digits", cells)
    evidence = tmp_path / "verify.json"
    result = CliRunner().invoke(app, ["verify", "--results", str(suite), "--json", str(evidence)])
    assert result.exit_code == 1, result.output  # additivity fails
    verdicts = {r["id"]: r["verdict"] for r in json.loads(evidence.read_text())}
    assert [verdicts[i] for i in IDS] == ["PASS", "PASS", "FAIL"]
