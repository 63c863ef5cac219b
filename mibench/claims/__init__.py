"""The papers' claims as executable checks (``mibench verify``).

Each claim is a registered :class:`~mibench.claims.base.Claim` whose ``check(context)`` computes
evidence with the project's own estimators, tasks, critics and trainer and returns a
:class:`~mibench.claims.base.ClaimResult` (PASS/FAIL, the numbers that decided it, the tolerance
and why). Modules, in the order of DESIGN.md's list:

* :mod:`.analytic`: bounds and identities on every score matrix (InfoNCE <= log K, DV >= NWJ,
  the Fenchel equality, the ESS range, NT-Xent = InfoNCE);
* :mod:`.gradients`: the FlatNCE gradient identities (Prop. S1, S2, S9, the temperature remark);
* :mod:`.statistical`: Monte Carlo checks at the oracle critic (InfoNCE rising to I, FLO
  tightness, f-MICL <= f-MI, NWJ/DV variance growth, float32 vs float64 gradient SNR);
* :mod:`.supervised`: SINCERE's gradient coefficients and its KL bound;
* :mod:`.training`: claims about training dynamics, run with the stacked trainer (log-K curse,
  ESS trajectories, ESS scheduling);
* :mod:`.results` and :mod:`.consistency`: findings judged on a finished suite's stored results
  (``mibench verify --results DIR``), the latter Song & Ermon's self-consistency tests.

Public API::

    from mibench.claims import get, names, run_claims, claim_table
    results = run_claims(["infonce-le-log-k"], quick=False)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from rich.table import Table

from mibench.claims import (  # noqa: F401
    analytic,
    consistency,
    gradients,
    statistical,
    supervised,
    training,
)
from mibench.claims.base import Claim, ClaimContext, ClaimResult, get, names, register
from mibench.core.interface import UnknownNameError
from mibench.results import store

logger = logging.getLogger(__name__)

__all__ = [
    "Claim",
    "ClaimContext",
    "ClaimResult",
    "claim_table",
    "get",
    "names",
    "register",
    "run_claims",
    "select_claims",
    "write_results_json",
]


def select_claims(ids: Sequence[str] | None = None, quick: bool = False) -> list[Claim]:
    """The claims to run: ``ids`` (all when None or empty) in registry order, analytic only if ``quick``.

    Raises :class:`~mibench.core.interface.UnknownNameError` naming the valid ids for an unknown id and
    ``ValueError`` when the selection is empty.
    """
    wanted = list(dict.fromkeys(ids or []))
    for claim_id in wanted:
        get(claim_id)  # raises, listing the valid ids
    chosen = [get(c) for c in names() if not wanted or c in wanted]
    if quick:
        chosen = [c for c in chosen if c.quick]
    if not chosen:
        raise ValueError(
            "no claim selected: --quick keeps only the analytic claims "
            f"({', '.join(c for c in names() if get(c).quick)})"
        )
    return chosen


def run_claims(
    ids: Sequence[str] | None = None,
    quick: bool = False,
    *,
    context: ClaimContext | None = None,
    on_result: Callable[[ClaimResult], None] | None = None,
) -> list[ClaimResult]:
    """Run the selected claims (see :func:`select_claims`) and return their results in order.

    A claim whose estimator/task is not registered, or whose trainer is not installed, is
    reported FAIL with the error as its evidence rather than stopping the other claims; any
    other exception is a bug and propagates. ``on_result`` is called after each claim (progress).
    """
    context = context or ClaimContext()
    results: list[ClaimResult] = []
    for claim in select_claims(ids, quick):
        start = time.perf_counter()
        try:
            result = claim.check(context)
        except (UnknownNameError, ImportError) as error:
            logger.warning("claim %s could not run: %s", claim.id, error)
            result = ClaimResult(
                passed=False,
                evidence={"error": f"{type(error).__name__}: {error}"},
                summary=f"could not run: {error}",
                tolerance="-",
                why="a claim whose inputs are missing cannot pass",
            )
        result = replace(
            result,
            claim_id=claim.id,
            statement=claim.statement,
            source=claim.source,
            seconds=time.perf_counter() - start,
            differs_from_paper=claim.differs_from_paper,
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def claim_table() -> Table:
    """The registered claims (``mibench list claims``)."""
    table = Table(title="claims (mibench verify)")
    for column in ("id", "kind", "claim", "source"):
        table.add_column(column, overflow="fold")
    for claim_id in names():
        claim = get(claim_id)
        kind = f"{claim.kind} (--quick)" if claim.quick else claim.kind
        table.add_row(claim.id, kind, claim.statement, claim.source)
    return table


def write_results_json(results: Sequence[ClaimResult], path: str | Path) -> Path:
    """Write ``[{id, statement, source, evidence, passed, seconds}, ...]`` to ``path`` atomically.

    ``evidence`` holds the measured numbers plus ``summary``, ``tolerance`` and ``why``; this is
    the ``verify.json`` that :mod:`mibench.report.document` reads.
    """
    path = Path(path)
    payload = json.dumps([r.as_dict() for r in results], indent=2, ensure_ascii=False)
    store.write_bytes_atomic(path, (payload + "\n").encode("utf-8"))
    return path
