r"""Early stopping and the reported value of :func:`mibench.estimate_mi`, from its held-out curve.

The held-out rows are split in two, and evaluations alternate between them
(:class:`~mibench.api.empirical.AlternatingSplits`): even evaluations give the *validation* curve
:math:`v_1, v_2, \dots`, odd ones the *test* curve. Only the validation curve steers anything:

* smoothed curve :math:`m_k = \frac1w \sum_{i=k}^{k+w-1} v_i` (``window`` = w evaluations);
  the best index :math:`k^*` is the first k whose :math:`m_k` exceeds every earlier best by more
  than ``MIN_DELTA`` nats;
* early stopping: training ends once :math:`k^*` has not changed for ``patience`` smoothed
  evaluations (Prechelt, "Early Stopping — But When?", 1998, criterion "UP"/patience form), or
  at once when a validation value is NaN/Inf.

Reported estimate (``readout="test"``, the default): the mean of the test readouts taken between
the first and the last validation evaluation of the best window (widened by one evaluation on each
side). The test rows never enter the stopping or the choice of :math:`k^*`, so, given the chosen
steps, this is an unbiased held-out value of the critics there — no winner's curse. (Reading the
validation curve at its own maximum is biased upwards by the selection; reading it at the end of
a long run is biased downwards once the critic overfits the training rows.)

Standard error: each test readout is the estimator on a random subset of E of the N test rows,
so the sd s of the n readouts measures subset-to-subset sampling noise (plus the critic's
wobble). For a mean-like estimator the value on all N rows has sampling variance
:math:`s^2 E / (N - E)` (finite-population correction: a subset's variance is
:math:`\sigma^2 (1 - E/N) / E`), and averaging n subsets adds at most :math:`s^2 / n`:

.. math:: \mathrm{SE} = s \sqrt{E / (N - E) + 1 / n}

(with E = N, only :math:`s / \sqrt n`, the critic's wobble). It is approximate — the
log-sum-exp of InfoNCE-type estimators is not a plain mean over rows — and it covers the held-out
rows only, not the randomness of the training rows or the estimator's bias.

``readout="max"``: the largest held-out readout of either split, as BMI ("Beyond Normal",
Czyż et al., NeurIPS 2023) reports it. The maximum of noisy readouts is optimistic: on
independent data it is positive. Its ``stderr`` is the sd of one test readout in the best window.

Guards (each a warning and a field of the result):

* overfitting: :math:`m_{k^*} - m_{\rm last}` above ``OVERFIT_NATS`` + ``OVERFIT_RELATIVE``
  :math:`\cdot |m_{k^*}|`: the held-out curve fell from its peak while training went on;
* wild readouts: a held-out readout whose distance to the running median of its neighbours
  exceeds ``WILD_SIGMAS`` robust sds (1.4826 MAD of all such distances) and ``WILD_NATS``
  nats — the signature of heavy-tailed data or an unstable critic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

READOUTS = ("test", "max")
MIN_DELTA = 0.005  # nats a smoothed validation value must gain to count as an improvement
OVERFIT_NATS = 0.1
OVERFIT_RELATIVE = 0.1
WILD_SIGMAS = 10.0
WILD_NATS = 0.25
MEDIAN_NEIGHBOURS = 5  # running-median width for the wild-readout check


def split_of(steps: np.ndarray, eval_every: int) -> np.ndarray:
    """0 for a validation evaluation, 1 for a test one (as :class:`AlternatingSplits` draws)."""
    return (np.asarray(steps) // eval_every) % 2


def smoothed(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing means over ``window`` consecutive values (one mean of all if fewer)."""
    if len(values) <= window:
        return np.array([values.mean()]) if len(values) else np.array([])
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def best_index(curve: np.ndarray) -> int:
    """First index whose value beats every earlier best by more than ``MIN_DELTA``."""
    best = 0
    for k in range(1, len(curve)):
        if curve[k] > curve[best] + MIN_DELTA:
            best = k
    return best


class EarlyStopping:
    """Stopping rule for :func:`mibench.train.train_stack` on one run (see the module docstring).

    ``fired_at``: the last evaluation step seen when the rule first said stop (None before). The
    trainer checks the rule after each data block, so it may have trained up to one block
    further (:data:`mibench.train.stack.MAX_BLOCK_STEPS` steps at most).
    """

    def __init__(self, eval_every: int, window: int, patience: int, column: int = 0) -> None:
        self.eval_every, self.window, self.patience = eval_every, window, patience
        self.column = column  # the run of the stack this rule watches
        self.fired_at: int | None = None

    def __call__(self, steps: np.ndarray, values: np.ndarray) -> bool:
        stop = self._decide(steps, values[:, self.column])
        if stop and self.fired_at is None:
            self.fired_at = int(steps[-1])
        return stop

    def _decide(self, steps: np.ndarray, column: np.ndarray) -> bool:
        validation = column[split_of(steps, self.eval_every) == 0]
        if not np.all(np.isfinite(validation)):
            return True  # diverged: nothing more to learn
        if len(validation) < self.window + self.patience:
            return False
        curve = smoothed(validation, self.window)
        return len(curve) - 1 - best_index(curve) >= self.patience


class AllStopped:
    """Stops a stack once every run's own :class:`EarlyStopping` rule has fired (each run's
    estimate is read at its own best window, so the runs that stopped first lose nothing)."""

    def __init__(self, rules: list[EarlyStopping]) -> None:
        self.rules = rules

    def __call__(self, steps: np.ndarray, values: np.ndarray) -> bool:
        fired = [rule(steps, values) for rule in self.rules]  # every rule sees every block
        return all(
            now or rule.fired_at is not None for now, rule in zip(fired, self.rules, strict=True)
        )


@dataclass(frozen=True)
class Readout:
    """What :func:`read_out` reports; see the module docstring for each quantity."""

    estimate: float
    stderr: float
    n_readouts: int
    best_step: int
    span: tuple[int, int]
    peak: float
    last: float
    overfit_drop: float
    overfitting: bool
    wild_readouts: int
    wild_deviation: float


def _wild(values: np.ndarray) -> tuple[int, float]:
    """Readouts far from the running median of their neighbours: (count, largest distance)."""
    if len(values) < MEDIAN_NEIGHBOURS:
        return 0, 0.0
    half = MEDIAN_NEIGHBOURS // 2
    padded = np.pad(values, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, MEDIAN_NEIGHBOURS)
    distance = np.abs(values - np.median(windows, axis=1))
    sigma = 1.4826 * float(np.median(distance))
    wild = (distance > WILD_SIGMAS * sigma) & (distance > WILD_NATS)
    return int(wild.sum()), float(distance.max())


def read_out(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    eval_every: int,
    window: int,
    readout: str,
    eval_batch_size: int,
    test_rows: int,
) -> Readout:
    """The reported estimate from the eval readouts ``values`` at ``steps`` (one run, in order)."""
    if readout not in READOUTS:
        raise ValueError(f"invalid readout {readout!r}; valid choices: {', '.join(READOUTS)}")
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    split = split_of(steps, eval_every)
    val_steps, val_values = steps[split == 0], values[split == 0]
    test_steps, test_values = steps[split == 1], values[split == 1]
    if len(val_values) < 1 or len(test_values) < 2:
        raise ValueError(
            f"{len(val_values)} validation and {len(test_values)} test readouts; "
            "at least 1 and 2 are needed (more steps or a smaller eval_every)"
        )
    curve = smoothed(val_values, window)
    best = best_index(curve)
    width = min(window, len(val_values))
    first, last = int(val_steps[best]), int(val_steps[best + width - 1])
    span = (first - eval_every, last + eval_every)
    inside = (test_steps >= span[0]) & (test_steps <= span[1])
    if inside.sum() < 2:  # tiny runs: the two test readouts nearest the best window
        nearest = np.argsort(np.abs(test_steps - (first + last) / 2), kind="stable")[:2]
        inside = np.isin(np.arange(len(test_steps)), nearest)
    chosen = test_values[inside]
    sd = float(chosen.std(ddof=1))
    if readout == "max":
        estimate, stderr = float(values.max()), sd
    else:
        subset = (
            eval_batch_size / (test_rows - eval_batch_size) if eval_batch_size < test_rows else 0
        )
        estimate, stderr = float(chosen.mean()), sd * math.sqrt(subset + 1 / len(chosen))
    peak, final = float(curve[best]), float(curve[-1])
    drop = peak - final
    wild, deviation = _wild(values)
    return Readout(
        estimate=estimate,
        stderr=stderr,
        n_readouts=len(chosen),
        best_step=last,
        span=(int(test_steps[inside].min()), int(test_steps[inside].max())),
        peak=peak,
        last=final,
        overfit_drop=drop,
        overfitting=drop > OVERFIT_NATS + OVERFIT_RELATIVE * abs(peak),
        wild_readouts=wild,
        wild_deviation=deviation,
    )
