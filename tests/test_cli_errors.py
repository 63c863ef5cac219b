"""Every bad command line and bad suite: one ``error:`` line on stderr, exit 2, nothing written.

The cases are those a hostile first use found raising a traceback (exit 1) or printing click's
5-6 line usage box: a huge ``steps``, a 5000-character suite name, ``--out`` under a regular file,
an unwritable or empty ``--out``, unparsable numbers, unknown options and choices, and option
values whose error message did not echo what was typed.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.cli import app

TINY = """
[suite]
name = "tiny"
steps = 10
seeds = 1
batch_sizes = [8]

[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY))
    return path


def _invoke(args: list[str], cwd: Path) -> tuple[int, str, str]:
    here = Path.cwd()
    os.chdir(cwd)  # so that a relative write (--out '') would land in the test's folder
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(here)
    return result.exit_code, result.stdout, result.stderr


def _assert_one_line(code: int, stdout: str, stderr: str, expected: str) -> None:
    assert code == 2, (code, stdout, stderr)
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert expected in stderr, stderr
    assert "Traceback" not in stdout + stderr and "╭" not in stdout + stderr


def _written(folder: Path, before: set[Path]) -> set[Path]:
    return set(folder.rglob("*")) - before


RUN_CASES = {
    "steps not a number": (["--steps", "abc"], "Invalid value for '--steps'"),
    "workers not a number": (["--workers", "abc"], "--workers: must be an integer >= 1, got 'abc'"),
    "unknown option": (["--bogus"], "No such option: --bogus"),
    "huge steps": (["--steps", "1000000000000"], "--steps: 1000000000000 steps per run is above"),
    "empty seed range": (["--seeds", "3-1"], "--seeds: invalid value '3-1'"),
    "empty seed list": (["--seeds", ","], "--seeds: invalid value ','"),
    "empty estimators": (["--estimators", ""], "--estimators: give 'all' or comma-separated"),
    "blank estimators": (["--estimators", " , "], "got ' , '"),
    "empty batch sizes": (["--batch-sizes", ""], "--batch-sizes: give at least one value, got ''"),
    "empty out": (["--out", ""], "--out: must name a folder, got ''"),
    "mi and rho": (
        ["--tasks", '{name = "gaussian", mi = 1, rho = 0.5}'],
        "gives both mi = 1 and rho = 0.5; give one of them",
    ),
}


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_bad_run_options_give_one_line(case: str, tmp_path: Path, tiny: Path) -> None:
    args, expected = RUN_CASES[case]
    before = set(tmp_path.rglob("*"))
    out = ["--out", str(tmp_path / "out")] if "--out" not in args else []
    code, stdout, stderr = _invoke(["run", str(tiny), *out, *args, "--no-progress"], tmp_path)
    _assert_one_line(code, stdout, stderr, expected)
    assert _written(tmp_path, before) == set()


def test_out_under_a_regular_file(tmp_path: Path, tiny: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    before = set(tmp_path.rglob("*"))
    code, stdout, stderr = _invoke(["run", str(tiny), "--out", str(blocker / "sub")], tmp_path)
    _assert_one_line(code, stdout, stderr, "is not a directory, so")
    assert _written(tmp_path, before) == set()


def test_unwritable_out(tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # root writes anywhere: make os.access answer as for a user
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
        )
    before = set(tmp_path.rglob("*"))
    code, stdout, stderr = _invoke(["run", str(tiny), "--out", str(locked)], tmp_path)
    _assert_one_line(code, stdout, stderr, f"--out: folder {str(locked)!r} is not writable")
    assert _written(tmp_path, before) == set()


def test_mi_and_rho_in_a_suite_file_name_both(tmp_path: Path, tiny: Path) -> None:
    tiny.write_text(tiny.read_text().replace("mi = 1 }", "mi = 1, rho = 0.5 }"))
    code, stdout, stderr = _invoke(["run", str(tiny), "--out", str(tmp_path / "o")], tmp_path)
    _assert_one_line(code, stdout, stderr, "gives both mi = 1 and rho = 0.5")
    assert not (tmp_path / "o").exists()


def test_suite_name_too_long_for_a_folder(tmp_path: Path, tiny: Path) -> None:
    tiny.write_text(tiny.read_text().replace('name = "tiny"', f'name = "{"a" * 5000}"'))
    before = set(tmp_path.rglob("*"))
    code, stdout, stderr = _invoke(["run", str(tiny), "--out", str(tmp_path / "o")], tmp_path)
    _assert_one_line(code, stdout, stderr, "[suite].name: 5000 bytes long")
    assert _written(tmp_path, before) == set()


OTHER_CASES = {
    "list foo": (["list", "foo"], "'foo' is not one of"),
    "plot --format jpg": (["plot", "--format", "jpg"], "'jpg' is not one of 'png', 'svg'"),
    "report --format jpg": (["report", "--format", "jpg"], "'jpg' is not one of"),
    "plot --out ''": (["plot", "--out", ""], "--out: must name a folder, got ''"),
    "unknown command": (["trian"], "No such command 'trian'"),
}


@pytest.mark.parametrize("case", sorted(OTHER_CASES))
def test_bad_command_lines_give_one_line(case: str, tmp_path: Path) -> None:
    args, expected = OTHER_CASES[case]
    before = set(tmp_path.rglob("*"))
    code, stdout, stderr = _invoke(args, tmp_path)
    _assert_one_line(code, stdout, stderr, expected)
    assert _written(tmp_path, before) == set()


def test_help_and_version_still_exit_0(tmp_path: Path) -> None:
    code, stdout, _ = _invoke(["run", "--help"], tmp_path)
    assert code == 0 and "--steps" in stdout
    code, stdout, _ = _invoke(["--version"], tmp_path)
    assert code == 0 and stdout.startswith("mibench ")
