r"""A task over user arrays: the data behind :func:`mibench.estimate_mi`.

:class:`EmpiricalTask` follows the :class:`~mibench.core.interface.Task` protocol so the stacked trainer
treats user data exactly like a synthetic task. Each training batch of K pairs is K distinct rows
drawn uniformly without replacement (a duplicated row would put a positive pair off the
diagonal, where the estimators assume samples of p(x)p(y)); batches are independent of each other.
The true MI is unknown (``true_mi`` is NaN) and there is no oracle critic.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from mibench.api.preprocess import finite_matrix
from mibench.core.interface import Batch

EMPIRICAL_TASK = "empirical"


def as_matrix(name: str, values: Any) -> Tensor:
    """``(n,)`` or ``(n, d)`` array-like -> float64 ``(n, d)`` tensor; rejects NaN/Inf and empties."""
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return torch.as_tensor(finite_matrix(name, array), dtype=torch.float64)


def digest(*arrays: Tensor) -> str:
    """16 hex digits of the SHA-256 of the arrays' shapes and bytes (identifies the data set)."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(repr(tuple(array.shape)).encode())
        sha.update(array.contiguous().numpy().tobytes())
    return sha.hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class EmpiricalTask:
    """Rows of ``x`` and ``y`` (paired by index) sampled as batches of distinct rows.

    Attributes:
        x: ``(N, dim_x)`` float64.
        y: ``(N, dim_y)`` float64.
        split: which part of the user's data this is ("train" or "heldout").
        data_digest: :func:`digest` of the user's full arrays.
    """

    x: Tensor
    y: Tensor
    split: str
    data_digest: str
    name: str = EMPIRICAL_TASK
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"x and y need the same number of rows, got {self.x.shape[0]} and {self.y.shape[0]}"
            )

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def id(self) -> str:
        return f"{EMPIRICAL_TASK}-{self.split}-n{self.n}-{self.data_digest[:8]}"

    @property
    def dim_x(self) -> int:
        return int(self.x.shape[1])

    @property
    def dim_y(self) -> int:
        return int(self.y.shape[1])

    def true_mi(self, step: int = 0) -> float:
        return math.nan

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """``n`` rows; with ``steps`` (one step id per row, in equal consecutive runs, as the
        trainer draws a block of T batches) the rows of each step are distinct."""
        n_batches = 1 if steps is None else int(torch.unique_consecutive(steps).numel())
        if n % n_batches:
            raise ValueError(f"{n} rows do not split into {n_batches} equal batches")
        size = n // n_batches
        if size > self.n:
            raise ValueError(
                f"a batch of {size} distinct rows needs at least {size} samples; "
                f"the {self.split} split has {self.n}"
            )
        device = generator.device
        keys = torch.rand(n_batches, self.n, generator=generator, device=device)
        rows = keys.topk(size, dim=1).indices.reshape(-1)  # distinct within each batch
        x = self.x.to(device=device, dtype=dtype)[rows]
        y = self.y.to(device=device, dtype=dtype)[rows]
        return Batch(x=x, y=y)

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor | None:
        return None


@dataclass(frozen=True, eq=False)
class AlternatingSplits:
    """Held-out batches that alternate between two disjoint splits, by evaluation index.

    The evaluation at step s draws its rows from ``splits[(s // eval_every) % 2]``, so the
    trainer's one held-out stream feeds two readouts: a "validation" curve (even evaluations) that
    early stopping may look at, and a "test" curve (odd evaluations) that it never sees and that
    the reported estimate is read from (:mod:`mibench.api.readout`). Without ``steps`` (a single
    batch) the rows come from the first split.
    """

    splits: tuple[EmpiricalTask, EmpiricalTask]
    eval_every: int
    name: str = EMPIRICAL_TASK
    target: Literal["mi", "kl"] = "mi"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        first, second = self.splits
        if (first.dim_x, first.dim_y) != (second.dim_x, second.dim_y):
            raise ValueError("the two held-out splits need equal dims")

    @property
    def n(self) -> int:
        return min(split.n for split in self.splits)

    @property
    def id(self) -> str:
        first, second = self.splits
        return f"{EMPIRICAL_TASK}-alternating-{first.n}-{second.n}-{first.data_digest[:8]}"

    @property
    def dim_x(self) -> int:
        return self.splits[0].dim_x

    @property
    def dim_y(self) -> int:
        return self.splits[0].dim_y

    def split_of(self, step: int) -> int:
        """0 (validation) or 1 (test): the split the evaluation at ``step`` reads."""
        return (step // self.eval_every) % 2

    def true_mi(self, step: int = 0) -> float:
        return math.nan

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        if steps is None:
            return self.splits[0].sample(n, generator, dtype=dtype)
        batch_steps = torch.unique_consecutive(steps)
        if n % len(batch_steps):
            raise ValueError(f"{n} rows do not split into {len(batch_steps)} equal batches")
        size = n // len(batch_steps)
        parts = [
            self.splits[self.split_of(int(step))].sample(size, generator, dtype=dtype)
            for step in batch_steps
        ]
        return Batch(x=torch.cat([p.x for p in parts]), y=torch.cat([p.y for p in parts]))

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor | None:
        return None
