"""The wheel, installed (not editable) into a fresh virtual environment, runs from any folder.

Slow (about 2-3 minutes, most of it pip unpacking torch into the new environment); CI runs it as
its own step after the default test run (``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import mibench

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# What the build reads; copied so that the build leaves nothing (build/, *.egg-info) in the tree.
BUILD_INPUTS = ("pyproject.toml", "README.md", "mibench", "tasks")

TINY = """
[suite]
name = "tiny"
steps = 20
seeds = 2
batch_sizes = [8]

[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


def run(command: list[str | Path], *, timeout: float, expect: int = 0, **kwargs):
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert done.returncode == expect, (
        f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    # Build isolation, as a user's pip does: setuptools comes from the configured index.
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, source], timeout=600
    )
    (wheel,) = wheels.glob("mibench-*.whl")
    return wheel


def expected_wheel_files() -> set[str]:
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "mibench").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    suites = {
        f"mibench/suites/{path.name}" for path in (ROOT / "tasks").iterdir() if path.is_file()
    }
    return modules | suites | {"mibench/py.typed"}


def test_wheel_installs_into_a_fresh_venv_and_runs_from_an_empty_folder(tmp_path):
    wheel = build_wheel(tmp_path)
    assert wheel.name.startswith(f"mibench-{mibench.__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = expected_wheel_files() - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert "mibench/suites/default.toml" in names

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], timeout=300)
    python, mibench_command = venv / "bin" / "python", venv / "bin" / "mibench"
    # The torch pin keeps pip on the local CPU build (README, "Install as a package").
    constraints = ROOT / "constraints.txt"
    run([python, "-m", "pip", "install", "-q", "-c", constraints, wheel], timeout=1800)

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    env |= {"COLUMNS": "200"}

    def mibench_cli(*args: str, expect: int = 0):
        return run([mibench_command, *args], timeout=600, expect=expect, cwd=empty, env=env)

    where = run(
        [python, "-c", "import importlib.metadata as m, mibench; print(m.version('mibench'));"
         "print(mibench.__file__)"],
        timeout=120, cwd=empty, env=env,
    ).stdout.split()  # fmt: skip
    version, module_file = where[0], Path(where[1])
    assert module_file.is_relative_to(venv), module_file  # the installed copy, not the checkout
    assert mibench_cli("--version").stdout.strip() == f"mibench {version}"

    assert "infonce" in mibench_cli("list", "estimators").stdout
    listed = mibench_cli("list", "suites").stdout
    for toml in (ROOT / "tasks").glob("*.toml"):
        assert any(toml.stem in line and "shipped" in line for line in listed.splitlines())

    tiny = tmp_path / "elsewhere" / "tiny.toml"
    tiny.parent.mkdir()
    tiny.write_text(textwrap.dedent(TINY))
    output = mibench_cli("run", str(tiny), "--out", "OUT", "--no-plots", "--no-progress").stdout
    assert "2 runs (2 trained, 0 already finished)" in output
    assert (empty / "OUT" / "tiny" / "summary.parquet").is_file()

    main = ("run", "--estimators", "infonce", "--steps", "5", "--seeds", "1", "--out", "OUT")
    mibench_cli(*main, "--no-plots")
    assert (empty / "OUT" / "default" / "summary.parquet").is_file()

    error = mibench_cli("run", "no_such_suite", expect=2).stderr.strip()
    assert "\n" not in error and "valid choices:" in error and "default" in error
    assert sorted(p.name for p in empty.iterdir()) == ["OUT"]  # nothing else written here
