"""Shared build-time checks: one-line messages naming the parameter, the value and the range."""

from __future__ import annotations

import math

import pytest

from mibench.tasks._validation import (
    validate_choice,
    validate_dim,
    validate_int,
    validate_mi,
    validate_positive,
    validate_rho,
)


def test_valid_values_pass_through_with_their_type() -> None:
    assert validate_int("n", 3, minimum=1) == 3
    assert validate_dim(2) == 2
    assert validate_mi(2) == 2.0 and isinstance(validate_mi(2), float)
    assert validate_rho(-0.5) == -0.5
    assert validate_positive("nu", 0.1) == 0.1
    assert validate_choice("base", "x", ["x", "y"]) == "x"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: validate_int("n_classes", 1, minimum=2),
            "n_classes must be an integer >= 2, got 1",
        ),
        (lambda: validate_int("n", False, minimum=0), "n must be an integer >= 0, got False"),
        (lambda: validate_dim("3"), "dim must be an integer >= 1, got '3'"),
        (lambda: validate_mi(math.nan), "mi must be a number >= 0 (nats), got nan"),
        (
            lambda: validate_mi(-1, name="each level"),
            "each level must be a number >= 0 (nats), got -1",
        ),
        (lambda: validate_rho(None), "rho must lie in the open interval (-1, 1), got None"),
        (
            lambda: validate_positive("sigma", math.inf),
            "sigma must be a finite number > 0, got inf",
        ),
        (lambda: validate_choice("base", "z", ["x", "y"]), "base must be one of x, y; got 'z'"),
    ],
)
def test_errors_name_value_and_valid_range(call, message: str) -> None:
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message and "\n" not in str(error.value)
