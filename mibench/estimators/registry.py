"""Name -> estimator spec registry; ``mibench list estimators`` reads it.

It holds two kinds of spec: :class:`~mibench.core.interface.Estimator` (a function of a critic's score
matrix, trained by the stacked trainer) and :class:`~mibench.core.interface.SampleEstimator` (a
classical estimator computed from n joint samples, ``kind == "sample"``). :func:`names` and
:func:`registration_order` list both, so ``estimators = "all"`` includes both;
:func:`score_names` and :func:`sample_names` list one kind.
"""

from __future__ import annotations

from mibench.core.interface import Estimator, SampleEstimator
from mibench.core.registry import Registry

Spec = Estimator | SampleEstimator


def _check_lower_case(name: str) -> None:
    if name != name.lower():
        raise ValueError(f"estimator names are lower-case, got {name!r}")


# Registration order is the stable colour order of every figure.
REGISTRY: Registry[Spec] = Registry("estimator", check_key=_check_lower_case)


register = REGISTRY.register  # a duplicate name is an error (bmi overwrote silently)
get = REGISTRY.get  # an unknown name lists the valid ones
names = REGISTRY.names  # sorted, both kinds


def score_names() -> list[str]:
    """Sorted names of the score-matrix estimators (the ones a critic is trained for)."""
    return sorted(s.name for s in REGISTRY if isinstance(s, Estimator))


def sample_names() -> list[str]:
    """Sorted names of the sample estimators (``kind == "sample"``)."""
    return sorted(s.name for s in REGISTRY if isinstance(s, SampleEstimator))


def is_sample(name: str) -> bool:
    """Whether ``name`` is a sample estimator (unknown names raise, listing the valid ones)."""
    return isinstance(get(name), SampleEstimator)


registration_order = REGISTRY.registration_order  # the order of the colours
