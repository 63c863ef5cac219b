r"""Contrastive *systems*: what the bound sees besides the critic — how many negatives, how fresh, which
direction is scored.

A run's system is ``RunConfig.system`` with ``RunConfig.system_params`` (recorded in every result as
the ``system`` and ``k_eff`` columns):

* ``"inbatch"`` (default): the estimator sees the batch's own score matrix. With the ``ntxent``
  estimator (views layout, shared encoder) this *is* SimCLR: 2N − 1 candidates per anchor,
  ceiling log(2N − 1) (guide, seed 000, Eq. 9–10).
* ``"clip"``: symmetric InfoNCE — the estimator is applied to S (x→y: anchor x_i, candidates y_j)
  and to Sᵀ (y→x: anchor y_j, candidates x_i) and the two are averaged; each direction is also
  recorded (``estimate_xy``, ``estimate_yx``). Seed 001, "CLIP".
* ``"moco"``: a queue of the last Q key embeddings, produced by a momentum (EMA) copy of the
  encoder, serves as the negatives (He et al. 2020; seed 001, "MoCo"). Each query x_i is scored
  against its own key and the Q queued keys, so K_eff = Q + 1 and the InfoNCE ceiling is
  log(Q + 1), independent of the batch size. Parameters ``queue`` (Q ≥ K) and ``momentum`` (m in
  [0, 1), default 0.999).

MoCo in the stacked trainer (runs of a stack in lock-step; nothing mixes runs):

.. math::
    q_i = \bar f_\theta(x_i),\quad k_i = \bar f_{\xi}(y_i)\ (\text{no gradient}),\quad
    \ell_i = \big[q_i^\top k_i,\ q_i^\top \kappa_1, \dots, q_i^\top \kappa_Q\big] / \tau,

    \hat I_{\rm MoCo} = \frac1K\sum_i\Big(\ell_{i0} - \log\sum_{c=0}^{Q} e^{\ell_{ic}}\Big)
        + \log(Q+1) \;\le\; \log(Q+1),

    \xi \leftarrow m\,\xi + (1-m)\,\theta \ \text{(after the optimiser step)},\qquad
    \kappa \leftarrow \text{enqueue}(k_1..k_K) \ \text{(after the loss: the positive never is a
    negative of its own step)}.

:math:`\bar f` is the ``encoder`` critic's L2-normalised network (the query encoder) and
:math:`\bar f_\xi` its momentum copy, initialised to θ. The queue, ``(R, Q, d)``, starts full: it
is filled with the keys of Q draws of y from the run's own ``moco-queue`` stream (at step 0 of the
task), embedded by the initial key encoder — so every queued key is a sample of p(y) independent of
the current x's (a valid negative), only stale. MoCo uses the shared-encoder critic: in MoCo the key
encoder is the momentum copy of the query encoder, which a two-tower critic (separate f, h) does
not have (its y-tower would receive no gradient at all).

References:
    [1] Seed 000, A Guide to InfoNCE and Its Use in SimCLR, Eq. (5), (8)–(10).
    [2] Seed 001, contrastive-learning notes: SimCLR, MoCo, CLIP; alignment and uniformity.
    [3] He et al., Momentum Contrast for Unsupervised Visual Representation Learning, CVPR 2020,
        arXiv:1911.05722, Eq. (1)–(2) and Algorithm 1.
    [4] Radford et al., Learning Transferable Visual Models From Natural Language Supervision
        (CLIP), 2021, arXiv:2103.00020, Fig. 3 (symmetric loss).
    [5] Wang & Isola, Understanding Contrastive Representation Learning through Alignment and
        Uniformity on the Hypersphere, ICML 2020, arXiv:2005.10242.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from mibench.critics.base import StackedMLP, l2_normalize
from mibench.estimators.diagnostics import alignment, uniformity
from mibench.interface import Estimator, RunConfig, Task, UnknownNameError

# The systems' names, parameters and compatibility rules are declared in mibench.system_specs
# (read by the planner without importing the trainer); re-exported here for the trainer's callers.
from mibench.system_specs import CLIP, INBATCH, MOCO, SYSTEMS
from mibench.system_specs import DEFAULT_MOMENTUM as DEFAULT_MOMENTUM
from mibench.system_specs import DEFAULT_QUEUE as DEFAULT_QUEUE
from mibench.system_specs import resolve_system_params as resolve_system_params
from mibench.system_specs import system_compatibility as system_compatibility

STREAM_QUEUE = "moco-queue"

# Result columns added by this module (per-step frame).
SYSTEM = "system"
K_EFF = "k_eff"
ALIGN = "align"
UNIF = "unif"
ESTIMATE_XY = "estimate_xy"
ESTIMATE_YX = "estimate_yx"
ESTIMATE_BEFORE_HEAD = "estimate_before_head"


# ------------------------------------------------------------------------------------ CLIP
def symmetric_estimator(spec: Estimator) -> Estimator:
    r"""CLIP's symmetric form of a pairs-layout estimator: the mean of its x→y and y→x readings.

    .. math::  \hat I_{\rm CLIP}(S) = \tfrac12\big(\hat I(S) + \hat I(S^\top)\big),\qquad
               \mathcal L_{\rm CLIP}(S) = \tfrac12\big(\mathcal L(S) + \mathcal L(S^\top)\big)

    For InfoNCE, Î(S) normalises row i over the candidates y_j (anchor x_i) and Î(Sᵀ) column j
    over the x_i (anchor y_j): the symmetric cross-entropy of [4] (Fig. 3). Each direction is a
    lower bound on I(X; Y) = I(Y; X), so their mean is one, with the same ceiling. The
    extras ``estimate_xy`` and ``estimate_yx`` record the two directions.
    """

    def value(scores: Tensor, **hyper: Any) -> Tensor:
        return 0.5 * (spec.value_fn(scores, **hyper) + spec.value_fn(scores.mT, **hyper))

    def loss(scores: Tensor, **hyper: Any) -> Tensor:
        return 0.5 * (spec.loss_fn(scores, **hyper) + spec.loss_fn(scores.mT, **hyper))

    def extras(scores: Tensor, **hyper: Any) -> dict[str, Tensor]:
        base = spec.extras_fn(scores, **hyper) if spec.extras_fn is not None else {}
        return {
            **base,
            ESTIMATE_XY: spec.value_fn(scores, **hyper),
            ESTIMATE_YX: spec.value_fn(scores.mT, **hyper),
        }

    return replace(
        spec,
        value_fn=value,
        loss_fn=loss,
        extras_fn=extras,
        citation=f"{spec.citation}; symmetrised as CLIP (Radford et al. 2021, Fig. 3)",
    )


# ------------------------------------------------------------------------------------ MoCo
def moco_lower_bound(logits: Tensor) -> Tensor:
    r"""InfoNCE over a positive and a bank of negatives: MoCo's MI reading.

    .. math::  \hat I = \frac1K\sum_{i=1}^K\Big(\ell_{i0} - \log\sum_{c=0}^{Q} e^{\ell_{ic}}\Big)
               + \log(Q+1) \;\le\; \log(Q+1)

    Implements Eq. (5) of [1] with the candidates of Eq. (2) of [3] (K_eff = Q + 1).

    Args:
        logits: ``(..., K, 1 + Q)``; column 0 is the positive ℓ_i0 = g(x_i, y_i), columns 1..Q
            the queued negatives.
    Returns:
        ``(...)``, nats.
    """
    if logits.dim() < 2 or logits.shape[-1] < 2:
        raise ValueError(
            f"logits must have shape (..., K, 1 + Q), Q >= 1, got {tuple(logits.shape)}"
        )
    n_candidates = logits.shape[-1]
    return (logits[..., 0] - logits.logsumexp(dim=-1)).mean(dim=-1) + math.log(n_candidates)


def moco_loss(logits: Tensor) -> Tensor:
    r"""MoCo's InfoNCE loss (Eq. 1 of [3]): the cross-entropy of the positive, log(Q+1) − Î."""
    return (logits.logsumexp(dim=-1) - logits[..., 0]).mean(dim=-1)


def moco_ess(logits: Tensor) -> Tensor:
    r"""FlatNCE Eq. (4) ESS of the queued negatives' weights (row mean), as :func:`ess` does in-batch.

    .. math::  w_{ic} = \frac{e^{\ell_{ic}}}{\sum_{c'=1}^Q e^{\ell_{ic'}}},\qquad
               \mathrm{ESS}_i = \frac{1}{Q \sum_{c=1}^Q w_{ic}^2}
    """
    negatives = logits[..., 1:]
    log_w = negatives - negatives.logsumexp(dim=-1, keepdim=True)
    n = negatives.shape[-1]
    return (-((2.0 * log_w).logsumexp(dim=-1) + math.log(n))).exp().mean(dim=-1)


def moco_estimator(spec: Estimator) -> Estimator:
    """``spec`` (InfoNCE) read over MoCo's ``(..., K, 1 + Q)`` logits; ceiling log(Q + 1)."""
    return replace(
        spec,
        value_fn=lambda logits, **_: moco_lower_bound(logits),
        loss_fn=lambda logits, **_: moco_loss(logits),
        ceiling_fn=lambda n_candidates, **_: math.log(n_candidates),
        caps_at_log_k=True,
        citation="MoCo (He et al. 2020) Eq. (1)-(2) over a queue; InfoNCE guide (seed 000) Eq. (5)",
    )


def wrap_estimator(spec: Estimator, config: RunConfig) -> Estimator:
    """The estimator as the run's system presents it to the trainer (``spec`` for ``inbatch``)."""
    if config.system == CLIP:
        return symmetric_estimator(spec)
    if config.system == MOCO:
        return moco_estimator(spec)
    if config.system != INBATCH:
        raise UnknownNameError("system", config.system, list(SYSTEMS))
    return spec


def k_eff(config: RunConfig, layout: str, batch: int) -> int:
    """Candidates per anchor for a readout of ``batch`` samples: K, 2N − 1 (views) or Q + 1 (MoCo)."""
    if config.system == MOCO:
        return int(resolve_system_params(MOCO, config.kwargs("system"))["queue"]) + 1
    return 2 * batch - 1 if layout == "views" else batch


class MomentumQueue:
    """MoCo's state for R stacked runs: the momentum copy of the encoder and the key queue.

    ``logits(x, y)`` is pure (reads the state, remembers the keys it computed); ``after_step(alive)``
    applies the momentum update and enqueues those keys for the runs still alive, after the
    optimiser step, as Algorithm 1 of [3] does. ``state()``/``load()`` snapshot and restore
    everything for the trainer's block replay.
    """

    def __init__(
        self,
        critic: Any,
        configs: Sequence[RunConfig],
        tasks: Sequence[Task],
        *,
        generators: Sequence[torch.Generator],
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        params = resolve_system_params(MOCO, configs[0].kwargs("system"))
        self.queue_size = int(params["queue"])
        self.momentum = float(params["momentum"])
        self.critic = critic
        self.tau = float(critic.tau)
        online: StackedMLP = critic.f
        self.key_encoder = StackedMLP(
            sizes=online.sizes,
            activation=online.activation,
            weights=[w.detach().clone() for w in online.weights],
            biases=[b.detach().clone() for b in online.biases],
        )
        with torch.no_grad():
            draws = []
            for task, gen in zip(tasks, generators, strict=True):
                steps = torch.zeros(self.queue_size, dtype=torch.int64)
                batch = task.sample(self.queue_size, gen, steps=steps, dtype=dtype)
                draws.append(batch.y)
            y0 = torch.stack(draws).to(device)
            self.queue = self._keys(y0)  # (R, Q, d)
        self.pointer = 0
        self.last_keys: Tensor | None = None
        self.last_embeddings: tuple[Tensor, Tensor] | None = None

    def _keys(self, y: Tensor) -> Tensor:
        with torch.no_grad():
            return l2_normalize(self.key_encoder.forward(y))

    def logits(self, x: Tensor, y: Tensor) -> Tensor:
        """``(R, K, d_x), (R, K, d_y) -> (R, K, 1 + Q)``: [positive | queued negatives] / τ."""
        queries = l2_normalize(self.critic.f.forward(x))
        keys = self._keys(y)
        positives = (queries * keys).sum(dim=-1, keepdim=True)
        negatives = torch.bmm(queries, self.queue.transpose(1, 2))
        self.last_keys = keys
        self.last_embeddings = (queries, keys)
        return torch.cat([positives, negatives], dim=-1) / self.tau

    def after_step(self, alive: Tensor) -> None:
        """Momentum update ξ ← mξ + (1 − m)θ, then enqueue this step's keys (alive runs only)."""
        if self.last_keys is None:
            return
        with torch.no_grad():
            keep = alive.view(-1, 1, 1)
            online = self.critic.f
            for mine, theirs in (
                (self.key_encoder.weights, online.weights),
                (self.key_encoder.biases, online.biases),
            ):
                for index, (key_param, param) in enumerate(zip(mine, theirs, strict=True)):
                    updated = torch.lerp(param.detach(), key_param, self.momentum)
                    mine[index] = torch.where(keep, updated, key_param)
            keys = self.last_keys
            slots = (self.pointer + torch.arange(keys.shape[1], device=keys.device)) % (
                self.queue_size
            )
            enqueued = self.queue.index_copy(1, slots, keys)
            self.queue = torch.where(keep, enqueued, self.queue)
            self.pointer = (self.pointer + keys.shape[1]) % self.queue_size
        self.last_keys = None

    def state(self) -> dict[str, Any]:
        return {
            "weights": list(self.key_encoder.weights),
            "biases": list(self.key_encoder.biases),
            "queue": self.queue,
            "pointer": self.pointer,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        # The update above builds new tensors (never in place), so the snapshot's are untouched.
        self.key_encoder.weights = list(state["weights"])
        self.key_encoder.biases = list(state["biases"])
        self.queue = state["queue"]
        self.pointer = state["pointer"]
        self.last_keys = None


# ----------------------------------------------------------------- alignment and uniformity
def embedding_pairs(critic: Any, layout: str, system: MomentumQueue | None) -> tuple[Tensor, ...]:
    """The embeddings of the critic's last forward pass, as (f(x), g(y)) pairs or (z,) alone.

    MoCo: (queries, keys). Pairs layout: the critic's (f(x), h(y)). Views layout: the shared
    encoder's embedding of [a; b] split into its two halves. Labels layout: (z,).
    """
    if system is not None and system.last_embeddings is not None:
        return system.last_embeddings
    cached = getattr(critic, "last_embeddings", None)
    if cached is None:
        return ()
    if layout == "views" and len(cached) == 1:
        z = cached[0]
        n = z.shape[1] // 2
        return (z[:, :n], z[:, n:])
    return tuple(cached)


def embedding_diagnostics(embeddings: tuple[Tensor, ...]) -> dict[str, Tensor]:
    """``align`` (pairs only) and ``unif`` of the x-side embeddings, float64, one per run."""
    if not embeddings:
        return {}
    with torch.no_grad():
        first = embeddings[0].detach().double()
        out = {UNIF: uniformity(first)}
        if len(embeddings) == 2:
            out[ALIGN] = alignment(first, embeddings[1].detach().double())
        return out


def representation_readout(critic: Any, layout: str, groups: Sequence[Any]) -> dict[str, Tensor]:
    r"""The estimate read *before* the projection head (guide §10): same estimator, h instead of z.

    .. math::  G^{h}[r, i, j] = \frac{\bar h_i^\top \bar h_j}{\tau},\qquad
               \bar h = f(u)/\|f(u)\|

    For a critic with a projection head (``encoder_projection``) in the views layout, each group's
    estimator is evaluated (float64, no gradient) on the Gram matrix of the normalised
    representations of the last forward pass; ``{}`` for other critics and layouts (the pairs
    layout embeds x and y in two calls, and estimators that need labels or a dual are skipped).
    """
    h = getattr(critic, "last_representation", None)
    if h is None or layout != "views":
        return {}
    with torch.no_grad():
        unit = l2_normalize(h.detach().double())
        scores = unit @ unit.mT / critic.tau
        values = torch.full(scores.shape[:1], math.nan, dtype=torch.float64, device=scores.device)
        for group in groups:
            if not group.spec.needs:
                values[group.start : group.stop] = group.spec.value(
                    scores[group.start : group.stop]
                )
    return {ESTIMATE_BEFORE_HEAD: values}


# ------------------------------------------------------------------------------- reporting
def with_system_columns(
    summary: pd.DataFrame, sidecars: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """``summary.parquet`` rows with the cell's ``system``, ``system_params`` (JSON) and ``k_eff``.

    The summary identifies a cell by ``cell_id`` (a hash of its config minus the seed); this maps
    every sidecar's config to that id and copies the system fields of its cell, so systems at equal
    K_eff (MoCo with Q = 256 against in-batch InfoNCE with K = 257) can be set side by side.
    """
    from mibench import estimators
    from mibench.results.summary import cell_key, json_hash

    by_cell: dict[str, dict[str, Any]] = {}
    for sidecar in sidecars.values():
        config = dict(sidecar["config"])
        run = RunConfig.make(**config)
        layout = estimators.get(run.estimator).layout
        by_cell[json_hash(cell_key(config))] = {
            SYSTEM: run.system,
            "system_params": json.dumps(run.kwargs("system"), sort_keys=True),
            K_EFF: k_eff(run, layout, run.batch_size),
        }
    out = summary.copy()
    for column in (SYSTEM, "system_params", K_EFF):
        out[column] = [by_cell[cell][column] for cell in out["cell_id"]]
    return out
