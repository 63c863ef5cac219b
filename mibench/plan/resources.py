"""Memory before work: the peak memory of a plan's largest stack, checked against the machine.

A stack of R runs at batch size K (score-matrix side M: K, or 2K in the views layout) holds, in
the training dtype (b bytes; the held-out readout in float64):

* score matrices: ``SCORE_COPIES`` M x M tensors per run for the step (scores, their
  exponentials and gradients, the float64 readout) and ``HELDOUT_SCORE_COPIES`` E x E for a
  held-out readout (E the eval batch size; no gradients there);
* activations: ``ACTIVATION_COPIES`` x rows x (sum of the critic's layer widths) per run, rows
  being 2M for a separable critic (each side's embeddings) and M^2 for a concat critic (every
  pair). A concat critic evaluates large pair sets tile by tile and held-out pairs in no-grad
  chunks (:mod:`mibench.critics.tiled`, :mod:`mibench.critics.concat`), so its pair activations
  are capped at ``PAIR_ACTIVATION_CAP`` bytes for the stack, beside its 2M split first-layer rows;
* parameters: weights, gradients and Adam's two moments, 4 x the critic's parameter count;
* logged rows: the preallocated per-step records, :func:`mibench.plan.checks.logged_rows` x
  ``LOGGED_COLUMNS`` float64 values.

The stack holds ``min(runs of that shape, MAX_STACK_RUNS, cost.max_stack_runs)`` runs (a lone
run trains as a stack of two copies of itself), as the runner cuts it. A plan whose largest
stack would need more than ``MEMORY_FRACTION`` of the available memory is refused with one line
naming the estimate, the limit and the value to lower (:func:`check_plan_memory`). The copy
counts are upper estimates of what autograd keeps alive.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mibench.core.interface import RunConfig
from mibench.plan import cost

SCORE_COPIES = 6
HELDOUT_SCORE_COPIES = 2
ACTIVATION_COPIES = 4
PAIR_ACTIVATION_CAP = 2**27 * 4  # a no-grad chunk of float32 pair activations (critics.concat)
LOGGED_COLUMNS = 32
MAX_STACK_RUNS = 256  # the runner's largest stack (mibench.execute.runner.DEFAULT_MAX_STACK)
MEMORY_FRACTION = 0.8  # of the available memory a plan's largest stack may need
DEFAULT_HIDDEN = (64, 64)
DEFAULT_EMBED = 16
PAIR_CRITICS = frozenset({"concat"})  # critics evaluated on all K^2 pairs
SAMPLE_QUADRATIC = frozenset({"kde"})  # sample estimators holding an n x n matrix


@dataclass(frozen=True)
class Estimate:
    """Peak bytes of one stack by part."""

    scores: float
    activations: float
    parameters: float
    rows: float
    stack_runs: int

    @property
    def total(self) -> float:
        return self.scores + self.activations + self.parameters + self.rows

    def largest_part(self) -> str:
        """What to lower to make it fit, for the part that needs most."""
        parts = {
            "batch_sizes (K: the score matrices grow as K^2)": self.scores,
            "the critic's hidden widths or K (activations)": self.activations,
            "the critic's hidden widths (parameters and Adam state)": self.parameters,
            "steps or raise log_every/eval_every (logged rows)": self.rows,
        }
        return max(parts, key=parts.__getitem__)


def _widths(params: Mapping[str, Any], *, pairs: bool) -> list[int]:
    """Layer output widths: the hidden layers, then the embedding (1 score for a pair critic)."""
    hidden = params.get("hidden", DEFAULT_HIDDEN)
    widths = [int(h) for h in hidden] if isinstance(hidden, list | tuple) else list(DEFAULT_HIDDEN)
    embed = params.get("embed_dim")
    return [*widths, 1 if pairs else int(embed) if isinstance(embed, int) else DEFAULT_EMBED]


def run_estimate(config: RunConfig, dim_x: int, dim_y: int, stack_runs: int = 1) -> Estimate:
    """Peak memory of a stack of ``stack_runs`` runs of ``config``'s shapes, by part.

    Examples:
        >>> from mibench.core.interface import RunConfig
        >>> config = RunConfig.make(estimator="infonce", task="gaussian", batch_size=64,
        ...                         critic_params={"hidden": [64, 64], "embed_dim": 16})
        >>> estimate = run_estimate(config, 5, 5)
        >>> estimate.total < 50e6  # a Poole-size run needs well under 50 MB
        True
    """
    runs = stack_runs
    bytes_per = 4 if config.dtype == "float32" else 8
    side = cost.matrix_size(config)
    held_out = config.resolved_eval_batch_size
    scores = runs * (SCORE_COPIES * side**2 * bytes_per + HELDOUT_SCORE_COPIES * held_out**2 * 8)
    pairs = config.critic in PAIR_CRITICS
    widths = _widths(dict(config.critic_params), pairs=pairs)
    rows = 2 * max(side, held_out)  # per-side embeddings (a concat critic's split first layer)
    side_widths = widths[:1] if pairs else widths
    activations = runs * ACTIVATION_COPIES * rows * 8 * sum(side_widths)
    if pairs:
        plain = runs * ACTIVATION_COPIES * side**2 * bytes_per * sum(widths[1:])
        activations += min(plain, PAIR_ACTIVATION_CAP)
    inputs = [dim_x + dim_y] if pairs else [dim_x, dim_y]
    n_parameters = sum(
        sum(a * b for a, b in zip([d, *widths[:-1]], widths, strict=True)) for d in inputs
    )
    from mibench.plan.checks import logged_rows

    return Estimate(
        scores=float(scores),
        activations=float(activations),
        parameters=float(runs * 4 * n_parameters * bytes_per),
        rows=float(runs * logged_rows(config) * LOGGED_COLUMNS * 8),
        stack_runs=runs,
    )


def sample_bytes(config: RunConfig, dim_x: int, dim_y: int) -> float:
    """Peak memory of a sample-estimator run: its n draws, and n x n for a kernel estimator."""
    n = config.batch_size  # a sample run's batch_size is its sample size
    draws = 4.0 * n * (dim_x + dim_y) * 8
    return draws + (3.0 * n * n * 8 if config.estimator in SAMPLE_QUADRATIC else 0.0)


def available_bytes() -> float | None:
    """Memory available to a new allocation: ``MemAvailable`` of ``/proc/meminfo`` on Linux,
    else the free physical pages; None where neither is known."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.3g} GB"


def check_plan_memory(
    runs: Iterable[tuple[RunConfig, int, int, bool, tuple[Any, ...]]],
    *,
    available: float | None = None,
) -> str | None:
    """The one-line refusal for the most demanding stack of a plan, or None when it fits.

    ``runs``: ``(config, dim_x, dim_y, is_sample, stack key)`` per run. ``available`` defaults to
    :func:`available_bytes`; the limit is ``MEMORY_FRACTION`` of it.
    """
    limit = (available_bytes() if available is None else available) or math.inf
    limit *= MEMORY_FRACTION
    groups: dict[tuple[Any, ...], list[tuple[RunConfig, int, int]]] = {}
    for config, dim_x, dim_y, is_sample, key in runs:
        if is_sample:
            need = sample_bytes(config, dim_x, dim_y)
            if need > limit:
                return (
                    f"{config.estimator} on {config.task} with sample_size = {config.batch_size}: "
                    f"estimated {gigabytes(need)} of memory, limit {gigabytes(limit)} "
                    f"({MEMORY_FRACTION:.0%} of the available); lower sample_size"
                )
            continue
        groups.setdefault(key, []).append((config, dim_x, dim_y))
    for members in groups.values():
        config, dim_x, dim_y = members[0]
        stack = max(2, min(len(members), MAX_STACK_RUNS, cost.max_stack_runs(config)))
        estimate = run_estimate(config, dim_x, dim_y, stack_runs=stack)
        if estimate.total > limit:
            return (
                f"a stack of {stack} runs ({config.critic} critic, K = {config.batch_size}, "
                f"{config.n_steps} steps): estimated peak {gigabytes(estimate.total)} of memory, "
                f"limit {gigabytes(limit)} ({MEMORY_FRACTION:.0%} of the available); lower "
                f"{estimate.largest_part()}"
            )
    return None


__all__ = [
    "ACTIVATION_COPIES",
    "HELDOUT_SCORE_COPIES",
    "LOGGED_COLUMNS",
    "MEMORY_FRACTION",
    "PAIR_ACTIVATION_CAP",
    "SCORE_COPIES",
    "Estimate",
    "available_bytes",
    "check_plan_memory",
    "run_estimate",
    "sample_bytes",
]
