"""Checks of a plan and its results folder (mibench.plan.checks): one-line SuiteErrors before writing."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from mibench.core.interface import RunConfig
from mibench.plan import checks
from mibench.plan.suite import SuiteError, parse_suite, plan

SUITE = {
    "suite": {"name": "tiny", "steps": 10, "seeds": 1, "batch_sizes": [8]},
    "grid": [
        {
            "estimators": ["infonce"],
            "tasks": [{"name": "gaussian", "dim": 2, "mi": 1}],
            "critics": [{"name": "separable", "hidden": [4], "embed_dim": 2}],
        }
    ],
}


@pytest.mark.parametrize(
    ("n_steps", "log_every", "eval_every", "rows"),
    [(10, 1, 5, 10 + 2 + 2), (10, 3, 4, 4 + 3 + 2), (1, 1, 100, 1 + 1 + 2), (7, 7, 7, 1 + 1 + 2)],
)
def test_logged_rows(n_steps: int, log_every: int, eval_every: int, rows: int) -> None:
    config = RunConfig.make(estimator="infonce", task="gaussian", n_steps=n_steps,
                            log_every=log_every, eval_every=eval_every)  # fmt: skip
    assert checks.logged_rows(config) == rows
    assert rows == math.ceil(n_steps / log_every) + math.ceil(n_steps / eval_every) + 2


def test_plan_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    planned = plan(parse_suite(SUITE))
    checks.check_plan_size(planned)  # 10 steps: fine
    monkeypatch.setattr(checks, "MAX_LOGGED_ROWS", checks.logged_rows(planned.configs[0]) - 1)
    with pytest.raises(
        SuiteError, match=r"^steps = 10 with log_every = 1 and eval_every = \d+ logs"
    ):
        checks.check_plan_size(planned)


def test_suite_folder_name_length_in_bytes() -> None:
    checks.check_suite_folder_name("a" * checks.NAME_MAX_BYTES)
    with pytest.raises(SuiteError, match="256 bytes long"):
        checks.check_suite_folder_name("a" * (checks.NAME_MAX_BYTES + 1))
    # Bytes, not characters: 128 two-byte characters are 256 bytes.
    with pytest.raises(SuiteError, match="256 bytes long"):
        checks.check_suite_folder_name("é" * 128)


def test_check_out() -> None:
    assert checks.check_out("results") == Path("results")
    assert checks.check_out(Path("x")) == Path("x")
    for empty in ("", "  "):
        with pytest.raises(SuiteError, match="--out: must name a folder"):
            checks.check_out(empty)


def test_results_folder_checks(tmp_path: Path) -> None:
    checks.check_results_folder(tmp_path / "new" / "deeper")  # creatable
    (tmp_path / "suite").mkdir()
    checks.check_results_folder(tmp_path / "suite")  # exists, writable
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SuiteError, match=r"is not a directory$"):
        checks.check_results_folder(blocker)
    with pytest.raises(SuiteError, match=r"is not a directory, so .* cannot be created"):
        checks.check_results_folder(blocker / "suite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    (suite / "runs").mkdir(parents=True)
    (suite / "runs").chmod(0o500)
    try:
        with pytest.raises(SuiteError, match="runs' is not writable"):
            checks.check_results_folder(suite)
    finally:
        (suite / "runs").chmod(0o700)
