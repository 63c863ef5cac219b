"""draw_all / draw_figures: every applicable figure written atomically; skips and errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mibench.plots import FIGURES, draw_all, draw_figures, save_figure
from mibench.plots.drawing import DPI
from mibench.results import schema
from tests.plots._plot_fixtures import BATCH_SIZES, png_size

EXPECTED_STEMS = {
    "training_curves_gaussian",
    "ess_gaussian",
    "bias_variance",
    "mse_heatmap",
    "estimate_vs_batch_size",
    "divergence",
}


@pytest.fixture
def fresh_suite(tmp_path: Path, suite_dir: Path) -> Path:
    """A writable copy of the session's synthetic results folder."""
    return Path(shutil.copytree(suite_dir, tmp_path / suite_dir.name))


@pytest.fixture(scope="module")
def drawn_suite(tmp_path_factory: pytest.TempPathFactory, suite_dir: Path):
    copy = Path(shutil.copytree(suite_dir, tmp_path_factory.mktemp("drawn") / suite_dir.name))
    return copy, draw_figures(copy)


def test_catalogue_names_are_unique() -> None:
    assert len({spec.name for spec in FIGURES}) == len(FIGURES)


def test_every_figure_is_written_as_a_valid_png(drawn_suite) -> None:
    suite, (drawn, skipped) = drawn_suite
    assert {d.name for d in drawn} == EXPECTED_STEMS
    # The synthetic suite has no upper bounds, no self-consistency task and no plug-in: those
    # three do not apply.
    assert skipped == [
        "sandwich: skipped, no task/level has both a lower and an upper bound",
        "self_consistency: skipped, no task with a consistency parameter (digits_label, ...)",
        "standing: skipped, no plug-in estimator in these results",
    ]
    assert sorted(p.name for p in (suite / "figures").iterdir()) == sorted(
        f"{stem}.png" for stem in EXPECTED_STEMS
    )
    for figure in drawn:
        width, height = png_size(figure.path.read_bytes())
        assert width > 4 * DPI and height > 2 * DPI  # at least 4 x 2 inches at the figure DPI
        assert figure.what and figure.reading


def test_draw_all_returns_the_paths(fresh_suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the catalogue's cheapest figure, to keep this test fast; the full set is tested above.
    import mibench.plots.drawing as drawing

    monkeypatch.setattr(drawing, "FIGURES", tuple(s for s in FIGURES if s.name == "divergence"))
    paths = draw_all(fresh_suite)
    assert paths == [fresh_suite / "figures" / "divergence.png"]


def test_svg_format(fresh_suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mibench.plots.drawing as drawing

    monkeypatch.setattr(drawing, "FIGURES", tuple(s for s in FIGURES if s.name == "mse_heatmap"))
    (path,) = draw_all(fresh_suite, fmt="svg")
    text = path.read_text()
    assert path.suffix == ".svg" and "<svg" in text and "</svg>" in text


def test_bad_format_writes_nothing(fresh_suite: Path) -> None:
    with pytest.raises(ValueError, match="unsupported figure format 'jpg'; valid: png, svg"):
        draw_all(fresh_suite, fmt="jpg")
    assert not (fresh_suite / "figures").exists()


def test_summary_figures_are_skipped_without_a_summary(
    fresh_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mibench.plots.drawing as drawing

    keep = {"divergence", "training_curves"}
    monkeypatch.setattr(drawing, "FIGURES", tuple(s for s in FIGURES if s.name in keep))
    (fresh_suite / "summary.parquet").unlink()
    drawn, skipped = draw_figures(fresh_suite)
    assert [d.name for d in drawn] == ["training_curves_gaussian"]
    assert skipped == [f"divergence: skipped, {fresh_suite / 'summary.parquet'} not found"]


def test_batch_size_figure_is_skipped_with_one_k(
    suite_dir: Path, summary_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mibench.plots.drawing as drawing

    spec = [s for s in FIGURES if s.name == "estimate_vs_batch_size"]
    monkeypatch.setattr(drawing, "FIGURES", tuple(spec))
    one_k = summary_frame[summary_frame[schema.BATCH_SIZE] == max(BATCH_SIZES)]
    drawn, skipped = draw_figures(tmp_path, runs=pd.DataFrame({"x": [1]}), summary=one_k)
    assert drawn == []
    assert len(skipped) == 1 and "needs at least two batch sizes" in skipped[0]


def test_missing_column_is_an_error_naming_it(suite_dir: Path, tmp_path: Path) -> None:
    runs = pd.DataFrame({schema.RUN_ID: ["r"], schema.ESTIMATOR: ["infonce"], schema.TASK: ["t"]})
    with pytest.raises(ValueError, match="training_curves: missing columns step"):
        draw_figures(tmp_path, runs=runs, summary=None)


def test_no_results_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no finished runs"):
        draw_all(tmp_path)


def _figure() -> Figure:
    from mibench.plots.layout import new_figure

    fig = new_figure(2, 1)
    fig.subplots().plot([0, 1], [0, 1])
    return fig


def test_save_figure_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = save_figure(_figure(), tmp_path / "sub" / "f.png", dpi=30)
    assert png_size(path.read_bytes()) == (60, 30)
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.png"]


def test_save_figure_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.png"
    save_figure(_figure(), target, dpi=30)
    before = target.read_bytes()
    fig = _figure()

    def half_written(fname: Path, **kwargs: object) -> None:
        Path(fname).write_bytes(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_save_figure_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported figure format 'pdf'"):
        save_figure(_figure(), tmp_path / "f.pdf")
    assert list(tmp_path.iterdir()) == []


def test_png_size_reads_the_header() -> None:
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + np.array([7, 5], ">u4").tobytes()
    assert png_size(header) == (7, 5)
    with pytest.raises(AssertionError):
        png_size(b"GIF89a" + header[6:])
