"""Suite lookup by name (explicit path > ./tasks/NAME.toml > shipped suites) and `list suites`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mibench import cli
from mibench.plan import suite as suite_schema
from mibench.plan.suite import SuiteError, load_suite, plan, resolve_suite, suite_files

REPO_SUITES = Path(__file__).resolve().parents[2] / "tasks"
SHIPPED_NAMES = sorted(p.stem for p in REPO_SUITES.glob("*.toml"))

TINY = """
[suite]
name = "{name}"
steps = 30
seeds = 2
batch_sizes = [8]
description = "two estimators, one task"

[[grid]]
estimators = ["infonce", "nwj"]
tasks = [{{ name = "gaussian", dim = 2, mi = 1 }}]
critics = [{{ name = "separable", hidden = [8], embed_dim = 4 }}]
"""

SECOND_GRID = """
[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 2 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
steps = 50
"""


def write_local(folder: Path, stem: str, text: str) -> Path:
    path = folder / "tasks" / f"{stem}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch) -> Path:
    """A working folder with no ./tasks, away from the source tree."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_repository_suites_are_the_shipped_ones(empty_cwd):
    assert SHIPPED_NAMES, "the repository's tasks/ has suite files"
    files = suite_files()
    assert list(files) == SHIPPED_NAMES
    for name, file in files.items():  # the same file, not a copy
        assert file.read_text() == (REPO_SUITES / f"{name}.toml").read_text()
    assert load_suite(None).source == str(files["default"])


def test_local_tasks_folder_shadows_a_shipped_suite(empty_cwd):
    local = write_local(empty_cwd, "default", TINY.format(name="mine"))
    assert resolve_suite("default") == local
    assert load_suite(None).name == "mine"
    other = next(n for n in SHIPPED_NAMES if n != "default")
    assert resolve_suite(other) == suite_files()[other]  # the rest stay reachable


def test_an_explicit_path_comes_before_any_name(empty_cwd, tmp_path):
    write_local(empty_cwd, "default", TINY.format(name="local"))
    explicit = tmp_path / "default.toml"
    explicit.write_text(textwrap.dedent(TINY.format(name="explicit")))
    assert load_suite(explicit).name == "explicit"
    assert load_suite(str(explicit)).name == "explicit"


def test_unknown_name_lists_the_shipped_suites(empty_cwd):
    with pytest.raises(SuiteError) as info:
        resolve_suite("nope")
    message = str(info.value)
    assert "\n" not in message
    assert f"valid choices: {', '.join(SHIPPED_NAMES)} or a path to a .toml" in message


def test_shipped_suites_are_read_with_importlib_resources(empty_cwd, tmp_path, monkeypatch):
    # A stand-in for the installed `mibench.suites` package: only importlib can find it.
    package = tmp_path / "site" / "fake_suites"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "only_here.toml").write_text(textwrap.dedent(TINY.format(name="only_here")))
    (package / "notes.md").write_text("not a suite")
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setattr(suite_schema, "SHIPPED_SUITES_PACKAGE", "fake_suites")
    assert list(suite_files()) == ["only_here"]
    assert load_suite("only_here").name == "only_here"
    with pytest.raises(SuiteError, match=r"valid choices: only_here or a path"):
        resolve_suite("default")


def test_without_the_package_a_checkout_uses_its_tasks_folder(empty_cwd, monkeypatch):
    monkeypatch.setattr(suite_schema, "SHIPPED_SUITES_PACKAGE", "mibench.no_such_package")
    assert Path(str(suite_schema.shipped_suite_dir())) == REPO_SUITES
    assert list(suite_files()) == SHIPPED_NAMES


def test_list_suites_shows_origin_size_and_description(empty_cwd, monkeypatch):
    monkeypatch.setattr(cli, "console", Console(width=400))
    write_local(empty_cwd, "tiny", TINY.format(name="tiny"))
    write_local(empty_cwd, "mixed", TINY.format(name="mixed") + SECOND_GRID)
    write_local(empty_cwd, "broken", '[[grid]]\nestimators = ["nope"]\ntasks = ["gaussian"]\n')
    result = CliRunner().invoke(cli.app, ["list", "suites"])
    assert result.exit_code == 0, result.output
    rows = {  # a wrapped description continues on lines with an empty name cell
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if "│" in line and line.split("│")[1].strip()
    }
    assert set(rows) == {"tiny", "mixed", "broken", *SHIPPED_NAMES}
    # 2 estimators x 1 task x 2 seeds = 4 runs; the second grid adds 1 estimator x 2 seeds at 50
    assert "│ ./tasks │ 4 runs x 30 steps " in rows["tiny"]
    assert "two estimators, one task" in rows["tiny"]
    assert "│ ./tasks │ 6 runs x 30-50 steps " in rows["mixed"]
    assert "│ invalid " in rows["broken"] and "'nope'" in rows["broken"]
    for name in SHIPPED_NAMES:
        configs = plan(load_suite(name)).configs
        steps = sorted({c.n_steps for c in configs})
        span = str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
        assert f"│ shipped │ {len(configs)} runs x {span} steps " in rows[name]
