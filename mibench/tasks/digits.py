r"""Images with exact MI: ``digits_label`` and ``digits_pixels``, drawn from scikit-learn's digits.

Both tasks draw a row i uniformly from the N = 1797 rows of ``load_digits`` (with replacement:
the empirical distribution of the data set, :mod:`mibench.tasks.digits_data`) and show the critic
its image, dequantised and scaled,

.. math:: X = (v_i + U)/8 - 1 \in [-1, 1.125)^{64}, \qquad U \in [0, 1)^{64} \text{ uniform},

v_i the integer pixels (0–16). U is uniform at 16-bit resolution, U = (j + ½)/2^16 with j uniform
on {0, …, 2^16 − 1}: every value is exact in float32, and ⌊8(X + 1)⌋ = v_i exactly.

``digits_label`` (parameter ``reroll`` = p ∈ [0, 1]): Y is the one-hot label of row i, kept with
probability 1 − p and otherwise replaced by a class drawn uniformly from the ten (which may give
the same label back). ``digits_pixels`` (parameter ``pixels`` = k ∈ [1, 64]): B is the vector of
the k pixels of highest variance over the data set (ties by lower pixel index) binarised at > 8,
and Y = B + W/2 with W uniform on [0, 1)^k at the same 16-bit resolution.

Why the truth is exact. Let g(i) be the group of row i (rows with equal pixel vectors form one
group, :mod:`~mibench.tasks.digits_data`). Given the row, X is uniform on the cube
[v_i, v_i + 1)^{64} (scaled), and the noise is independent of everything else, so X depends on
the row only through its group. Cubes of different integer vectors are disjoint, so G = g(i) is a
function of X (⌊8(X + 1)⌋), and rows of one group, having the same cube, cannot be told apart by
X: for x in cube g,

.. math:: \frac{p(x, y)}{p(x)\,p(y)} = \frac{P(y \mid G = g)}{P(y)},

hence I(X; Y) = I(G; Y) exactly, under the sampling distribution, with duplicates handled by
grouping (the label of a duplicated image may differ between its rows; P(y | g) averages them).

* ``digits_label``: I = I(G; Y) with P(c | g) = (1 − p) n_{g,c}/n_g + p/10. For p = 1 it is 0;
  for p = 0 and no duplicates it is H(label).
* ``digits_pixels``: B is a function of G, and Y lies in the box B + [0, ½)^k; boxes of different
  patterns are disjoint (their corners differ by 1 in some coordinate, the boxes are ½ wide), so
  B = ⌊Y⌋ is a function of Y and, given B, Y is independent of X. Then
  p(x, y)/(p(x) p(y)) = 1[B(x) = ⌊y⌋]/P(⌊y⌋) and I(X; Y) = I(G; B) = H(B) − H(B | G) = H(B),
  the entropy of the binarised pattern from its counts in the data set.

Both are bounded by H(G) = log 1797 ≈ 7.49 nats (no duplicate images in ``load_digits``).

``consistency`` (both tasks) turns the task into one of Song & Ermon's (2020, §6) self-consistency
tests (:mod:`mibench.tasks.consistency`): ``independence`` (target 0), ``data_processing``
(X' = [X, h(X)] with h = the image with its bottom four rows set to −1; target I) or
``additivity`` (two independent pairs concatenated; target 2I).

References:
    Alpaydin & Kaynak, Optical Recognition of Handwritten Digits, UCI ML Repository, 1998
    (the data of scikit-learn's ``load_digits``).
    Song & Ermon, Understanding the Limitations of Variational Mutual Information Estimators,
    ICLR 2020, arXiv:1910.06222, §6.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from mibench.core.interface import Batch, Task
from mibench.tasks import digits_data
from mibench.tasks._validation import validate_choice, validate_int
from mibench.tasks.consistency import CONSISTENCY_TESTS, with_consistency_test
from mibench.tasks.digits_data import DigitsData, load_digits_data, row_index
from mibench.tasks.f_information import validate_f_name
from mibench.tasks.registry import TaskSpec, register

DEFAULT_REROLL = 0.5
DEFAULT_PIXELS = 4
DEFAULT_CONSISTENCY = "none"
NOISE_BITS = 16  # resolution of the uniform noise: exact in float32 up to values of 2^(24-17)
PIXEL_SCALE = 8.0  # X = (v + U)/8 - 1
Y_NOISE_WIDTH = 0.5
MASKED_ROWS = slice(32, 64)  # h of the data processing test: image rows 4..7 (pixels 32..63)
MASKED_VALUE = -1.0
PROCESSING_FORMULA = "h(X) = X with its bottom four rows (pixels 32-63) set to -1"


def uniform_noise(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """Float64 uniform noise on [0, 1) at :data:`NOISE_BITS` resolution: (j + ½)/2^16."""
    levels = 2**NOISE_BITS
    j = torch.randint(levels, shape, generator=generator, device=generator.device)
    return (j.double() + 0.5) / levels


def _draw_images(data: DigitsData, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Rows drawn uniformly with replacement, and their dequantised scaled images (float64)."""
    device = generator.device
    rows = torch.randint(data.n_rows, (n,), generator=generator, device=device)
    pixels = torch.from_numpy(data.images).to(device)[rows].double()
    return rows, (pixels + uniform_noise((n, digits_data.N_PIXELS), generator)) / PIXEL_SCALE - 1.0


def _groups_of_images(data: DigitsData, x: Tensor) -> Tensor:
    """Group index of each image in ``x`` ``(..., 64)`` (−1 off the data set's support)."""
    values = torch.floor((x.double() + 1.0) * PIXEL_SCALE)
    flat = values.reshape(-1, digits_data.N_PIXELS)
    inside = ((flat >= 0) & (flat < digits_data.PIXEL_LEVELS)).all(dim=-1)
    found = row_index(data.distinct_images, flat.clamp(0, 255).cpu().numpy().astype(np.uint8))
    groups = torch.from_numpy(found).to(x.device).masked_fill(~inside.cpu().to(x.device), -1)
    return groups.reshape(x.shape[:-1])


def _kl_only(value: float, name: str) -> float | None:
    """``value`` for the KL f-information (the MI), None for the f's not computed here."""
    return value if validate_f_name(name) == "kl" else None


class _DigitsImages:
    """What both digits tasks share: X is a 64-pixel image, and the only f-information given is
    the exact MI (``true_mi``, defined by each task)."""

    true_mi: Callable[..., float]

    @property
    def dim_x(self) -> int:
        return digits_data.N_PIXELS

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """``kl`` is the exact MI; the other f-informations are not computed (None)."""
        return _kl_only(self.true_mi(step), name)

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        """0 for ``kl`` (exact), None for the others."""
        return _kl_only(0.0, name)


def mask_bottom_rows(x: Tensor) -> Tensor:
    """h of the data processing test: the images with pixels 32–63 set to −1."""
    masked = x.clone()
    masked[..., MASKED_ROWS] = MASKED_VALUE
    return masked


def _gather(table: Tensor, groups: Tensor, columns: Tensor) -> Tensor:
    """``table[g, c]`` broadcast over the leading axes; NaN where either index is −1."""
    groups, columns = torch.broadcast_tensors(groups, columns)
    values = table[groups.clamp(min=0), columns.clamp(min=0)]
    return values.masked_fill((groups < 0) | (columns < 0), math.nan)


@dataclass(frozen=True, eq=False)
class DigitsLabelTask(_DigitsImages):
    """X = a digits image, Y = its one-hot label re-drawn with probability ``reroll``."""

    data: DigitsData
    reroll: float
    name: str = "digits_label"
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-p{self.reroll:g}"

    @property
    def dim_y(self) -> int:
        return self.data.n_classes

    @cached_property
    def _truth(self) -> float:
        return digits_data.label_mutual_information(self.data, self.reroll)

    def true_mi(self, step: int = 0) -> float:
        """I(G; Y), exact over the data set's rows (module docstring)."""
        return self._truth

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """Rows, noise, re-draw flags, re-drawn classes, in that order; ``steps`` is ignored."""
        device = generator.device
        rows, x = _draw_images(self.data, n, generator)
        labels = torch.from_numpy(self.data.labels).to(device)[rows]
        redraw = (
            torch.rand(n, generator=generator, dtype=torch.float64, device=device) < self.reroll
        )
        drawn = torch.randint(self.data.n_classes, (n,), generator=generator, device=device)
        y = torch.nn.functional.one_hot(torch.where(redraw, drawn, labels), self.data.n_classes)
        return Batch(x=x.to(dtype), y=y.to(dtype))

    @cached_property
    def _log_ratio_table(self) -> Tensor:
        return torch.from_numpy(digits_data.label_log_ratio_table(self.data, self.reroll))

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """log P(y | g(x)) − log P(y) (float64; NaN off the support, −inf where P(y | g) = 0)."""
        one_hot = (y == 1).sum(-1) == 1
        classes = torch.where(one_hot & ((y == 0) | (y == 1)).all(-1), y.argmax(-1), -1)
        table = self._log_ratio_table.to(x.device)
        return _gather(table, _groups_of_images(self.data, x), classes)


@dataclass(frozen=True, eq=False)
class DigitsPixelsTask(_DigitsImages):
    """X = a digits image, Y = its ``pixels`` highest-variance pixels binarised, plus U[0, ½)."""

    data: DigitsData
    pixels: int
    name: str = "digits_pixels"
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-k{self.pixels}"

    @property
    def dim_y(self) -> int:
        return self.pixels

    @cached_property
    def _row_patterns(self) -> np.ndarray:
        return digits_data.binary_patterns(self.data, self.pixels)

    @cached_property
    def _patterns(self) -> tuple[np.ndarray, np.ndarray]:
        return digits_data.pattern_probabilities(self.data, self.pixels)

    @cached_property
    def _truth(self) -> float:
        return digits_data.pixel_mutual_information(self.data, self.pixels)

    def true_mi(self, step: int = 0) -> float:
        """H(B) of the binarised pattern, exact from its counts (module docstring)."""
        return self._truth

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """Rows, image noise, then the noise of Y, in that order; ``steps`` is ignored."""
        rows, x = _draw_images(self.data, n, generator)
        bits = torch.from_numpy(self._row_patterns).to(generator.device)[rows].double()
        y = bits + Y_NOISE_WIDTH * uniform_noise((n, self.pixels), generator)
        return Batch(x=x.to(dtype), y=y.to(dtype))

    @cached_property
    def _group_pattern(self) -> np.ndarray:
        """``(G,)``: the pattern index (into :attr:`_patterns`) of each group."""
        _, first_row = np.unique(self.data.row_group, return_index=True)
        return row_index(self._patterns[0], self._row_patterns[first_row])

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor:
        """−log P(⌊y⌋) where ⌊y⌋ is the pattern of g(x), −inf where it is not (float64; NaN off
        the support)."""
        bits = torch.floor(y.double())
        flat = bits.reshape(-1, self.pixels)
        binary = ((flat == 0) | (flat == 1)).all(dim=-1).cpu()
        found = row_index(self._patterns[0], flat.clamp(0, 1).cpu().numpy().astype(np.uint8))
        pattern = torch.from_numpy(np.where(binary.numpy(), found, -1)).reshape(y.shape[:-1])
        groups = _groups_of_images(self.data, x).cpu()
        probabilities = torch.from_numpy(self._patterns[1])
        group_pattern = torch.from_numpy(self._group_pattern)
        groups, pattern = torch.broadcast_tensors(groups, pattern)
        of_x = group_pattern[groups.clamp(min=0)]
        ratio = torch.where(of_x == pattern, -torch.log(probabilities[pattern.clamp(min=0)]),
                            -math.inf)  # fmt: skip
        return ratio.masked_fill((groups < 0) | (pattern < 0), math.nan).to(x.device)


def validate_reroll(reroll: Any) -> float:
    """The re-draw probability: a number in [0, 1]."""
    if isinstance(reroll, bool) or not isinstance(reroll, int | float) or not 0 <= reroll <= 1:
        raise ValueError(f"reroll must be a number in [0, 1], got {reroll!r}")
    return float(reroll)


def validate_pixels(pixels: Any) -> int:
    """The number of target pixels: an integer in [1, 64]."""
    pixels = validate_int("pixels", pixels, minimum=1)
    if pixels > digits_data.N_PIXELS:
        raise ValueError(f"pixels must be an integer in [1, {digits_data.N_PIXELS}], got {pixels}")
    return pixels


def _with_test(base: Task, test: str) -> Task:
    return with_consistency_test(
        base, test, processing=mask_bottom_rows, processing_formula=PROCESSING_FORMULA
    )


def build_digits_label(
    reroll: float = DEFAULT_REROLL, consistency: str = DEFAULT_CONSISTENCY
) -> Task:
    """The label task (module docstring); ``consistency`` picks a self-consistency test.

    Examples:
        >>> round(build_digits_label(reroll=0.5).true_mi(), 4)
        0.6257
        >>> build_digits_label(reroll=0.5, consistency="additivity").id
        'digits_label-p0.5-additivity'
    """
    reroll = validate_reroll(reroll)
    consistency = validate_choice("consistency", consistency, CONSISTENCY_TESTS)
    params = {"reroll": reroll, "consistency": consistency}
    return _with_test(DigitsLabelTask(load_digits_data(), reroll, params=params), consistency)


def build_digits_pixels(
    pixels: int = DEFAULT_PIXELS, consistency: str = DEFAULT_CONSISTENCY
) -> Task:
    """The pixel task (module docstring); ``consistency`` picks a self-consistency test.

    Examples:
        >>> round(build_digits_pixels(pixels=2).true_mi(), 4)
        1.3453
    """
    pixels = validate_pixels(pixels)
    consistency = validate_choice("consistency", consistency, CONSISTENCY_TESTS)
    params = {"pixels": pixels, "consistency": consistency}
    return _with_test(DigitsPixelsTask(load_digits_data(), pixels, params=params), consistency)


_CONSISTENCY_NOTE = "; consistency: independence -> 0, data_processing -> I, additivity -> 2I"
register(
    TaskSpec(
        name="digits_label",
        build=build_digits_label,
        defaults={"reroll": DEFAULT_REROLL, "consistency": DEFAULT_CONSISTENCY},
        description=(
            "X = a load_digits image (dequantised, scaled), Y = its one-hot label, re-drawn "
            "uniformly over the 10 classes with probability reroll"
        ),
        truth_source="exact I(G; Y) over the data set's rows (G = the image)" + _CONSISTENCY_NOTE,
    )
)
register(
    TaskSpec(
        name="digits_pixels",
        build=build_digits_pixels,
        defaults={"pixels": DEFAULT_PIXELS, "consistency": DEFAULT_CONSISTENCY},
        description=(
            "X = a load_digits image (dequantised, scaled), Y = its `pixels` highest-variance "
            "pixels binarised at > 8, plus uniform noise of width 0.5"
        ),
        truth_source="exact H(pattern) from the data set's counts" + _CONSISTENCY_NOTE,
    )
)
