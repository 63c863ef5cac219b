"""The claims' numerical helpers (mibench.claims._numeric): rounding tolerance, gradients, Worst."""

from __future__ import annotations

import math

import torch

from mibench.claims._numeric import FLOAT64_EPS, Worst, gradient, rounding_tolerance


def test_rounding_tolerance_scales_with_the_largest_finite_score() -> None:
    scores = torch.tensor([[[1.0, -1e3], [2.0, -math.inf]]], dtype=torch.float64)
    assert rounding_tolerance(scores).item() == 256 * FLOAT64_EPS * (1 + 1e3)


def test_gradient_is_each_stacked_runs_own() -> None:
    scores = torch.randn(3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    grad = gradient(lambda s: (s**2).sum(dim=(-2, -1)), scores)
    torch.testing.assert_close(grad, 2 * scores)


def test_worst_tracks_the_largest_violation_and_counts_nan() -> None:
    worst = Worst()
    worst.update("a", torch.tensor([0.1, 0.5]), 1.0)
    assert worst.ok and worst.checked == 2
    worst.update("b", torch.tensor([2.0, float("nan")]), torch.tensor([1.0, 1.0]))
    assert not worst.ok and worst.violations == 2 and worst.label == "b"
    assert not Worst().ok  # nothing checked is not a pass
