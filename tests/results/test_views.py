"""A summary left from an earlier invocation beside a newer manifest is detected and rebuilt."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mibench.execute import runner
from mibench.cli import app
from mibench.results import schema, store, views
from mibench.plan.suite import Overrides

TINY = """
[suite]
name = "tiny"
steps = 12
seeds = 1
batch_sizes = [8]
eval_every = 4

[[grid]]
estimators = ["infonce", "nwj"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


@pytest.fixture
def stale(tmp_path: Path) -> Path:
    """A results folder as a re-run killed just after writing its new manifest.json leaves it:
    the summary of a 1-seed invocation beside the manifest of a 2-seed one."""
    suite = tmp_path / "tiny.toml"
    suite.write_text(textwrap.dedent(TINY))
    out = tmp_path / "out"
    first = runner.run_suite(suite, out=out, show_progress=False)
    suite_dir = first.suite_dir
    old_summary = (suite_dir / store.SUMMARY_FILE).read_bytes()
    runner.run_suite(suite, out=out, show_progress=False, overrides=Overrides(seeds=2))
    (suite_dir / store.SUMMARY_FILE).write_bytes(old_summary)
    return suite_dir


def test_the_summary_records_the_manifest_it_describes(stale: Path) -> None:
    assert views.summary_digest(stale) is not None
    assert not views.summary_is_current(stale)
    assert set(pd.read_parquet(stale / store.SUMMARY_FILE)[schema.N_SEEDS]) == {1}


def test_refresh_rebuilds_the_summary_of_the_manifest_runs(stale: Path) -> None:
    note = views.refresh_summary(stale)
    assert note is not None and "rebuilt summary.parquet from the 4 runs" in note
    summary = pd.read_parquet(stale / store.SUMMARY_FILE)
    assert set(summary[schema.N_SEEDS]) == {2}
    assert views.summary_is_current(stale)
    assert views.refresh_summary(stale) is None  # current now: nothing to do


def test_rebuilt_summary_equals_the_one_the_run_wrote(stale: Path) -> None:
    views.refresh_summary(stale)
    rebuilt = pd.read_parquet(stale / store.SUMMARY_FILE)
    run_ids = store.manifest_run_ids(stale)
    assert run_ids is not None
    direct = views.build_summary(stale, run_ids)
    pd.testing.assert_frame_equal(rebuilt, direct, check_exact=True)


def test_unfinished_manifest_runs_are_an_error_not_a_silent_figure(stale: Path) -> None:
    run_ids = store.manifest_run_ids(stale) or []
    store.run_path(stale, run_ids[0]).unlink()  # as if the re-run was killed before this run
    with pytest.raises(ValueError, match=r"1 of the 4 runs of .*manifest.json are not finished"):
        views.refresh_summary(stale)
    result = CliRunner().invoke(app, ["plot", str(stale)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_plot_rebuilds_a_stale_summary_and_says_so(stale: Path) -> None:
    result = CliRunner().invoke(app, ["plot", str(stale)])
    assert result.exit_code == 0, result.output
    assert "rebuilt summary.parquet" in result.stdout
    assert set(pd.read_parquet(stale / store.SUMMARY_FILE)[schema.N_SEEDS]) == {2}
    manifest = json.loads((stale / store.MANIFEST_FILE).read_text())
    assert len(manifest["run_ids"]) == 4
