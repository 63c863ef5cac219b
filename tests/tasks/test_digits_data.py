"""The digits data set and the exact truths of its tasks (mibench.tasks.digits_data).

Every truth is checked against a computation written straight from the definition of MI over the
rows (a joint probability table of the discrete pair, built by a loop over rows), on handmade data
sets with duplicated images and conflicting labels as well as on ``load_digits`` itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mibench.tasks import digits_data
from mibench.tasks.digits_data import DigitsData, load_digits_data


def _discrete_mi(joint: dict[tuple, float]) -> float:
    """I(A; B) from a joint pmf {(a, b): p}, by the definition."""
    pa: dict = {}
    pb: dict = {}
    for (a, b), p in joint.items():
        pa[a] = pa.get(a, 0.0) + p
        pb[b] = pb.get(b, 0.0) + p
    return sum(p * math.log(p / (pa[a] * pb[b])) for (a, b), p in joint.items() if p > 0)


def _label_joint_by_rows(data: DigitsData, reroll: float) -> dict[tuple, float]:
    """P(image, observed label) summed over rows: row i (1/N), kept label (1 - p) or any (p/C)."""
    joint: dict[tuple, float] = {}
    for image, label in zip(data.images, data.labels, strict=True):
        key = image.tobytes()
        for c in range(data.n_classes):
            p = (reroll / data.n_classes + (1 - reroll) * (c == label)) / data.n_rows
            joint[(key, c)] = joint.get((key, c), 0.0) + p
    return joint


def _handmade(n_classes: int = 10) -> DigitsData:
    """Five rows, three distinct images: A twice (labels 0 and 1), B twice (label 2 both), C once."""
    a, b, c = np.zeros(64, int), np.full(64, 16), np.arange(64) % 17
    images = np.stack([a, b, a, c, b])
    return DigitsData(images, np.array([0, 2, 1, 7, 2]), n_classes=n_classes)


def test_the_shipped_file_reads_as_load_digits() -> None:
    from sklearn.datasets import load_digits

    assert digits_data.shipped_digits_file() is not None
    bunch, data = load_digits(), load_digits_data()
    assert np.array_equal(data.images, bunch.data.astype(np.uint8))
    assert np.array_equal(data.labels, bunch.target)


def test_without_the_file_load_digits_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits_data, "shipped_digits_file", lambda: None)
    digits_data.load_digits_data.cache_clear()
    try:
        assert digits_data.load_digits_data().n_rows == 1797
    finally:
        digits_data.load_digits_data.cache_clear()


def test_groups_of_a_handmade_set_with_duplicates() -> None:
    data = _handmade()
    assert data.group_counts.sum() == 5 and sorted(data.group_counts.tolist()) == [1, 2, 2]
    a_group = data.row_group[0]
    assert data.row_group[2] == a_group  # rows 0 and 2 are the same image
    assert data.group_label_counts[a_group].tolist()[:3] == [1, 1, 0]
    assert data.group_of(data.images).tolist() == data.row_group.tolist()
    assert data.group_of(np.full((1, 64), 3)).tolist() == [-1]


@pytest.mark.parametrize("reroll", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_label_truth_equals_the_definition_on_duplicates(reroll: float) -> None:
    data = _handmade()
    expected = _discrete_mi(_label_joint_by_rows(data, reroll))
    assert digits_data.label_mutual_information(data, reroll) == pytest.approx(expected, abs=1e-12)


def test_label_truth_by_hand_at_p0() -> None:
    """A: labels {0, 1} (P = 2/5), B: {2} (2/5), C: {7} (1/5); P(c) = .2, .2, .4, .2, so
    I = .4 (.5 log 2.5 + .5 log 2.5) + .4 log 2.5 + .2 log 5."""
    expected = 0.4 * math.log(2.5) + 0.4 * math.log(2.5) + 0.2 * math.log(5)
    assert digits_data.label_mutual_information(_handmade(), 0.0) == pytest.approx(expected)


def test_duplicate_images_with_conflicting_labels_carry_less_information() -> None:
    """Merging two images into one group (same pixels) can only lose information."""
    data = _handmade()
    distinct = DigitsData(np.stack([np.full(64, k) for k in range(5)]), data.labels)
    for reroll in (0.0, 0.3):
        assert digits_data.label_mutual_information(data, reroll) < (
            digits_data.label_mutual_information(distinct, reroll)
        )


def test_load_digits_truths() -> None:
    data = load_digits_data()
    assert data.n_rows == 1797 and len(data.group_counts) == 1797  # no duplicate images
    counts = np.bincount(data.labels, minlength=10) / data.n_rows
    entropy = -(counts * np.log(counts)).sum()
    assert digits_data.label_mutual_information(data, 0.0) == pytest.approx(entropy, abs=1e-12)
    assert digits_data.label_mutual_information(data, 1.0) == pytest.approx(0.0, abs=1e-12)
    for reroll in (0.25, 0.75):
        expected = _discrete_mi(_label_joint_by_rows(data, reroll))
        assert digits_data.label_mutual_information(data, reroll) == pytest.approx(expected)


def test_variance_order_breaks_ties_by_lower_index() -> None:
    images = np.zeros((4, 64), int)
    images[:, 5] = [0, 16, 0, 16]  # variance 64
    images[:, 9] = [16, 0, 16, 0]  # variance 64: a tie with pixel 5
    images[:, 2] = [0, 1, 0, 1]  # variance 0.25
    order = digits_data.pixel_variance_order(DigitsData(images, np.zeros(4, int)))
    assert order[:3].tolist() == [5, 9, 2]
    assert order[3:].tolist() == [k for k in range(64) if k not in (2, 5, 9)]


def test_variance_order_of_load_digits_matches_numpy() -> None:
    data = load_digits_data()
    variance = data.images.astype(float).var(axis=0)
    order = digits_data.pixel_variance_order(data)
    assert np.all(np.diff(variance[order]) <= 1e-9)
    # distinct variances are ordered as numpy orders them; equal ones by index
    expected = sorted(range(64), key=lambda j: (-round(variance[j], 9), j))
    assert order.tolist() == expected


def test_pixel_truth_is_the_pattern_entropy_by_a_loop() -> None:
    data = load_digits_data()
    chosen = digits_data.pixel_variance_order(data)[:8]
    counts: dict[bytes, int] = {}
    for image in data.images:
        key = (image[chosen] > 8).tobytes()
        counts[key] = counts.get(key, 0) + 1
    p = np.array(list(counts.values())) / data.n_rows
    assert digits_data.pixel_mutual_information(data, 8) == pytest.approx(-(p * np.log(p)).sum())


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 63))
def test_pixel_truth_grows_with_k_and_stays_under_log_n(pixels: int) -> None:
    """The pattern of k + 1 pixels refines that of k, so H(B) is non-decreasing; H(B) <= log N."""
    data = load_digits_data()
    now = digits_data.pixel_mutual_information(data, pixels)
    assert digits_data.pixel_mutual_information(data, pixels + 1) >= now - 1e-12
    assert now <= math.log(data.n_rows) + 1e-12


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=1, max_size=8, unique_by=tuple
    ),
    st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), max_size=8),
)
def test_row_index_matches_a_dictionary(table: list, queries: list) -> None:
    lookup = {tuple(row): i for i, row in enumerate(table)}
    found = digits_data.row_index(np.array(table), np.array(queries, dtype=int).reshape(-1, 3))
    assert found.tolist() == [lookup.get(tuple(q), -1) for q in queries]


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((2, 63), int), np.zeros(2, int), "images must have shape"),
        (np.zeros((2, 64), int), np.zeros(3, int), "labels must have shape"),
        (np.full((2, 64), 17), np.zeros(2, int), "pixels must be integers in"),
        (np.zeros((2, 64), int), np.array([0, 10]), "labels must be integers in"),
    ],
)
def test_bad_data_sets_are_refused(images: np.ndarray, labels: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DigitsData(images, labels)
