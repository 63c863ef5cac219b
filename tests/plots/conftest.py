"""Small synthetic results in the runner's schema (no training) and a PNG checker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from tests.plots._plot_fixtures import make_runs, png_size
from tests.plots.synthetic import write_synthetic_suite


@pytest.fixture(scope="session")
def runs_frame() -> pd.DataFrame:
    return make_runs()


@pytest.fixture(scope="session")
def staircase_frame() -> pd.DataFrame:
    return make_runs(staircase=True, task="staircase", batch_sizes=(64,), diverging=())


@pytest.fixture(scope="session")
def suite_dir(tmp_path_factory: pytest.TempPathFactory, runs_frame: pd.DataFrame) -> Path:
    """A results folder written by the runner's store and summary code (read-only in tests)."""
    return write_synthetic_suite(tmp_path_factory.mktemp("results") / "synthetic", runs_frame)


@pytest.fixture(scope="session")
def summary_frame(suite_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(suite_dir / "summary.parquet")


DPI = 40  # low resolution keeps the tests fast; draw_all's own DPI is tested in test_drawing


@pytest.fixture
def check_png(tmp_path: Path) -> Callable[[Figure], tuple[int, int]]:
    """Save a figure with save_figure and check signature, non-emptiness and pixel size."""
    from mibench.plots import save_figure

    def check(fig: Figure) -> tuple[int, int]:
        path = save_figure(fig, tmp_path / "figure.png", dpi=DPI)
        data = path.read_bytes()
        width, height = png_size(data)
        # savefig without bbox_inches keeps the canvas: size = inches x dpi (rounded).
        expected = np.round(fig.get_size_inches() * DPI).astype(int)
        assert abs(width - expected[0]) <= 1 and abs(height - expected[1]) <= 1
        pixels = imread(path)
        # Not a blank canvas: at least 1 % of the pixels differ from the white background.
        ink = (pixels[..., :3] < 0.98).any(axis=-1).mean()
        assert ink > 0.01, f"only {ink:.2%} of the pixels are drawn"
        return width, height

    return check
