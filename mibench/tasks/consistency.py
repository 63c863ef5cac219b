r"""The self-consistency tests of Song & Ermon (2020, §6) as tasks built on a base task.

An estimator that measures mutual information must respect its basic identities; Song & Ermon
turn three of them into tests whose target is known however hard the base task is. Given a base
task with pairs (X, Y) and truth I = I(X; Y):

* ``independence``: X from one draw, Y from an independent draw of the same task, so
  p(x, y) = p(x) p(y) and the target is **0**.
* ``data_processing``: X' = [X, h(X)] for a fixed deterministic h, Y unchanged. X' ↦ X (its first
  block) and X ↦ [X, h(X)] are both deterministic, so by the data processing inequality in both
  directions I(X'; Y) = I(X; Y): the target is **I**, and Î(X'; Y) / Î(X; Y) should be **1**.
* ``additivity``: two independent pairs concatenated, X' = [X₁, X₂], Y' = [Y₁, Y₂]. The joint
  factorises over the two pairs, so the log density ratio is the sum of the pairs' ratios and the
  target is **2I**: Î(X'; Y') / Î(X; Y) should be **2**.

(Song & Ermon apply h on the Y side, I([X, X]; [Y, h(Y)]); the identity is the same either way.)
The oracle critic follows from the same factorisations: 0 for ``independence``, the base ratio
of the first block for ``data_processing``, the sum of the two blocks' base ratios for
``additivity``.

References:
    Song & Ermon, Understanding the Limitations of Variational Mutual Information Estimators,
    ICLR 2020, arXiv:1910.06222, §6 (self-consistency tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from mibench.core.interface import Batch, Task
from mibench.tasks.f_information import validate_f_name

CONSISTENCY_TESTS = ("none", "independence", "data_processing", "additivity")
"""The values of a task's ``consistency`` parameter; ``none`` is the base task itself."""
TARGET_FACTOR = {"none": 1.0, "independence": 0.0, "data_processing": 1.0, "additivity": 2.0}
"""Truth of each test as a multiple of the base task's I(X; Y)."""


@dataclass(frozen=True, eq=False)
class SelfConsistencyTask:
    """``base`` under one self-consistency test (see the module docstring).

    ``processing`` is the deterministic h of ``data_processing``, mapping ``(n, dim_x)`` to
    ``(n, dim_x)``; ``processing_formula`` says in words what it does.

    Examples:
        >>> from mibench.tasks import build
        >>> base = build("gaussian", dim=2, mi=1.0)
        >>> task = SelfConsistencyTask(base, "additivity")
        >>> task.id, task.dim_x, round(task.true_mi(), 6)
        ('gaussian-d2-mi1-additivity', 4, 2.0)
    """

    base: Task
    test: str
    processing: Callable[[Tensor], Tensor] = torch.neg
    processing_formula: str = "h(x) = -x"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.test not in TARGET_FACTOR or self.test == "none":
            valid = ", ".join(t for t in CONSISTENCY_TESTS if t != "none")
            raise ValueError(f"consistency test must be one of {valid}; got {self.test!r}")

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def id(self) -> str:
        return f"{self.base.id}-{self.test}"

    @property
    def target(self) -> Literal["mi", "kl"]:
        return "mi"

    @property
    def dim_x(self) -> int:
        return self.base.dim_x * (1 if self.test == "independence" else 2)

    @property
    def dim_y(self) -> int:
        return self.base.dim_y * (2 if self.test == "additivity" else 1)

    def true_mi(self, step: int = 0) -> float:
        """0 (independence), I (data processing) or 2I (additivity), I the base task's truth."""
        return TARGET_FACTOR[self.test] * self.base.true_mi(step)

    def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
        """``kl`` is :meth:`true_mi`; the other f-informations are not additive, so not given."""
        return self.true_mi(step) if validate_f_name(name) == "kl" else None

    def f_mi_standard_error(
        self, name: str, *, step: int = 0, alpha: float | None = None
    ) -> float | None:
        """The base task's standard error of its MI, scaled like the truth (None for other f's)."""
        if validate_f_name(name) != "kl":
            return None
        base = getattr(self.base, "f_mi_standard_error", None)
        error = base("kl", step=step) if base is not None else None
        return None if error is None else TARGET_FACTOR[self.test] * error

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        """``n`` pairs; independence and additivity draw the base task twice (first, second)."""
        first = self.base.sample(n, generator, steps=steps, dtype=dtype)
        assert first.y is not None, "self-consistency tests need a task with paired y"
        if self.test == "data_processing":
            return Batch(x=torch.cat([first.x, self.processing(first.x)], dim=-1), y=first.y)
        second = self.base.sample(n, generator, steps=steps, dtype=dtype)
        assert second.y is not None
        if self.test == "independence":
            return Batch(x=first.x, y=second.y)
        return Batch(
            x=torch.cat([first.x, second.x], dim=-1), y=torch.cat([first.y, second.y], dim=-1)
        )

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor | None:
        """The oracle critic (module docstring); leading axes of ``x`` and ``y`` broadcast."""
        shape = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        if self.test == "independence":
            return torch.zeros(shape, dtype=torch.float64, device=x.device)
        dx = self.base.dim_x
        if self.test == "data_processing":
            return self.base.log_ratio(x[..., :dx], y, steps=steps)
        dy = self.base.dim_y
        first = self.base.log_ratio(x[..., :dx], y[..., :dy], steps=steps)
        second = self.base.log_ratio(x[..., dx:], y[..., dy:], steps=steps)
        if first is None or second is None:
            return None
        return first + second


def with_consistency_test(
    base: Task,
    test: str,
    *,
    processing: Callable[[Tensor], Tensor],
    processing_formula: str,
) -> Task:
    """``base`` itself for ``test == "none"``, else :class:`SelfConsistencyTask` of it."""
    if test == "none":
        return base
    return SelfConsistencyTask(
        base, test, processing=processing, processing_formula=processing_formula,
        params=dict(base.params),
    )  # fmt: skip
