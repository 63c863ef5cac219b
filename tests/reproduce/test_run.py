"""The reproduce flow end to end at a tiny budget, in a tmp folder (mibench.reproduce.run)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from rich.console import Console

from mibench.reproduce import get, run
from mibench.reproduce.base import ReproductionError
from mibench.results import store


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """flatnce2021 at 16 steps: two runs and a one-panel figure, seconds."""
    out = tmp_path_factory.mktemp("reproduce")
    budget = replace(get("flatnce2021").budget("quick"), name="tiny", steps=16)
    console = Console(record=True, width=200)
    result = run.reproduce(
        "flatnce2021",
        budget,
        out=out,
        console=console,
        show_progress=False,
        report=False,
        workers=1,
    )
    return result, console.export_text()


def test_writes_figure_verdicts_and_results_like_a_suite(tiny_run):
    result, printed = tiny_run
    suite_dir = result.suite_dir
    assert suite_dir.name == "flatnce2021-tiny"
    assert result.figure.is_file() and result.figure.stat().st_size > 10_000
    assert store.has_summary(suite_dir) and len(store.finished_run_ids(suite_dir)) == 2
    markdown = result.markdown.read_text()
    assert markdown.startswith("# Chen et al. 2021 (FlatNCE), Fig. 1 — tiny budget")
    assert "## Verdicts (tiny budget)" in markdown and "| statement |" in markdown
    record = json.loads((suite_dir / run.JSON_NAME).read_text())
    assert record["label"] == "tiny budget" and len(record["verdicts"]) == len(result.verdicts)
    assert "expected time about" in printed and "(tiny budget)" in printed


def test_a_rerun_resumes_and_trains_nothing(tiny_run, tmp_path):
    result, _ = tiny_run
    console = Console(record=True, width=200)
    again = run.reproduce(
        "flatnce2021",
        result.budget,
        out=result.suite_dir.parent,
        console=console,
        show_progress=False,
        report=False,
        workers=1,
    )
    assert "2 runs, 0 to train" in console.export_text()
    assert [v.ours for v in again.verdicts] == [v.ours for v in result.verdicts]


def test_finished_only_reads_the_runs_done_so_far(tiny_run, tmp_path):
    result, _ = tiny_run
    _, _, prepared = run.prepare("flatnce2021", result.budget, out=tmp_path)
    assert run.load_readings(get("flatnce2021"), prepared, finished_only=True).train.empty
    _, _, done = run.prepare("flatnce2021", result.budget, out=result.suite_dir.parent)
    both = run.load_readings(get("flatnce2021"), done, finished_only=True)
    assert set(both.train["label"]) == {"InfoNCE", "FlatNCE"}


def test_print_result_titles_carry_the_budget(tiny_run):
    result, _ = tiny_run
    console = Console(record=True, width=200)
    run.print_result(result, console)
    text = console.export_text()
    assert "flatnce2021: verdicts (tiny budget)" in text
    assert "flatnce2021: setting differences (tiny budget)" in text


def test_bad_budget_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(ReproductionError, match="valid choices: full, quick"):
        run.prepare("club2020", "huge", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_contention_is_the_load_per_core(monkeypatch):
    monkeypatch.setattr(run.os, "getloadavg", lambda: (18.0, 0.0, 0.0))
    monkeypatch.setattr(run.os, "cpu_count", lambda: 2)
    assert run.contention() == 9.0
    monkeypatch.setattr(run.os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert run.contention() == 1.0


def test_expected_time_is_printed_in_readable_units():
    assert run.duration(30) == "30 s" and run.duration(600) == "10 min"
