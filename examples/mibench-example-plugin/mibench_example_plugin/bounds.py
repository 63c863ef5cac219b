r"""A score-matrix bound: symmetric InfoNCE.

With ``scores[..., i, j] = f(x_i, y_j)`` (rows x, columns y, positives on the diagonal),

.. math::
    I_{\mathrm{sym}}(S) = \tfrac12\big(I_{\mathrm{NCE}}(S) + I_{\mathrm{NCE}}(S^\top)\big),\quad
    I_{\mathrm{NCE}}(S) = \frac1K \sum_i \Big[S_{ii} - \log \frac1K \sum_j e^{S_{ij}}\Big].

Both terms are InfoNCE lower bounds on I(X; Y) (van den Oord et al. 2018, Eq. (4); Poole et al.
2019, Eq. (12)): the second with the critic g(y, x) = f(x, y), so their mean is a lower bound too,
and at most log K. The CLIP loss (Radford et al. 2021) trains this objective.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mibench import Estimator


def _infonce_rows(scores: Tensor) -> Tensor:
    """InfoNCE of ``scores`` (..., K, K) with the rows as anchors; log-sum-exp, never exp."""
    K = scores.shape[-1]
    positives = torch.diagonal(scores, dim1=-2, dim2=-1)
    return (positives - torch.logsumexp(scores, dim=-1)).mean(-1) + math.log(K)


def symmetric_infonce_value(scores: Tensor) -> Tensor:
    """The symmetric InfoNCE bound (module docstring), one value per leading index."""
    return 0.5 * (_infonce_rows(scores) + _infonce_rows(scores.transpose(-1, -2)))


symmetric_infonce = Estimator(
    name="symmetric_infonce",
    value_fn=symmetric_infonce_value,  # trained by maximising it: loss_fn defaults to -value
    kind="lower_bound",
    caps_at_log_k=True,
    family="contrastive",
    citation="van den Oord et al. 2018, Eq. (4), averaged over both directions (CLIP)",
    readout="mean of InfoNCE on S and on S^T: a lower bound, at most log K",
)
