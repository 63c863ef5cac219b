"""Each paper's headline figure with one command: ``mibench reproduce NAME``.

A reproduction (:class:`~mibench.reproduce.base.Reproduction`) writes the paper's setting as a
suite, trains it with the runner like any suite (resume, claims, summary, report), draws the
figure as the paper draws it and judges the paper's statements on our runs in a verdict table,
beside every setting in which our run differs from the authors' code. ``--budget full`` trains
the paper's steps and seeds, ``--budget quick`` a few minutes' worth on two CPU cores (every
output says "quick budget").

Public API::

    from mibench.reproduce import names, get, reproduce
    result = reproduce("poole2019", "quick", out="results")
    result.verdicts, result.figure, result.markdown
"""

from __future__ import annotations

from mibench.reproduce.base import (
    BUDGETS,
    Budget,
    Difference,
    Readings,
    Reproduction,
    ReproductionError,
    Verdict,
)
from mibench.reproduce.registry import get, names
from mibench.reproduce.run import ReproductionResult, print_result, reproduce

__all__ = [
    "BUDGETS",
    "Budget",
    "Difference",
    "Readings",
    "Reproduction",
    "ReproductionError",
    "ReproductionResult",
    "Verdict",
    "get",
    "names",
    "print_result",
    "reproduce",
]
