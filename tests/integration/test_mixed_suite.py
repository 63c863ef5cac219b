"""A valid suite mixing contrastive systems and a sample estimator on one task, end to end.

InfoNCE with the ``encoder`` critic under CLIP and MoCo beside a KSG grid on the same Gaussian:
the sample runs' frames have no ``system`` column, so the concatenated runs frame holds NaN
there. ``run`` (figures on), ``plot`` and ``report`` must all finish and draw the curves.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.cli import app
from mibench.results import store

MIXED = """
[suite]
name = "mixed"
steps = 12
seeds = 1
batch_sizes = [8]
eval_every = 6
sample_size = 60

[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 1.0 }]
critics = [{ name = "encoder", hidden = [8], embed_dim = 4 }]
systems = ["clip", { name = "moco", queue = 8 }]

[[grid]]
estimators = ["ksg"]
tasks = [{ name = "gaussian", dim = 2, mi = 1.0 }]
"""


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.toml"
    path.write_text(textwrap.dedent(MIXED))
    return path


@pytest.mark.slow  # three commands drawing every figure: about 20 s
@pytest.mark.integration
def test_systems_and_a_sample_estimator_on_one_task_run_plot_and_report(tmp_path, mixed):
    out = tmp_path / "out"
    runner = CliRunner()
    ran = runner.invoke(
        app, ["run", str(mixed), "--out", str(out), "--no-progress", "--workers", "1"]
    )
    assert ran.exit_code == 0, ran.output
    suite_dir = out / "mixed"
    assert len(store.finished_run_ids(suite_dir)) == 3  # clip, moco, ksg
    figures = store.figures_dir(suite_dir)
    assert (figures / "training_curves_gaussian.png").is_file(), sorted(os.listdir(figures))
    plotted = runner.invoke(app, ["plot", str(suite_dir)])
    assert plotted.exit_code == 0, plotted.output
    reported = runner.invoke(app, ["report", str(suite_dir)])
    assert reported.exit_code == 0, reported.output
    markdown, _ = store.report_paths(suite_dir)
    assert "training_curves_gaussian" in markdown.read_text()
