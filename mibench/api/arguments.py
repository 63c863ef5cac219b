"""Argument checks of the Python API, as strict as the command line's.

:func:`check_estimate_arguments` runs first in :func:`mibench.api.estimate.estimate_mi` and
:func:`check_bounds_names` in :func:`mibench.api.bounds.estimate_bounds`; each raises TypeError
(a value of the wrong type: a string is not a bool, a string is not a list of names) or
ValueError (out of range) naming the argument, before any data is converted or memory spent.
:func:`check_sample_size` runs once the rows are counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MAX_STEPS = 10_000_000  # training steps of one estimate (the per-step records are preallocated)
MAX_SEED = 2**63 - 1  # torch generators take 64-bit seeds
MIN_TRAIN_ROWS = 2  # a training batch needs two pairs
MIN_HELDOUT_ROWS = 4  # two validation and two test rows (mibench.api.estimate's split)
BOOL_ARGUMENTS = ("early_stopping", "gaussianize", "standardize")
INT_ARGUMENTS = {
    "steps": 4,
    "batch_size": 2,
    "seed": 0,
    "eval_every": 1,
    "patience": 1,
    "window": 1,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; TypeError naming ``name`` for anything else ('false' is not False).

    Examples:
        >>> check_bool("gaussianize", False)
        False
        >>> check_bool("gaussianize", "false")
        Traceback (most recent call last):
        ...
        TypeError: gaussianize must be True or False, got the str 'false'
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got the {type(value).__name__} {value!r}")


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; TypeError/ValueError naming ``name``.

    Examples:
        >>> check_int("seed", 2**70, 0, MAX_SEED)
        Traceback (most recent call last):
        ...
        ValueError: seed must be an integer <= 9223372036854775807, got 1180591620717411303424
    """
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, got the {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value}")
    return value


def check_estimate_arguments(arguments: Mapping[str, Any]) -> None:
    """Types and ranges of :func:`~mibench.api.estimate.estimate_mi`'s scalar arguments (those
    of ``arguments`` it knows; the others are checked where they are used)."""
    for name in BOOL_ARGUMENTS:
        if name in arguments:
            check_bool(name, arguments[name])
    for name, minimum in INT_ARGUMENTS.items():
        if name in arguments:
            maximum = {"steps": MAX_STEPS, "seed": MAX_SEED}.get(name)
            check_int(name, arguments[name], minimum, maximum)
    fraction = arguments.get("heldout_fraction", 0.3)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.floating):
        raise TypeError(f"heldout_fraction must be a number in (0, 1), got {fraction!r}")
    if not (math.isfinite(float(fraction)) and 0.0 < float(fraction) < 1.0):
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {fraction!r}")
    for name in ("critic_params", "estimator_params"):
        value = arguments.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a mapping of names to values, got {value!r}")


def check_sample_size(n_rows: int, heldout_fraction: float) -> None:
    """ValueError when ``n_rows`` pairs cannot give a training batch and the held-out split
    (:data:`MIN_HELDOUT_ROWS` held out, :data:`MIN_TRAIN_ROWS` left to train on).

    Examples:
        >>> check_sample_size(3, 0.3)
        Traceback (most recent call last):
        ...
        ValueError: x and y have 3 rows; the held-out split takes 4 and training needs 2 more: give at least 6 rows
    """
    held_out = max(MIN_HELDOUT_ROWS, round(heldout_fraction * n_rows))
    if n_rows - held_out < MIN_TRAIN_ROWS:
        need = held_out + MIN_TRAIN_ROWS
        while max(MIN_HELDOUT_ROWS, round(heldout_fraction * need)) + MIN_TRAIN_ROWS > need:
            need += 1
        raise ValueError(
            f"x and y have {n_rows} rows; the held-out split takes {held_out} and training "
            f"needs {MIN_TRAIN_ROWS} more: give at least {need} rows"
        )


def check_bounds_names(bounds: Any) -> tuple[str, ...]:
    """``bounds`` of :func:`~mibench.api.bounds.estimate_bounds` as a tuple of names: a list or
    tuple of strings (a string alone is refused: it is not a list of names).

    Examples:
        >>> check_bounds_names("club")
        Traceback (most recent call last):
        ...
        TypeError: bounds must be a list of estimator names, got the string 'club' (write ['club', ...])
    """
    if isinstance(bounds, str):
        raise TypeError(
            f"bounds must be a list of estimator names, got the string {bounds!r} "
            f"(write [{bounds!r}, ...])"
        )
    if not isinstance(bounds, Sequence) or not bounds:
        raise TypeError(f"bounds must be a non-empty list of estimator names, got {bounds!r}")
    for item in bounds:
        if not isinstance(item, str):
            raise TypeError(f"bounds must hold estimator names (strings), got {item!r}")
    return tuple(bounds)


__all__ = [
    "MAX_SEED",
    "MAX_STEPS",
    "check_bool",
    "check_bounds_names",
    "check_estimate_arguments",
    "check_int",
    "check_sample_size",
]
