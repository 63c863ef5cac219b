"""Tests of the k-sliced MI estimator (mibench.estimators.sliced) against the Gaussian sliced truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mibench.estimators as estimators
from mibench.estimators import sliced
from mibench.tasks.sliced_truth import gaussian_sliced_mi
from tests.estimators._gaussian_samples import correlated

# KSG's bias on a 1 x 1 projected pair at n = 2000 is of order (k/n)^{2/D} with D = 2, 0.0015
# for k = 3 (Berrett, Samworth & Yuan 2019, Thm. 1; KSG cancels most of it): budget 0.02 nats.
SLICED_BIAS_BUDGET = 0.02


def test_registered_as_an_estimator_of_sliced_mi() -> None:
    spec = estimators.get("sliced")
    assert spec.kind == "sample" and spec.target == "sliced"
    assert "sliced" in spec.readout and spec.citation


@pytest.mark.parametrize(("rho", "dim"), [(0.9, 2), (0.8, 5)])
def test_gaussian_sliced_truth(rho: float, dim: int) -> None:
    """|mean − SI_1| <= 4 SE + budget over 4 replicates (SE from their spread: it holds both the
    sampling and the projection noise)."""
    values = np.array([sliced.sliced_mi(*correlated(2000, rho, dim, s), seed=s) for s in range(4)])
    four_se = 4 * values.std(ddof=1) / math.sqrt(len(values))
    truth = gaussian_sliced_mi(rho, dim).value
    assert abs(values.mean() - truth) <= four_se + SLICED_BIAS_BUDGET
    # and it is a different quantity: far below I(X; Y) in 5 dimensions
    if dim == 5:
        assert values.mean() < 0.2 * (-0.5 * dim * math.log1p(-rho * rho))


def test_haar_frames_are_orthonormal_and_deterministic() -> None:
    frames = sliced.stiefel_frames(np.random.default_rng(0), 10, 6, 3)
    gram = np.einsum("mdi,mdj->mij", frames, frames)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-12)
    again = sliced.stiefel_frames(np.random.default_rng(0), 10, 6, 3)
    np.testing.assert_array_equal(frames, again)


def test_full_slice_dimension_equals_ksg_on_rotated_data() -> None:
    # k = d: each projection is a rotation of x and of y, so every term estimates I itself.
    x, y = correlated(500, 0.7, 2, seed=2)
    value = sliced.sliced_mi(x, y, slice_dim=2, n_projections=4)
    assert value == pytest.approx(-math.log1p(-0.49), abs=0.15)


@pytest.mark.parametrize(
    ("hyper", "message"),
    [({"slice_dim": 3}, "slice_dim must be <="), ({"n_projections": 0}, "n_projections must be")],
)
def test_bad_input_names_the_argument(hyper: dict, message: str) -> None:
    x, y = correlated(100, 0.5, 2, seed=0)
    with pytest.raises(ValueError, match=message):
        sliced.sliced_mi(x, y, **hyper)
