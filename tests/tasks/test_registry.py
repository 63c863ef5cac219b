"""The task registry and the contract every registered task meets (mirrors mibench/tasks/registry.py)."""

from __future__ import annotations

import math

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

import mibench.cli as cli
from mibench.core.interface import Task, UnknownNameError
from mibench.tasks import build, get, names, register
from mibench.tasks.registry import TaskSpec
from tests.tasks._task_stats import seeded

EXPECTED_TASKS = [
    "additive_uniform",
    "asinh",
    "bimodal",
    "cubic",
    "digits_label",
    "digits_pixels",
    "gaussian",
    "halfcube",
    "labeled_gaussians",
    "mixture_ai",
    "mixture_x",
    "multinormal_dense",
    "multinormal_sparse",
    "random_linear",
    "spiral",
    "staircase",
    "student_t",
    "swissroll",
    "uniform_margins",
    "wiggly",
]
# Tasks whose support is not the whole product space: the oracle is -inf on impossible pairs.
BOUNDED_SUPPORT = {"additive_uniform", "digits_pixels"}


def test_every_task_is_registered_with_description_and_truth_source() -> None:
    assert names() == EXPECTED_TASKS
    for name in names():
        spec = get(name)
        assert spec.name == name and spec.description and spec.truth_source


def test_unknown_name_behaves_like_the_estimator_registry() -> None:
    with pytest.raises(UnknownNameError) as error:
        get("gauss")
    assert str(error.value) == f"unknown task 'gauss'; valid choices: {', '.join(EXPECTED_TASKS)}"
    assert isinstance(error.value, KeyError) and isinstance(error.value, ValueError)


def test_unknown_parameter_names_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match="task 'student_t' has no parameter 'df'; valid: dim, mi, nu, rho"
    ):
        build("student_t", df=3)


def test_duplicate_registration_is_an_error() -> None:
    with pytest.raises(ValueError, match="task 'gaussian' is already registered"):
        register(TaskSpec(name="gaussian", build=get("gaussian").build))


@pytest.mark.parametrize("name", EXPECTED_TASKS)
def test_every_task_meets_the_task_protocol(name: str) -> None:
    task = build(name)
    assert isinstance(task, Task)
    assert task.name == name and task.target in ("mi", "kl") and task.id.startswith(name)
    assert math.isfinite(task.true_mi()) and task.true_mi() > 0
    n = 12
    steps = torch.arange(n, dtype=torch.int64) * 1000
    batch = task.sample(n, seeded(0), steps=steps, dtype=torch.float64)
    assert batch.x.shape == (n, task.dim_x) and batch.x.dtype == torch.float64
    if task.target == "mi":
        assert batch.y is not None and batch.y.shape == (n, task.dim_y)
        scores = task.log_ratio(batch.x[:, None, :], batch.y[None, :, :])
        assert scores.shape == (n, n) and bool(torch.isfinite(scores.diagonal()).all())
        if name in BOUNDED_SUPPORT:
            assert not bool(torch.isnan(scores).any()) and bool((scores < math.inf).all())
        else:
            assert bool(torch.isfinite(scores).all())
        assert task.f_mi("kl") == pytest.approx(task.true_mi())
    else:
        assert batch.labels is not None and batch.labels.shape == (n,)
    # reproducible from a seed; another seed gives other data
    again = task.sample(n, seeded(0), steps=steps, dtype=torch.float64)
    assert torch.equal(again.x, batch.x)
    assert not torch.equal(task.sample(n, seeded(1), steps=steps, dtype=torch.float64).x, batch.x)


def test_cli_lists_every_task_with_parameters_and_truth_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # wide enough that no cell wraps, so every string appears whole in the output
    monkeypatch.setattr(cli, "console", Console(width=3000, force_terminal=False))
    result = CliRunner().invoke(cli.app, ["list", "tasks"])
    assert result.exit_code == 0, result.output
    for name in EXPECTED_TASKS:
        spec = get(name)
        assert name in result.output and spec.truth_source in result.output
        assert all(key in result.output for key in spec.defaults)
