"""Score matrices the claims evaluate on: random, adversarial and oracle-critic ones.

Every family is returned as a ``(R, K, K)`` float64 tensor in the orientation of
:mod:`mibench.estimators` (row = x sample, column = y sample, positives on the diagonal), so an
estimator is evaluated on all R matrices of a family in one stacked call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from mibench.core.interface import Task

#: Batch sizes the analytic claims sweep: the smallest legal K, an odd one, a typical and a large one.
ANALYTIC_SIZES: tuple[int, ...] = (2, 3, 8, 64)
#: Matrices drawn per (family, K).
MATRICES_PER_FAMILY = 16
#: Scales of the i.i.d. Gaussian families (scores of magnitude up to 1e3 after the offset family).
GAUSS_SCALES: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
#: Margins of the adversarial families (a dominant positive or a dominant negative).
MARGINS: tuple[float, ...] = (10.0, 100.0, 1000.0)
#: Gaussian-task MI levels (nats, d = 5) whose oracle critic supplies realistic score matrices.
ORACLE_MI_LEVELS: tuple[float, ...] = (0.5, 4.0, 12.0)
ORACLE_DIM = 5


def oracle_scores(
    task: Task, batch_size: int, n_batches: int, generator: torch.Generator
) -> Tensor:
    """``(n_batches, K, K)`` float64 scores S_ij = log p(x_i, y_j)/(p(x_i)p(y_j)) of fresh batches.

    The task's own ``log_ratio`` is the oracle critic; batches are i.i.d. draws of K pairs.
    """
    batch = task.sample(n_batches * batch_size, generator, dtype=torch.float64)
    assert batch.y is not None, f"task {task.id} has no y to pair with x"
    x = batch.x.reshape(n_batches, batch_size, 1, -1)
    y = batch.y.reshape(n_batches, 1, batch_size, -1)
    scores = task.log_ratio(x, y)
    assert scores is not None, f"task {task.id} has no closed-form log ratio"
    return scores.to(torch.float64)


def score_families(
    generator: torch.Generator,
    *,
    sizes: tuple[int, ...] = ANALYTIC_SIZES,
    per_family: int = MATRICES_PER_FAMILY,
    oracle_tasks: tuple[Task, ...] = (),
) -> list[tuple[str, Tensor]]:
    """Named ``(R, K, K)`` float64 families covering ordinary, extreme and adversarial scores.

    * ``gauss-s{σ}``: i.i.d. N(0, σ²) entries;
    * ``offset-1e3``: N(0, 1) + 1000 (a constant shift must change nothing);
    * ``pos-margin-{c}``: N(0, 1) + c on the diagonal (InfoNCE near its log K cap);
    * ``neg-margin-{c}``: one negative per row c above its positive (a dominant hard negative);
    * ``constant``: all zeros (every bound at its no-information value);
    * ``far-negatives``: off-diagonal entries at -1e4 (exp underflows in float64);
    * ``oracle-<task id>``: the task's log density ratio on fresh batches.
    """
    families: list[tuple[str, Tensor]] = []
    R = per_family
    for K in sizes:
        eye = torch.eye(K, dtype=torch.float64)

        def noise(K: int = K) -> Tensor:
            return torch.randn(R, K, K, generator=generator, dtype=torch.float64)

        for scale in GAUSS_SCALES:
            families.append((f"gauss-s{scale:g}-K{K}", noise() * scale))
        families.append((f"offset-1e3-K{K}", noise() + 1e3))
        for margin in MARGINS:
            families.append((f"pos-margin-{margin:g}-K{K}", noise() + margin * eye))
            hard = noise()
            rows = torch.arange(K)
            cols = (rows + 1) % K
            hard[:, rows, cols] = hard[:, rows, rows] + margin
            families.append((f"neg-margin-{margin:g}-K{K}", hard))
        families.append((f"constant-K{K}", torch.zeros(R, K, K, dtype=torch.float64)))
        far = torch.full((R, K, K), -1e4, dtype=torch.float64)
        far = far + torch.diag_embed(
            torch.randn(R, K, generator=generator, dtype=torch.float64) + 1e4
        )
        families.append((f"far-negatives-K{K}", far))
        for task in oracle_tasks:
            families.append((f"oracle-{task.id}-K{K}", oracle_scores(task, K, R, generator)))
    return families


def shared_families(
    cache: dict[str, Any],
    generator: Callable[[str], torch.Generator],
    build_task: Callable[..., Task],
) -> list[tuple[str, Tensor]]:
    """The analytic claims' families, drawn once per context from one fixed stream and cached.

    Every analytic claim reads the same matrices whichever claims ran before it.
    """
    key = "analytic-score-families"
    if key not in cache:
        cache[key] = score_families(
            generator("analytic-score-families"), oracle_tasks=default_oracle_tasks(build_task)
        )
    families: list[tuple[str, Tensor]] = cache[key]
    return families


def default_oracle_tasks(build_task: Callable[..., Task]) -> tuple[Task, ...]:
    """The Gaussian tasks of :data:`ORACLE_MI_LEVELS` built through ``build_task(name, **params)``."""
    return tuple(build_task("gaussian", dim=ORACLE_DIM, mi=level) for level in ORACLE_MI_LEVELS)
