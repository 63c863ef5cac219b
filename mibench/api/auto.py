r"""``method="auto"`` of :func:`mibench.estimate_mi`: KSG or a trained critic, from what the data show.

KSG (Kraskov et al. 2004, Eq. (8)) is consistent and nearly unbiased where the k-nearest-neighbour
balls are small enough for the density to be flat inside them: few dimensions, enough rows. It
fails quietly elsewhere — its bias grows with the dimension and with the MI, and it grows with k,
since larger k means larger balls. So the rule looks at the data through KSG itself:

1. ``d = d_x + d_y``; ``n`` rows.
2. :math:`\hat I_{k}` at k = ``K_SMALL`` and k = ``K_LARGE`` on the Gaussianised rows (the same
   MI-preserving per-coordinate map as the estimators use). Their gap
   :math:`\Delta = |\hat I_{K_{SMALL}} - \hat I_{K_{LARGE}}|` is the stability check: where KSG is
   in its regime, its estimate hardly depends on k.
3. Choose KSG when :math:`d \le` ``KSG_MAX_DIM`` and :math:`\Delta \le` ``KSG_MAX_GAP`` nats, or
   when the neural estimator cannot run (its half-size subsets for the interval need
   ``NEURAL_MIN_ROWS`` rows); otherwise InfoNCE with the separable critic
   (:mod:`mibench.api.neural`).

The thresholds were chosen on a development set of tasks and seeds and the rule is reported on a
disjoint evaluation set (``benchmarks/study_estimate_mi.py``; both sets and the tables are in
benchmarks/README.md). On the development set a cap of 4 or 6 dimensions with any gap bound
from 0.02 to 0.1 nats (and a gap bound of 0.02 with any cap) gave a mean absolute error within
0.006 nats of the best; the gap bound is 0.05 rather than 0.02 because KSG's own k-to-k noise at
n = 5000 reaches 0.02 nats on one-dimensional Gaussians, so a bound at that level would send such
data to the neural path by chance. The result says which method ran and why (``result.method``, ``result.why``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mibench.api import sample as api_sample
from mibench.estimators.classical import ksg_mi

K_SMALL = 3  # Kraskov et al. recommend k = 2-4
K_LARGE = 10
KSG_MAX_DIM = 6  # d_x + d_y at most this for KSG (chosen on the development set)
KSG_MAX_GAP = 0.05  # nats: |KSG(k=3) - KSG(k=10)| at most this (chosen on the development set)
NEURAL_ESTIMATOR = "infonce"
SAMPLE_ESTIMATOR = "ksg"
# Training rows of each half (n/2 * 0.7 by default) must hold one batch of 256: n >= 732.
NEURAL_MIN_ROWS = 732


@dataclass(frozen=True)
class Diagnostics:
    """What the rule reads: rows, dimensions and KSG at two k (nats)."""

    n: int
    dim_x: int
    dim_y: int
    ksg_small: float
    ksg_large: float

    @property
    def gap(self) -> float:
        return abs(self.ksg_small - self.ksg_large)


@dataclass(frozen=True)
class Choice:
    """``method`` ("sample" or "neural"), the ``estimator`` name and ``why`` in one sentence."""

    method: str
    estimator: str
    why: str


def diagnose(x: np.ndarray, y: np.ndarray, *, mode: str = "gaussianize") -> Diagnostics:
    """KSG at k = ``K_SMALL`` and ``K_LARGE`` on (x, y) after the per-coordinate map ``mode``."""
    x, y = api_sample.mapped(x, y, mode)
    k_large = min(K_LARGE, len(x) - 1)
    return Diagnostics(
        n=len(x),
        dim_x=x.shape[1],
        dim_y=y.shape[1],
        ksg_small=ksg_mi(x, y, k=min(K_SMALL, k_large)),
        ksg_large=ksg_mi(x, y, k=k_large),
    )


def choose(
    diagnostics: Diagnostics,
    *,
    max_dim: int = KSG_MAX_DIM,
    max_gap: float = KSG_MAX_GAP,
    min_neural_rows: int = NEURAL_MIN_ROWS,
) -> Choice:
    """The module docstring's rule (thresholds as arguments, so the study can vary them).

    Examples:
        >>> d = Diagnostics(n=5000, dim_x=1, dim_y=1, ksg_small=0.52, ksg_large=0.51)
        >>> choose(d).estimator
        'ksg'
        >>> choose(Diagnostics(n=5000, dim_x=5, dim_y=5, ksg_small=1.1, ksg_large=0.9)).method
        'neural'
    """
    d = diagnostics
    dims = d.dim_x + d.dim_y
    facts = (
        f"d_x + d_y = {dims}, n = {d.n}, KSG k={K_SMALL} {d.ksg_small:.3f} vs "
        f"k={K_LARGE} {d.ksg_large:.3f} nats (gap {d.gap:.3f})"
    )
    if d.n < min_neural_rows:
        why = f"KSG: {facts}; fewer than {min_neural_rows} rows for the neural estimator"
        return Choice("sample", SAMPLE_ESTIMATOR, why)
    if dims <= max_dim and d.gap <= max_gap:
        why = f"KSG: {facts}; at most {max_dim} dimensions and stable over k (gap <= {max_gap:g})"
        return Choice("sample", SAMPLE_ESTIMATOR, why)
    reason = f"more than {max_dim} dimensions" if dims > max_dim else f"gap > {max_gap:g}"
    why = f"InfoNCE (trained critic): {facts}; KSG not trusted here ({reason})"
    return Choice("neural", NEURAL_ESTIMATOR, why)
