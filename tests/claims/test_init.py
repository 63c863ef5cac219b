"""The public API of mibench.claims: selection, running, tables and the JSON record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from mibench.claims import (
    ClaimContext,
    ClaimResult,
    claim_table,
    get,
    names,
    run_claims,
    select_claims,
    write_results_json,
)
from mibench.core.interface import UnknownNameError
from tests.claims._claim_helpers import wrong


def test_select_keeps_registry_order_and_filters_quick() -> None:
    chosen = select_claims(["ess-range", "infonce-le-log-k"])
    assert [c.id for c in chosen] == ["infonce-le-log-k", "ess-range"]
    quick = select_claims(None, quick=True)
    assert quick and all(c.kind == "analytic" for c in quick)
    assert {c.id for c in quick} == {c for c in names() if get(c).quick}


def test_select_rejects_unknown_ids_and_empty_selections() -> None:
    with pytest.raises(UnknownNameError, match="valid choices"):
        select_claims(["infonce-le-log-k", "nope"])
    with pytest.raises(ValueError, match="no claim selected"):
        select_claims(["log-k-curse"], quick=True)


def test_run_claims_fills_identity_and_timing_and_reports_progress() -> None:
    seen: list[ClaimResult] = []
    results = run_claims(["ntxent-eq-infonce"], on_result=seen.append)
    assert seen == results and len(results) == 1
    result = results[0]
    assert result.claim_id == "ntxent-eq-infonce" and result.passed
    assert result.statement == get("ntxent-eq-infonce").statement
    assert result.seconds > 0


def test_a_claim_whose_estimator_is_missing_fails_with_the_error_as_evidence() -> None:
    def missing(name: str) -> None:
        raise UnknownNameError("estimator", name, ["infonce"])

    context = ClaimContext(tasks={"gaussian": lambda **_: missing("gaussian")})
    (result,) = run_claims(["infonce-rises-to-mi"], context=context)
    assert not result.passed
    assert "UnknownNameError" in result.evidence["error"]


def test_other_exceptions_propagate() -> None:
    context = ClaimContext(estimators={"ntxent": wrong("ntxent", value=_boom)})
    with pytest.raises(RuntimeError, match="boom"):
        run_claims(["ntxent-eq-infonce"], context=context)


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom")


def _render(table: object) -> str:
    console = Console(width=250, record=True)
    console.print(table)
    return console.export_text()


def test_tables_show_every_column() -> None:
    listing = _render(claim_table())
    assert all(claim_id in listing for claim_id in names())


def test_write_results_json_round_trips(tmp_path: Path) -> None:
    results = [ClaimResult(True, {"a": 1.0}, "s", "t", "w", "c-one", "st", "src", 0.25)]
    path = write_results_json(results, tmp_path / "verify.json")
    records = json.loads(path.read_text())
    assert records == [
        {
            "id": "c-one",
            "statement": "st",
            "source": "src",
            "evidence": {"a": 1.0, "summary": "s", "tolerance": "t", "why": "w"},
            "passed": True,
            "verdict": "PASS",
            "differs_from_paper": "",
            "seconds": 0.25,
        }
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["verify.json"]  # no temp file left


def test_the_report_reads_what_verify_writes(tmp_path: Path) -> None:
    from mibench.report.sidecars import load_verify

    results = [ClaimResult(False, {"a": 1.0}, "s", "t", "w", "c-one", "st", "src", 0.25)]
    write_results_json(results, tmp_path / "verify.json")
    loaded = load_verify(tmp_path)
    assert loaded is not None and loaded[0]["id"] == "c-one" and loaded[0]["passed"] is False
