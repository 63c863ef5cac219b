r"""MoCo: a queue of the last Q key embeddings, produced by a momentum (EMA) copy of the encoder,
serves as the negatives (He et al. 2020).

Each query x_i is scored against its own key and the Q queued keys, so K_eff = Q + 1 and the
InfoNCE ceiling is log(Q + 1), independent of the batch size. Parameters ``queue`` (Q ≥ K,
default 4096) and ``momentum`` (m in [0, 1), default 0.999; [3] Sec. 3.2, Tables 3-4). Applies to
``infonce`` with the ``encoder`` critic and ``offdiag`` negatives.

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

The loss and the readouts are the estimators package's bank forms of InfoNCE
(:func:`~mibench.estimators.contrastive.bank_infonce_loss`,
:func:`~mibench.estimators.diagnostics.bank_infonce_value` and
:func:`~mibench.estimators.diagnostics.bank_ess`).

References:
    [1] A Guide to InfoNCE and Its Use in SimCLR, Eq. (5).
    [2] He et al., Momentum Contrast (MoCo), 2020, arXiv:1911.05722.
    [3] He et al., Momentum Contrast for Unsupervised Visual Representation Learning, CVPR 2020,
        arXiv:1911.05722, Eq. (1)–(2) and Algorithm 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor

from mibench.core import rng
from mibench.core.interface import Estimator, RunConfig, Task
from mibench.critics.base import StackedMLP, l2_normalize
from mibench.estimators.contrastive import bank_infonce_loss
from mibench.estimators.diagnostics import bank_ess, bank_infonce_value
from mibench.systems.base import (
    SystemInputs,
    SystemSpec,
    pairs_offdiag_reason,
    register,
    resolve_system_params,
)
from mibench.systems.in_batch import critic_embeddings

MOCO = "moco"
# He et al. 2020 (Sec. 3.2, Table 4): m = 0.999 works best; a queue of 4096 keys is their
# smallest reported dictionary size for ImageNet-1M (Table 3 sweeps 256 ... 65536).
DEFAULT_MOMENTUM = 0.999
DEFAULT_QUEUE = 4096
MOCO_CRITICS = ("encoder",)
MOCO_ESTIMATORS = ("infonce",)
STREAM_QUEUE = "moco-queue"


def _params(config: RunConfig) -> dict[str, Any]:
    """The run's queue and momentum over the defaults, checked."""
    return resolve_system_params(MOCO, config.kwargs("system"))


def _moco_check(params: dict[str, Any]) -> dict[str, Any]:
    queue, momentum = params["queue"], params["momentum"]
    if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
        raise ValueError(f"moco queue must be an integer >= 1, got {queue!r}")
    number = isinstance(momentum, int | float) and not isinstance(momentum, bool)
    if not number or not 0.0 <= momentum < 1.0:
        raise ValueError(f"moco momentum must be a number in [0, 1), got {momentum!r}")
    return {**params, "momentum": float(momentum)}


def _moco_compatibility(config: RunConfig, spec: Estimator, critic_name: str) -> str | None:
    reason = pairs_offdiag_reason(MOCO, config, spec)
    if reason is not None:
        return reason
    if spec.name not in MOCO_ESTIMATORS:
        return f"system 'moco' trains InfoNCE over its queue; got estimator {spec.name!r}"
    if critic_name not in MOCO_CRITICS:
        return (
            f"system 'moco' needs the shared-encoder critic ({', '.join(MOCO_CRITICS)}) whose "
            f"momentum copy encodes the keys; got {critic_name!r}"
        )
    queue = _params(config)["queue"]
    if queue < config.batch_size:
        return f"moco queue ({queue}) must hold at least one batch (K = {config.batch_size})"
    return None


MOCO_SPEC = SystemSpec(
    MOCO,
    defaults={"queue": DEFAULT_QUEUE, "momentum": DEFAULT_MOMENTUM},
    check=_moco_check,
    compatibility=_moco_compatibility,
    description="a momentum encoder and a queue of Q keys as the negatives (K_eff = Q + 1)",
)


@register
class MoCo:
    """The stack's :class:`MomentumQueue`, scored as ``(R, K, 1 + Q)`` bank logits."""

    spec: ClassVar[SystemSpec] = MOCO_SPEC

    def __init__(self, inputs: SystemInputs) -> None:
        self.critic = inputs.critic
        self.layout = inputs.layout
        self.queue = MomentumQueue(
            inputs.critic,
            inputs.configs,
            inputs.tasks,
            generators=[rng.generator(c, STREAM_QUEUE) for c in inputs.configs],
            dtype=inputs.dtype,
            device=inputs.device,
        )

    @classmethod
    def wrap_estimator(cls, spec: Estimator) -> Estimator:
        """``spec`` (InfoNCE) read over MoCo's ``(..., K, 1 + Q)`` logits; ceiling log(Q + 1)."""
        return replace(
            spec,
            value_fn=lambda logits, **_: bank_infonce_value(logits),
            loss_fn=lambda logits, **_: bank_infonce_loss(logits),
            ceiling_fn=lambda n_candidates, **_: math.log(n_candidates),
            caps_at_log_k=True,
            citation="MoCo (He et al. 2020) Eq. (1)-(2) over a queue; InfoNCE guide Eq. (5)",
        )

    @classmethod
    def k_eff(cls, config: RunConfig, layout: str, batch: int) -> int:
        """Q + 1 whatever the batch: the positive and the queued keys."""
        return int(_params(config)["queue"]) + 1

    def scores(self, x: Tensor, y: Tensor | None, perm: Tensor | None, eye: Tensor) -> Tensor:
        return self.queue.logits(x, y)

    def matrix_size(self, batch: int) -> int:
        return self.queue.queue_size + 1

    def diagnostics(self, scores64: Tensor) -> tuple[Tensor, Tensor]:
        return bank_infonce_value(scores64), bank_ess(scores64)

    def embeddings(self) -> tuple[Tensor, ...]:
        """(queries, keys) of the last step; the critic's own where no step has scored yet."""
        if self.queue.last_embeddings is not None:
            return self.queue.last_embeddings
        return critic_embeddings(self.critic, self.layout)

    def after_step(self, alive: Tensor) -> None:
        self.queue.after_step(alive)

    def state(self) -> dict[str, Any]:
        return self.queue.state()

    def load(self, state: Mapping[str, Any]) -> None:
        self.queue.load(state)


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
        params = _params(configs[0])
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
