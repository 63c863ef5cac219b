"""The README's table of estimators is the registry's (mibench/estimators/catalogue.py)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from mibench.cli import app
from mibench.estimators import names
from mibench.estimators.catalogue import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"<!-- estimators:start[^>]*-->\n(.*?)<!-- estimators:end -->", re.S)


def test_every_registered_estimator_has_exactly_one_row() -> None:
    listed = re.findall(r"`([a-z0-9_]+)`", markdown_table())
    assert sorted(listed) == sorted(names())


def test_the_readme_table_is_the_registry_table() -> None:
    (block,) = _BLOCK.findall(README.read_text())
    assert block.strip() == markdown_table().strip(), (
        "README.md's estimator table drifted from the registry: paste the output of "
        "`mibench list estimators --markdown` between its estimators:start/end markers"
    )


def test_the_cli_prints_the_table_and_refuses_it_for_other_lists() -> None:
    result = CliRunner().invoke(app, ["list", "estimators", "--markdown"])
    assert result.exit_code == 0 and result.output.strip() == markdown_table().strip()
    result = CliRunner().invoke(app, ["list", "tasks", "--markdown"])
    assert result.exit_code == 2 and "--markdown lists estimators only" in result.output
