r"""Generative (density-model) MI bounds: Barber–Agakov, CLUB, L1Out, difference of entropies.

These read the score matrix as a **normalised conditional log-density** (spec
``score_kind="log_conditional"``):

    scores[..., i, j] = log q(y_j | x_i),

row = x sample, column = y sample, the diagonal holds the K positive pairs (the orientation of
:mod:`mibench.estimators`; the ``gaussian_conditional`` critic produces it). Every one of them
fits q by **maximum likelihood**: the training loss is the conditional negative log-likelihood
−(1/K) Σ_i log q(y_i | x_i) (Cheng et al. [2] §3.2 learn q_θ this way; for Barber–Agakov it is
the bound itself, Poole et al. [1] Eq. (2)); DoE adds the marginal model's −(1/K) Σ_i log q(y_i).
The reported value is then the bound (or estimate) evaluated at that q.

At the true conditional q = p(y|x) (the oracle): BA = I exactly in expectation (its slack is
E_y KL(p(y|x) ‖ q(y|x)) = 0), CLUB = I + E_{p(x)} KL(p(y) ‖ p(y|x)) ≥ I ([2] Theorem 3.1), and
L1Out ≥ I for every K (Jensen on the leave-one-out mixture, [1] §2.5), with a slack that
shrinks as K grows. With a learned q, BA stays a lower bound for *any* q; CLUB and L1Out are
upper bounds only when q is close enough to p(y|x) ([2] Theorem 3.2 gives CLUB's condition
KL(p(x,y) ‖ q(x,y)) ≤ KL(p(x)p(y) ‖ q(x,y))).

Poole et al.'s "minibatch upper bound" ([1] §2.5, the leave-one-out bound with a *tractable
encoder* p(y|x)) is the same function of the score matrix as :func:`l1out_upper_bound`: the two
differ only in where S comes from (the known conditional, which makes it a guaranteed upper
bound, versus a fitted q, as in Cheng et al.'s "L1Out"). It is therefore not registered twice:
``l1out`` on an oracle score matrix is the MBU.

References:
    [1] Poole et al., On Variational Bounds of Mutual Information, 2019, arXiv:1905.06922.
    [2] Cheng et al., CLUB: A Contrastive Log-ratio Upper Bound of Mutual Information, 2020,
        arXiv:2006.12013.
    [3] McAllester & Stratos, Formal Limitations on the Measurement of Mutual Information,
        2020, arXiv:1811.04251.
    [4] Barber & Agakov, The IM Algorithm: A Variational Approach to Information Maximization,
        2003.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mibench.core.interface import Estimator
from mibench.estimators._logspace import diag, lme_col_off, mean_offdiag
from mibench.estimators.contrastive import check_per_sample, check_scores
from mibench.estimators.registry import register


def conditional_nll(scores: Tensor) -> Tensor:
    r"""Maximum-likelihood loss of q(y|x): −(1/K) Σ_i S_ii = −(1/K) Σ_i log q(y_i | x_i).

    Args:
        scores: ``(..., K, K)`` log q(y_j | x_i).
    Returns:
        ``(...)``.
    """
    check_scores(scores)
    return -diag(scores).mean(dim=-1)


def _check_entropy(scores: Tensor, entropy_y: Tensor | float) -> Tensor | float:
    """H(Y) as given, if it broadcasts to ``scores.shape[:-2]`` (one value per run or a scalar)."""
    if isinstance(entropy_y, Tensor):
        lead = tuple(scores.shape[:-2])
        try:
            fits = torch.broadcast_shapes(tuple(entropy_y.shape), lead) == lead
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"entropy_y must broadcast to {lead} (scores.shape[:-2]), got "
                f"{tuple(entropy_y.shape)}"
            )
    return entropy_y


def ba_lower_bound(scores: Tensor, *, entropy_y: Tensor | float) -> Tensor:
    r"""Barber–Agakov lower bound with a variational conditional q(y|x) and the known H(Y).

    .. math::  \hat I_{\rm BA} = H(Y) + \frac1K\sum_i \log q(y_i \mid x_i)
               = H(Y) + \frac1K\sum_i S_{ii}

    Implements I_BA of Eq. (2) of [1] ([4]) with the roles of x and y exchanged (MI is
    symmetric: I ≥ E log q(y|x) + H(Y)); the slack is E_x KL(p(y|x) ‖ q(y|x)) ≥ 0, so it is a
    lower bound for *every* normalised q and is tight at q = p(y|x). Needs the differential
    entropy H(Y) of the task (``entropy_y``), known in closed form only on some synthetic
    tasks; the trainer skips BA elsewhere.

    Args:
        scores: ``(..., K, K)`` log q(y_j | x_i), K >= 2.
        entropy_y: H(Y) in nats, a float or ``(...)``.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.generative import ba_lower_bound
        >>> log_q = torch.full((4, 4), -1.0)  # log q(y_j | x_i) = -1 everywhere
        >>> round(float(ba_lower_bound(log_q, entropy_y=1.5)), 4)  # H(Y) + mean_i log q(y_i | x_i)
        0.5
    """
    check_scores(scores)
    return _check_entropy(scores, entropy_y) + diag(scores).mean(dim=-1)


def ba_loss(scores: Tensor, *, entropy_y: Tensor | float) -> Tensor:
    """BA's training loss: the conditional NLL (−BA up to the constant H(Y))."""
    return conditional_nll(scores)


def club_upper_bound(scores: Tensor) -> Tensor:
    r"""Contrastive log-ratio upper bound (vCLUB) of a variational conditional q(y|x).

    .. math::  \hat I_{\rm vCLUB} = \frac1K\sum_i S_{ii} - \frac1{K(K-1)}\sum_{i\ne j} S_{ij}
               = \frac1K\sum_i \log q(y_i|x_i) - \frac1{K(K-1)}\sum_{i\ne j}\log q(y_j|x_i)

    Implements the sampled I_vCLUB of [2] §3.2 (q_θ fitted by maximum likelihood). Deviation:
    the negative term averages the K(K−1) off-diagonal pairs (unbiased for
    E_{p(x)p(y)} log q(y|x)); [2] averages all K² pairs, which includes the K positives and
    scales the value by (K−1)/K in expectation. At q = p(y|x) its expectation is
    I + E_{p(x)} KL(p(y) ‖ p(y|x)) ([2] Theorem 3.1); for the d-dimensional correlated Gaussian
    that is d ρ²/(1 − ρ²) = d (e^{2I/d} − 1).

    Args:
        scores: ``(..., K, K)`` log q(y_j | x_i), K >= 2.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.generative import club_upper_bound
        >>> log_q = torch.tensor([[0.0, -2.0], [-2.0, 0.0]])  # q puts y_i near x_i
        >>> round(float(club_upper_bound(log_q)), 4)  # diagonal mean minus off-diagonal mean
        2.0
    """
    check_scores(scores)
    return diag(scores).mean(dim=-1) - mean_offdiag(scores)


def club_loss(scores: Tensor) -> Tensor:
    """CLUB's training loss: the conditional NLL of q ([2] §3.2, q learned by max likelihood)."""
    return conditional_nll(scores)


def l1out_upper_bound(scores: Tensor) -> Tensor:
    r"""Leave-one-out upper bound: the marginal p(y_i) replaced by the mixture over the other x.

    .. math::  \hat I_{\rm L1Out} = \frac1K\sum_i\Big[\log q(y_i|x_i)
               - \log\frac1{K-1}\sum_{j\ne i} q(y_i|x_j)\Big]
               = \frac1K\sum_i\Big[S_{ii} - \log\frac1{K-1}\sum_{j\ne i} e^{S_{ji}}\Big]

    The mixture for y_i runs over the **column** i of S (fixed y_i, the other x_j), a
    log-mean-exp (:func:`~mibench.estimators._logspace.lme_col_off`). Implements the
    leave-one-out ("minibatch") upper bound of [1] §2.5 with a tractable p(y|x), used with a
    fitted q by [2] ("L1Out", §2 and §4). At q = p(y|x) its expectation is ≥ I for every K
    (Jensen: E log of the mixture ≤ log p(y_i)) and, to first order in 1/K, equals
    I + χ²(p(x,y) ‖ p(x)p(y)) / (2(K−1)) (delta method; χ² = e^{2I} − 1 on the Gaussian).

    Args:
        scores: ``(..., K, K)`` log q(y_j | x_i), K >= 2.
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.generative import l1out_upper_bound
        >>> log_q = torch.tensor([[0.0, -2.0, -2.0], [-2.0, 0.0, -2.0], [-2.0, -2.0, 0.0]])
        >>> round(float(l1out_upper_bound(log_q)), 4)  # 0 - log-mean-exp of the other rows' -2
        2.0
    """
    check_scores(scores)
    return (diag(scores) - lme_col_off(scores)).mean(dim=-1)


def l1out_loss(scores: Tensor) -> Tensor:
    """L1Out's training loss: the conditional NLL of q (as [2] fits q for L1Out)."""
    return conditional_nll(scores)


def doe_estimate(scores: Tensor, *, dual: Tensor) -> Tensor:
    r"""Difference of entropies: cross-entropy of q(y) minus cross-entropy of q(y|x).

    .. math::  \hat I_{\rm DoE} = \hat H_q(Y) - \hat H_q(Y|X)
               = \frac1K\sum_i\big[\log q(y_i|x_i) - \log q(y_i)\big]
               = \frac1K\sum_i\big[S_{ii} - \mathrm{dual}_i\big]

    Implements the DoE estimator of [3] §6 (each entropy estimated by the cross-entropy of a
    density model trained by maximum likelihood; both cross-entropies are upper bounds on their
    entropies, so their difference is neither an upper nor a lower bound on I).

    Args:
        scores: ``(..., K, K)`` log q(y_j | x_i), K >= 2.
        dual: ``(..., K)`` log q(y_i) of the marginal density model (dual_of = "y_density").
    Returns:
        ``(...)``, nats.

    Examples:
        >>> import torch
        >>> from mibench.estimators.generative import doe_estimate
        >>> log_q = torch.tensor([[0.0, -2.0], [-2.0, 0.0]])  # log q(y_j | x_i)
        >>> round(float(doe_estimate(log_q, dual=torch.tensor([-1.0, -1.0]))), 4)  # minus log q(y_i)
        1.0
    """
    check_scores(scores)
    check_per_sample(scores, dual, name="dual")
    return (diag(scores) - dual).mean(dim=-1)


def doe_loss(scores: Tensor, *, dual: Tensor) -> Tensor:
    r"""DoE's training loss: the two negative log-likelihoods, −(1/K) Σ_i [S_ii + dual_i]."""
    check_per_sample(scores, dual, name="dual")
    return conditional_nll(scores) - dual.mean(dim=-1)


_GENERATIVE = "generative"

register(
    Estimator(
        name="ba",
        family=_GENERATIVE,
        value_fn=ba_lower_bound,
        loss_fn=ba_loss,
        citation="Poole et al. 2019 Eq. (2) (I_BA; Barber & Agakov 2003), x and y exchanged",
        kind="lower_bound",
        needs=frozenset({"entropy_y"}),
        score_kind="log_conditional",
        readout=(
            "Barber-Agakov lower bound H(Y) + mean_i log q(y_i|x_i) (a lower bound for every q; needs the task's H(Y))"
        ),
        description="H(Y) + mean_i log q(y_i|x_i); q fitted by max likelihood; needs the task's H(Y).",
    )
)

register(
    Estimator(
        name="club",
        family=_GENERATIVE,
        value_fn=club_upper_bound,
        loss_fn=club_loss,
        citation="Cheng et al. 2020 (CLUB) §3.2, sampled I_vCLUB; Theorem 3.1-3.2",
        kind="upper_bound",
        score_kind="log_conditional",
        readout=(
            "CLUB upper bound with the fitted q(y|x) (an upper bound when q is the true conditional; no cap)"
        ),
        description="mean_i log q(y_i|x_i) - mean_{i!=j} log q(y_j|x_i); q fitted by max likelihood.",
    )
)

register(
    Estimator(
        name="l1out",
        family=_GENERATIVE,
        value_fn=l1out_upper_bound,
        loss_fn=l1out_loss,
        citation="Poole et al. 2019 §2.5 (leave-one-out minibatch upper bound); Cheng et al. 2020 §4 (L1Out)",
        kind="upper_bound",
        score_kind="log_conditional",
        readout=(
            "leave-one-out (L1Out) upper bound with the fitted q(y|x) (= Poole's MBU at the true q)"
        ),
        description="mean_i [log q(y_i|x_i) - log mean_{j!=i} q(y_i|x_j)]; = Poole's MBU at the true q.",
    )
)

register(
    Estimator(
        name="doe",
        family=_GENERATIVE,
        value_fn=doe_estimate,
        loss_fn=doe_loss,
        citation="McAllester & Stratos 2020 §6 (difference of entropies)",
        kind="estimate",
        needs=frozenset({"dual"}),
        dual_of="y_density",
        score_kind="log_conditional",
        readout=(
            "difference of entropies log q(y|x) - log q(y): an estimate, neither a lower nor an upper bound"
        ),
        description="mean_i [log q(y_i|x_i) - log q(y_i)]; Gaussian q(y|x) and q(y), both max likelihood.",
    )
)
