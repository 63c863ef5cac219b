"""Fuzz: random bad suite files and bad command lines never give a traceback.

Each example takes a valid tiny suite and a valid command line and breaks exactly one thing
(a setting out of range or of the wrong type, an unknown key or name, a task parameter out of
range, a bad suite name, malformed TOML, a bad option value or an unknown option), so every
example is invalid by construction. The property: exit code 2, exactly one line on stderr
starting with ``error:``, nothing written, no traceback. Training is replaced by a stub that
fails the test if it is ever reached (an input the generator meant as bad was accepted).
"""

from __future__ import annotations

import json
import math
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mibench import estimators
from mibench.cli import app
from mibench.execute import runner

EXAMPLES = 40  # per property: keeps the default test run fast

SUITE = {
    "suite": {"name": "fuzz", "steps": 10, "seeds": 1, "batch_sizes": [8], "lr": 1e-3},
    "grid": [
        {
            "estimators": ["infonce"],
            "tasks": [{"name": "gaussian", "dim": 2, "mi": 1}],
            "critics": [{"name": "separable", "hidden": [8], "embed_dim": 4}],
        }
    ],
}
SUITE_KEYS = ["name", "description", "steps", "seeds", "lr", "dtype", "negatives",
              "batch_sizes", "log_every", "eval_every", "eval_batch_size", "device"]  # fmt: skip
GRID_KEYS = ["estimators", "tasks", "critics", "systems", "estimator_params", *SUITE_KEYS[2:]]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (JSON escapes are TOML escapes)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(value)


def _toml(document: dict[str, Any]) -> str:
    lines = ["[suite]", *(f"{k} = {_toml_value(v)}" for k, v in document["suite"].items())]
    for grid in document["grid"]:
        lines.append("[[grid]]")
        lines.extend(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in grid.items())
    return "\n".join(lines) + "\n"


not_positive_int = st.integers(max_value=0)
wrong_type = st.one_of(st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2))
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
unknown_estimator = names.filter(lambda n: n.strip() not in estimators.names() and n != "all")
unknown_key = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)

SUITE_BREAKS = st.one_of(
    st.tuples(st.just("suite"), st.just("steps"), st.one_of(not_positive_int, wrong_type)),
    st.tuples(st.just("suite"), st.just("seeds"), st.one_of(st.integers(max_value=0), st.text())),
    st.tuples(st.just("suite"), st.just("lr"), st.one_of(
        st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.text(max_size=4))),
    st.tuples(st.just("suite"), st.just("batch_sizes"), st.one_of(
        st.integers(max_value=1), st.lists(st.integers(max_value=1), min_size=1, max_size=3),
        st.just([]))),
    st.tuples(st.just("suite"), st.just("dtype"), names.filter(
        lambda n: n not in ("float32", "float64"))),
    st.tuples(st.just("suite"), st.just("eval_every"), not_positive_int),
    st.tuples(st.just("suite"), st.just("name"), st.one_of(
        st.just(""), st.text(min_size=1, max_size=4).map(lambda t: "-" + t),
        st.text(min_size=1, max_size=4).map(lambda t: t + "/x"), st.just("a" * 300))),
    st.tuples(st.just("suite"), unknown_key.filter(lambda k: k not in SUITE_KEYS), st.integers()),
    st.tuples(st.just("grid"), unknown_key.filter(lambda k: k not in GRID_KEYS), st.integers()),
    st.tuples(st.just("grid"), st.just("estimators"), unknown_estimator.map(lambda n: [n])),
    st.tuples(st.just("task"), st.just("mi"), st.one_of(
        st.floats(max_value=-1e-9, allow_infinity=False), st.text(max_size=4))),
    st.tuples(st.just("task"), st.just("dim"), not_positive_int),
    st.tuples(st.just("task"), st.just("rho"), st.floats(min_value=-0.9, max_value=0.9)),
    st.tuples(st.just("toml"), st.sampled_from(["[", "]", "= 3", "[[grid", "x = "]), st.none()),
)  # fmt: skip


def _broken_suite(where: str, key: str, value: Any) -> str:
    document = json.loads(json.dumps(SUITE))
    if where == "suite":
        document["suite"][key] = value
    elif where == "grid":
        document["grid"][0][key] = value
    elif where == "task":  # rho beside mi: a contradiction; mi/dim out of range
        document["grid"][0]["tasks"][0][key] = value
    text = _toml(document)
    if where == "toml":
        text = text.replace("[[grid]]", f"[[grid]]\n{key}", 1)
    return text


BAD_OPTIONS = st.one_of(
    st.tuples(st.just("--steps"), st.one_of(not_positive_int.map(str), names.filter(
        lambda t: not t.strip().lstrip("+").isdigit()))),
    st.tuples(st.just("--workers"), st.one_of(not_positive_int.map(str), st.just("abc"))),
    st.tuples(st.just("--seeds"), st.sampled_from(["3-1", ",", "x", "1,a", "-", "1.5", ""])),
    st.tuples(st.just("--batch-sizes"), st.sampled_from(["", "1", "0,8", "a", "8,,x", "-4"])),
    st.tuples(st.just("--dtype"), names.filter(lambda n: n not in ("float32", "float64"))),
    st.tuples(st.just("--device"), names.filter(lambda n: n != "cpu")),
    st.tuples(st.just("--estimators"), unknown_estimator),
    st.tuples(st.just("--tasks"), st.text(max_size=6).map(lambda t: "{" + t)),
    st.tuples(st.just("--out"), st.just("")),
    st.tuples(unknown_key.map(lambda k: f"--{k.replace('_', '-')}x"), st.just("1")),
)  # fmt: skip


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def execute(*_: Any, **__: Any) -> None:
        raise AssertionError("a bad input reached training")

    monkeypatch.setattr(runner, "execute", execute)


def _check(args: list[str], folder: Path) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (args, result.exit_code, result.output, result.exception)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["suite.toml"], args  # nothing written


@settings(max_examples=EXAMPLES)
@given(SUITE_BREAKS)
@pytest.mark.usefixtures("no_training")
def test_broken_suite_files_give_one_line(change: tuple[str, str, Any]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        suite = folder / "suite.toml"
        suite.write_text(_broken_suite(*change))
        _check(["run", str(suite), "--out", str(folder / "out"), "--no-progress"], folder)


@settings(max_examples=EXAMPLES)
@given(BAD_OPTIONS)
@pytest.mark.usefixtures("no_training")
def test_bad_command_lines_give_one_line(option: tuple[str, str]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        suite = folder / "suite.toml"
        suite.write_text(textwrap.dedent(_toml(SUITE)))
        flag, value = option
        out = [] if flag == "--out" else ["--out", str(folder / "out")]
        _check(["run", str(suite), *out, flag, value, "--no-progress"], folder)
