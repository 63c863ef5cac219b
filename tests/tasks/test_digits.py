"""The digits tasks (mibench.tasks.digits): sampler, oracle critic and exact truth.

The truth is checked by Monte Carlo through the sampler itself: draws are mapped back to the
discrete pair (image group from ⌊8(X + 1)⌋, label from the one-hot Y or pattern from ⌊Y⌋), and
the plug-in MI of their counts, with the Miller–Madow correction of its first-order bias
(m_AB − m_A − m_B + 1)/(2n), must agree with the truth within 4 standard errors
(tests/tasks/_task_stats.py), the standard error being the sample SD of the plug-in pointwise log
ratio over √n. A sampler that re-drew labels *excluding* the kept one fails the same check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench.tasks import build
from mibench.tasks import digits as digits_module
from mibench.tasks.digits import DigitsLabelTask, DigitsPixelsTask
from mibench.tasks.digits_data import DigitsData, load_digits_data
from tests.tasks._task_stats import (
    Z_TOLERANCE,
    assert_close_in_standard_errors,
    mean_and_standard_error,
    seeded,
)

N_DRAWS = 2**16  # the fast checks; the load_digits label check (17 970 cells) is slow, 2**20
N_DRAWS_SLOW = 2**20


def _handmade(n_classes: int = 10) -> DigitsData:
    """Five rows, three distinct images: A twice (labels 0 and 1), B twice (label 2), C once."""
    a, b, c = np.zeros(64, int), np.full(64, 16), np.arange(64) % 17
    return DigitsData(np.stack([a, b, a, c, b]), np.array([0, 2, 1, 7, 2]), n_classes=n_classes)


def _code_counts(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """For each entry of ``codes`` (rows, if 2-d), how often it occurs; and the distinct count."""
    _, inverse = np.unique(codes, axis=0 if codes.ndim > 1 else None, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1))
    return counts[inverse.reshape(-1)], len(counts)


def plug_in_mi(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Miller–Madow-corrected plug-in I(A; B) of paired integer codes, and its standard error."""
    n = len(a)
    (count_ab, m_ab), (count_a, m_a), (count_b, m_b) = (
        _code_counts(np.stack([a, b], axis=1)), _code_counts(a), _code_counts(b)
    )  # fmt: skip
    pointwise = np.log(count_ab * n / (count_a * count_b))
    bias = (m_ab - m_a - m_b + 1) / (2 * n)
    return float(pointwise.mean() - bias), float(pointwise.std(ddof=1) / math.sqrt(n))


def _codes(task: DigitsLabelTask | DigitsPixelsTask, n: int, seed: int) -> tuple:
    """(group of X, code of Y) of ``n`` draws, recovered from the float32 samples."""
    batch = task.sample(n, seeded(seed), dtype=torch.float32)
    groups = digits_module._groups_of_images(task.data, batch.x).numpy()
    assert (groups >= 0).all(), "every float32 image maps back to a data-set image"
    if isinstance(task, DigitsLabelTask):
        return groups, batch.y.argmax(-1).numpy(), batch
    bits = torch.floor(batch.y.double()).numpy().astype(np.int64)
    return groups, bits @ (2 ** np.arange(task.pixels, dtype=np.int64)), batch


@pytest.mark.parametrize("reroll", [0.0, 0.3, 1.0])
def test_label_truth_by_monte_carlo_on_duplicates(reroll: float) -> None:
    task = DigitsLabelTask(_handmade(), reroll)
    groups, labels, _ = _codes(task, N_DRAWS, seed=1)
    estimate, se = plug_in_mi(groups, labels)
    assert_close_in_standard_errors(estimate, max(se, 1e-4), task.true_mi())


def test_a_reroll_that_excludes_the_kept_label_fails_the_check() -> None:
    """Negative control: the check is sensitive to how the re-drawn label is chosen."""
    task = DigitsLabelTask(_handmade(), 0.3)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 5, N_DRAWS)
    kept = task.data.labels[rows]
    other = (kept + rng.integers(1, 10, N_DRAWS)) % 10  # never the kept label
    wrong = np.where(rng.random(N_DRAWS) < 0.3, other, kept)
    estimate, se = plug_in_mi(task.data.row_group[rows], wrong)
    assert abs(estimate - task.true_mi()) / se > 2 * Z_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("reroll", [0.25, 0.75])
def test_label_truth_by_monte_carlo_on_load_digits(reroll: float) -> None:
    """1797 groups x 10 labels: 2^20 draws keep the Miller–Madow residual far under one SE."""
    task = build("digits_label", reroll=reroll)
    groups, labels, _ = _codes(task, N_DRAWS_SLOW, seed=3)
    estimate, se = plug_in_mi(groups, labels)
    assert_close_in_standard_errors(estimate, se, task.true_mi())


@pytest.mark.parametrize("pixels", [1, 4, pytest.param(8, marks=pytest.mark.slow)])
def test_pixel_truth_by_monte_carlo_and_patterns_are_separable(pixels: int) -> None:
    """⌊Y⌋ is the pattern of X's image on every draw (so I(X; Y) = H(B)); H(B) by plug-in."""
    task = build("digits_pixels", pixels=pixels)
    groups, codes, _ = _codes(task, N_DRAWS, seed=4)
    patterns = task._row_patterns @ (2 ** np.arange(pixels, dtype=np.int64))
    first_row = np.unique(task.data.row_group, return_index=True)[1]
    assert np.array_equal(codes, patterns[first_row][groups])
    estimate, se = plug_in_mi(groups, codes)
    assert_close_in_standard_errors(estimate, se, task.true_mi())


def _brute_force_log_ratio(task: DigitsLabelTask | DigitsPixelsTask, x, y) -> np.ndarray:
    """log p(x, y) / (p(x) p(y)) by a sum over the rows, no grouping: row i holds x when
    ⌊8(x + 1)⌋ = v_i; p(y | row i) is the label rule or the indicator of the row's pattern."""
    values = np.floor((x.double().numpy() + 1) * 8).astype(int)
    holds = (values[:, None, :] == task.data.images[None].astype(int)).all(-1)  # (n, N)
    if isinstance(task, DigitsLabelTask):
        c = y.argmax(-1).numpy()
        p_y_row = task.reroll / 10 + (1 - task.reroll) * (c[:, None] == task.data.labels[None])
    else:
        bits = np.floor(y.double().numpy()).astype(int)
        p_y_row = (bits[:, None, :] == task._row_patterns[None]).all(-1).astype(float)
    joint = (holds[:, None, :] * p_y_row[None, :, :]).sum(-1)  # (n_x, n_y), up to 1/N
    p_x = holds.sum(-1)[:, None]
    p_y = p_y_row.mean(-1)[None, :]
    with np.errstate(divide="ignore"):
        return np.log(joint / (p_x * p_y))


@pytest.mark.parametrize(
    "task",
    [DigitsLabelTask(_handmade(), 0.4), DigitsLabelTask(_handmade(), 0.0),
     DigitsPixelsTask(_handmade(), 3), build("digits_label", reroll=0.5),
     build("digits_pixels", pixels=6)],
    ids=["label-duplicates", "label-duplicates-p0", "pixels-duplicates", "label", "pixels"],
)  # fmt: skip
def test_oracle_critic_equals_the_density_ratio_summed_over_rows(task) -> None:
    batch = task.sample(48, seeded(5), dtype=torch.float64)
    oracle = task.log_ratio(batch.x[:, None, :], batch.y[None, :, :]).numpy()
    assert oracle.shape == (48, 48)
    assert np.array_equal(
        np.isneginf(oracle), np.isneginf(_brute_force_log_ratio(task, batch.x, batch.y))
    )
    finite = np.isfinite(oracle)
    assert finite.diagonal().all()
    assert oracle[finite] == pytest.approx(_brute_force_log_ratio(task, batch.x, batch.y)[finite])


@pytest.mark.parametrize(
    ("name", "params"),
    [("digits_label", {"reroll": 0.5}), ("digits_pixels", {"pixels": 4})],
)
@pytest.mark.parametrize("consistency", ["none", "independence", "data_processing", "additivity"])
def test_mean_oracle_log_ratio_is_the_truth(name: str, params: dict, consistency: str) -> None:
    """E over joint draws of the exact pointwise MI is I (0, I, I, 2I for the tests)."""
    task = build(name, consistency=consistency, **params)
    batch = task.sample(2**14, seeded(6), dtype=torch.float32)
    values = task.log_ratio(batch.x, batch.y)
    if consistency == "independence":
        assert task.true_mi() == 0.0 and bool((values == 0).all())
        return
    mean, se = mean_and_standard_error(values)
    assert_close_in_standard_errors(mean, se, task.true_mi())


def test_samples_are_exact_in_float32_and_in_range() -> None:
    task = build("digits_pixels", pixels=5)
    x32 = task.sample(4096, seeded(7), dtype=torch.float32)
    x64 = task.sample(4096, seeded(7), dtype=torch.float64)
    assert torch.equal(x32.x.double(), x64.x) and torch.equal(x32.y.double(), x64.y)
    assert float(x64.x.min()) > -1.0 and float(x64.x.max()) < 1.125
    frac = (x64.y - torch.floor(x64.y)).numpy()
    assert frac.min() > 0 and frac.max() < 0.5


def test_label_samples_are_one_hot() -> None:
    batch = build("digits_label", reroll=0.2).sample(512, seeded(8))
    assert batch.y.shape == (512, 10) and torch.equal(batch.y.sum(-1), torch.ones(512))


def test_data_processing_appends_the_masked_image() -> None:
    task = build("digits_label", reroll=0.5, consistency="data_processing")
    plain = build("digits_label", reroll=0.5)
    batch, reference = task.sample(64, seeded(9)), plain.sample(64, seeded(9))
    assert task.dim_x == 128 and torch.equal(batch.x[:, :64], reference.x)
    assert torch.equal(batch.x[:, 64:96], reference.x[:, :32])
    assert bool((batch.x[:, 96:] == -1).all())


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"reroll": -0.1}, r"reroll must be a number in \[0, 1\], got -0.1"),
        ({"reroll": 1.5}, r"reroll must be a number in \[0, 1\], got 1.5"),
        ({"reroll": "half"}, "reroll must be a number"),
        ({"reroll": True}, "reroll must be a number"),
        ({"reroll": math.nan}, "reroll must be a number"),
        ({"consistency": "additive"}, "consistency must be one of none, independence, data_proc"),
    ],
)
def test_bad_label_parameters_name_themselves(params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build("digits_label", **params)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"pixels": 0}, "pixels must be an integer >= 1, got 0"),
        ({"pixels": 65}, r"pixels must be an integer in \[1, 64\], got 65"),
        ({"pixels": 2.5}, "pixels must be an integer"),
        ({"consistency": 1}, "consistency must be one of"),
        ({"reroll": 0.5}, "task 'digits_pixels' has no parameter 'reroll'"),
    ],
)
def test_bad_pixel_parameters_name_themselves(params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build("digits_pixels", **params)


def test_truths_of_the_documented_levels() -> None:
    """The truths are those of digits_data on load_digits; p = 1 and the k grid's ends."""
    data = load_digits_data()
    assert build("digits_label", reroll=1.0).true_mi() == pytest.approx(0.0, abs=1e-12)
    assert build("digits_pixels", pixels=64).true_mi() <= math.log(data.n_rows)
    labels = [build("digits_label", reroll=p).true_mi() for p in (0, 0.25, 0.5, 0.75, 0.9)]
    pixels = [build("digits_pixels", pixels=k).true_mi() for k in (1, 2, 4, 8, 16)]
    assert labels == sorted(labels, reverse=True) and pixels == sorted(pixels)
