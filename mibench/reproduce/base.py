"""What a reproduction is: a paper's setting as a suite, its figure, and its verdict table.

A :class:`Reproduction` names a paper's headline figure and holds three functions of one
:class:`Budget`: the suite that trains the paper's setting (built in code from the suite schema,
:func:`mibench.plan.suite.parse_suite`), the figure drawn as the paper draws it, and the verdict rows
(the paper's statement or number, ours, the verdict). Its :class:`Difference` rows name every
setting in which our run differs from the authors' code.

A budget is ``full`` (the paper's steps and seeds) or ``quick`` (minutes on two CPU cores); every
output of a quick run says "quick budget", because its numbers are not the paper's setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from mibench.plan.suite import Suite

FULL = "full"
QUICK = "quick"
BUDGETS = (FULL, QUICK)

AGREES = "agrees"
DIFFERS = "differs"
NOT_AVAILABLE = "n/a"
VERDICTS = (AGREES, DIFFERS, NOT_AVAILABLE)


class ReproductionError(ValueError):
    """A bad reproduction name or budget; ``str(error)`` is one line naming the valid choices."""


@dataclass(frozen=True)
class Budget:
    """How much of a paper's setting a run trains.

    ``steps`` is the steps per MI level on a staircase (the whole run on a fixed task), ``seeds``
    the seeds per cell, ``critics`` the paper's critics that are trained (a quick budget may drop
    an expensive one and says so in the differences), ``tasks`` how many of a task list are kept
    (None: all), ``sample_size`` the draws of the sample estimators (None: the paper's).
    """

    name: str
    steps: int
    seeds: int
    critics: tuple[str, ...] = ()
    tasks: int | None = None
    sample_size: int | None = None

    @property
    def label(self) -> str:
        """``"full budget"`` or ``"quick budget"``: printed in every output of the run."""
        return f"{self.name} budget"

    @property
    def is_full(self) -> bool:
        return self.name == FULL


@dataclass(frozen=True)
class Difference:
    """One setting where our run differs from the authors' code: what, theirs, ours."""

    setting: str
    theirs: str
    ours: str


@dataclass(frozen=True)
class Verdict:
    """One row of a verdict table.

    ``kind`` is ``numeric`` when the paper gives a number that ours is compared with, and
    ``qualitative`` when the paper states a direction or a shape without a number (the verdict
    then says whether ours shows it, and the table marks it as qualitative).
    """

    statement: str
    source: str
    paper: str
    ours: str
    verdict: str
    kind: Literal["numeric", "qualitative"] = "qualitative"

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")


@dataclass(frozen=True)
class Readings:
    """What a finished reproduction is judged on: the per-step training readouts of its runs
    (one row per run and logged step, with a ``label`` column naming the paper's curve, e.g.
    ``SMILE (τ = 1)``), the held-out readouts likewise, and the run summary of the suite."""

    train: pd.DataFrame
    heldout: pd.DataFrame
    summary: pd.DataFrame


@dataclass(frozen=True)
class Reproduction:
    """A paper's headline figure: its suite, figure and verdicts, per budget."""

    name: str
    title: str
    source: str
    summary: str
    budgets: Mapping[str, Budget]
    build_suite: Callable[[Budget], Suite]
    label_run: Callable[[Mapping[str, Any]], str]
    label_task: Callable[[Mapping[str, Any]], str]
    draw: Callable[[Readings, Budget], Figure]
    verdicts: Callable[[Readings, Budget], list[Verdict]]
    differences: Callable[[Budget], list[Difference]]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def budget(self, name: str) -> Budget:
        """The named budget; ReproductionError naming the valid ones otherwise."""
        if name not in self.budgets:
            valid = ", ".join(self.budgets)
            raise ReproductionError(f"--budget: invalid value {name!r}; valid choices: {valid}")
        return self.budgets[name]

    def suite_name(self, budget: Budget) -> str:
        """Results folder of a budget: the name for full, ``<name>-<budget>`` for any other."""
        return self.name if budget.is_full else f"{self.name}-{budget.name}"
