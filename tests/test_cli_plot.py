"""`mibench plot`: argument handling (draw_figures patched) and one real end-to-end call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mibench.plots
from mibench.cli import app
from tests.plots._plot_fixtures import make_runs
from tests.plots.synthetic import write_synthetic_suite

runner = CliRunner()


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plot tests' synthetic results folder (written by the runner's store and summary)."""
    return write_synthetic_suite(tmp_path_factory.mktemp("results") / "synthetic", make_runs())


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str]]:
    recorded: list[tuple[Path, str]] = []

    def fake_draw_figures(suite_dir: Path, *, fmt: str = "png"):
        recorded.append((Path(suite_dir), fmt))
        return [], ["bias_variance: skipped, [not] applicable"]

    monkeypatch.setattr(mibench.plots, "draw_figures", fake_draw_figures)
    return recorded


def test_suite_name_resolves_under_out(tmp_path: Path, calls: list) -> None:
    result = runner.invoke(app, ["plot", "mysuite", "--out", str(tmp_path), "--format", "svg"])
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path / "mysuite", "svg")]
    assert "[not] applicable" in result.output  # notes are printed verbatim, not as rich markup


def test_default_suite_and_format(tmp_path: Path, calls: list) -> None:
    assert runner.invoke(app, ["plot", "--out", str(tmp_path)]).exit_code == 0
    assert calls == [(tmp_path / "default", "png")]


def test_suite_file_uses_its_suite_name(tmp_path: Path, calls: list) -> None:
    suite_file = tmp_path / "file_stem.toml"
    suite_file.write_text('[suite]\nname = "named_in_file"\n')
    assert runner.invoke(app, ["plot", str(suite_file), "--out", str(tmp_path)]).exit_code == 0
    assert calls == [(tmp_path / "named_in_file", "png")]


def test_results_folder_is_used_as_is(tmp_path: Path, calls: list) -> None:
    assert runner.invoke(app, ["plot", str(tmp_path)]).exit_code == 0
    assert calls == [(tmp_path, "png")]


def test_bad_format_exits_2_before_drawing(tmp_path: Path, calls: list) -> None:
    result = runner.invoke(app, ["plot", str(tmp_path), "--format", "jpg"])
    assert result.exit_code == 2
    assert calls == []


def test_missing_results_exit_2_with_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plot", "nothing_here", "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no finished runs")
    assert not (tmp_path / "nothing_here").exists()


def test_end_to_end_draws_the_figures(
    suite_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mibench.plots.drawing as drawing

    # One cheap figure: the full catalogue is covered by test_drawing.
    monkeypatch.setattr(
        drawing, "FIGURES", tuple(s for s in drawing.FIGURES if s.name == "divergence")
    )
    copy = Path(shutil.copytree(suite_dir, tmp_path / "synthetic"))
    result = runner.invoke(app, ["plot", "synthetic", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (copy / "figures" / "divergence.png").is_file()
    assert f"1 figures in {copy / 'figures'}\n" in result.output  # one line, however long
