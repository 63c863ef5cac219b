"""Alignment and uniformity (Wang & Isola 2020) against a direct NumPy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench.estimators.diagnostics import alignment, uniformity


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _numpy_alignment(fx: np.ndarray, gy: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty(fx.shape[0])
    for r in range(fx.shape[0]):
        a, b = _unit(fx[r]), _unit(gy[r])
        out[r] = np.mean([np.linalg.norm(a[i] - b[i]) ** alpha for i in range(len(a))])
    return out


def _numpy_uniformity(z: np.ndarray, t: float) -> np.ndarray:
    out = np.empty(z.shape[0])
    for r in range(z.shape[0]):
        u = _unit(z[r])
        K = len(u)
        terms = [
            math.exp(-t * np.sum((u[i] - u[j]) ** 2)) for i in range(K) for j in range(K) if i != j
        ]
        out[r] = math.log(np.mean(terms))
    return out


@pytest.mark.parametrize("alpha", [2.0, 1.0])
def test_alignment_matches_numpy(alpha: float) -> None:
    gen = torch.Generator().manual_seed(0)
    fx = torch.randn(3, 7, 4, generator=gen, dtype=torch.float64)
    gy = torch.randn(3, 7, 4, generator=gen, dtype=torch.float64)
    expected = _numpy_alignment(fx.numpy(), gy.numpy(), alpha)
    np.testing.assert_allclose(alignment(fx, gy, alpha=alpha).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("t", [2.0, 0.5])
def test_uniformity_matches_numpy(t: float) -> None:
    z = torch.randn(2, 9, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    np.testing.assert_allclose(
        uniformity(z, t=t).numpy(), _numpy_uniformity(z.numpy(), t), rtol=1e-12
    )


def test_collapse_and_antipodes() -> None:
    # All embeddings equal: every distance is 0, so L_align = 0 and L_unif = log mean e^0 = 0.
    z = torch.ones(1, 5, 3, dtype=torch.float64)
    assert alignment(z, z).item() == 0.0
    assert uniformity(z).item() == pytest.approx(0.0, abs=1e-15)
    # Antipodal positives: ||u - (-u)||^2 = 4 for unit u, so L_align = 4 (alpha = 2).
    assert alignment(z, -z).item() == pytest.approx(4.0, rel=1e-12)


def test_scale_invariant_and_stacked_equals_looped() -> None:
    gen = torch.Generator().manual_seed(2)
    fx = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    gy = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    before = fx.clone()
    assert torch.allclose(alignment(3.0 * fx, gy), alignment(fx, gy), rtol=1e-12)
    stacked = uniformity(fx)
    looped = torch.stack([uniformity(fx[r]) for r in range(4)])
    assert torch.allclose(stacked, looped, rtol=1e-12)
    assert torch.equal(fx, before)  # no mutation


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        alignment(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="K >= 2"):
        uniformity(torch.zeros(1, 4))
