"""Name -> :class:`~mibench.interface.Estimator` registry. ``mibench list estimators`` reads it."""

from __future__ import annotations

from mibench.interface import Estimator, UnknownNameError

_REGISTRY: dict[str, Estimator] = {}
_ORDER: list[str] = []  # registration order: the stable colour order of every figure


def register(spec: Estimator) -> Estimator:
    """Add ``spec`` under ``spec.name``; a duplicate name is an error (bmi overwrote silently)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"estimator {spec.name!r} is already registered")
    if spec.name != spec.name.lower():
        raise ValueError(f"estimator names are lower-case, got {spec.name!r}")
    _REGISTRY[spec.name] = spec
    _ORDER.append(spec.name)
    return spec


def get(name: str) -> Estimator:
    """The spec registered as ``name``; an unknown name lists the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("estimator", name, names()) from None


def names() -> list[str]:
    """Sorted registered names."""
    return sorted(_REGISTRY)


def registration_order() -> list[str]:
    """Names in the order their modules registered them (used for colours)."""
    return list(_ORDER)
