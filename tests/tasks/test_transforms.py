"""MI-preserving transforms: invertibility, invariance of the oracle MI, the maps themselves."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from mibench.core.interface import Task
from mibench.tasks import build
from mibench.tasks.gaussian import build_gaussian
from mibench.tasks.transforms import (
    ELEMENTWISE_TRANSFORMS,
    SINGULAR_VALUE_RANGE,
    TRANSFORM_NAMES,
    random_linear_transforms,
    transform_task,
)
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded

KS_SIGNIFICANCE = 1e-3
"""Kolmogorov-Smirnov checks reject at p < 1e-3; with fixed seeds they are deterministic."""


@pytest.mark.parametrize("name", TRANSFORM_NAMES)
@pytest.mark.parametrize("apply_to", ["y", "x", "both"])
def test_oracle_on_transformed_samples_equals_base_oracle_on_base_samples(
    name: str, apply_to: str
) -> None:
    """Transform invariance: same seed, same base draw; the transformed task's oracle recovers it."""
    base = build_gaussian(dim=3, mi=2.0)
    task = transform_task(base, name, apply_to=apply_to)
    base_batch = base.sample(4096, seeded(0), dtype=torch.float64)
    batch = task.sample(4096, seeded(0), dtype=torch.float64)
    # the map really changed the transformed side(s) and left the other alone
    assert (not torch.allclose(batch.y, base_batch.y)) == (apply_to in ("y", "both"))
    assert (not torch.allclose(batch.x, base_batch.x)) == (apply_to in ("x", "both"))
    # uniform_margins loses precision where Phi(v) is within ~1e-16 of 1 (|v| > ~8, never here)
    torch.testing.assert_close(
        task.log_ratio(batch.x, batch.y),
        base.log_ratio(base_batch.x, base_batch.y),
        rtol=1e-9,
        atol=1e-9,
    )
    assert task.true_mi() == base.true_mi() and task.f_mi("pearson") == base.f_mi("pearson")


@pytest.mark.parametrize("name", TRANSFORM_NAMES)
def test_oracle_mi_of_transformed_samples_matches_true_mi(name: str) -> None:
    task = build(name, dim=4, mi=1.5, apply_to="both")
    batch = task.sample(100_000, seeded(1), dtype=torch.float64)
    estimate, standard_error = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    assert_close_in_standard_errors(estimate, standard_error, 1.5)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_TRANSFORMS))
def test_elementwise_inverse_undoes_forward(name: str) -> None:
    transform = ELEMENTWISE_TRANSFORMS[name]
    values = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    # Phi(6) is within 1e-9 of 1, where float64 spacing 1.1e-16 over the density phi(6) = 6.1e-9
    # means a quantile error of ~2e-8; the other maps are exact to rounding
    tolerance = 5e-8 if name == "uniform_margins" else 1e-10
    torch.testing.assert_close(
        transform.inverse(transform.forward(values)), values, rtol=tolerance, atol=tolerance
    )
    # strictly increasing on the grid, hence invertible
    assert bool((transform.forward(values).diff() > 0).all())


def test_forward_maps_are_the_documented_formulas() -> None:
    v = torch.tensor([-2.0, -0.5, 0.0, 0.3, 4.0], dtype=torch.float64)
    torch.testing.assert_close(ELEMENTWISE_TRANSFORMS["cubic"].forward(v), v**3)
    torch.testing.assert_close(ELEMENTWISE_TRANSFORMS["asinh"].forward(v), torch.asinh(v))
    torch.testing.assert_close(
        ELEMENTWISE_TRANSFORMS["halfcube"].forward(v), torch.sign(v) * v.abs() ** 1.5
    )
    expected = torch.tensor(stats.norm.cdf(v.numpy()))
    torch.testing.assert_close(ELEMENTWISE_TRANSFORMS["uniform_margins"].forward(v), expected)


def test_uniform_margins_makes_gaussian_margins_uniform() -> None:
    task = build("uniform_margins", dim=2, mi=1.0)
    batch = task.sample(50_000, seeded(2), dtype=torch.float64)
    assert stats.kstest(batch.y[:, 0].numpy(), stats.uniform.cdf).pvalue > KS_SIGNIFICANCE
    assert stats.kstest(batch.x[:, 0].numpy(), stats.norm.cdf).pvalue > KS_SIGNIFICANCE


def test_uniform_margins_oracle_stays_finite_where_float32_saturates() -> None:
    task = build("uniform_margins", dim=1, mi=1.0)
    x = torch.tensor([[6.0], [-6.0]], dtype=torch.float32)
    y = ELEMENTWISE_TRANSFORMS["uniform_margins"].forward(x)  # rounds to exactly 1.0 and ~1e-9
    assert float(y[0]) == 1.0
    assert bool(torch.isfinite(task.log_ratio(x, y)).all())


def test_random_linear_matrices_are_seeded_well_conditioned_and_distinct() -> None:
    on_x, on_y = random_linear_transforms(5, 5, 3)
    again_x, _ = random_linear_transforms(5, 5, 3)
    other_x, _ = random_linear_transforms(5, 5, 4)
    eye = torch.eye(5, dtype=torch.float64)
    matrix_x, matrix_y = on_x.forward(eye).T, on_y.forward(eye).T  # columns A e_k
    torch.testing.assert_close(on_x.inverse(on_x.forward(eye)), eye)
    assert torch.equal(again_x.forward(eye), on_x.forward(eye))
    assert not torch.allclose(other_x.forward(eye), on_x.forward(eye))
    assert not torch.allclose(matrix_x, matrix_y)
    singular = torch.linalg.svdvals(matrix_x)
    low, high = SINGULAR_VALUE_RANGE
    assert float(singular.min()) >= low - 1e-12 and float(singular.max()) <= high + 1e-12
    # not a scaled rotation: the map mixes coordinates
    assert float((matrix_x - torch.diag(torch.diagonal(matrix_x))).abs().max()) > 0.1


def test_transform_over_student_t_base_keeps_its_mi() -> None:
    task = build("cubic", base="student_t", nu=3.0, dim=3, mi=1.0)
    assert task.true_mi() == pytest.approx(1.0) and task.id == "cubic-student_t-d3-nu3-mi1"
    batch = task.sample(100_000, seeded(3), dtype=torch.float64)
    estimate, standard_error = mean_and_standard_error(task.log_ratio(batch.x, batch.y))
    assert_close_in_standard_errors(estimate, standard_error, 1.0)


def test_ids_params_and_protocol() -> None:
    task = build("cubic", dim=5, mi=2.0)
    assert isinstance(task, Task)
    assert task.id == "cubic-gaussian-d5-mi2" and task.name == "cubic" and task.target == "mi"
    assert task.params["transform"] == "cubic" and task.params["apply_to"] == "y"
    assert task.params["dim"] == 5 and task.dim_x == task.dim_y == 5
    assert build("asinh", apply_to="both").id == "asinh-both-gaussian-d5-mi1"
    linear = build("random_linear", matrix_seed=7, apply_to="x")
    assert (
        linear.id == "random_linear-seed7-x-gaussian-d5-mi1" and linear.params["matrix_seed"] == 7
    )


def test_samplers_are_reproducible() -> None:
    task = build("halfcube", dim=2)
    a, b = task.sample(8, seeded(9)), task.sample(8, seeded(9))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, task.sample(8, seeded(10)).y)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("cubic", {"apply_to": "z"}, "apply_to must be one of y, x, both; got 'z'"),
        ("cubic", {"base": "labeled"}, "base must be one of gaussian, student_t; got 'labeled'"),
        (
            "cubic",
            {"nu": 3.0},
            "nu applies only to base='student_t'; got nu=3.0 with base='gaussian'",
        ),
        ("random_linear", {"matrix_seed": -1}, "matrix_seed must be an integer >= 0, got -1"),
        (
            "uniform_margins",
            {"base": "student_t"},
            "uniform_margins needs base='gaussian' (Phi is the CDF of its N(0,1) margins); got 'student_t'",
        ),
        ("asinh", {"dim": 0}, "dim must be an integer >= 1, got 0"),
        ("halfcube", {"base": "student_t", "nu": 0.0}, "nu must be a finite number > 0, got 0.0"),
    ],
)
def test_bad_parameters_raise_one_line_value_errors(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        build(name, **kwargs)
    assert str(error.value) == message


def test_unknown_transform_name_lists_choices() -> None:
    with pytest.raises(ValueError, match="transform must be one of cubic, asinh, halfcube"):
        transform_task(build_gaussian(), "square")
