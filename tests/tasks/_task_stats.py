"""Shared statistics for the task tests: Monte Carlo means with their standard errors.

A plain module (not ``conftest.py``), imported as ``from tests.tasks._task_stats import ...``:
the test folders are packages, so same-named test files in different folders do not clash.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

Z_TOLERANCE = 4.0
"""Monte Carlo checks allow 4 standard errors: a two-sided false-alarm rate of 6e-5 per check for a
normal estimate. Every check uses a fixed seed, so a test passes or fails deterministically."""


def mean_and_standard_error(values: Tensor | np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error s / sqrt(n) (float64)."""
    array = (
        values.detach().double().cpu().numpy()
        if isinstance(values, Tensor)
        else np.asarray(values, float)
    )
    array = array.reshape(-1)
    return float(array.mean()), float(array.std(ddof=1) / math.sqrt(array.size))


def assert_close_in_standard_errors(estimate: float, standard_error: float, truth: float) -> None:
    """|estimate - truth| <= Z_TOLERANCE standard errors, with a readable failure message."""
    assert standard_error > 0, "a zero standard error would make this check vacuous"
    z = abs(estimate - truth) / standard_error
    assert z <= Z_TOLERANCE, f"estimate {estimate:.6g} vs truth {truth:.6g}: {z:.2f} SE apart"


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with ``seed``."""
    return torch.Generator().manual_seed(seed)
