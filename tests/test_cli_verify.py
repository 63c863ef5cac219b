"""``mibench verify``: option parsing (runner patched, arguments asserted), exit codes, --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import mibench.claims as claims
from mibench.claims import ClaimResult
from mibench.cli import app

runner = CliRunner()


def _result(claim_id: str, passed: bool) -> ClaimResult:
    return ClaimResult(
        passed, {"x": 1.0}, f"summary of {claim_id}", "tol", "why", claim_id, "st", "src", 0.1
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace run_claims; every call is recorded and returns one PASS per selected claim."""
    recorded: list[dict[str, Any]] = []

    def fake_run(ids: Any, quick: bool, *, context: Any, on_result: Any) -> list[ClaimResult]:
        recorded.append(
            {"ids": ids, "quick": quick, "seed": context.seed, "device": context.device}
        )
        chosen = claims.select_claims(ids, quick)
        results = [
            _result(c.id, passed=c.id not in recorded[-1].get("failing", ())) for c in chosen
        ]
        for r in results:
            on_result(r)
        return results

    monkeypatch.setattr(claims, "run_claims", fake_run)
    return recorded


def test_exit_0_when_all_pass_and_options_reach_the_runner(calls: list[dict[str, Any]]) -> None:
    outcome = runner.invoke(app, ["verify", "--claims", "ess-range, dv-ge-nwj", "--seed", "3"])
    assert outcome.exit_code == 0, outcome.output
    assert calls == [
        {"ids": ["ess-range", "dv-ge-nwj"], "quick": False, "seed": 3, "device": "cpu"}
    ]
    assert "PASS" in outcome.output and "2/2 claims pass" in outcome.output


def test_quick_selects_the_analytic_claims(calls: list[dict[str, Any]]) -> None:
    outcome = runner.invoke(app, ["verify", "--quick"])
    assert outcome.exit_code == 0, outcome.output
    assert calls[0]["ids"] is None and calls[0]["quick"] is True


def test_exit_1_when_any_claim_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def one_fails(ids: Any, quick: bool, *, context: Any, on_result: Any) -> list[ClaimResult]:
        return [_result("ess-range", True), _result("dv-ge-nwj", False)]

    monkeypatch.setattr(claims, "run_claims", one_fails)
    outcome = runner.invoke(app, ["verify", "--claims", "ess-range,dv-ge-nwj"])
    assert outcome.exit_code == 1
    assert "FAIL" in outcome.output and "1/2 claims pass" in outcome.output


def test_exit_2_on_an_unknown_claim_naming_the_valid_ids(calls: list[dict[str, Any]]) -> None:
    outcome = runner.invoke(app, ["verify", "--claims", "ess-range,no-such-claim"])
    assert outcome.exit_code == 2
    assert "no-such-claim" in outcome.output and "infonce-le-log-k" in outcome.output
    assert calls == []  # nothing ran


def test_exit_2_when_quick_leaves_nothing(calls: list[dict[str, Any]]) -> None:
    outcome = runner.invoke(app, ["verify", "--claims", "log-k-curse", "--quick"])
    assert outcome.exit_code == 2 and calls == []


def test_exit_2_when_the_json_folder_is_missing(
    calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    outcome = runner.invoke(app, ["verify", "--json", str(tmp_path / "missing" / "v.json")])
    assert outcome.exit_code == 2 and calls == []


def test_json_writes_the_records(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    target = tmp_path / "verify.json"
    outcome = runner.invoke(app, ["verify", "--claims", "ess-range", "--json", str(target)])
    assert outcome.exit_code == 0, outcome.output
    records = json.loads(target.read_text())
    assert [r["id"] for r in records] == ["ess-range"]
    assert set(records[0]) == {
        "id",
        "statement",
        "source",
        "evidence",
        "passed",
        "verdict",
        "differs_from_paper",
        "seconds",
    }


def test_a_real_quick_claim_end_to_end(tmp_path: Path) -> None:
    target = tmp_path / "v.json"
    outcome = runner.invoke(app, ["verify", "--claims", "ntxent-eq-infonce", "--json", str(target)])
    assert outcome.exit_code == 0, outcome.output
    (record,) = json.loads(target.read_text())
    assert record["passed"] is True and record["evidence"]["max_abs_value_gap"] < 1e-12


LONG_SUMMARY = "max excess over 200 score matrices of every K and both float types: " * 4


@pytest.fixture
def long_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_claims patched to return two claims, one with evidence far wider than 80 columns."""

    def fake_run(ids: Any, quick: bool, *, context: Any, on_result: Any) -> list[ClaimResult]:
        wide = ClaimResult(True, {}, LONG_SUMMARY, "1e-9", "rounding", "ess-range", "st", "src", 1)
        return [wide, _result("dv-ge-nwj", passed=True)]

    monkeypatch.setattr(claims, "run_claims", fake_run)
    monkeypatch.setenv("COLUMNS", "80")


def test_the_table_is_one_line_per_claim_at_80_columns(long_evidence: None) -> None:
    outcome = runner.invoke(app, ["verify"])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    (wide,) = [line for line in lines if line.startswith("ess-range")]
    assert wide.rstrip().endswith("…")
    assert [line.split()[:2] for line in lines if line.startswith("dv-ge-nwj")] == [
        ["dv-ge-nwj", "PASS"]
    ]


def test_verbose_prints_every_claims_full_evidence(long_evidence: None) -> None:
    outcome = runner.invoke(app, ["verify", "--verbose"])
    assert outcome.exit_code == 0, outcome.output
    assert max(len(line) for line in outcome.output.splitlines()) <= 80
    words = " ".join(outcome.output.split())
    assert " ".join(LONG_SUMMARY.split()) in words
    assert "tolerance: 1e-9; rounding" in words
