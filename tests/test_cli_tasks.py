"""``mibench tasks profile``: the PMI profile table, its histogram, and bad input (exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.cli import app


def test_profile_prints_the_mean_within_its_standard_error_and_draws_the_histogram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["tasks", "profile", "gaussian", "--dim", "5", "--mi", "2", "--samples", "40000"]
    )
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if "mean (= I)" in row)
    mean, se = (float(v) for v in line.split("│")[2].split("(")[0].split("±"))
    assert abs(mean - 2.0) <= 4 * se  # 4 SE: E[PMI] = I
    assert (tmp_path / "results" / "profiles" / "gaussian-d5-mi2.png").stat().st_size > 0


def test_profile_takes_string_and_list_parameters(tmp_path: Path) -> None:
    out = tmp_path / "stairs.png"
    args = ["tasks", "profile", "staircase", "--base", "cubic", "--levels", "[1, 3]", "--dim", "2"]
    result = CliRunner().invoke(app, [*args, "--samples", "2000", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gaussian", "--dimm", "5"], "no parameter 'dimm'"),
        (["gaussian", "--mi", "-1"], "mi must be"),
        (["labeled_gaussians"], "no paired samples"),
        (["gaussian", "--plot", "x.jpg"], "--plot must end in .png or .svg"),
        (["gaussian", "dim"], "--key value pairs"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["tasks", "profile", *args, "--samples", "200"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())
