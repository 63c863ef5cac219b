"""Shared helpers of the claim tests: a fast context and deliberately wrong estimators.

Imported as ``from tests.claims._claim_helpers import ...`` (the test folders are packages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from torch import Tensor

from mibench.claims import ClaimContext
from mibench.claims._matrices import default_oracle_tasks, score_families
from mibench.core.interface import Estimator
from mibench.estimators import get

#: Reduced families for the fast tests: every adversarial family at K = 2 and K = 5, four
#: matrices each, plus the oracle tasks. The claims read them through the context cache exactly
#: as they read the full families in ``mibench verify``.
FAST_SIZES = (2, 5)
FAST_PER_FAMILY = 4


def fast_context(**overrides: Any) -> ClaimContext:
    """A context whose analytic score families are the reduced ones (same code path, less data)."""
    context = ClaimContext(**overrides)
    context.cache["analytic-score-families"] = score_families(
        context.generator("analytic-score-families"),
        sizes=FAST_SIZES,
        per_family=FAST_PER_FAMILY,
        oracle_tasks=default_oracle_tasks(context.task),
    )
    return context


def wrong(
    name: str,
    *,
    value: Callable[..., Tensor] | None = None,
    loss: Callable[..., Tensor] | None = None,
    **fields: Any,
) -> Estimator:
    """The registered spec ``name`` with its value and/or loss replaced (hyper passed through)."""
    spec = get(name)
    changes: dict[str, Any] = dict(fields)
    if value is not None:
        changes["value_fn"] = value
    if loss is not None:
        changes["loss_fn"] = loss
    return replace(spec, **changes)
