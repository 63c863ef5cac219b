"""``mibench run --estimators infonce,mod:bound,mod:fn`` and ``mibench list estimators`` with
plug-ins: end to end through the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import mibench.cli
from mibench.cli import app
from mibench.results import schema, store
from tests.plan._plugin_fixtures import (
    EXAMPLE,
    SMALL_SUITE,
    USER_MODULE,
    write_distribution,
    write_module,
)

RUN = ["run", "small.toml", "--no-plots", "--no-progress", "--workers", "1"]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the user's module and a small suite; a wide console."""
    write_module(tmp_path, "usermod", USER_MODULE)
    (tmp_path / "small.toml").write_text(SMALL_SUITE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "usermod", raising=False)
    monkeypatch.setattr(mibench.cli, "console", Console(width=400))
    return tmp_path


def _estimator_of(suite_dir: Path, run_id: str) -> str:
    return store.read_sidecar(suite_dir, run_id)["config"]["estimator"]


def test_module_names_run_beside_infonce_and_an_edit_retrains_only_the_bound(
    folder: Path,
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, [*RUN, "--estimators", "infonce,usermod:bound,usermod:fn"])
    assert first.exit_code == 0, first.output
    assert "where the plug-ins stand" in first.output
    assert "12 runs (12 trained, 0 already finished)" in first.output
    suite_dir = folder / "results" / "small"
    summary = store.read_summary(suite_dir)
    assert set(summary[schema.ESTIMATOR]) == {"infonce", "my_nwj", "fn"}
    before = set(store.finished_run_ids(suite_dir))
    # A new process would import the edited file afresh; so does this one without the cache.
    sys.modules.pop("usermod", None)
    source = (folder / "usermod.py").read_text()
    (folder / "usermod.py").write_text(source.replace("- torch.exp(log_mean)",
                                                      "- 1.0 * torch.exp(log_mean)"))  # fmt: skip
    second = runner.invoke(app, [*RUN, "--estimators", "infonce,usermod:bound,usermod:fn"])
    assert second.exit_code == 0, second.output
    assert "12 runs (4 trained, 8 already finished)" in second.output
    added = set(store.finished_run_ids(suite_dir)) - before
    assert {_estimator_of(suite_dir, r) for r in added} == {"my_nwj"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("usermod:nothing", "module 'usermod' has no attribute 'nothing'"),
        ("nomod_q:bound", "cannot import module 'nomod_q'"),
        ("usermod:np", "is not an estimator"),
    ],
)
def test_a_broken_name_is_one_error_line_exit_2_and_nothing_written(
    folder: Path, name: str, message: str
) -> None:
    result = CliRunner().invoke(app, [*RUN, "--estimators", f"infonce,{name}"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (folder / "results").exists()


def test_list_estimators_shows_entry_points_with_origin_and_broken_ones(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(write_distribution(folder / "site")))
    broken = write_distribution(folder / "broken", name="broken-plugin", version="9.9",
                                entry_points={"broken_bound": "missing_mod_q:x"})  # fmt: skip
    monkeypatch.syspath_prepend(str(broken))
    result = CliRunner().invoke(app, ["list", "estimators"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "symmetric_infonce" in line)
    assert "entry point of mibench-example-plugin 0.1.0" in row and "lower_bound" in row
    bad = next(line for line in result.output.splitlines() if "broken_bound" in line)
    assert "broken" in bad and "ModuleNotFoundError" in bad
    ran = CliRunner().invoke(app, [*RUN, "--estimators", "all,copula_gaussian", "--tasks",
                                   '{name="gaussian", dim=2, mi=[1.0]}', "--seeds", "1"])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    summary = store.read_summary(folder / "results" / "small")
    assert "copula_gaussian" in set(summary[schema.ESTIMATOR])
