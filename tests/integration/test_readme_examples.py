"""Every TOML snippet and ``mibench`` command shown in the READMEs is valid (no drift).

TOML blocks are parsed and planned as suites (no training). ``mibench`` commands — in shell
blocks and in table cells — are run through the real command line with training replaced by a
stub that records the prepared plan (so option parsing, suite lookup and validation all run, and
nothing trains). The README's Python example runs for real with its steps cut to a few.
"""

from __future__ import annotations

import math
import re
import shlex
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from mibench.cli import app
from mibench.execute import runner
from mibench.plan.suite import parse_suite, plan

ROOT = Path(__file__).resolve().parents[2]
READMES = [
    ROOT / "README.md",
    ROOT / "tasks" / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]*\bmibench (?:run|plot|report|list|verify|show)\b[^`\n]*)`")
# A user's own suite in the README's examples: stands for any valid suite file.
MY_SUITE = """
[suite]
name = "my_suite"
steps = 10
[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = 1 }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


# A user's own module of estimators, as the docs name it: stands for any importable plug-in.
MY_BOUNDS = """
import mibench
from mibench.estimators.contrastive import infonce_lower_bound

my_bound = mibench.Estimator(name="my_bound", value_fn=infonce_lower_bound, kind="lower_bound")
"""


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        for lang, body in _FENCE.findall(readme.read_text()):
            if lang == language:
                found.append((readme.relative_to(ROOT).as_posix(), body))
    return found


def _suite_blocks() -> list[tuple[str, str]]:
    """TOML blocks that are suite files (a ``[[grid]]``); others show e.g. a pyproject table."""
    return [(where, body) for where, body in _blocks("toml") if "[[grid]]" in body]


def _mibench_commands() -> list[tuple[str, str]]:
    """``mibench ...`` command lines: shell-block lines (after ``&&`` too) and table cells."""
    commands = []
    for readme in READMES:
        text = readme.read_text()
        where = readme.relative_to(ROOT).as_posix()
        shell = [body for lang, body in _FENCE.findall(text) if lang in ("bash", "sh", "")]
        for body in shell:
            for line in body.splitlines():
                for part in line.split("&&"):
                    part = part.split("  #")[0].strip()  # a trailing comment
                    if re.match(r"^(/usr/bin/time( -v)? )?mibench ", part):
                        commands.append((where, part))
        for cell in _INLINE.findall(_FENCE.sub("", text)):
            commands.extend((where, line) for line in _expand(cell.strip()))
    return list(dict.fromkeys(commands))


def _expand(command: str) -> list[str]:
    """An inline synopsis as concrete commands: ``a|b|c`` gives one command per choice and the
    placeholder ``NAME`` (a suite name) each shipped suite."""
    words = command.split(" ")
    if "'" not in command and '"' not in command:
        for index, word in enumerate(words):
            if "|" in word:
                return [
                    line
                    for choice in word.split("|")
                    for line in _expand(" ".join([*words[:index], choice, *words[index + 1 :]]))
                ]
    if "NAME" in words:
        suites = sorted(p.stem for p in (ROOT / "tasks").glob("*.toml"))
        return [command.replace("NAME", suite) for suite in suites]
    return [command]


TOML_BLOCKS = _suite_blocks()
COMMANDS = _mibench_commands()


def test_the_readmes_have_examples_to_check() -> None:
    assert len(TOML_BLOCKS) >= 1 and len(COMMANDS) >= 5, (TOML_BLOCKS, COMMANDS)


@pytest.mark.parametrize(("where", "body"), TOML_BLOCKS, ids=lambda v: str(v)[:40])
def test_toml_snippets_parse_and_plan(where: str, body: str) -> None:
    document = tomllib.loads(body)
    suite = parse_suite(document, source=where, name="readme")
    expanded = plan(suite)
    assert expanded.configs, where


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[runner.Prepared]:
    """``runner.execute`` replaced by a stub that records what it was asked to run."""
    seen: list[runner.Prepared] = []

    def execute(prepared: runner.Prepared, **_: Any) -> runner.RunReport:
        seen.append(prepared)
        return runner.RunReport(
            suite_dir=prepared.suite_dir,
            n_cells=len(prepared.plan.configs),
            n_trained=0,
            n_reused=0,
            run_steps=0,
            wall_time_s=0.0,
            summary=pd.DataFrame(),
        )

    monkeypatch.setattr(runner, "execute", execute)
    return seen


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=lambda v: str(v)[:60])
def test_mibench_commands_are_valid(
    where: str, command: str, recorded: list[runner.Prepared], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(ROOT)  # the README's relative paths (benchmarks/..., tasks/...)
    # the example plug-in the README names by module:attribute, as if installed
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "mibench-example-plugin"))
    args = shlex.split(re.sub(r"^/usr/bin/time( -v)? ", "", command))[1:]
    if "my_suite.toml" in args:
        suite = tmp_path / "my_suite.toml"
        suite.write_text(textwrap.dedent(MY_SUITE))
        args[args.index("my_suite.toml")] = str(suite)
    if any("mybounds:" in arg for arg in args):
        (tmp_path / "mybounds.py").write_text(textwrap.dedent(MY_BOUNDS))
        monkeypatch.syspath_prepend(str(tmp_path))
    if args[0] == "run":  # results go to a scratch folder, whatever --out the README shows
        if "--out" in args:
            del args[args.index("--out") : args.index("--out") + 2]
        args += ["--out", str(tmp_path / "out"), "--workers", "1"]
    elif args[0] == "verify":
        pytest.skip("verify trains claims; tested in tests/claims")
    elif args[0] == "show" and not (ROOT / args[1]).is_dir():
        pytest.skip("show reads a finished suite folder; tested in tests/test_cli_show.py")
    elif args[0] in ("report", "plot") and not (ROOT / "results" / args[1]).is_dir():
        pytest.skip(
            f"{args[0]} reads a finished suite; tested in tests/test_report.py, tests/plots"
        )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (where, command, result.output)
    if args[0] == "run":
        assert len(recorded) == 1 and recorded[0].plan.configs, (where, command)


def test_the_python_example_estimates_the_truth() -> None:
    """The README's `estimate_mi` example, run as printed on a Gaussian pair with known MI.

    y = x + 0.5 e in two independent coordinates: rho^2 = 1 / 1.25 per coordinate, so
    I = 2 * (-1/2) log(1 - rho^2) = log 5 = 1.609 nats. Tolerance 0.3 nats: at n = 2 000 the
    held-out readout's spread is a few hundredths and the default estimators' bias on a
    2-d Gaussian a tenth at most; a wrong readout, split or preprocessing is off by far more.
    """
    (body,) = [b for where, b in _blocks("python") if where == "README.md" and "estimate_mi" in b]
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=generator)
    y = x + 0.5 * torch.randn(2000, 2, generator=generator)
    namespace: dict[str, Any] = {"x": x, "y": y}
    exec(body, namespace)
    result = namespace["result"]
    assert abs(result.estimate - math.log(5.0)) < 0.3, result.estimate
