"""The suite report: every table and figure referenced in report.md, report.html self-contained."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mibench.cli import app
from mibench.plots.synthetic import synthetic_runs, write_synthetic_suite
from mibench.report import Paragraph, diverged_runs, load_verify, to_html, to_markdown, write_report
from mibench.report import Table as ReportTable
from mibench.results import schema

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VERIFY = [
    {
        "id": "infonce_le_log_k",
        "statement": "InfoNCE <= log K",
        "source": "FlatNCE Eq. (1)",
        "evidence": "max excess -1e-9 | over 100 matrices",
        "passed": True,
        "seconds": 0.2,
    },
    {
        "id": "dv_ge_nwj",
        "statement": "DV >= NWJ",
        "source": "FlatNCE Table S2",
        "evidence": {"min gap": -0.5},
        "passed": False,
    },
]


@pytest.fixture(scope="module")
def runs_frame() -> pd.DataFrame:
    return synthetic_runs(
        estimators=("infonce", "nwj"),
        capped=("infonce",),
        rng=np.random.default_rng(3),
        mi_levels=(2.0, 6.0),
        batch_sizes=(32,),
        seeds=(0, 1),
        n_steps=40,
        eval_every=20,
        diverging=("nwj",),
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, runs_frame: pd.DataFrame) -> Path:
    return write_synthetic_suite(tmp_path_factory.mktemp("results") / "synthetic", runs_frame)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, suite: Path) -> tuple[Path, str, str]:
    copy = Path(shutil.copytree(suite, tmp_path_factory.mktemp("report") / suite.name))
    (copy / "verify.json").write_text(json.dumps(VERIFY))
    md_path, html_path = write_report(copy)
    return copy, md_path.read_text(), html_path.read_text()


def test_markdown_has_every_section_and_table(report: tuple[Path, str, str]) -> None:
    _, md, _ = report
    for heading in (
        "# mibench report — synthetic",
        "## Suite configuration",
        "## Environment",
        "## Summary",
        "## Figures",
        "## Diverged runs",
        "## Claims (mibench verify)",
    ):
        assert heading in md
    for metric in (schema.BIAS, schema.STD, schema.MSE):
        assert f"*{metric} by estimator and true MI — task gaussian" in md
    assert "*Every cell of summary.parquet (main columns; the file has them all)*" in md
    assert "| batch_size | 32 |" in md  # configuration from the sidecars
    assert "| versions.torch |" in md  # environment from the sidecars
    assert "| estimator_params | {} |" not in md  # empty mappings add no row
    assert "Wall time per run:" in md


def test_markdown_references_every_drawn_figure(report: tuple[Path, str, str]) -> None:
    suite, md, _ = report
    figures = sorted(p.name for p in (suite / "figures").glob("*.png"))
    assert len(figures) >= 5  # batch-size figure skipped: one K
    for name in figures:
        stem = name.removesuffix(".png")
        assert f"![{stem}](figures/{name})" in md
    assert "estimate_vs_batch_size: skipped" in md


def test_figure_readings_are_two_lines_under_each_figure(report: tuple[Path, str, str]) -> None:
    _, md, _ = report
    for block in re.findall(r"!\[[^\]]+\]\([^)]+\)\n\n(.+)\n(.+)", md):
        what, reading = block
        assert what.endswith("  ")  # Markdown hard line break between the two lines
        assert reading.strip()


def test_diverged_runs_are_listed(report: tuple[Path, str, str], runs_frame: pd.DataFrame) -> None:
    _, md, _ = report
    diverged = runs_frame[runs_frame[schema.DIVERGED]].groupby(schema.RUN_ID)[schema.STEP].min()
    assert len(diverged) >= 1
    for run_id, step in diverged.items():
        assert re.search(rf"\| {run_id} \|.*\| {step} \|", md)
    table = diverged_runs(runs_frame)
    assert list(table[schema.RUN_ID]) == sorted(diverged.index)
    assert list(table["first_diverged_step"]) == [diverged[r] for r in table[schema.RUN_ID]]


def test_claims_table(report: tuple[Path, str, str]) -> None:
    _, md, html = report
    assert "1 of 2 claims pass." in md
    assert "| infonce_le_log_k | PASS | InfoNCE <= log K |" in md
    assert "| dv_ge_nwj | FAIL |" in md
    assert r"max excess -1e-9 \| over 100 matrices" in md  # a '|' in a cell is escaped
    assert '{"min gap": -0.5}' in md
    assert "<td>FAIL</td>" in html


def test_html_is_self_contained(report: tuple[Path, str, str]) -> None:
    suite, _, html = report
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    assert sorted(name for name, _ in images) == sorted(
        p.stem for p in (suite / "figures").glob("*.png")
    )
    for _, data in images:
        assert base64.b64decode(data)[:8] == PNG_SIGNATURE
    assert "figures/" not in re.sub(r"<p>.*?</p>", "", html)  # no linked files outside text
    assert not re.search(r'(src|href)="(?!data:)', html)


def test_without_verify_the_report_says_how_to_get_it(suite: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(suite, tmp_path / "synthetic"))
    (copy / "summary.parquet").unlink()  # also: no summary -> said, summary figures skipped
    md = write_report(copy)[0].read_text()
    assert "No verify.json here; `mibench verify --json results/synthetic/verify.json`" in md
    assert "No `summary.parquet`" in md
    assert "bias_variance: skipped" in md


def test_malformed_verify_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "verify.json").write_text('{"id": "x"}')
    with pytest.raises(ValueError, match="expected a list of objects with 'id' and 'passed'"):
        load_verify(tmp_path)
    (tmp_path / "verify.json").write_text("[{")
    with pytest.raises(ValueError, match="malformed"):
        load_verify(tmp_path)
    assert load_verify(tmp_path / "absent") is None


def test_markdown_table_rendering() -> None:
    md = to_markdown([ReportTable(["a", "b"], [["1|2", "x\ny"]], caption="cap")], base_dir=".")
    assert md == "*cap*\n\n| a | b |\n|---|---|\n| 1\\|2 | x<br>y |\n"


def test_cli_report(suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mibench.plots.drawing as drawing

    monkeypatch.setattr(drawing, "FIGURES", ())  # figures are covered above; this tests the CLI
    Path(shutil.copytree(suite, tmp_path / "synthetic"))
    runner = CliRunner()
    result = runner.invoke(app, ["report", "synthetic", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "synthetic" / "report.md").is_file()
    assert (tmp_path / "synthetic" / "report.html").is_file()
    missing = runner.invoke(app, ["report", "absent", "--out", str(tmp_path)])
    assert missing.exit_code == 2
    assert missing.output.strip().startswith("error: no finished runs")


def test_html_escapes_text_and_renders_code_spans() -> None:
    page = to_html([Paragraph("run `mibench verify` & <b>")], title="a < b")
    assert "<title>a &lt; b</title>" in page
    assert "<p>run <code>mibench verify</code> &amp; &lt;b&gt;</p>" in page
