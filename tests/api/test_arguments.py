"""The Python API refuses bad arguments like the CLI: the argument named, a TypeError for a wrong
type (a string is not a bool, a string is not a list of names), a ValueError for a bad range."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mibench
from mibench.api import arguments, bounds


@pytest.fixture(scope="module")
def pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2))
    return x, x + rng.standard_normal((60, 2))


@pytest.mark.parametrize(
    ("arguments_", "error", "message"),
    [
        ({"steps": 10**15}, ValueError, r"steps must be an integer <= 10000000"),
        ({"seed": 2**70}, ValueError, r"seed must be an integer <= 9223372036854775807"),
        ({"seed": -1}, ValueError, r"seed must be an integer >= 0"),
        ({"gaussianize": "false"}, TypeError, r"gaussianize must be True or False, got the str"),
        ({"early_stopping": "no"}, TypeError, r"early_stopping must be True or False"),
        ({"standardize": 1}, TypeError, r"standardize must be True or False, got the int 1"),
        ({"batch_size": 2.0}, TypeError, r"batch_size must be an integer, got the float"),
        ({"batch_size": 1}, ValueError, r"batch_size must be an integer >= 2"),
        ({"steps": True}, TypeError, r"steps must be an integer, got the bool"),
        ({"heldout_fraction": "0.3"}, TypeError, r"heldout_fraction must be a number"),
        ({"heldout_fraction": float("nan")}, ValueError, r"heldout_fraction must lie in \(0, 1\)"),
        ({"critic_params": [64]}, TypeError, r"critic_params must be a mapping"),
    ],
)
def test_estimate_mi_names_the_bad_argument(pairs, arguments_, error, message):
    with pytest.raises(error, match=message):
        mibench.estimate_mi(*pairs, **arguments_)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_too_few_rows_for_a_batch_and_a_split(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 1))
    with pytest.raises(ValueError, match=rf"x and y have {n} rows; .* give at least 6 rows"):
        mibench.estimate_mi(x, x, method="neural", steps=8, eval_every=2)


@given(n=st.integers(0, 400), fraction=st.floats(0.01, 0.99))
def test_check_sample_size_asks_for_exactly_what_the_split_needs(n: int, fraction: float):
    held_out = max(arguments.MIN_HELDOUT_ROWS, round(fraction * n))
    fits = n - held_out >= arguments.MIN_TRAIN_ROWS
    if fits:
        arguments.check_sample_size(n, fraction)
        return
    with pytest.raises(ValueError) as caught:
        arguments.check_sample_size(n, fraction)
    need = int(str(caught.value).rsplit("at least ", 1)[1].split()[0])
    arguments.check_sample_size(need, fraction)  # the number it asks for is enough ...
    with pytest.raises(ValueError):
        arguments.check_sample_size(need - 1, fraction)  # ... and no smaller one is


_NOT_BOOL = st.one_of(
    st.text(max_size=5), st.integers(), st.floats(), st.none(), st.lists(st.booleans())
)
_NOT_INT = st.one_of(st.text(max_size=5), st.floats(), st.none(), st.booleans())


@given(name=st.sampled_from(arguments.BOOL_ARGUMENTS), value=_NOT_BOOL)
def test_every_bool_argument_refuses_what_is_not_a_bool(name: str, value: object):
    with pytest.raises(TypeError, match=rf"^{name} must be True or False"):
        arguments.check_estimate_arguments({name: value})


@given(name=st.sampled_from(sorted(arguments.INT_ARGUMENTS)), value=_NOT_INT | st.integers())
def test_every_int_argument_is_an_integer_in_range_or_named(name: str, value: object):
    minimum = arguments.INT_ARGUMENTS[name]
    maximum = {"steps": arguments.MAX_STEPS, "seed": arguments.MAX_SEED}.get(name)
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    valid = valid and (maximum is None or value <= maximum)  # type: ignore[operator]
    if valid:
        arguments.check_estimate_arguments({name: value})
        return
    with pytest.raises((TypeError, ValueError), match=rf"^{name} must be an integer"):
        arguments.check_estimate_arguments({name: value})


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("club", TypeError, r"bounds must be a list of estimator names, got the string 'club'"),
        (("ksg", "club"), ValueError, r"bounds: 'ksg' is a sample estimator"),
        ([], TypeError, r"non-empty list"),
        (["club", 3], TypeError, r"bounds must hold estimator names \(strings\), got 3"),
        (None, TypeError, r"non-empty list"),
    ],
)
def test_estimate_bounds_refuses_what_is_not_a_list_of_trained_bounds(pairs, value, error, message):
    with pytest.raises(error, match=message):
        bounds.estimate_bounds(*pairs, bounds=value)


def test_a_crossed_bracket_is_flagged_and_warned(pairs, monkeypatch):
    values = {"infonce": 0.0102, "club": -0.0075}  # the lower end above the upper end

    class Fake:
        def __init__(self, value: float) -> None:
            self.estimate = value

    monkeypatch.setattr(
        bounds, "estimate_mi", lambda x, y, *, estimator, critic, **_: Fake(values[estimator])
    )
    with pytest.warns(UserWarning, match=r"the bracket is crossed: the lower end \(infonce"):
        result = bounds.estimate_bounds(*pairs, bounds=["infonce", "club"])
    assert result.crossed and result.width < 0
    values["club"] = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not bounds.estimate_bounds(*pairs, bounds=["infonce", "club"]).crossed
