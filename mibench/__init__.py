"""mibench: how neural mutual-information estimators really behave, on tasks with known truth.

The public API, loaded on first use (``import mibench`` itself imports no torch):

* :func:`run` trains a suite (built-in estimators and your own) and returns :class:`Results`;
* :class:`Estimator` (a bound or objective on the score matrix), :class:`SampleEstimator` (any
  ``f(x, y) -> float`` on joint samples) and :func:`CommandEstimator` (an external program) are
  the three kinds of estimator a suite can hold;
* :func:`estimate_mi` estimates the MI of your own arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The one place of the version: pyproject.toml reads it (setuptools' dynamic `attr`), so the
# installed distribution's version and `mibench --version` cannot disagree.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from mibench.api.estimate import MIEstimate, estimate_mi
    from mibench.api.results import Results
    from mibench.api.run import run
    from mibench.core.interface import Estimator, SampleEstimator
    from mibench.estimators.command import CommandEstimator

_LAZY = {
    "estimate_mi": "mibench.api.estimate",
    "MIEstimate": "mibench.api.estimate",
    "run": "mibench.api.run",
    "Results": "mibench.api.results",
    "Estimator": "mibench.core.interface",
    "SampleEstimator": "mibench.core.interface",
    "CommandEstimator": "mibench.estimators.command",
}


def __getattr__(name: str) -> Any:
    # Lazy: `import mibench` stays light (no torch) until the API is used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mibench' has no attribute {name!r}")


__all__ = [
    "CommandEstimator",
    "Estimator",
    "MIEstimate",
    "Results",
    "SampleEstimator",
    "__version__",
    "estimate_mi",
    "run",
]
