"""The histogram of a task's pointwise-MI sample (``mibench tasks profile``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mibench.plots.layout import new_figure

HISTOGRAM_BINS = 120
CLIP_QUANTILES = (0.001, 0.999)  # the far tails would squash the body of a heavy-tailed profile


def pmi_histogram(values: np.ndarray, profile: Any, *, title: str = "") -> Figure:
    """Density histogram of ``values`` with the mean (= I, solid) and the true MI (dashed).

    ``profile`` is the sample's :class:`~mibench.tasks.pmi.PMIProfile`; bins span the central
    99.8 % of the finite values.

    Examples:
        >>> from mibench.tasks.pmi import profile as summarise
        >>> values = np.random.default_rng(0).normal(2.0, 1.0, 10_000)
        >>> fig = pmi_histogram(values, summarise(values, 2.0), title="N(2, 1)")
        >>> len(fig.axes)
        1
    """
    finite = values[np.isfinite(values)]
    low, high = np.quantile(finite, CLIP_QUANTILES)
    fig = new_figure(6.0, 3.6)
    ax = fig.add_subplot()
    ax.hist(finite, bins=HISTOGRAM_BINS, range=(low, high), density=True, color="0.6")
    ax.axvline(profile.mean, color="C0", label=f"mean {profile.mean:.3f} (= I estimate)")
    ax.axvline(profile.true_mi, color="k", linestyle="--", label=f"true I {profile.true_mi:.3f}")
    ax.set_xlabel("PMI = log p(x, y) - log p(x) - log p(y) (nats)")
    ax.set_ylabel("density")
    ax.set_title(f"{title}  std {profile.std:.3f}, skew {profile.skewness:.2f}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return fig
