"""The shipped ``digits`` suite (tasks/digits.toml): its plan, its bad values, and one tiny run
end to end through ``mibench run`` and ``mibench verify --results``."""

from __future__ import annotations

import json
import math
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mibench.cli import app
from mibench.plan.suite import SuiteError, load_suite, plan
from mibench.tasks import build

SELF_CONSISTENCY = (
    "results-self-consistency-independence",
    "results-self-consistency-data-processing",
    "results-self-consistency-additivity",
)


def test_digits_plan_pairs_every_test_with_its_plain_task() -> None:
    expanded = plan(load_suite("digits"))
    tasks = {(c.task, json.dumps(dict(c.task_params), sort_keys=True)) for c in expanded.configs}
    by_test = Counter(json.loads(p)["consistency"] for _, p in tasks)
    assert by_test == {"none": 8, "independence": 2, "data_processing": 2, "additivity": 2}
    for task, params in tasks:
        values = json.loads(params)
        if values["consistency"] != "none":
            plain = json.dumps({**values, "consistency": "none"}, sort_keys=True)
            assert (task, plain) in tasks
        if values["consistency"] == "additivity":  # the suite's comment: 2I < log K - 1.4
            assert build(task, **values).true_mi() < math.log(64) - 1.4
    assert len(expanded.configs) == 14 * 4 * 2  # tasks x estimators x seeds


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ name = "digits_label", reroll = 1.5 }', "reroll must be a number in [0, 1], got 1.5"),
        ('{ name = "digits_pixels", pixels = 0 }', "pixels must be an integer >= 1, got 0"),
        ('{ name = "digits_pixels", consistency = "dpi" }', "consistency must be one of"),
    ],
)
def test_a_bad_digits_parameter_is_one_line_and_exit_2(
    tmp_path: Path, entry: str, message: str
) -> None:
    suite = tmp_path / "bad.toml"
    suite.write_text(textwrap.dedent(f"""
        [suite]
        steps = 5
        [[grid]]
        estimators = ["infonce"]
        tasks = [{entry}]
    """))  # fmt: skip
    with pytest.raises(SuiteError, match=r"grid 1\.tasks"):
        plan(load_suite(suite))
    result = CliRunner().invoke(app, ["run", str(suite), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_tiny_digits_run_gets_the_three_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = CliRunner().invoke(app, ["run", "digits", "--steps", "20", "--seeds", "1",
                                   "--estimators", "infonce", "--out", str(out), "--no-plots",
                                   "--workers", "1"])  # fmt: skip
    assert run.exit_code == 0, run.output
    evidence = tmp_path / "verify.json"
    CliRunner().invoke(app, ["verify", "--results", str(out / "digits"), "--json", str(evidence)])
    verdicts = {r["id"]: r["verdict"] for r in json.loads(evidence.read_text())}
    assert all(verdicts[i] in ("PASS", "FAIL") for i in SELF_CONSISTENCY), verdicts
