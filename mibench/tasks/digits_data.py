r"""The digits images as a finite data set, and the exact MI of the tasks drawn from it.

The data set is scikit-learn's ``load_digits`` (1797 8 × 8 images, integer pixels 0–16, ten
classes; it ships inside scikit-learn, nothing is downloaded). The tasks of
:mod:`mibench.tasks.digits` sample rows *with replacement* from it, so the distribution they draw
from is the data set's empirical distribution, and the truths here are exact for that
distribution: sums over the rows, no formula for an idealised image distribution.

Groups. Two rows with the same integer pixel vector are indistinguishable once dequantised
(their noisy images have the same distribution), so the truths are functions of the *groups* of
equal pixel vectors: group g has n_g rows, n_{g,c} of them with label c (a group may hold several
labels). ``load_digits`` has no duplicate images, but every function here handles them.

* Label task, reroll probability p, C classes:
  :math:`P(c \mid g) = (1-p)\,n_{g,c}/n_g + p/C`,
  :math:`P(c) = \sum_g (n_g/N)\,P(c \mid g)` and

  .. math:: I(G; Y) = \sum_g \frac{n_g}{N} \sum_c P(c \mid g) \log\frac{P(c \mid g)}{P(c)}.

* Pixel task: the binarised pattern b of the chosen pixels is a function of the group, with
  :math:`P(b) = \#\{\text{rows with pattern } b\}/N`, and :math:`I = H(B) = -\sum_b P(b) \log P(b)`.

Why these are I(X; Y) of the tasks is shown in :mod:`mibench.tasks.digits`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

N_CLASSES = 10
PIXEL_LEVELS = 17  # load_digits pixels are integers 0..16
BINARY_THRESHOLD = 8  # a pixel is "on" when its value is > 8
N_PIXELS = 64
DIGITS_FILE = "digits.csv.gz"  # in sklearn/datasets/data/, what load_digits reads


@dataclass(frozen=True, eq=False)
class DigitsData:
    """A finite image data set: ``images`` ``(N, 64)`` integers in [0, 16], ``labels`` ``(N,)``.

    Examples:
        >>> data = DigitsData(np.array([[0] * 64, [0] * 64, [16] * 64]), np.array([3, 5, 3]))
        >>> data.group_counts.tolist()
        [2, 1]
    """

    images: np.ndarray
    labels: np.ndarray
    n_classes: int = N_CLASSES

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim != 2 or images.shape[1] != N_PIXELS or len(images) == 0:
            raise ValueError(f"images must have shape (N, {N_PIXELS}), N >= 1; got {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        if images.min() < 0 or images.max() >= PIXEL_LEVELS:
            raise ValueError(f"pixels must be integers in [0, {PIXEL_LEVELS - 1}]")
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"labels must be integers in [0, {self.n_classes - 1}]")
        object.__setattr__(self, "images", images.astype(np.uint8))
        object.__setattr__(self, "labels", labels.astype(np.int64))

    @property
    def n_rows(self) -> int:
        return len(self.images)

    @cached_property
    def _groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        distinct, row_group, counts = np.unique(
            self.images, axis=0, return_inverse=True, return_counts=True
        )
        return distinct, row_group.reshape(-1), counts

    @property
    def distinct_images(self) -> np.ndarray:
        """``(G, 64)`` uint8: the distinct pixel vectors, in lexicographic order."""
        return self._groups[0]

    @property
    def row_group(self) -> np.ndarray:
        """``(N,)``: the group index of each row."""
        return self._groups[1]

    @property
    def group_counts(self) -> np.ndarray:
        """``(G,)``: n_g, the rows in each group."""
        return self._groups[2]

    @cached_property
    def group_label_counts(self) -> np.ndarray:
        """``(G, C)``: n_{g,c}, the rows of group g with label c."""
        counts = np.zeros((len(self.group_counts), self.n_classes), dtype=np.int64)
        np.add.at(counts, (self.row_group, self.labels), 1)
        return counts

    def group_of(self, pixels: np.ndarray) -> np.ndarray:
        """Group index of each integer pixel vector in ``pixels`` ``(n, 64)``; -1 where the vector
        is not in the data set."""
        return row_index(self.distinct_images, pixels)


def row_index(table: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index in ``table`` ``(M, w)`` (distinct rows) of each row of ``queries`` ``(n, w)``, -1 where
    a query is not in the table. Exact: one sort over the table and the queries together, each
    row compared as ``w`` bytes (values must lie in [0, 255]).

    Examples:
        >>> row_index(np.array([[0, 1], [1, 1]]), np.array([[1, 1], [0, 0], [0, 1]])).tolist()
        [1, -1, 0]
    """
    width = table.shape[1]
    void = np.dtype((np.void, width))
    rows = [
        np.ascontiguousarray(a, dtype=np.uint8).view(void).reshape(-1) for a in (table, queries)
    ]
    _, inverse = np.unique(np.concatenate(rows), return_inverse=True)
    inverse = inverse.reshape(-1)
    owner = np.full(len(inverse), -1, dtype=np.int64)
    owner[inverse[: len(table)]] = np.arange(len(table))  # distinct rows: one unique key each
    return owner[inverse[len(table) :]]


def shipped_digits_file() -> Path | None:
    """The file scikit-learn's ``load_digits`` reads (``sklearn/datasets/data/digits.csv.gz``),
    found without importing scikit-learn (seconds per process), or None where it is not there."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "datasets" / "data" / DIGITS_FILE
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def load_digits_data() -> DigitsData:
    """scikit-learn's ``load_digits`` as :class:`DigitsData` (read once per process).

    Reads the data file ``load_digits`` reads (64 pixel columns and the label, one row per
    image) directly when it is found, and calls ``load_digits`` otherwise; both give the same
    arrays (tested).
    """
    path = shipped_digits_file()
    if path is not None:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
        return DigitsData(table[:, :N_PIXELS], table[:, N_PIXELS])
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return DigitsData(bunch.data.astype(np.int64), bunch.target.astype(np.int64))


def label_conditional(data: DigitsData, reroll: float) -> np.ndarray:
    """``(G, C)`` float64: P(Y = c | G = g) = (1 − p) n_{g,c}/n_g + p/C (see the module docstring).

    Examples:
        >>> data = DigitsData(np.zeros((2, 64), int), np.array([0, 1]), n_classes=2)
        >>> label_conditional(data, 0.5).tolist()
        [[0.5, 0.5]]
    """
    counts = data.group_label_counts.astype(np.float64)
    kept = counts / data.group_counts[:, None]
    return (1.0 - reroll) * kept + reroll / data.n_classes


def label_log_ratio_table(data: DigitsData, reroll: float) -> np.ndarray:
    """``(G, C)``: log P(c | g) − log P(c), the pointwise MI of group g and label c (−inf where
    P(c | g) = 0, possible only when p = 0; NaN for a class no row has, P(c) = 0)."""
    conditional = label_conditional(data, reroll)
    marginal = (data.group_counts / data.n_rows) @ conditional
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(conditional) - np.log(marginal)


def label_mutual_information(data: DigitsData, reroll: float) -> float:
    """Exact I(X; Y) of the label task in nats: Σ_g (n_g/N) Σ_c P(c|g) log(P(c|g)/P(c)).

    Examples:
        >>> data = DigitsData(np.array([[0] * 64, [1] * 64]), np.array([0, 1]), n_classes=2)
        >>> round(label_mutual_information(data, 0.0), 6) == round(float(np.log(2)), 6)
        True
        >>> label_mutual_information(data, 1.0)
        0.0
    """
    conditional = label_conditional(data, reroll)
    pointwise = label_log_ratio_table(data, reroll)
    present = conditional > 0
    terms = np.zeros_like(conditional)  # 0 log 0 = 0
    terms[present] = conditional[present] * pointwise[present]
    return max(0.0, float((data.group_counts / data.n_rows) @ terms.sum(axis=1)))


def pixel_variance_order(data: DigitsData) -> np.ndarray:
    """``(64,)``: pixel indices by decreasing variance over the rows, ties by lower index.

    The variance is compared exactly, as the integer N Σv² − (Σv)² (N² times the variance), so
    pixels of equal variance are ties, never separated by rounding.
    """
    values = data.images.astype(np.int64)
    scaled_variance = data.n_rows * (values**2).sum(axis=0) - values.sum(axis=0) ** 2
    return np.lexsort((np.arange(N_PIXELS), -scaled_variance))


def binary_patterns(data: DigitsData, pixels: int) -> np.ndarray:
    """``(N, pixels)`` int64: each row's ``pixels`` highest-variance pixels binarised at > 8."""
    chosen = pixel_variance_order(data)[:pixels]
    return (data.images[:, chosen] > BINARY_THRESHOLD).astype(np.int64)


def pattern_probabilities(data: DigitsData, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct patterns ``(M, pixels)`` and their probabilities P(b) ``(M,)`` (counts / N)."""
    patterns, counts = np.unique(binary_patterns(data, pixels), axis=0, return_counts=True)
    return patterns, counts / data.n_rows


def pixel_mutual_information(data: DigitsData, pixels: int) -> float:
    """Exact I(X; Y) of the pixel task in nats: H(B) = −Σ_b P(b) log P(b), P(b) from counts.

    Examples:
        >>> images = np.zeros((4, 64), int); images[:2, 0] = 16
        >>> round(pixel_mutual_information(DigitsData(images, np.zeros(4, int)), 1), 6)
        0.693147
    """
    _, probabilities = pattern_probabilities(data, pixels)
    return float(-(probabilities * np.log(probabilities)).sum())
