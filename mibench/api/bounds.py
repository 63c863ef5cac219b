"""MI sandwich on a user's data: train a lower and an upper bound, return the interval.

:func:`estimate_bounds` calls :func:`mibench.api.estimate.estimate_mi` once per named estimator (the
benchmark's own code path: held-out split, stacked trainer, evaluation window) and brackets the
MI by the largest estimate of the non-upper-bound estimators and the smallest upper bound. The
generative upper bounds (``club``, ``l1out``) get the ``gaussian_conditional`` critic; the others
the critic given (default ``separable``). Only estimators registered with ``kind ==
"lower_bound"`` make the lower end a bound; a surrogate such as SMILE (the default, as in the
issue's example) is an estimate that can exceed the MI, and the result says which it was.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mibench import estimators
from mibench.api import arguments
from mibench.api.estimate import MIEstimate, estimate_mi

DEFAULT_BOUNDS = ("smile", "club")
CONDITIONAL_CRITIC = "gaussian_conditional"


@dataclass(frozen=True)
class MIBounds:
    """The interval and every estimate behind it (``estimates[name]``, an :class:`MIEstimate`)."""

    lower: float
    upper: float
    lower_estimator: str
    upper_estimator: str
    lower_is_bound: bool
    estimates: dict[str, MIEstimate]

    @property
    def width(self) -> float:
        return self.upper - self.lower

    @property
    def crossed(self) -> bool:
        """True when the lower end exceeds the upper end: no valid bracket (a warning says so)."""
        return self.lower > self.upper


def estimate_bounds(
    x: Any,
    y: Any,
    *,
    bounds: Sequence[str] = DEFAULT_BOUNDS,
    critic: str = "separable",
    **kwargs: Any,
) -> MIBounds:
    """Train each estimator of ``bounds`` on (x, y) and return [best lower, best upper].

    Args:
        x: samples of X, ``(n, d_x)``, as :func:`mibench.api.estimate.estimate_mi` takes them.
        y: the paired samples of Y, ``(n, d_y)``.
        bounds: estimator names; at least one with ``kind == "upper_bound"`` and one other.
        critic: the critic of the estimators that are not generative.
        **kwargs: passed to every :func:`~mibench.api.estimate.estimate_mi` call (steps, seed, ...).
    Raises:
        ValueError: an unknown name, no upper bound or nothing for the lower end.
    """
    bounds = arguments.check_bounds_names(bounds)
    specs = {name: estimators.get(name) for name in bounds}  # UnknownNameError lists the names
    samples = [n for n in bounds if estimators.is_sample(n)]
    if samples:
        raise ValueError(
            f"bounds: {samples[0]!r} is a sample estimator (no critic to train); estimate_bounds "
            "brackets the MI with trained bounds: choose from "
            + ", ".join(n for n in estimators.names() if not estimators.is_sample(n))
        )
    uppers = [n for n, s in specs.items() if s.kind == "upper_bound"]
    lowers = [n for n, s in specs.items() if s.kind != "upper_bound"]
    if not uppers or not lowers:
        upper_names = sorted(
            n for n in estimators.names() if estimators.get(n).kind == "upper_bound"
        )
        raise ValueError(
            f"bounds {tuple(bounds)!r} need one upper bound ({', '.join(upper_names)}) and at least "
            "one other estimator for the lower end"
        )
    results = {}
    for name, spec in specs.items():
        chosen = CONDITIONAL_CRITIC if spec.score_kind == "log_conditional" else critic
        results[name] = estimate_mi(x, y, estimator=name, critic=chosen, **kwargs)
    low = max(lowers, key=lambda n: results[n].estimate)
    high = min(uppers, key=lambda n: results[n].estimate)
    if results[low].estimate > results[high].estimate:
        warnings.warn(
            f"the bracket is crossed: the lower end ({low}, {results[low].estimate:.4g}) exceeds "
            f"the upper end ({high}, {results[high].estimate:.4g}); at least one of them is off "
            "(too few rows or steps, or an upper bound whose q(y|x) misfits); MIBounds.crossed "
            "is True",
            UserWarning,
            stacklevel=2,
        )
    return MIBounds(
        lower=results[low].estimate,
        upper=results[high].estimate,
        lower_estimator=low,
        upper_estimator=high,
        lower_is_bound=specs[low].kind == "lower_bound",
        estimates=results,
    )
