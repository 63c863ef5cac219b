"""A damaged results folder: every command names the file, and the next ``run`` repairs it.

A truncated run Parquet file or a corrupt sidecar used to make ``mibench run`` exit 1 with a
traceback from the summary (retraining nothing), ``plot`` exit 0 silently and ``report`` print
the JSON error without the file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.cli import app
from mibench.results import integrity, store

TINY = """
[suite]
name = "tiny"
steps = 20
seeds = 2
batch_sizes = [8]
eval_every = 10

[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(suite file, results root) of a finished two-run suite, figures off."""
    root = tmp_path_factory.mktemp("damage")
    suite = root / "tiny.toml"
    suite.write_text(textwrap.dedent(TINY))
    out = root / "out"
    ran = run(suite, out)
    assert ran.exit_code == 0, ran.output
    return suite, out


def run(suite: Path, out: Path):
    return CliRunner().invoke(
        app, ["run", str(suite), "--out", str(out), "--no-plots", "--no-progress", "--workers", "1"]
    )


@pytest.fixture
def folder(finished, tmp_path: Path) -> tuple[Path, Path, str]:
    """A private copy of the finished folder: (suite file, results root, a run id)."""
    import shutil

    suite, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return suite, copy, store.finished_run_ids(copy / "tiny")[0]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "truncated parquet": (lambda d, r: _truncate(store.run_path(d, r)), ".parquet"),
    "corrupt sidecar": (lambda d, r: store.sidecar_path(d, r).write_text("{not json"), ".json"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_run_names_the_damaged_file_quarantines_and_retrains_it(folder, kind):
    suite, out, run_id = folder
    damage, suffix = DAMAGES[kind]
    suite_dir = out / "tiny"
    damage(suite_dir, run_id)
    again = run(suite, out)
    assert again.exit_code == 0, again.output
    assert f"{run_id}{suffix}" in again.output and "runs/quarantine/" in again.output
    assert "2 runs (1 trained, 1 already finished)" in again.output
    assert integrity.run_damage(suite_dir, run_id) is None  # retrained, trusted again
    assert sorted(p.name for p in integrity.quarantine_dir(suite_dir).iterdir()) == [
        f"{run_id}.0.json", f"{run_id}.0.parquet"]  # fmt: skip


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_plot_and_report_name_the_file_and_exit_2(folder, command, kind):
    suite, out, run_id = folder
    damage, suffix = DAMAGES[kind]
    suite_dir = out / "tiny"
    damage(suite_dir, run_id)
    result = CliRunner().invoke(app, [command, str(suite_dir)])
    assert result.exit_code == 2, result.output
    assert f"{run_id}{suffix}" in result.output and "Traceback" not in result.output
    assert "`mibench run`" in result.output
    assert run(suite, out).exit_code == 0  # the next run repairs the folder
    assert sorted(store.manifest_run_ids(suite_dir) or []) == store.finished_run_ids(suite_dir)


@pytest.mark.slow  # draws every figure
@pytest.mark.parametrize("command", ["plot", "report"])
def test_plot_and_report_work_again_once_run_repaired_the_folder(folder, command):
    suite, out, run_id = folder
    suite_dir = out / "tiny"
    store.sidecar_path(suite_dir, run_id).write_text("{not json")
    assert CliRunner().invoke(app, [command, str(suite_dir)]).exit_code == 2
    assert run(suite, out).exit_code == 0
    result = CliRunner().invoke(app, [command, str(suite_dir)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("file", "text"),
    [
        (store.SKIPPED_FILE, '{"not": "a list"}'),
        (store.SUITE_FILE, "[1]"),
        (store.SKIPPED_FILE, "{bad"),
    ],
)
def test_report_names_a_malformed_folder_file_and_run_rewrites_it(folder, file, text):
    suite, out, _ = folder
    suite_dir = out / "tiny"
    (suite_dir / file).write_text(text)
    result = CliRunner().invoke(app, ["report", str(suite_dir)])
    assert result.exit_code == 2 and str(suite_dir / file) in result.output, result.output
    assert result.output.count("\n") == 1 and "`mibench run`" in result.output
    assert run(suite, out).exit_code == 0
    getattr(store, "read_skipped" if file == store.SKIPPED_FILE else "read_suite_record")(suite_dir)


@pytest.mark.slow  # draws every figure
def test_an_unreadable_summary_or_manifest_is_rebuilt_from_the_runs(folder):
    _, out, _ = folder
    suite_dir = out / "tiny"
    store.summary_path(suite_dir).write_bytes(b"PAR1 torn")
    store.manifest_path(suite_dir).write_text('{"run_ids": [')
    result = CliRunner().invoke(app, ["plot", str(suite_dir)])
    assert result.exit_code == 0, result.output
    assert "manifest.json: not readable JSON" in result.output and "rebuilt it" in result.output
    assert "rebuilt summary.parquet" in result.output
    assert store.read_summary(suite_dir) is not None


@pytest.mark.parametrize("shape", ["runs is a file", "manifest.json is a folder"])
def test_a_path_of_the_wrong_kind_is_exit_2_before_anything_runs(folder, shape):
    suite, out, _ = folder
    suite_dir = out / "tiny"
    if shape == "runs is a file":
        import shutil

        shutil.rmtree(store.runs_dir(suite_dir))
        store.runs_dir(suite_dir).write_text("")
    else:
        store.manifest_path(suite_dir).unlink()
        store.manifest_path(suite_dir).mkdir()
    result = run(suite, out)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: --out: ") and "move it away" in result.output
