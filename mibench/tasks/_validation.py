"""Build-time parameter checks shared by every task: one-line ValueErrors naming value and range.

The CLI turns a ValueError into exit code 2, so every message names the parameter, the bad value
and the valid range or choices.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def validate_int(name: str, value: Any, *, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def validate_dim(dim: Any) -> int:
    """A dimension: an integer >= 1."""
    return validate_int("dim", dim, minimum=1)


def validate_mi(true_mi: Any, name: str = "mi") -> float:
    """A target mutual information: a finite number >= 0 (nats)."""
    if not _is_number(true_mi) or not true_mi >= 0:
        raise ValueError(f"{name} must be a number >= 0 (nats), got {true_mi!r}")
    if not math.isfinite(true_mi):
        raise ValueError(f"{name} must be finite, got {true_mi!r}")
    return float(true_mi)


def validate_rho(rho: Any) -> float:
    """A correlation in the open interval (-1, 1)."""
    if not _is_number(rho) or not -1.0 < rho < 1.0:
        raise ValueError(f"rho must lie in the open interval (-1, 1), got {rho!r}")
    return float(rho)


def validate_positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    if not _is_number(value) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def validate_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    valid = list(choices)
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")
    return str(value)
