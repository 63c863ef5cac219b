"""Mutual-information estimators as pure functions of a score matrix.

The contract (stated once; every estimator, critic and test points here)
------------------------------------------------------------------------
``scores`` is a float tensor of shape ``(..., K, K)`` with

    scores[..., i, j] = g(x_i, y_j),

row = x sample, column = y sample. The diagonal holds the K positive pairs drawn from the joint
p(x, y); the K(K-1) off-diagonal entries stand for samples of the product of marginals p(x)p(y).
Leading axes are stacked runs: every estimator returns one value per leading index, shape
``scores.shape[:-2]``. Estimators never mutate their input, never pick a device or dtype, never
call ``.item()`` and never ``exp`` a raw score (all reductions go through
:mod:`mibench.estimators._logspace`). Natural logs; values in nats. The ``"views"`` and
``"labels"`` layouts used by NT-Xent and SINCERE/SupCon are defined in :mod:`mibench.core.interface`.

Public API::

    from mibench.estimators import get, names, ess, infonce_value
    spec = get("infonce"); spec.value(scores); spec.loss(scores); spec.ceiling(K)

Sample estimators (KSG, Gaussian/CCA, histogram, KDE; :mod:`mibench.estimators.classical`) are
the registry's second kind: functions of n joint samples, no score matrix.

Adding an estimator = one function in a family module + one ``register(Estimator(...))`` call +
its tests; this package imports every module in it, so nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from mibench.core.interface import Estimator, SampleEstimator
from mibench.estimators.diagnostics import ess, infonce_value
from mibench.estimators.registry import (
    get,
    is_sample,
    names,
    register,
    registration_order,
    sample_names,
    score_names,
)

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name not in {"registry", "diagnostics"}:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "Estimator",
    "SampleEstimator",
    "ess",
    "get",
    "infonce_value",
    "is_sample",
    "names",
    "register",
    "registration_order",
    "sample_names",
    "score_names",
]
