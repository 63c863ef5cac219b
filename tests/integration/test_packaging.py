"""pyproject.toml's packaging settings: every subpackage listed, suites mapped, one version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import mibench

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_subpackage_is_listed_and_the_suites_are_mapped_in():
    # `packages` is an explicit list (setuptools' `find` cannot map tasks/ into the package),
    # so a new subpackage missing from it would be left out of the wheel.
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "mibench").rglob("__init__.py")
    }
    assert set(SETUPTOOLS["packages"]) == on_disk | {"mibench.suites"}
    assert SETUPTOOLS["package-dir"] == {"mibench.suites": "tasks"}
    assert (ROOT / "tasks" / "__init__.py").is_file()  # a regular package: editable installs
    assert set(SETUPTOOLS["package-data"]["mibench.suites"]) == {"*.toml", "README.md"}
    assert "py.typed" in SETUPTOOLS["package-data"]["mibench"]
    assert (ROOT / "mibench" / "py.typed").is_file()


def test_the_version_has_one_place():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "mibench.__version__"}
    assert mibench.__version__[0].isdigit()


def test_extras_are_named_for_what_they_enable():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"cluster", "compare"} <= set(extras)
    assert any(req.startswith("dask-jobqueue") for req in extras["cluster"])
