"""The top-level package (mibench/__init__.py): one version, a lazy API, a light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mibench


def test_lazy_names_are_the_api_objects() -> None:
    from mibench import api
    from mibench.api.results import Results
    from mibench.api.run import run
    from mibench.core import interface
    from mibench.estimators.command import CommandEstimator

    assert mibench.estimate_mi is api.estimate_mi
    assert mibench.MIEstimate is api.MIEstimate
    assert mibench.run is run and mibench.Results is Results
    assert mibench.Estimator is interface.Estimator
    assert mibench.SampleEstimator is interface.SampleEstimator
    assert mibench.CommandEstimator is CommandEstimator
    assert set(mibench.__all__) == {
        "CommandEstimator", "Estimator", "MIEstimate", "Results", "SampleEstimator",
        "__version__", "estimate_mi", "run",
    }  # fmt: skip


def test_an_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'mibench' has no attribute 'nothing'"):
        _ = mibench.nothing  # type: ignore[attr-defined]


def test_import_mibench_does_not_import_torch() -> None:
    code = "import sys, mibench; print('torch' in sys.modules, mibench.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, version = out.stdout.split()
    assert loaded == "False" and version == mibench.__version__
