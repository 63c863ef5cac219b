"""`mibench reproduce NAME|--list`: argument handling (the flow itself: tests/reproduce/)."""

from __future__ import annotations

from typer.testing import CliRunner

from mibench import cli
from mibench import reproduce as reproductions

runner = CliRunner()


def test_list_shows_every_reproduction():
    result = runner.invoke(cli.app, ["reproduce", "--list"], terminal_width=200)
    assert result.exit_code == 0
    for name in ("poole2019", "song_ermon2020", "bmi2023", "flatnce2021", "club2020"):
        assert name in result.output


def test_bad_name_is_one_error_line_with_the_choices(tmp_path):
    result = runner.invoke(cli.app, ["reproduce", "poole", "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: unknown reproduction 'poole'")
    assert "valid choices: poole2019, song_ermon2020" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_bad_budget_and_missing_name_exit_2(tmp_path):
    bad = runner.invoke(cli.app, ["reproduce", "club2020", "--budget", "huge"])
    assert bad.exit_code == 2 and "valid choices: full, quick" in bad.output
    missing = runner.invoke(cli.app, ["reproduce"])
    assert missing.exit_code == 2 and "give a reproduction NAME or --list" in missing.output


def test_arguments_reach_the_library(monkeypatch, tmp_path):
    seen = {}

    def fake(name, budget, **kwargs):
        seen.update(name=name, budget=budget, **kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(reproductions, "reproduce", fake)
    runner.invoke(
        cli.app,
        [
            "reproduce",
            "club2020",
            "--budget",
            "full",
            "--out",
            str(tmp_path),
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert (seen["name"], seen["budget"], seen["out"]) == ("club2020", "full", str(tmp_path))
    assert seen["workers"] == 1 and seen["show_progress"] is False
