"""User arrays as a task (mibench.api.empirical): input checks, the digest, distinct-row batches,
uniform row draws, and the alternating held-out splits."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from scipy import stats

from mibench.api.empirical import (
    EMPIRICAL_TASK,
    AlternatingSplits,
    EmpiricalTask,
    as_matrix,
    digest,
)
from mibench.core.interface import Task


def _task(n: int = 10, split: str = "train", offset: float = 0.0) -> EmpiricalTask:
    data = offset + torch.arange(2 * n, dtype=torch.float64).reshape(n, 2)
    return EmpiricalTask(data, -data[:, :1], split=split, data_digest=digest(data))


# ------------------------------------------------------------------------------ as_matrix


def test_as_matrix_shapes_and_dtype() -> None:
    column = as_matrix("x", [1, 2, 3])
    assert column.shape == (3, 1) and column.dtype == torch.float64
    assert column[:, 0].tolist() == [1.0, 2.0, 3.0]
    from_tensor = as_matrix("x", torch.ones(4, 2, dtype=torch.float32))
    assert from_tensor.shape == (4, 2) and from_tensor.dtype == torch.float64
    assert as_matrix("y", np.array([[1], [0]], dtype=np.int8)).tolist() == [[1.0], [0.0]]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array(["a", "b"]), r"x must be a numeric array, got dtype <U1"),
        (np.array([1, None], dtype=object), "x must be a numeric array, got dtype object"),
        (np.array([True, False]), "x must be a numeric array, got dtype bool"),
        (np.zeros((0, 2)), r"x must have shape \(n,\) or \(n, d\) with n, d >= 1, got \(0, 2\)"),
        (np.zeros((3, 0)), r"got \(3, 0\)"),
        (np.zeros((2, 2, 2)), r"got \(2, 2, 2\)"),
        (np.array([1.0, math.inf]), "x contains NaN or Inf"),
        (np.array([[math.nan, 1.0]]), "x contains NaN or Inf"),
    ],
)
def test_as_matrix_rejects_bad_input_naming_it(values: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_matrix("x", values)


# ------------------------------------------------------------------------------ digest


def test_digest_is_sha256_of_shapes_and_bytes() -> None:
    a = torch.arange(6, dtype=torch.float64).reshape(3, 2)
    b = torch.ones(3, 1, dtype=torch.float64)
    sha = hashlib.sha256()
    for array in (a, b):
        sha.update(repr(tuple(array.shape)).encode())
        sha.update(array.numpy().tobytes())
    assert digest(a, b) == sha.hexdigest()[:16]
    assert len(digest(a)) == 16


def test_digest_sees_shape_order_and_values() -> None:
    a = torch.arange(6, dtype=torch.float64)
    assert digest(a.reshape(3, 2)) != digest(a.reshape(2, 3))  # same bytes, other shape
    b = a.clone()
    b[0] = 0.5
    assert digest(a) != digest(b)
    assert digest(a, b) != digest(b, a)
    # A non-contiguous view digests like its contiguous copy.
    view = a.reshape(3, 2).t()
    assert digest(view) == digest(view.contiguous())


# ------------------------------------------------------------------------------ EmpiricalTask


def test_task_follows_the_protocol_and_reports_no_truth() -> None:
    task = _task(n=10)
    assert isinstance(task, Task)
    assert (task.n, task.dim_x, task.dim_y) == (10, 2, 1)
    assert task.id == f"{EMPIRICAL_TASK}-train-n10-{task.data_digest[:8]}"
    assert math.isnan(task.true_mi()) and math.isnan(task.true_mi(step=7))
    assert task.log_ratio(task.x, task.y) is None


def test_rows_of_x_and_y_must_pair() -> None:
    with pytest.raises(ValueError, match="same number of rows, got 3 and 2"):
        EmpiricalTask(torch.zeros(3, 1), torch.zeros(2, 1), split="train", data_digest="0")


def test_each_batch_is_distinct_rows_and_pairs_stay_paired() -> None:
    task = _task(n=12)
    steps = torch.arange(4).repeat_interleave(5)  # four batches of 5 rows
    batch = task.sample(20, torch.Generator().manual_seed(1), steps=steps, dtype=torch.float64)
    assert batch.x.shape == (20, 2) and batch.y is not None and batch.y.shape == (20, 1)
    row_index = (batch.x[:, 0] / 2).long()  # x[i] = (2i, 2i + 1)
    for b in range(4):
        chosen = row_index[b * 5 : (b + 1) * 5].tolist()
        assert len(set(chosen)) == 5
    torch.testing.assert_close(batch.y[:, 0], -batch.x[:, 0])
    assert batch.x.dtype == torch.float64
    assert task.sample(5, torch.Generator()).x.dtype == torch.float32  # the default dtype


def test_rows_are_drawn_uniformly() -> None:
    # 2000 batches of 3 of 6 rows: each row appears with probability 1/2 per batch, so its count
    # is Binomial(2000, 1/2); a chi-square test of the six counts (they sum to 6000) against
    # 1000 each at significance 1e-3 (fails by chance once in a thousand seeds; seed fixed).
    task = _task(n=6)
    steps = torch.arange(2000).repeat_interleave(3)
    batch = task.sample(6000, torch.Generator().manual_seed(2), steps=steps)
    counts = np.bincount((batch.x[:, 0] / 2).long().numpy(), minlength=6)
    assert counts.sum() == 6000
    assert stats.chisquare(counts).pvalue > 1e-3


def test_sample_errors_name_the_sizes() -> None:
    task = _task(n=4)
    with pytest.raises(ValueError, match="a batch of 5 distinct rows needs at least 5 samples"):
        task.sample(5, torch.Generator())
    with pytest.raises(ValueError, match="7 rows do not split into 2 equal batches"):
        task.sample(7, torch.Generator(), steps=torch.tensor([0, 0, 0, 0, 1, 1, 1]))


# ------------------------------------------------------------------------------ AlternatingSplits


def test_alternating_splits_read_validation_then_test_by_evaluation_index() -> None:
    # Two disjoint splits told apart by value: validation rows < 100 <= test rows.
    validation, test = _task(n=6, split="v"), _task(n=8, split="t", offset=100.0)
    held = AlternatingSplits((validation, test), eval_every=5)
    assert [held.split_of(s) for s in (0, 4, 5, 9, 10, 15)] == [0, 0, 1, 1, 0, 1]
    assert (held.n, held.dim_x, held.dim_y) == (6, 2, 1)
    assert math.isnan(held.true_mi()) and held.log_ratio(test.x, test.y) is None
    steps = torch.tensor([0, 5, 10, 15]).repeat_interleave(3)
    batch = held.sample(12, torch.Generator().manual_seed(3), steps=steps)
    from_test = (batch.x[:, 0] >= 100).reshape(4, 3)
    assert from_test.tolist() == [[False] * 3, [True] * 3, [False] * 3, [True] * 3]
    single = held.sample(4, torch.Generator().manual_seed(3))  # no steps: the first split
    assert (single.x[:, 0] < 100).all()


def test_alternating_splits_checks() -> None:
    wide = EmpiricalTask(torch.zeros(4, 3), torch.zeros(4, 1), split="t", data_digest="0")
    with pytest.raises(ValueError, match="equal dims"):
        AlternatingSplits((_task(n=4), wide), eval_every=2)
    held = AlternatingSplits((_task(n=4), _task(n=4, offset=100.0)), eval_every=2)
    with pytest.raises(ValueError, match="5 rows do not split into 2 equal batches"):
        held.sample(5, torch.Generator(), steps=torch.tensor([0, 0, 0, 2, 2]))
    assert held.id.startswith(f"{EMPIRICAL_TASK}-alternating-4-4-")
