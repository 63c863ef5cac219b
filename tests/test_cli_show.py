"""``mibench show DIR``: the findings screen of a finished folder, read from its files only."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.cli import app
from tests.report._suites import write_staircase_suite

runner = CliRunner()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_staircase_suite(tmp_path_factory.mktemp("results"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("width", ["80", "160"])
def test_show_prints_the_screen_within_the_width_and_writes_nothing(
    suite: Path, width: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", width)
    before = snapshot(suite)
    outcome = runner.invoke(app, ["show", str(suite)])
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.output.splitlines()
    assert max(len(line) for line in lines) <= int(width)
    assert len(lines) <= 40
    assert lines[0].startswith("Best stable estimator per level")
    assert "result claims on these runs" in outcome.output
    assert snapshot(suite) == before


def test_show_tables_prints_every_setting_table_first(
    suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    outcome = runner.invoke(app, ["show", suite.name, "--out", str(suite.parent), "--tables"])
    assert outcome.exit_code == 0, outcome.output
    assert max(len(line) for line in outcome.output.splitlines()) <= 80
    text = outcome.output
    assert text.index("bias/std/MSE") < text.index("Best stable estimator per level")
    assert "staircase (d=5), separable critic, K=64" in text


def test_a_folder_without_a_summary_exits_2_with_one_line(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["show", "absent", "--out", str(tmp_path)])
    assert outcome.exit_code == 2
    assert outcome.output.splitlines() == [
        f"error: {tmp_path / 'absent'} is not a finished suite folder (no summary.parquet); "
        "run `mibench run` first"
    ]
