"""Staircase schedule: truth at every step, per-sample levels in one block draw, segments."""

from __future__ import annotations

import pytest
import torch

from mibench.core.interface import Task
from mibench.tasks import build
from mibench.tasks.gaussian import build_gaussian, rho_from_mi
from mibench.tasks.staircase import DEFAULT_LEVELS, Segment, build_staircase
from tests.tasks._task_stats import assert_close_in_standard_errors, mean_and_standard_error, seeded


def test_defaults_follow_poole_et_al() -> None:
    task = build("staircase")
    assert isinstance(task, Task)
    assert task.levels == DEFAULT_LEVELS == (2.0, 4.0, 6.0, 8.0, 10.0)
    assert task.steps_per_level == 4000 and task.dim == 20 and task.n_steps == 20_000
    assert task.id == "staircase-gaussian-d20-mi2_4_6_8_10-every4000"


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 2.0),
        (3999, 2.0),
        (4000, 4.0),
        (8000, 6.0),
        (19_999, 10.0),
        (20_000, 10.0),
        (10**6, 10.0),
        (-3, 2.0),
    ],
)
def test_true_mi_at_every_step(step: int, expected: float) -> None:
    assert build("staircase").true_mi(step) == expected


def test_level_index_accepts_ints_and_tensors_alike() -> None:
    task = build_staircase(levels=[1.0, 3.0, 5.0], steps_per_level=10)
    steps = torch.tensor([-1, 0, 9, 10, 25, 29, 30, 1000])
    expected = [task.level_index(int(s)) for s in steps]
    assert expected == [0, 0, 0, 1, 2, 2, 2, 2]
    assert task.level_index(steps).tolist() == expected
    assert task.level_index(steps).dtype == torch.int64


def test_segments_cover_the_run() -> None:
    task = build_staircase(levels=[1.0, 2.0, 3.0], steps_per_level=100)
    assert task.segments() == (Segment(0, 100, 1.0), Segment(100, 200, 2.0), Segment(200, 300, 3.0))
    assert task.segments(350)[-1] == (200, 350, 3.0)  # a longer run stays on the last level
    assert task.segments(150) == ((0, 100, 1.0), (100, 150, 2.0))
    for start, end, true_mi in task.segments():
        assert all(task.true_mi(step) == true_mi for step in (start, end - 1))


def test_block_draw_uses_each_samples_own_level() -> None:
    """T steps x K pairs in one call: the oracle MI of each level's samples matches that level."""
    task = build_staircase(levels=[0.5, 3.0, 8.0], steps_per_level=5, dim=10)
    steps_per_block, pairs = 15, 4000  # 3 levels x 5 steps
    steps = torch.arange(steps_per_block).repeat_interleave(pairs)
    batch = task.sample(steps.numel(), seeded(0), steps=steps, dtype=torch.float64)
    log_r = task.log_ratio(batch.x, batch.y, steps=steps)
    for level, true_mi in enumerate(task.levels):
        chosen = task.level_index(steps) == level
        estimate, standard_error = mean_and_standard_error(log_r[chosen])
        assert_close_in_standard_errors(estimate, standard_error, true_mi)


def test_draw_at_one_level_is_the_gaussian_task_at_that_level() -> None:
    """Gathering rho per sample is exact: the same seed gives the Gaussian task's draw."""
    task = build_staircase(levels=[1.0, 4.0], steps_per_level=10, dim=3)
    steps = torch.full((64,), 12)
    batch = task.sample(64, seeded(4), steps=steps, dtype=torch.float64)
    reference = build_gaussian(dim=3, mi=4.0).sample(64, seeded(4), dtype=torch.float64)
    torch.testing.assert_close(batch.x, reference.x)
    torch.testing.assert_close(batch.y, reference.y, rtol=1e-14, atol=1e-14)
    assert task.rhos[1] == pytest.approx(rho_from_mi(4.0, 3))
    # steps=None is step 0
    first = task.sample(64, seeded(4), dtype=torch.float64)
    reference0 = build_gaussian(dim=3, mi=1.0).sample(64, seeded(4), dtype=torch.float64)
    torch.testing.assert_close(first.y, reference0.y, rtol=1e-14, atol=1e-14)


def test_oracle_scores_broadcast_with_scalar_and_per_row_steps() -> None:
    task = build_staircase(levels=[1.0, 4.0], steps_per_level=10, dim=3)
    batch = task.sample(8, seeded(5), steps=torch.full((8,), 15), dtype=torch.float64)
    gaussian = build_gaussian(dim=3, mi=4.0)
    expected = gaussian.log_ratio(batch.x[:, None, :], batch.y[None, :, :])
    scalar = task.log_ratio(batch.x[:, None, :], batch.y[None, :, :], steps=torch.tensor(15))
    per_row = task.log_ratio(batch.x[:, None, :], batch.y[None, :, :], steps=torch.full((8, 1), 15))
    torch.testing.assert_close(scalar, expected)
    torch.testing.assert_close(per_row, expected)
    assert scalar.shape == (8, 8)


def test_transformed_base_applies_and_inverts_the_map() -> None:
    task = build("staircase", levels=[2.0, 5.0], steps_per_level=3, dim=4, base="cubic")
    plain = build("staircase", levels=[2.0, 5.0], steps_per_level=3, dim=4)
    steps = torch.arange(6).repeat_interleave(2000)
    batch = task.sample(steps.numel(), seeded(6), steps=steps, dtype=torch.float64)
    reference = plain.sample(steps.numel(), seeded(6), steps=steps, dtype=torch.float64)
    torch.testing.assert_close(batch.y, reference.y**3)
    torch.testing.assert_close(
        task.log_ratio(batch.x, batch.y, steps=steps),
        plain.log_ratio(reference.x, reference.y, steps=steps),
    )
    assert task.id == "staircase-cubic-d4-mi2_5-every3" and task.params["apply_to"] == "y"


def test_f_mi_follows_the_level() -> None:
    task = build_staircase(levels=[1.0, 3.0], steps_per_level=10, dim=2)
    assert task.f_mi("kl", step=0) == pytest.approx(1.0)
    assert task.f_mi("kl", step=10) == pytest.approx(3.0)
    assert task.f_mi("pearson", step=10) == pytest.approx(
        build_gaussian(dim=2, mi=3.0).f_mi("pearson")
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"levels": []}, "levels must be a non-empty list of numbers >= 0 (nats), got []"),
        ({"levels": "2,4"}, "levels must be a non-empty list of numbers >= 0 (nats), got '2,4'"),
        ({"levels": [2.0, -1.0]}, "each level must be a number >= 0 (nats), got -1.0"),
        ({"steps_per_level": 0}, "steps_per_level must be an integer >= 1, got 0"),
        ({"dim": 0}, "dim must be an integer >= 1, got 0"),
        (
            {"base": "student_t"},
            "base must be one of gaussian, cubic, asinh, halfcube, uniform_margins, "
            "random_linear; got 'student_t'",
        ),
        ({"base": "cubic", "apply_to": "xy"}, "apply_to must be one of y, x, both; got 'xy'"),
    ],
)
def test_bad_parameters_raise_one_line_value_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        build("staircase", **kwargs)
    assert str(error.value) == message


def test_steps_of_the_wrong_shape_are_rejected() -> None:
    task = build("staircase")
    with pytest.raises(ValueError, match=r"steps must have shape \(4,\), got \(2, 2\)"):
        task.sample(4, seeded(0), steps=torch.zeros(2, 2, dtype=torch.int64))
