r"""User arrays -> training matrices for :func:`mibench.estimate_mi`: checks and MI-preserving maps.

Mutual information is invariant under a strictly monotone map of each coordinate,
:math:`I(f_1(X_1), \dots, f_d(X_d); Y) = I(X; Y)` (Cover & Thomas, "Elements of Information
Theory", 2nd ed., eq. 2.196 and its continuous analogue, 8.6), so both maps below leave the
target unchanged while making the critic's inputs well scaled:

* robust standardisation, :math:`z = (x - \operatorname{median}) / (\mathrm{IQR} / 1.349)`
  (1.349 is the IQR of N(0, 1)), computed in float64 after an exact power-of-two rescaling of
  each column, so data scaled by 1e154 or 1e-15 give the same matrices as unscaled data up to
  rounding (a plain z-score overflows or falls under a variance floor there);
* Gaussianisation by the empirical CDF, :math:`z = \Phi^{-1}\big(\hat F(x)\big)` with
  :math:`\hat F(x) = (\#\{x_i < x\} + \tfrac12 \#\{x_i = x\} + \tfrac12) / (n + 1)` over the
  training rows (mid-ranks for ties; training row of rank r maps to r / (n + 1)). Every marginal
  becomes standard normal, so heavy tails (Student-t with 1 or 2 degrees of freedom) disappear.

Both are fitted on the training rows only and then applied to every split, so the held-out rows
stay unseen.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

NORMAL_IQR = 1.3489795003921634  # IQR of the standard normal: 2 * Phi^-1(0.75)
# At fewer rows than this multiple of the columns, an input is taken for a transposed (d, n) array.
MIN_ROWS_PER_COLUMN = 2
FLOAT32_MAX = float(np.finfo(np.float32).max)
DTYPE_CHOICES = ("float32", "float64")


def to_float64(name: str, values: Any) -> np.ndarray:
    """NumPy / pandas / torch / nested lists -> a writable float64 ``(n, d)`` array (a copy).

    Raises ValueError for complex, non-numeric, NaN/Inf, empty or wrongly shaped input, and for
    fewer than ``MIN_ROWS_PER_COLUMN * d`` rows (almost surely a transposed ``(d, n)`` array).
    """
    if isinstance(values, torch.Tensor):
        if values.is_complex():
            raise _complex_error(name, values.dtype)
        array = values.detach().cpu().numpy()
    elif hasattr(values, "to_numpy"):  # pandas DataFrame / Series
        array = values.to_numpy()
    else:
        array = np.asarray(values)
    if np.iscomplexobj(array):
        raise _complex_error(name, array.dtype)
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a numeric array, got dtype object") from None
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")
    # np.array(copy=True): a writable array of our own (a DataFrame's values can be a read-only
    # view, which torch would warn about and the caller's memory would be shared).
    array = finite_matrix(name, np.array(array, dtype=np.float64, copy=True))
    n, d = array.shape
    if n < MIN_ROWS_PER_COLUMN * d:
        raise ValueError(
            f"{name} has shape {array.shape}: {n} samples of a {d}-dimensional variable, fewer "
            f"than {MIN_ROWS_PER_COLUMN} x {d}; rows must be samples — if this is a (d, n) array, "
            f"pass {name}.T"
        )
    return array


def finite_matrix(name: str, array: np.ndarray) -> np.ndarray:
    """A numeric ``(n,)`` or ``(n, d)`` array as ``(n, d)``; ValueError for an empty or
    higher-dimensional array, or one with NaN or Inf (the message names ``name``)."""
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n, d >= 1, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf")
    return array


def _complex_error(name: str, dtype: Any) -> ValueError:
    return ValueError(
        f"{name} is complex ({dtype}); pass real arrays (e.g. real and imaginary parts as columns)"
    )


def dtype_name(dtype: Any) -> str:
    """ "float32" / "float64" from a string, a NumPy dtype or type, or a torch dtype."""
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = repr(dtype)
    if name not in DTYPE_CHOICES:
        raise ValueError(
            f"invalid dtype {dtype!r}; valid choices: float32, float64 "
            "(as strings, NumPy or torch dtypes)"
        )
    return name


def device_name(device: Any) -> str:
    """A torch device string that exists on this machine, else ValueError naming the choices."""
    available = ["cpu"]
    if torch.cuda.is_available():
        available += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if torch.backends.mps.is_available():
        available.append("mps")
    choices = ", ".join(available)
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"invalid device {device!r}; valid choices here: {choices}") from None
    if str(parsed) not in available and not (
        parsed.type == "cuda" and parsed.index is None and "cuda" in available
    ):
        raise ValueError(f"device {device!r} is not available here; valid choices: {choices}")
    return str(parsed)


def _exponent_scale(train: np.ndarray) -> np.ndarray:
    """Per-column power of two near the largest |value|: dividing by it is exact in floating point."""
    largest = np.abs(train).max(axis=0)
    _, exponent = np.frexp(np.where(largest > 0, largest, 1.0))
    return np.ldexp(1.0, exponent)


def check_not_constant(name: str, train: np.ndarray) -> None:
    constant = np.flatnonzero(train.max(axis=0) == train.min(axis=0))
    if len(constant):
        raise ValueError(
            f"column {int(constant[0])} of {name} is constant on the {len(train)} training rows; "
            "a constant carries no information: drop it"
        )


def robust_standardize(
    name: str, train: np.ndarray, others: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(x - median) / (IQR / 1.349) with training-row statistics, applied to ``train`` and ``others``.

    A column whose IQR is 0 (over half its training rows equal) is scaled by its mean absolute
    deviation from the median instead (times sqrt(pi / 2), its value for a normal).
    """
    check_not_constant(name, train)
    power = _exponent_scale(train)
    scaled = train / power  # exact: |values| <= 1 from here on, no overflow below
    center = np.median(scaled, axis=0)
    q25, q75 = np.quantile(scaled, [0.25, 0.75], axis=0)
    spread = (q75 - q25) / NORMAL_IQR
    mad = np.abs(scaled - center).mean(axis=0) * math.sqrt(math.pi / 2)
    spread = np.where(spread > 0, spread, mad)

    def apply(values: np.ndarray) -> np.ndarray:
        return (values / power - center) / spread

    return apply(train), [apply(values) for values in others]


def gaussianize(
    name: str, train: np.ndarray, others: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Phi^-1 of the training rows' empirical CDF (mid-ranks), per column; see the module docstring."""
    check_not_constant(name, train)
    n = train.shape[0]
    ordered = np.sort(train, axis=0)

    def apply(values: np.ndarray) -> np.ndarray:
        columns = []
        for j in range(values.shape[1]):
            below = np.searchsorted(ordered[:, j], values[:, j], side="left")
            at_or_below = np.searchsorted(ordered[:, j], values[:, j], side="right")
            columns.append(((below + at_or_below) / 2 + 0.5) / (n + 1))
        cdf = torch.as_tensor(np.stack(columns, axis=1))
        return torch.special.ndtri(cdf).numpy()

    return apply(train), [apply(values) for values in others]


def ranks(values: np.ndarray) -> np.ndarray:
    """Per-column ranks (0-based, ties by position): the data up to increasing per-coordinate maps."""
    return np.argsort(np.argsort(values, axis=0, kind="stable"), axis=0, kind="stable")


def check_float32_range(name: str, values: np.ndarray) -> None:
    """Raw values (no standardisation) must fit float32 training."""
    largest = float(np.abs(values).max())
    if largest > FLOAT32_MAX:
        raise ValueError(
            f"{name} has values up to {largest:.3g}, beyond float32 ({FLOAT32_MAX:.3g}); "
            "use standardize=True, gaussianize=True or dtype='float64'"
        )
