r"""The float64 readouts of a stack: estimates, extras and diagnostics of the detached scores.

Logging: every ``log_every`` steps (and the last step) the "train" readout records, per run, the
loss, the gradient norm and — from the detached scores, in float64 — the estimate ``spec.value``
and the estimator's extras, plus true MI, log K and the ceiling. The estimator-agnostic
*diagnostics* of the same scores — the InfoNCE value, ESS and, where the critic embeds, alignment
and uniformity — cost K^2 float64 work per run on top of the estimate (at K = 512 they were more
than the training step itself), and they are only read as trends and window means: they are
evaluated at every ``stack.DIAGNOSTICS_EVERY``-th train row (rows 0, N, 2N, ... and the last) and are
NaN in the other train rows. Every summary and figure that reads them skips NaN, so e.g. a
window's ``ess_mean`` is the mean over the window's diagnostic rows (a 1-in-N systematic subsample
of the same per-step series). The estimate, loss, gradient norm and extras stay in every logged
row, so the window metrics of the estimate (bias, variance, MSE, steps to 90 %) are unchanged.
The eval readout computes everything at every eval step. The float64 part is evaluated for many
logged steps at once (estimators accept leading axes), which removes most of the per-step cost of
logging every step. Every ``eval_every`` steps
(and the last step) an "eval" readout evaluates the same parameters (those that produce that step's
train readout, i.e. before its update) on a held-out batch. Records stay in preallocated device
tensors and reach the host once, at the end.

:class:`StackReadout`, the base class of :class:`~mibench.train.stack._Stack`, holds its readout
steps: the attributes declared in it are the stack's, set in its ``__init__`` and ``run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from mibench.results import schema
from mibench.systems import System
from mibench.train import trees
from mibench.train.buffers import Pending, Records
from mibench.train.embeddings import embedding_diagnostics, representation_readout
from mibench.train.groups import Group

NEVER = 2**62  # "no bad estimate" sentinel for first-bad-step minima


class StackReadout:
    """The train readout (batched, :meth:`_flush`) and the eval readout (:meth:`_evaluate`)."""

    groups: list[Group]
    heads: dict[str, tuple[slice, Any]]
    system: System
    critic: Any
    layout: str
    negatives: str
    device: torch.device
    eye_eval: Tensor
    eval_row: dict[int, int]
    _t0: float
    # The stack's methods: an estimator group's inputs besides the scores; the dual heads' outputs.
    _inputs: Callable[..., dict[str, Any]]
    _duals: Callable[[Tensor, Tensor | None], dict[str, Tensor]]

    def _readout(
        self,
        scores64: Tensor,
        duals: Sequence[dict[str, Tensor]] | dict[str, Tensor],
        labels: Tensor | None,
        states: list[Any],
        records: Records,
        rows: slice | int,
        diagnosed: Tensor | None = None,
    ) -> Tensor:
        """Float64 estimate, diagnostics and extras of ``scores64`` (leading axes ``(..., R)``).

        Writes ``records[rows]`` and returns the estimate (shape ``scores64.shape[:-2]``). With
        ``diagnosed`` (train: ``scores64`` is ``(T, R, M, M)`` for the rows ``rows``), the InfoNCE
        value and ESS are computed only for those positions along T (see ``DIAGNOSTICS_EVERY``).
        """
        estimates = []
        for group, state in zip(self.groups, states, strict=True):
            s = scores64[..., group.start : group.stop, :, :]
            inputs = self._inputs(group, duals, labels, state, cast=True)
            estimates.append(group.spec.value(s, **inputs))
            for name, value in group.spec.extras(s, **inputs).items():
                records.column(name)[rows, group.start : group.stop] = value
                group.extra_names.add(name)
        estimate = torch.cat(estimates, dim=-1) if len(estimates) > 1 else estimates[0]
        records.column(schema.ESTIMATE)[rows] = estimate
        if diagnosed is None:
            nce, ess_value = self.system.diagnostics(scores64)
            records.column(schema.INFONCE_VALUE)[rows] = nce
            records.column(schema.ESS)[rows] = ess_value
        else:
            records.column(schema.INFONCE_VALUE)  # NaN where no diagnostics are computed
            records.column(schema.ESS)
            if len(diagnosed):
                first = rows.start if isinstance(rows, slice) else rows
                nce, ess_value = self.system.diagnostics(scores64[diagnosed])
                records.column(schema.INFONCE_VALUE)[diagnosed + first] = nce
                records.column(schema.ESS)[diagnosed + first] = ess_value
        return estimate

    def _flush(self, pending: Pending, train: Records) -> Tensor:
        """Evaluate the pending train readouts in one batched float64 pass; first bad step per run."""
        rows = slice(pending.rows[0], pending.rows[-1] + 1)
        if rows.stop - rows.start != len(pending.rows):
            raise RuntimeError("pending readout rows must be consecutive")
        # One pending step (large K): a view, not a stacked copy of the (R, K, K) scores.
        stacked = (
            pending.scores[0][None] if len(pending.scores) == 1 else torch.stack(pending.scores)
        )
        scores64 = stacked.double()
        duals = {k: torch.stack([d[k] for d in pending.duals]) for k in self.heads}
        labels = None if pending.labels[0] is None else torch.stack(pending.labels)
        states = [
            trees.stack_steps([s[g] for s in pending.states]) for g in range(len(self.groups))
        ]
        diagnosed = torch.tensor(pending.diagnosed, dtype=torch.int64, device=self.device)
        with torch.no_grad():
            estimate = self._readout(scores64, duals, labels, states, train, rows, diagnosed)
            if pending.embeddings and pending.embeddings[0]:
                stacked = tuple(
                    torch.stack(parts) for parts in zip(*pending.embeddings, strict=True)
                )
                for name, value in embedding_diagnostics(stacked).items():
                    train.column(name)[diagnosed + rows.start] = value
        bad = ~torch.isfinite(estimate) & torch.stack(pending.alive)
        steps = torch.tensor(pending.steps, dtype=torch.int64, device=self.device).unsqueeze(1)
        pending.clear()
        return torch.where(bad, steps, NEVER).amin(dim=0)

    def _evaluate(
        self,
        x: Tensor,
        y: Tensor | None,
        labels: Tensor | None,
        perm: Tensor | None,
        evals: Records,
        step: int,
    ) -> None:
        with torch.no_grad():
            scores = self.system.scores(x, y, perm, self.eye_eval)
            self._embedding_readout(evals, self.eval_row[step])
            duals = self._duals(x, y)
            states = [g.state for g in self.groups]
            self._readout(scores.double(), duals, labels, states, evals, self.eval_row[step])
        evals.times.append(time.perf_counter() - self._t0)

    def _embedding_readout(
        self,
        records: Records,
        row: int,
        pending: Pending | None = None,
        *,
        diagnose: bool = True,
    ) -> None:
        """Alignment/uniformity of the system's embeddings of the last forward pass,
        and the estimate before the projection head.

        With ``pending`` (train readouts) the embeddings are kept and their diagnostics computed
        in the batched float64 pass of :meth:`_flush`, like the estimates: one vectorised call per
        block instead of a dozen small ops every logged step. ``diagnose=False`` (train rows off
        the ``DIAGNOSTICS_EVERY`` cadence) skips alignment/uniformity; the estimate before the
        head is an estimate and is read at every logged row.
        """
        if self.negatives != "offdiag":
            return
        if diagnose:
            pairs = self.system.embeddings()
            if pending is not None:
                pending.embeddings.append(tuple(e.detach() for e in pairs))
            else:
                for name, value in embedding_diagnostics(pairs).items():
                    records.column(name)[row] = value
        for name, value in representation_readout(self.critic, self.layout, self.groups).items():
            records.column(name)[row] = value
