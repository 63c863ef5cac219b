"""A plug-in's fingerprint follows its own code (and helpers of its module), nothing else."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import pytest

from mibench.core.interface import Estimator, SampleEstimator
from mibench.plan.fingerprint import code_fingerprint, spec_fingerprint
from tests.plan._plugin_fixtures import write_module

MODULE = """
import numpy as np

SCALE = {scale}


def _helper(x):
    return x * SCALE


def bound(scores):
    return _helper(scores).mean((-2, -1))


def other(x, y):
    return {other}
"""


def _load(folder: Path, name: str, scale: float, other: float):
    write_module(folder, name, MODULE.format(scale=scale, other=other))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def module_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_an_edit_of_a_helper_changes_the_callers_fingerprint_only(module_folder: Path) -> None:
    first = _load(module_folder, "fp_mod_a", 1.0, 0.0)
    bound_1, other_1 = code_fingerprint(first.bound), code_fingerprint(first.other)
    again = _load(module_folder, "fp_mod_a", 1.0, 0.0)
    assert code_fingerprint(again.bound) == bound_1  # same code, new process-like import
    scaled = _load(module_folder, "fp_mod_a", 2.0, 0.0)  # a constant the helper reads
    assert code_fingerprint(scaled.bound) != bound_1
    assert code_fingerprint(scaled.other) == other_1  # fn does not read SCALE
    edited = _load(module_folder, "fp_mod_a", 1.0, 1.0)
    assert code_fingerprint(edited.other) != other_1
    assert code_fingerprint(edited.bound) == bound_1


def test_closures_partials_and_object_state_count() -> None:
    def make(offset: float):
        def fn(x, y):
            return offset

        return fn

    def base(x, y, k=3):
        return k

    assert code_fingerprint(make(1.0)) != code_fingerprint(make(2.0))
    assert code_fingerprint(functools.partial(base, k=4)) != code_fingerprint(
        functools.partial(base, k=5)
    )

    class Knn:
        def __init__(self, k: int) -> None:
            self.k = k

        def estimate(self, x, y) -> float:
            return 0.0

    assert code_fingerprint(Knn(3)) == code_fingerprint(Knn(3))
    assert code_fingerprint(Knn(3)) != code_fingerprint(Knn(4))


def test_a_spec_fingerprint_reads_its_settings_and_version_not_its_words() -> None:
    def value(scores):
        return scores.mean((-2, -1))

    spec = Estimator(name="mine_x", value_fn=value)
    same = Estimator(name="mine_x", value_fn=value, description="other words", citation="x")
    assert spec_fingerprint(spec) == spec_fingerprint(same)
    assert spec_fingerprint(spec) != spec_fingerprint(Estimator(name="mine_x", value_fn=value,
                                                                caps_at_log_k=True))  # fmt: skip
    assert spec_fingerprint(spec) != spec_fingerprint(spec, version="pkg 2.0")
    assert spec_fingerprint(spec) != spec_fingerprint(Estimator(name="mine_y", value_fn=value))
    sample = SampleEstimator(lambda x, y: 0.0, name="zero")
    assert len(spec_fingerprint(sample)) == 16
