"""External programs as sample estimators: the file + stdout contract and its failures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mibench.core.interface import EstimatorFailedError
from mibench.estimators.command import CommandEstimator, parse_estimate
from mibench.plan.fingerprint import spec_fingerprint

X = np.arange(12.0).reshape(6, 2)
Y = np.arange(6.0).reshape(6, 1)


def _python(code: str, *args: str, **kwargs) -> object:
    return CommandEstimator([sys.executable, "-c", code, "{x}", "{y}", *args], name="cmd", **kwargs)


def test_the_program_reads_the_npy_pair_and_its_number_is_the_estimate() -> None:
    code = ("import sys, numpy as np; x, y = np.load(sys.argv[1]), np.load(sys.argv[2]); "
            "print(x.sum() + 10 * y.shape[1] + 100 * int(sys.argv[3]))")  # fmt: skip
    spec = _python(code, "{dim_x}")
    assert spec.kind == "sample" and spec.family == "command"
    assert spec.estimate(X, Y) == pytest.approx(X.sum() + 10 + 200)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import sys; print('bad input', file=sys.stderr); sys.exit(1)", "exited with status 1"),
        ("print('hello world')", "printed 2 tokens, not one number"),
        ("print('abc')", "printed 'abc', not a number"),
        ("print('nan')", "not a finite number"),
    ],
)
def test_a_failing_program_is_a_failure_with_its_reason(code: str, reason: str) -> None:
    with pytest.raises(EstimatorFailedError) as caught:
        _python(code).estimate(X, Y)
    assert reason in caught.value.reason
    if "exit" in code:
        assert caught.value.detail == "bad input"  # the tail of its standard error


def test_a_program_past_its_timeout_fails() -> None:
    with pytest.raises(EstimatorFailedError, match=r"timed out after 0\.5 s"):
        _python("import time; time.sleep(30)", timeout_s=0.5).estimate(X, Y)


def test_argv_is_checked_on_construction() -> None:
    with pytest.raises(ValueError, match=r"lacks \{y\}"):
        CommandEstimator(["prog", "{x}"], name="cmd")
    with pytest.raises(TypeError, match="list of strings"):
        CommandEstimator("prog {x} {y}", name="cmd")
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        CommandEstimator(["prog", "{x}", "{y}"], name="cmd", timeout_s=0)


def test_editing_the_script_changes_the_fingerprint(tmp_path: Path) -> None:
    script = tmp_path / "estimate.py"
    script.write_text("print(1.0)\n")
    spec = CommandEstimator([sys.executable, str(script), "{x}", "{y}"], name="cmd")
    before = spec_fingerprint(spec)
    assert spec_fingerprint(spec) == before
    script.write_text("print(2.0)\n")
    assert spec_fingerprint(spec) != before


def test_parse_estimate_takes_exactly_one_finite_number() -> None:
    assert parse_estimate(" 1.25\n") == 1.25
    with pytest.raises(EstimatorFailedError):
        parse_estimate("")
