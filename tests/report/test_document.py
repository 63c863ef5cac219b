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
from mibench.report.document import write_report
from mibench.results import schema
from tests.plots.synthetic import synthetic_runs, write_synthetic_suite

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


SECTIONS_IN_ORDER = (
    "# mibench report — synthetic",
    "**Contents:**",
    "## Findings",
    "## Training curves",
    "## Summary tables",
    "## Figures",
    "## Diverged runs and unstable cells",
    "## Claims",
    "## Appendix: configuration, resolved suite, environment, every summary cell",
    "<details>",
    "### Suite configuration",
    "### Environment",
    "### Every cell of the summary",
    "</details>",
)


def test_markdown_puts_findings_first_and_configuration_in_a_collapsed_appendix(
    report: tuple[Path, str, str],
) -> None:
    _, md, _ = report
    positions = [md.find(heading) for heading in SECTIONS_IN_ORDER]
    assert -1 not in positions, [
        h for h, p in zip(SECTIONS_IN_ORDER, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions)
    # The headline figure is the first figure, right after the findings.
    first_figure = md.find("![")
    assert md.find("## Training curves") < first_figure < md.find("## Summary tables")
    assert md[first_figure:].startswith("![training_curves_gaussian]")


def test_markdown_has_every_table(report: tuple[Path, str, str]) -> None:
    _, md, _ = report
    assert "*Best stable estimator per level: robust MSE (nats²) and median bias (nats)*" in md
    assert "Cells as the console prints them: bias/std/MSE (nats, nats²)" in md  # the legend
    assert "*Every cell of summary.parquet (main columns; the file has them all)." in md
    assert "| batch_size | 32 |" in md  # configuration from the sidecars
    assert "| versions.torch |" in md  # environment from the sidecars
    assert "| estimator_params | {} |" not in md  # empty mappings add no row
    assert "Wall time per run:" in md


def test_contents_links_every_section_to_its_anchor(report: tuple[Path, str, str]) -> None:
    _, md, page = report
    contents = re.search(r"\*\*Contents:\*\* (.+)", md).group(1)
    links = re.findall(r"\[([^\]]+)\]\(#([^)]+)\)", contents)
    assert [text for text, _ in links][:2] == ["Findings", "Training curves"]
    for _, anchor in links:
        assert f'href="#{anchor}"' in page
        assert f'id="{anchor}"' in page  # each link lands on a heading or the appendix


def test_summary_cells_read_as_on_the_console(report: tuple[Path, str, str], suite: Path) -> None:
    """The report renders the console's own table model: same titles, same cells."""
    from mibench.report.summary_tables import summary_tables

    _, md, _ = report
    summary = pd.read_parquet(suite / "summary.parquet")
    tables = summary_tables(summary)
    assert tables
    for table in tables:
        assert f"*{table.title}*" in md
        for row in table.rows:
            assert "| " + " | ".join(row) + " |" in md


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


def test_claims_table(report: tuple[Path, str, str]) -> None:
    _, md, html = report
    assert "1 of 2 claims pass." in md
    assert "| infonce_le_log_k | PASS | InfoNCE <= log K |" in md
    assert "| dv_ge_nwj | FAIL |" in md
    assert r"max excess -1e-9 \| over 100 matrices" in md  # a '|' in a cell is escaped
    assert '{"min gap": -0.5}' in md
    assert "<td>FAIL</td>" in html


def _images(page: str) -> list[tuple[str, int, int, str, str]]:
    """(alt, width, height, mime, base64 data) of every <img> of the page."""
    pattern = (
        r'<img alt="([^"]+)" width="(\d+)" height="(\d+)" src="data:(image/[a-z+]+);base64,'
        r'([^"]+)"'
    )
    return [(a, int(w), int(h), m, d) for a, w, h, m, d in re.findall(pattern, page)]


def test_html_is_self_contained(report: tuple[Path, str, str]) -> None:
    suite, _, html = report
    images = _images(html)
    assert sorted(name for name, *_ in images) == sorted(
        p.stem for p in (suite / "figures").glob("*.png")
    )
    assert html.count("<img ") == len(images)
    assert "figures/" not in re.sub(r"<p>.*?</p>", "", html)  # no linked files outside text
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # only data URIs and anchors


def test_html_parses_as_valid_html5(report: tuple[Path, str, str]) -> None:
    html5lib = pytest.importorskip("html5lib", reason="html5lib is in the dev extra")
    _, _, page = report
    parser = html5lib.HTMLParser(strict=True)
    document = parser.parse(page)  # strict: the first parse error raises
    assert parser.errors == []
    namespace = {"h": "http://www.w3.org/1999/xhtml"}
    assert document.find(".//h:details", namespace) is not None
    assert document.find(".//h:nav", namespace) is not None


def test_html5_check_fails_on_a_broken_page() -> None:
    """The strict parse is not vacuous: an unclosed table cell inside a paragraph fails it."""
    html5lib = pytest.importorskip("html5lib", reason="html5lib is in the dev extra")
    broken = "<!DOCTYPE html><html><head><title>t</title></head><body><p><table><td>x</p>"
    with pytest.raises(html5lib.html5parser.ParseError):
        html5lib.HTMLParser(strict=True).parse(broken)


def test_every_embedded_image_decodes_at_its_stated_size(report: tuple[Path, str, str]) -> None:
    from io import BytesIO

    from PIL import Image

    _, _, page = report
    images = _images(page)
    assert images
    for name, width, height, mime, data in images:
        raw = base64.b64decode(data, validate=True)
        assert raw[:8] == PNG_SIGNATURE and mime == "image/png", name
        with Image.open(BytesIO(raw)) as image:
            image.load()  # decodes every pixel: a truncated or corrupt PNG raises here
            assert image.size == (width, height), name


def test_without_verify_the_report_says_how_to_get_it(suite: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(suite, tmp_path / "synthetic"))
    (copy / "summary.parquet").unlink()  # also: no summary -> said, summary figures skipped
    md = write_report(copy)[0].read_text()
    assert "No verify.json here; `mibench verify --json results/synthetic/verify.json`" in md
    assert "No `summary.parquet`" in md
    assert "bias_variance: skipped" in md
    assert "Paper claims (`mibench verify`): no verify.json" in md  # said among the findings


def test_cli_report(suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mibench.plots.drawing as drawing

    monkeypatch.setattr(drawing, "FIGURES", ())  # figures are covered above; this tests the CLI
    Path(shutil.copytree(suite, tmp_path / "synthetic"))
    runner = CliRunner()
    result = runner.invoke(app, ["report", "synthetic", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "synthetic" / "report.md").is_file()
    assert (tmp_path / "synthetic" / "report.html").is_file()
    # One line however long the path: a wrapped path cannot be copied from the terminal.
    md, html = (tmp_path / "synthetic" / name for name in ("report.md", "report.html"))
    assert f"wrote {md} and {html}\n" in result.output
    missing = runner.invoke(app, ["report", "absent", "--out", str(tmp_path)])
    assert missing.exit_code == 2
    assert missing.output.strip().startswith("error: no finished runs")


# ---------------------------------------------------------------------------------------------
# Rendering in a real browser (headless Chromium), where one is installed.
# Debian/Ubuntu: `apt-get install -y chromium`; the test is skipped with a reason otherwise.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def _chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def _render(page: Path, tmp_path: Path) -> tuple[list[str], Path]:
    """Screenshot ``page`` at 1400 x 900 px; returns the page's console messages (Chromium logs
    each one, errors and uncaught exceptions included, as a ``:CONSOLE`` line) and the PNG."""
    import subprocess

    binary = _chromium()
    assert binary is not None
    shot = tmp_path / "screenshot.png"
    result = subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",  # fresh: no state from other runs
            "--window-size=1400,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return console, shot


needs_chromium = pytest.mark.skipif(
    _chromium() is None,
    reason="no Chromium binary (Debian/Ubuntu: apt-get install -y chromium)",
)


@needs_chromium
def test_html_renders_in_headless_chromium_without_console_errors(
    report: tuple[Path, str, str], tmp_path: Path
) -> None:
    from PIL import Image

    suite, _, _ = report
    console, shot = _render(suite / "report.html", tmp_path)
    assert console == []
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.shape == (900, 1400)
    # The first screen is not blank: text and the findings table put ink on over 1 % of it.
    assert (pixels < 200).mean() > 0.01


@needs_chromium
def test_chromium_check_catches_console_errors(tmp_path: Path) -> None:
    """The console check is not vacuous: a page that logs an error and throws is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title></head>'
        '<body><script>console.error("marker-1"); notDefined();</script></body></html>'
    )
    console, _ = _render(page, tmp_path)
    assert any("marker-1" in line for line in console)
    assert any("Uncaught ReferenceError" in line for line in console)


# ---------------------------------------------------------------------------------------------
# Unstable cells: the report never prints an exploded mean (1e61) for them.
def _explode(suite: Path) -> None:
    """Make nwj's top-level cell of ``suite`` exploded and unstable, as a 1e61 batch would."""
    path = suite / "summary.parquet"
    summary = pd.read_parquet(path)
    cell = (summary[schema.ESTIMATOR] == "nwj") & (
        summary[schema.MI_LEVEL] == summary[schema.MI_LEVEL].max()
    )
    assert cell.any()
    summary.loc[cell, [schema.BIAS, schema.MEAN_ESTIMATE]] = [-9.8e61, -9.8e61]
    summary.loc[cell, [schema.STD, schema.MSE, schema.VAR_WITHIN]] = [1e62, 1e124, 1e124]
    summary.loc[cell, [schema.HELDOUT_BIAS, schema.HELDOUT_MSE]] = [-3e40, 9e80]
    summary.loc[cell, [schema.MEDIAN_BIAS, schema.WILD_FRACTION]] = [-1.234, 0.004]
    summary.loc[cell, schema.HELDOUT_WILD_FRACTION] = 0.01
    summary.loc[cell, schema.UNSTABLE] = True
    summary.to_parquet(path)


def test_unstable_cells_render_without_exploded_means(suite: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(suite, tmp_path / "synthetic"))
    _explode(copy)
    md_path, html_path = write_report(copy)
    md, page = md_path.read_text(), html_path.read_text()
    text_of_page = re.sub(r'src="data:[^"]+"', "", page)  # base64 may hold any letters
    for text in (md, text_of_page):
        for exploded in ("e+61", "e+62", "e+124", "e+40", "e+80", "1e61"):
            assert exploded not in text
        assert "unstable -1.23 (0.4%)" in text  # the console's cell text
    assert "nwj at 6 nats (wild up to 0.4%)" in md  # among the findings
    assert re.search(r"\| nwj \| gaussian \| 6 \| 32 \| separable \| -1.23 \|", md)


def test_report_of_a_summary_without_the_robust_columns(suite: Path, tmp_path: Path) -> None:
    """Results folders written before the robust columns still give a report."""
    copy = Path(shutil.copytree(suite, tmp_path / "synthetic"))
    path = copy / "summary.parquet"
    robust = [schema.MEDIAN_BIAS, schema.IQR, schema.BIAS_CI_LOW, schema.BIAS_CI_HIGH,
              schema.WILD_FRACTION, schema.UNSTABLE, schema.HELDOUT_MEDIAN_BIAS,
              schema.HELDOUT_WILD_FRACTION]  # fmt: skip
    pd.read_parquet(path).drop(columns=robust).to_parquet(path)
    md = write_report(copy)[0].read_text()
    findings_text = md.split("## Findings")[1].split("## Training curves")[0]
    assert "unstable:" not in findings_text and "No cell is unstable" not in findings_text
    assert "Best stable estimator per level" in md


def test_result_claims_hook_feeds_findings_and_claims(
    suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where mibench.claims.results.judge exists, its verdicts (PASS/FAIL/not applicable) are
    among the findings and in the claims section."""
    import sys
    import types
    from dataclasses import dataclass

    @dataclass
    class FakeResult:
        claim_id: str
        statement: str
        passed: bool
        summary: str
        applicable: bool = True

    seen: list[Path] = []

    def judge(suite_dir: Path) -> list[FakeResult]:
        seen.append(suite_dir)
        return [
            FakeResult("infonce-below-log-k", "InfoNCE <= log K", True, "max excess -0.01"),
            FakeResult("smile-var-below-nwj", "SMILE var < NWJ var", False, "ratio 1.4"),
            FakeResult("gap-shrinks-with-k", "gap shrinks as K grows", False, "one K", False),
        ]

    module = types.ModuleType("mibench.claims.results")
    module.judge = judge  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mibench.claims.results", module)
    copy = Path(shutil.copytree(suite, tmp_path / "synthetic"))
    md = write_report(copy)[0].read_text()
    assert seen == [copy]
    findings_text = md.split("## Training curves")[0]
    assert (
        "Result claims (judged on this suite's runs): 1 PASS, 1 FAIL, 1 not applicable "
        "(FAIL: smile-var-below-nwj)" in findings_text
    )
    assert "| gap-shrinks-with-k | not applicable | gap shrinks as K grows |" in md
    assert "| smile-var-below-nwj | FAIL | SMILE var < NWJ var |  | ratio 1.4 |" in md
