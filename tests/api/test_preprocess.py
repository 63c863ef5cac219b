"""Input handling of ``estimate_mi``: array types, dtypes, devices, shapes and MI-preserving maps."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from mibench.api import preprocess as api_data
from mibench.api.estimate import estimate_mi

FAST = {"method": "neural", "interval": False, "steps": 40, "batch_size": 16, "eval_every": 5,
        "critic": "separable", "critic_params": {"hidden": [8], "embed_dim": 4}}  # fmt: skip


def pairs(n: int = 300, dim: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    return x, 0.8 * x + 0.6 * rng.standard_normal((n, dim))


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a,
        lambda a: a.tolist(),
        pd.DataFrame,
        lambda a: torch.tensor(a, requires_grad=True),
        lambda a: torch.tensor(a.T).T,  # non-contiguous
    ],
    ids=["numpy", "list", "dataframe", "torch-grad", "torch-transposed-view"],
)
def test_array_likes_give_the_same_estimate_without_warnings(convert):
    x, y = pairs()
    reference = estimate_mi(x, y, **FAST).estimate
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "non-writable NumPy array" UserWarning
        assert estimate_mi(convert(x), convert(y), **FAST).estimate == reference


def test_conversion_copies_into_a_writable_float64_array():
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": [0.5, 0.25, 0.0, 1.0]})
    array = api_data.to_float64("x", frame)
    assert array.dtype == np.float64 and array.flags.writeable and array.shape == (4, 2)
    array[0, 0] = 99.0
    assert frame.iloc[0, 0] == 1  # the caller's data are untouched
    assert api_data.to_float64("x", [1, 2, 3]).shape == (3, 1)


@pytest.mark.parametrize(
    "values", [np.ones((10, 1)) + 1j, torch.ones(10, 1, dtype=torch.complex64)], ids=["np", "torch"]
)
def test_complex_input_is_rejected(values):
    with pytest.raises(ValueError, match="x is complex"):
        api_data.to_float64("x", values)
    y = np.zeros((10, 1))
    with pytest.raises(ValueError, match="x is complex"):
        estimate_mi(values, y, **FAST)


def test_a_transposed_array_is_rejected_with_a_hint():
    x, y = pairs(n=300, dim=2)
    with pytest.raises(ValueError, match=r"x has shape \(2, 300\).*pass x\.T"):
        estimate_mi(x.T, y.T, **FAST)
    with pytest.raises(ValueError, match=r"fewer than 2 x 5"):
        api_data.to_float64("y", np.zeros((9, 5)))
    assert api_data.to_float64("y", np.zeros((10, 5))).shape == (10, 5)


def test_rows_must_match():
    x, y = pairs()
    with pytest.raises(ValueError, match="same number of rows, got 300 and 299"):
        estimate_mi(x, y[:-1], **FAST)


@pytest.mark.parametrize(
    "dtype", ["float64", np.float64, np.dtype("float64"), torch.float64, float]
)
def test_dtype_accepts_strings_numpy_and_torch(dtype):
    x, y = pairs(n=100)
    assert estimate_mi(x, y, dtype=dtype, **FAST).config.dtype == "float64"


@pytest.mark.parametrize("dtype", ["half", torch.float16, np.int32, "nonsense", object()])
def test_bad_dtype_names_the_choices(dtype):
    with pytest.raises(ValueError, match="valid choices: float32, float64"):
        api_data.dtype_name(dtype)


def test_devices_unknown_or_absent_are_value_errors():
    with pytest.raises(ValueError, match=r"invalid device 'tpu'; valid choices here: cpu"):
        api_data.device_name("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(
            ValueError, match=r"device 'cuda' is not available here; valid choices: cpu"
        ):
            estimate_mi(*pairs(n=100), device="cuda", **FAST)
    assert api_data.device_name(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize("factor", [1e154, 1e-15])
@pytest.mark.parametrize("gaussianize", [False, True])
def test_rescaled_data_give_the_same_estimate(factor, gaussianize):
    # MI is invariant under x -> c x; the old z-score returned 0.000 at 1e154 (overflow) and 1e-15
    # (variance floor). Ranks and the robust standardisation make the training inputs equal up to
    # float rounding, and the seeds derive from ranks, so the estimate agrees to 1e-6 nats (a
    # float32 rounding flip in one input may move it; measured: bit-identical).
    x, y = pairs(n=200)
    kwargs = {**FAST, "gaussianize": gaussianize}
    reference = estimate_mi(x, y, **kwargs).estimate
    scaled = estimate_mi(x * factor, y, **kwargs).estimate
    assert math.isfinite(scaled) and scaled == pytest.approx(reference, abs=1e-6)


def test_a_constant_column_is_named():
    x, y = pairs()
    x[:, 1] = 7.0
    with pytest.raises(ValueError, match="column 1 of x is constant on the 210 training rows"):
        estimate_mi(x, y, **FAST)
    with pytest.raises(ValueError, match="column 1 of x is constant"):
        estimate_mi(x, y, gaussianize=True, **FAST)


def test_raw_values_beyond_float32_are_rejected():
    x, y = pairs()
    with pytest.raises(ValueError, match=r"beyond float32.*standardize=True"):
        estimate_mi(x * 1e154, y, gaussianize=False, standardize=False, **FAST)


def test_robust_standardisation_centres_and_scales_by_median_and_iqr():
    rng = np.random.default_rng(3)
    train = np.column_stack([rng.standard_t(1, 1001), rng.integers(0, 2, 1001) * 1.0])
    train[:600, 1] = 0.0  # IQR 0: falls back to the mean absolute deviation
    held = rng.standard_normal((5, 2))
    z, (z_held,) = api_data.robust_standardize("x", train, [held])
    assert np.median(z[:, 0]) == pytest.approx(0, abs=1e-12)
    q25, q75 = np.quantile(z[:, 0], [0.25, 0.75])
    assert q75 - q25 == pytest.approx(api_data.NORMAL_IQR)
    assert np.abs(z[:, 1]).mean() * math.sqrt(math.pi / 2) == pytest.approx(1.0)
    # Held-out rows get the training statistics (the same affine map).
    slope = (z[1, 0] - z[0, 0]) / (train[1, 0] - train[0, 0])
    assert z_held[0, 0] == pytest.approx(z[0, 0] + slope * (held[0, 0] - train[0, 0]))
    # Power-of-two rescaling is exact: identical outputs, bit for bit.
    z2, _ = api_data.robust_standardize("x", train * 2.0**500, [held])
    assert np.array_equal(z, z2)


def test_gaussianize_maps_ranks_to_normal_quantiles_and_ignores_monotone_maps():
    train = np.array([[3.0], [1.0], [2.0], [2.0], [10.0]])
    held = np.array([[0.0], [2.5], [100.0]])
    z, (z_held,) = api_data.gaussianize("x", train, [held])
    # Mid-ranks 4, 1, 2.5, 2.5, 5 over n + 1 = 6; a held-out value with c rows below: (c + 0.5) / 6.
    expected = torch.special.ndtri(
        torch.tensor([4, 1, 2.5, 2.5, 5], dtype=torch.float64) / 6
    ).numpy()
    assert np.allclose(z[:, 0], expected)
    expected_held = torch.special.ndtri(
        torch.tensor([0.5, 3.5, 5.5], dtype=torch.float64) / 6
    ).numpy()
    assert np.allclose(z_held[:, 0], expected_held)
    z_exp, (z_exp_held,) = api_data.gaussianize("x", np.exp(train), [np.exp(held)])
    assert np.array_equal(z, z_exp) and np.array_equal(z_held, z_exp_held)


def test_finite_matrix_is_the_shape_and_finiteness_rule_of_every_data_input():
    from mibench.api.empirical import as_matrix
    from mibench.api.preprocess import finite_matrix

    assert finite_matrix("x", np.arange(3.0)).shape == (3, 1)
    for check in (finite_matrix, as_matrix):
        with pytest.raises(ValueError, match=r"x must have shape \(n,\) or \(n, d\)"):
            check("x", np.zeros((0, 2)))
        with pytest.raises(ValueError, match="y contains NaN or Inf"):
            check("y", np.array([1.0, np.inf]))
    assert as_matrix("x", [1, 2]).dtype == torch.float64
