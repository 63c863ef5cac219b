r"""The stacked trainer: R runs with equal shapes trained as ONE computation.

Per step, for all runs at once: one critic forward giving scores ``(R, K, K)`` (batched matmuls over
parameters ``(R, ...)``), per-run losses (one vectorised call per estimator group), one backward of
their sum, one Adam step over the stacked tensors (:class:`~mibench.train.adam.StackedAdam`, per-run
learning rate). Nothing mixes runs, so run r's numbers are those it would get alone:

* its parameters are drawn from its own generator (stream ``init``, seeded from its cell hash);
* its training data come from its own ``data`` stream, in blocks of T steps drawn with ONE
  ``task.sample(T*K, ...)`` call per run, T fixed by the shapes (never by the stack size R);
* its held-out batches (``eval_batch_size``, default 4K) come from a separate ``eval`` stream.

Negatives (``config.negatives``):

* ``"offdiag"`` (default): the estimator sees the full matrix S_ij = g(x_i, y_j); its K(K-1)
  off-diagonal entries are the negatives.
* ``"derangement"``: one shuffled partner per row. Each step draws a uniformly random K-cycle π (a
  derangement: π(i) ≠ i, and π(i) is uniform over j ≠ i) and evaluates only g(x_i, y_i) and
  g(x_i, y_π(i)) (2K critic calls). The estimator receives the K x K matrix whose diagonal is
  g(x_i, y_i) and whose row i holds g(x_i, y_π(i)) in every off-diagonal entry. For the estimators
  that average over the negatives (DV, MINE, NWJ, TUBA, JS, SMILE, FLO, f-MICL) this is exactly
  their one-shuffled-negative form (the mean over j ≠ i of a constant row is that constant). For
  softmax estimators (InfoNCE, FlatNCE) it means K-1 copies of one negative: their value then
  is still <= log K but the InfoNCE bound's exchangeability argument no longer applies, so read
  it as a diagnostic, not a bound. ESS of such a row is 1 by construction.

Divergence: a run whose loss, gradient norm or (at logged steps) estimate is NaN/Inf at step t is
frozen from t on: the fused Adam kernel skips its update (p, m, v and the estimator state stay bit
for bit), with the decision made on device (``torch.where``, no host sync); its rows from step t on
are flagged ``diverged`` and its metrics after t are NaN. The other runs go on unchanged. Loss and
gradient are checked every step. The float64 estimates are computed in batches (below), so a run
whose *estimate alone* turns NaN/Inf is found at the end of the block: the block is then replayed
from a snapshot taken at its start (same pre-drawn data, so every other run repeats bit for bit)
with that run frozen at that step. One host read per block decides whether to replay.

Logging: every ``log_every`` steps (and the last step) the "train" readout records, per run, the
loss, the gradient norm and — from the detached scores, in float64 — the estimate ``spec.value``
and the estimator's extras, plus true MI, log K and the ceiling. The estimator-agnostic
*diagnostics* of the same scores — the InfoNCE value, ESS and, where the critic embeds, alignment
and uniformity — cost K^2 float64 work per run on top of the estimate (at K = 512 they were more
than the training step itself), and they are only read as trends and window means: they are
evaluated at every ``DIAGNOSTICS_EVERY``-th train row (rows 0, N, 2N, ... and the last) and are
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

In the ``views`` layout the InfoNCE/ESS diagnostics are those of the N x N cross block
a_i·b_j/τ (pairs orientation); in the ``labels`` layout they are NaN (no pair structure).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mibench import critics as critic_registry
from mibench.critics.base import DEFAULT_ACTIVATION, DEFAULT_HIDDEN
from mibench.estimators import ess, infonce_value
from mibench.interface import Estimator, RunConfig, Task
from mibench.resolve import (
    ResolvedRun,
    check_stack,
    resolve_runs,
    task_entropy_y,
)
from mibench.results import schema
from mibench.train import rng, systems
from mibench.train.adam import StackedAdam
from mibench.train.record import RunResult

# A data block holds about this many numbers per run (1 MiB of float32): T = BLOCK_ELEMENTS //
# (K (d_x + d_y)) steps, at most MAX_BLOCK_STEPS. T depends on the shapes only, never on R.
BLOCK_ELEMENTS = 2**18
MAX_BLOCK_STEPS = 128
# Logged train readouts are evaluated in float64 in batches of up to this many score entries
# (R x M x M per step), one vectorised pass instead of one per step.
READOUT_ELEMENTS = 2**22
# The K^2 diagnostics of the train readout (InfoNCE value, ESS, alignment, uniformity) are
# evaluated at every DIAGNOSTICS_EVERY-th train row and the last one (NaN in the others).
DIAGNOSTICS_EVERY = 10
_NEVER = 2**62  # "no bad estimate" sentinel for first-bad-step minima
DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Dual-head order; also the order of estimator groups inside a stack (runs needing the same head
# are contiguous, so every head and every group is a slice of the run axis).
_HEAD_ORDER = {None: 0, "x": 1, "y": 2, "pair": 3, "y_density": 4}
_TRAIN_METRICS = (schema.ESTIMATE, schema.LOSS, schema.INFONCE_VALUE, schema.ESS, schema.GRAD_NORM)

# A lone run is trained as a stack of this many copies of itself and the first copy returned.
# Each run's numbers are bit-identical in every stack of R >= 2 runs (torch splits a batched
# matmul over the run axis; every reduction is per run), but not in a stack of one: a single
# run's matmul is one BLAS call, which the BLAS splits over all threads and computes with its
# matrix-vector kernel when an output width is 1 (dual heads, the concat critic's last layer),
# both with another summation order. Measured before this rule: the same run differed in its
# last float32 bits (estimate, loss, gradient norm) between a 1-run stack and any larger one.
# The copy costs at most the second run's compute (1.0-1.4x the lone run's time for the default
# critic, up to 2x for 256-wide ones, on one thread).
_LONE_RUN_COPIES = 2

Progress = Callable[[int], None]
# Early stopping: called after every data block with the eval steps done so far and their "eval"
# estimates (float64, shape (n_done, R)); returning True ends training after that block.
StopRule = Callable[[np.ndarray, np.ndarray], bool]
Checkpoint = Callable[[int, Callable[[], dict[str, Any]]], None]
CHECKPOINT_FORMAT = 1  # bump when the state dict of _Stack._checkpoint_state changes


@dataclass
class _Run:
    position: int  # index in the caller's list
    config: RunConfig
    task: Task
    eval_task: Task  # where the held-out batches come from (the training task by default)
    spec: Estimator


@dataclass
class _Group:
    """Runs [start, stop) of the stack sharing one estimator (one vectorised loss call)."""

    spec: Estimator
    start: int
    stop: int
    head: str | None
    state: Any = None
    uses_state: bool = False
    # Names of the estimator extras this group's spec reports (only its runs' frames get them).
    extra_names: set[str] = field(default_factory=set)


@dataclass
class _Pending:
    """Logged train steps whose float64 readout is still to be computed (in one batched pass)."""

    rows: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    scores: list[Tensor] = field(default_factory=list)
    duals: list[dict[str, Tensor]] = field(default_factory=list)
    labels: list[Tensor | None] = field(default_factory=list)
    states: list[list[Any]] = field(default_factory=list)
    alive: list[Tensor] = field(default_factory=list)
    # Positions (in ``rows``) of the rows that also get the diagnostics, and their embeddings.
    diagnosed: list[int] = field(default_factory=list)
    embeddings: list[tuple[Tensor, ...]] = field(default_factory=list)

    def add(
        self,
        row: int,
        step: int,
        scores: Tensor,
        duals: dict[str, Tensor],
        labels: Tensor | None,
        states: list[Any],
        alive: Tensor,
    ) -> None:
        self.rows.append(row)
        self.steps.append(step)
        self.scores.append(scores)
        self.duals.append(duals)
        self.labels.append(labels)
        self.states.append(states)
        self.alive.append(alive)

    def clear(self) -> None:
        for values in (
            self.rows,
            self.steps,
            self.scores,
            self.duals,
            self.labels,
            self.states,
            self.alive,
            self.diagnosed,
            self.embeddings,
        ):
            values.clear()


@dataclass
class _Records:
    n_rows: int
    n_runs: int
    dtype: torch.dtype
    device: torch.device
    columns: dict[str, Tensor] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)

    def column(self, name: str) -> Tensor:
        if name not in self.columns:
            self.columns[name] = torch.full(
                (self.n_rows, self.n_runs), math.nan, dtype=self.dtype, device=self.device
            )
        return self.columns[name]


def _tree_where(keep_new: Tensor, new: Any, old: Any) -> Any:
    """Per-run select between two estimator states (tensors with leading run axis, or containers)."""
    if old is None:
        return new
    if isinstance(new, Tensor):
        return torch.where(keep_new.view(-1, *([1] * (new.dim() - 1))), new, old)
    if isinstance(new, dict):
        return {k: _tree_where(keep_new, v, old[k]) for k, v in new.items()}
    if isinstance(new, tuple | list):
        return type(new)(_tree_where(keep_new, n, o) for n, o in zip(new, old, strict=True))
    return new


def derangement_scores(
    positives: Tensor, negatives: Tensor, *, eye: Tensor | None = None
) -> Tensor:
    r"""The K x K matrix the estimators see under ``negatives="derangement"``.

    .. math::  S'_{ii} = g(x_i, y_i), \qquad S'_{ij} = g(x_i, y_{\pi(i)}) \;\; (j \ne i)

    so any mean over j ≠ i of row i is the single shuffled negative of row i.

    Args:
        positives: ``(..., K)``, g(x_i, y_i).
        negatives: ``(..., K)``, g(x_i, y_π(i)).
        eye: optional precomputed ``(K, K)`` boolean identity.
    Returns:
        ``(..., K, K)``.
    """
    if eye is None:
        eye = torch.eye(positives.shape[-1], dtype=torch.bool, device=positives.device)
    return torch.where(eye, positives.unsqueeze(-1), negatives.unsqueeze(-1))


def random_cycles(n_steps: int, K: int, generator: torch.Generator) -> Tensor:
    """``(n_steps, K)`` uniformly random K-cycles: perm[σ_i] = σ_{i+1 mod K} for a random σ."""
    sigma = torch.rand(n_steps, K, generator=generator).argsort(dim=1)
    return torch.empty_like(sigma).scatter_(1, sigma, sigma.roll(-1, dims=1))


class _Stack:
    """One stacked computation: the critic, dual heads, optimiser and per-run streams of R runs."""

    def __init__(
        self,
        runs: Sequence[ResolvedRun],
        device: torch.device,
        eval_tasks: Sequence[Task] | None = None,
    ) -> None:
        # The runs were checked once, where they were resolved (mibench.resolve.check_run), and
        # as one stack by train_stack (mibench.resolve.check_stack).
        held_tasks = list(eval_tasks) if eval_tasks is not None else [r.task for r in runs]
        runs = [
            # hook: the run's contrastive system presents the estimator (CLIP, MoCo; systems.py)
            _Run(i, r.config, r.task, held, systems.wrap_estimator(r.estimator, r.config))
            for i, (r, held) in enumerate(zip(runs, held_tasks, strict=True))
        ]
        # Group runs: head kind first, then estimator; groups and heads become contiguous slices.
        runs.sort(
            key=lambda r: (
                _HEAD_ORDER[self._head_of(r.spec)],
                r.config.estimator,
                r.config.estimator_params,
                r.position,
            )
        )
        self.runs = runs
        self.device = device
        first = runs[0].config
        self.n_runs = len(runs)
        self.K = first.batch_size
        self.E = first.resolved_eval_batch_size
        self.n_steps = first.n_steps
        self.log_every = first.log_every
        self.eval_every = first.eval_every
        self.negatives = first.negatives
        self.layout = runs[0].spec.layout
        self.dtype = DTYPES[first.dtype]
        task = runs[0].task
        self.dim_x = task.dim_x
        self.dim_y = task.dim_y if self.layout != "labels" else task.dim_x
        self.critic = critic_registry.build(
            first.critic,
            self.dim_x,
            self.dim_y,
            generators=[rng.generator(r.config, rng.STREAM_INIT) for r in runs],
            dtype=self.dtype,
            device=device,
            params=first.kwargs("critic"),
        )
        self.leaves: list[Tensor] = list(self.critic.parameters())
        self.slices: list[slice] = [slice(0, self.n_runs)] * len(self.leaves)
        self.heads: dict[str, tuple[slice, critic_registry.DualHead]] = {}
        self._build_heads(first)
        self.groups: list[_Group] = []
        for run_index, run in enumerate(runs):
            same = self.groups and self.groups[-1].spec == run.spec
            if same and self.groups[-1].stop == run_index:
                self.groups[-1].stop += 1
            else:
                uses_state = run.spec.state_fn is not None or "state" in run.spec.needs
                self.groups.append(
                    _Group(
                        run.spec,
                        run_index,
                        run_index + 1,
                        self._head_of(run.spec),
                        None,
                        uses_state,
                    )
                )
        self.entropy_y = torch.tensor(
            [task_entropy_y(r.task) if "entropy_y" in r.spec.needs else math.nan for r in runs],
            dtype=torch.float64,
            device=device,
        )
        self.adam = StackedAdam(self.leaves, self.slices, [r.config.lr for r in runs])
        self.data_gens = [rng.generator(r.config, rng.STREAM_DATA) for r in runs]
        self.eval_gens = [rng.generator(r.config, rng.STREAM_EVAL) for r in runs]
        self.eye = torch.eye(self.K, dtype=torch.bool, device=device)
        self.eye_eval = torch.eye(self.E, dtype=torch.bool, device=device)
        # Hook: MoCo's momentum encoder and queue (systems.py); None for the other systems.
        self.system = (
            systems.MomentumQueue(
                self.critic,
                [r.config for r in runs],
                [r.task for r in runs],
                generators=[rng.generator(r.config, systems.STREAM_QUEUE) for r in runs],
                dtype=self.dtype,
                device=device,
            )
            if first.system == systems.MOCO
            else None
        )

    @staticmethod
    def _head_of(spec: Estimator) -> str | None:
        return spec.dual_of if "dual" in spec.needs else None

    def _build_heads(self, first: RunConfig) -> None:
        critic_params = critic_registry.resolve_params(first.critic, first.kwargs("critic"))
        hidden = critic_params.get("hidden", DEFAULT_HIDDEN)
        activation = critic_params.get("activation", DEFAULT_ACTIVATION)
        for kind in critic_registry.DUAL_KINDS:
            members = [i for i, r in enumerate(self.runs) if self._head_of(r.spec) == kind]
            if not members:
                continue
            span = slice(members[0], members[-1] + 1)
            head = critic_registry.DualHead(
                kind,
                self.dim_x,
                self.dim_y,
                generators=[rng.generator(self.runs[i].config, f"dual-{kind}") for i in members],
                dtype=self.dtype,
                device=self.device,
                hidden=hidden,
                activation=activation,
            )
            self.heads[kind] = (span, head)
            for leaf in head.parameters():
                self.leaves.append(leaf)
                self.slices.append(span)

    # ----------------------------------------------------------------------------- data
    def _block_steps(self) -> int:
        per_step = self.K * (self.dim_x + (self.dim_y if self.layout != "labels" else 0))
        return max(1, min(MAX_BLOCK_STEPS, BLOCK_ELEMENTS // per_step))

    def _draw(
        self, gens: list[torch.Generator], steps: list[int], n: int, *, held_out: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """One ``sample`` call per run for ``len(steps)`` batches of ``n``: ``(T, R, n, d)`` tensors."""
        T = len(steps)
        step_ids = torch.tensor(steps, dtype=torch.int64).repeat_interleave(n)
        xs, ys, labels, perms = [], [], [], []
        for run, gen in zip(self.runs, gens, strict=True):
            task = run.eval_task if held_out else run.task
            batch = task.sample(T * n, gen, steps=step_ids, dtype=self.dtype)
            xs.append(batch.x.reshape(T, n, -1))
            if self.layout != "labels":
                ys.append(batch.y.reshape(T, n, -1))
            if self.layout == "labels":
                labels.append(batch.labels.reshape(T, n))
            if self.negatives == "derangement":
                perms.append(random_cycles(T, n, gen))

        def stack(parts: list[Tensor]) -> Tensor | None:
            return torch.stack(parts, dim=1).to(self.device) if parts else None

        return stack(xs), stack(ys), stack(labels), stack(perms)

    # -------------------------------------------------------------------------- forward
    def _scores(self, x: Tensor, y: Tensor | None, perm: Tensor | None, eye: Tensor) -> Tensor:
        if self.system is not None:  # hook: MoCo logits (K, 1 + Q) over the queue
            return self.system.logits(x, y)
        if self.layout == "labels":
            return self.critic.gram(x)
        if self.layout == "views":
            return self.critic.gram(torch.cat([x, y], dim=1))
        if perm is not None:
            positives = self.critic.paired_scores(x, y)
            shuffled = torch.gather(y, 1, perm.unsqueeze(-1).expand_as(y))
            negatives = self.critic.paired_scores(x, shuffled)
            return derangement_scores(positives, negatives, eye=eye)
        return self.critic.scores(x, y)

    def _duals(self, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        return {
            kind: head.forward(x[span], None if y is None else y[span])
            for kind, (span, head) in self.heads.items()
        }

    def _group_parts(
        self, scores: Tensor, duals: dict[str, Tensor]
    ) -> tuple[Sequence[Tensor], dict[int, Tensor]]:
        """Each group's rows of ``scores`` and of its dual head's output, as one ``split``.

        ``split`` instead of one slice per group: its backward is one concatenation of the
        groups' gradients, where each slice's backward writes its gradient into a zero tensor of
        the whole stack's size (8 groups: 8 full-size zero fills and sums per step). The
        gradients are the same numbers (the other slices' contributions are exact zeros).
        """
        sizes = [g.stop - g.start for g in self.groups]
        score_parts = scores.split(sizes) if len(sizes) > 1 else (scores,)
        dual_parts: dict[int, Tensor] = {}
        for kind in self.heads:
            members = [i for i, g in enumerate(self.groups) if g.head == kind]
            pieces = duals[kind].split([sizes[i] for i in members], dim=-2)
            dual_parts.update(zip(members, pieces, strict=True))
        return score_parts, dual_parts

    def _inputs(
        self,
        group: _Group,
        duals: dict[str, Tensor],
        labels: Tensor | None,
        state: Any,
        cast: bool,
        *,
        dual: Tensor | None = None,
    ) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        needs = group.spec.needs
        if "dual" in needs:
            if dual is None:
                span = self.heads[group.head][0]
                dual = duals[group.head][..., group.start - span.start : group.stop - span.start, :]
            inputs["dual"] = dual.detach().double() if cast else dual
        if "labels" in needs:
            inputs["labels"] = labels[..., group.start : group.stop, :]
        if "state" in needs:
            inputs["state"] = state
        if "entropy_y" in needs:
            inputs["entropy_y"] = self.entropy_y[group.start : group.stop]
        return inputs

    def _diagnostics(self, scores64: Tensor) -> tuple[Tensor, Tensor]:
        if self.system is not None:  # hook: MoCo's bank InfoNCE and ESS over the queue
            return systems.moco_lower_bound(scores64), systems.moco_ess(scores64)
        if self.layout == "labels":
            nan = torch.full(scores64.shape[:-2], math.nan, dtype=torch.float64, device=self.device)
            return nan, nan
        if self.layout == "views":
            n = scores64.shape[-1] // 2
            scores64 = scores64[..., :n, n:]
        return infonce_value(scores64), ess(scores64)

    def _readout(
        self,
        scores64: Tensor,
        duals: Sequence[dict[str, Tensor]] | dict[str, Tensor],
        labels: Tensor | None,
        states: list[Any],
        records: _Records,
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
            nce, ess_value = self._diagnostics(scores64)
            records.column(schema.INFONCE_VALUE)[rows] = nce
            records.column(schema.ESS)[rows] = ess_value
        else:
            records.column(schema.INFONCE_VALUE)  # NaN where no diagnostics are computed
            records.column(schema.ESS)
            if len(diagnosed):
                first = rows.start if isinstance(rows, slice) else rows
                nce, ess_value = self._diagnostics(scores64[diagnosed])
                records.column(schema.INFONCE_VALUE)[diagnosed + first] = nce
                records.column(schema.ESS)[diagnosed + first] = ess_value
        return estimate

    def _diagnosed(self, row: int) -> bool:
        """Whether train row ``row`` gets the K^2 diagnostics (every N-th row and the last)."""
        return row % DIAGNOSTICS_EVERY == 0 or row == len(self.log_row) - 1

    # ----------------------------------------------------------------------------- loop
    def _log_steps(self) -> list[int]:
        steps = list(range(0, self.n_steps, self.log_every))
        return steps if steps[-1] == self.n_steps - 1 else [*steps, self.n_steps - 1]

    def _eval_steps(self) -> list[int]:
        steps = list(range(0, self.n_steps, self.eval_every))
        return steps if steps[-1] == self.n_steps - 1 else [*steps, self.n_steps - 1]

    def run(
        self,
        progress: Progress | None,
        stop: StopRule | None = None,
        checkpoint: Checkpoint | None = None,
        resume_from: dict[str, Any] | None = None,
    ) -> list[RunResult]:
        R, device = self.n_runs, self.device
        log_steps, eval_steps = self._log_steps(), self._eval_steps()
        self.log_row = {s: i for i, s in enumerate(log_steps)}
        self.eval_row = {s: i for i, s in enumerate(eval_steps)}
        train = _Records(len(log_steps), R, torch.float64, device)
        evals = _Records(len(eval_steps), R, torch.float64, device)
        alive = torch.ones(R, dtype=torch.bool, device=device)
        diverged_at = torch.full((R,), -1, dtype=torch.int64, device=device)
        self._t0 = time.perf_counter()
        block = self._block_steps()
        start = 0
        if resume_from is not None:
            alive, diverged_at, start = self._load_checkpoint(resume_from, train, evals)
        for block_start in range(start, self.n_steps, block):
            steps = list(range(block_start, min(self.n_steps, block_start + block)))
            data = self._draw(self.data_gens, steps, self.K)
            eval_in_block = [s for s in steps if s in self.eval_row]
            eval_data = (
                self._draw(self.eval_gens, eval_in_block, self.E, held_out=True)
                if eval_in_block
                else None
            )
            snapshot = self._snapshot(alive, diverged_at, train, evals)
            alive, diverged_at, first_bad = self._block(
                steps, data, eval_in_block, eval_data, alive, diverged_at, None, train, evals
            )
            # One host read per block: did a logged estimate turn NaN/Inf while loss and gradient
            # stayed finite? Then replay the block from its snapshot with that run frozen at
            # that step (the block's data are kept, so every other run replays bit for bit).
            bad = first_bad < _NEVER
            if bool(bad.any()):
                alive, diverged_at = self._restore(snapshot, train, evals)
                forced = torch.where(bad, first_bad, -1)
                alive, diverged_at, _ = self._block(
                    steps, data, eval_in_block, eval_data, alive, diverged_at, forced, train, evals
                )
            if checkpoint is not None and steps[-1] + 1 < self.n_steps:
                checkpoint(
                    steps[-1] + 1,
                    lambda a=alive, d=diverged_at, n=steps[-1] + 1: self._checkpoint_state(
                        n, a, d, train, evals
                    ),
                )
            if progress is not None:
                progress(steps[-1] + 1)
            if stop is not None and self._should_stop(stop, eval_steps, evals, steps[-1]):
                log_steps, eval_steps = self._truncate(
                    log_steps, eval_steps, train, evals, steps[-1]
                )
                break
        wall = time.perf_counter() - self._t0
        return self._results(log_steps, eval_steps, train, evals, diverged_at, wall)

    @staticmethod
    def _should_stop(stop: StopRule, eval_steps: list[int], evals: _Records, last: int) -> bool:
        done = np.asarray([s for s in eval_steps if s <= last], dtype=np.int64)
        if len(done) == 0 or schema.ESTIMATE not in evals.columns:
            return False
        return bool(stop(done, evals.columns[schema.ESTIMATE][: len(done)].cpu().numpy()))

    @staticmethod
    def _truncate(
        log_steps: list[int], eval_steps: list[int], train: _Records, evals: _Records, last: int
    ) -> tuple[list[int], list[int]]:
        """Drop the preallocated rows of steps never trained (training stopped after ``last``)."""
        log_steps = [s for s in log_steps if s <= last]
        eval_steps = [s for s in eval_steps if s <= last]
        for records, n_rows in ((train, len(log_steps)), (evals, len(eval_steps))):
            records.columns = {k: v[:n_rows] for k, v in records.columns.items()}
            records.n_rows = n_rows
        return log_steps, eval_steps

    def _block(
        self,
        steps: list[int],
        data: tuple[Tensor, Tensor | None, Tensor | None, Tensor | None],
        eval_in_block: list[int],
        eval_data: tuple[Tensor, Tensor | None, Tensor | None, Tensor | None] | None,
        alive: Tensor,
        diverged_at: Tensor,
        forced: Tensor | None,
        train: _Records,
        evals: _Records,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Train one block of steps; returns alive, diverged_at and each run's first bad estimate."""
        first_bad = torch.full_like(diverged_at, _NEVER)
        pending = _Pending()
        capacity = max(1, READOUT_ELEMENTS // (self.n_runs * self._matrix_size(self.K) ** 2))
        for t, step in enumerate(steps):
            if step in self.eval_row:
                e = eval_in_block.index(step)
                self._evaluate(
                    *(None if part is None else part[e] for part in eval_data), evals, step
                )
            alive, diverged_at = self._train_step(
                step, *(None if part is None else part[t] for part in data), alive, diverged_at,
                forced, train, pending,
            )  # fmt: skip
            if len(pending.rows) >= capacity:
                first_bad = torch.minimum(first_bad, self._flush(pending, train))
        if pending.rows:
            first_bad = torch.minimum(first_bad, self._flush(pending, train))
        return alive, diverged_at, first_bad

    def _train_step(
        self,
        step: int,
        x: Tensor,
        y: Tensor | None,
        labels: Tensor | None,
        perm: Tensor | None,
        alive: Tensor,
        diverged_at: Tensor,
        forced: Tensor | None,
        train: _Records,
        pending: _Pending,
    ) -> tuple[Tensor, Tensor]:
        scores = self._scores(x, y, perm, self.eye)
        duals = self._duals(x, y)
        score_parts, dual_parts = self._group_parts(scores, duals)
        losses, new_states = [], []
        for index, (group, s) in enumerate(zip(self.groups, score_parts, strict=True)):
            state = group.state
            if group.uses_state:
                state = _detach(group.spec.next_state(s, group.state))
            new_states.append(state)
            inputs = self._inputs(group, duals, labels, state, False, dual=dual_parts.get(index))
            losses.append(group.spec.loss(s, **inputs))
        loss = torch.cat(losses) if len(losses) > 1 else losses[0]
        total = torch.where(alive, loss, 0.0).sum()
        grads = torch.autograd.grad(total, self.leaves, allow_unused=True)
        grads = [
            torch.zeros_like(p) if g is None else g for p, g in zip(self.leaves, grads, strict=True)
        ]
        with torch.no_grad():
            grad_norm = self.adam.grad_norms(grads)
            loss = loss.detach()
            finite = torch.isfinite(loss) & torch.isfinite(grad_norm)
            if forced is not None:
                finite &= forced != step
            row = self.log_row.get(step)
            if row is not None:
                diagnose = self._diagnosed(row)
                if diagnose:
                    pending.diagnosed.append(len(pending.rows))
                self._embedding_readout(train, row, pending, diagnose=diagnose)
                train.column(schema.LOSS)[row] = loss
                train.column(schema.GRAD_NORM)[row] = grad_norm
                train.times.append(time.perf_counter() - self._t0)
                pending.add(
                    row,
                    step,
                    scores.detach(),
                    {k: v.detach() for k, v in duals.items()},
                    labels,
                    new_states,
                    alive,
                )
            diverged_at = torch.where(alive & ~finite, step, diverged_at)
            alive = alive & finite
        self.adam.step(grads, alive)
        if self.system is not None:  # hook: MoCo momentum update, then enqueue (after the loss)
            self.system.after_step(alive)
        for group, state in zip(self.groups, new_states, strict=True):
            if group.uses_state:
                group.state = _tree_where(alive[group.start : group.stop], state, group.state)
        return alive, diverged_at

    def _flush(self, pending: _Pending, train: _Records) -> Tensor:
        """Evaluate the pending train readouts in one batched float64 pass; first bad step per run."""
        rows = slice(pending.rows[0], pending.rows[-1] + 1)
        if rows.stop - rows.start != len(pending.rows):
            raise RuntimeError("pending readout rows must be consecutive")
        scores64 = torch.stack(pending.scores).double()
        duals = {k: torch.stack([d[k] for d in pending.duals]) for k in self.heads}
        labels = None if pending.labels[0] is None else torch.stack(pending.labels)
        states = [_stack_states([s[g] for s in pending.states]) for g in range(len(self.groups))]
        diagnosed = torch.tensor(pending.diagnosed, dtype=torch.int64, device=self.device)
        with torch.no_grad():
            estimate = self._readout(scores64, duals, labels, states, train, rows, diagnosed)
            if pending.embeddings and pending.embeddings[0]:
                stacked = tuple(
                    torch.stack(parts) for parts in zip(*pending.embeddings, strict=True)
                )
                for name, value in systems.embedding_diagnostics(stacked).items():
                    train.column(name)[diagnosed + rows.start] = value
        bad = ~torch.isfinite(estimate) & torch.stack(pending.alive)
        steps = torch.tensor(pending.steps, dtype=torch.int64, device=self.device).unsqueeze(1)
        pending.clear()
        return torch.where(bad, steps, _NEVER).amin(dim=0)

    def _evaluate(
        self,
        x: Tensor,
        y: Tensor | None,
        labels: Tensor | None,
        perm: Tensor | None,
        evals: _Records,
        step: int,
    ) -> None:
        with torch.no_grad():
            scores = self._scores(x, y, perm, self.eye_eval)
            self._embedding_readout(evals, self.eval_row[step])
            duals = self._duals(x, y)
            states = [g.state for g in self.groups]
            self._readout(scores.double(), duals, labels, states, evals, self.eval_row[step])
        evals.times.append(time.perf_counter() - self._t0)

    def _embedding_readout(
        self,
        records: _Records,
        row: int,
        pending: _Pending | None = None,
        *,
        diagnose: bool = True,
    ) -> None:
        """Hook: alignment/uniformity (systems.py) of the embeddings of the last forward pass,
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
            pairs = systems.embedding_pairs(self.critic, self.layout, self.system)
            if pending is not None:
                pending.embeddings.append(tuple(e.detach() for e in pairs))
            else:
                for name, value in systems.embedding_diagnostics(pairs).items():
                    records.column(name)[row] = value
        for name, value in systems.representation_readout(
            self.critic, self.layout, self.groups
        ).items():
            records.column(name)[row] = value

    def _snapshot(
        self, alive: Tensor, diverged_at: Tensor, train: _Records, evals: _Records
    ) -> dict[str, Any]:
        """Everything a block changes, so it can be replayed exactly."""
        return {
            "optimizer": [t.detach().clone() for t in self.adam.state_tensors()],
            "step_count": self.adam.step_count.clone(),
            "t": self.adam.t,
            "states": [_clone(g.state) for g in self.groups],
            "alive": alive.clone(),
            "diverged_at": diverged_at.clone(),
            "times": (len(train.times), len(evals.times)),
            "system": None if self.system is None else self.system.state(),
        }

    def _checkpoint_state(
        self, steps_done: int, alive: Tensor, diverged_at: Tensor, train: _Records, evals: _Records
    ) -> dict[str, Any]:
        """Everything the steps after ``steps_done`` (a block boundary) read: parameters, Adam
        moments and count, estimator and system state, per-run generators, the records so far."""
        return {
            "format": CHECKPOINT_FORMAT,
            "run_ids": [r.config.cell_hash() for r in self.runs],
            "steps_done": steps_done,
            "snapshot": self._snapshot(alive, diverged_at, train, evals),
            "train": {k: v.clone() for k, v in train.columns.items()},
            "evals": {k: v.clone() for k, v in evals.columns.items()},
            "train_times": list(train.times),
            "eval_times": list(evals.times),
            "elapsed_s": time.perf_counter() - self._t0,
            "data_gens": [g.get_state() for g in self.data_gens],
            "eval_gens": [g.get_state() for g in self.eval_gens],
        }

    def _load_checkpoint(
        self, state: dict[str, Any], train: _Records, evals: _Records
    ) -> tuple[Tensor, Tensor, int]:
        """Inverse of :meth:`_checkpoint_state`; returns alive, diverged_at and the next step."""
        run_ids = [r.config.cell_hash() for r in self.runs]
        if state.get("format") != CHECKPOINT_FORMAT or state.get("run_ids") != run_ids:
            raise ValueError("checkpoint belongs to another stack (run ids or format differ)")
        snapshot = _to_device(state["snapshot"], self.device)
        train.times[:] = state["train_times"]
        evals.times[:] = state["eval_times"]
        alive, diverged_at = self._restore(snapshot, train, evals)
        train.columns = _to_device(state["train"], self.device)
        evals.columns = _to_device(state["evals"], self.device)
        for gen, saved in zip(self.data_gens, state["data_gens"], strict=True):
            gen.set_state(saved)
        for gen, saved in zip(self.eval_gens, state["eval_gens"], strict=True):
            gen.set_state(saved)
        self._t0 = time.perf_counter() - state["elapsed_s"]  # time_s goes on from where it was
        return alive, diverged_at, int(state["steps_done"])

    def _restore(
        self, snapshot: dict[str, Any], train: _Records, evals: _Records
    ) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            # In place: the optimiser's per-run row views must keep pointing at these tensors.
            for tensor, saved in zip(self.adam.state_tensors(), snapshot["optimizer"], strict=True):
                tensor.copy_(saved)
            self.adam.step_count.copy_(snapshot["step_count"])
        self.adam.t = snapshot["t"]
        for group, state in zip(self.groups, snapshot["states"], strict=True):
            group.state = state
        if self.system is not None:
            self.system.load(snapshot["system"])
        n_train, n_eval = snapshot["times"]
        del train.times[n_train:], evals.times[n_eval:]
        return snapshot["alive"], snapshot["diverged_at"]

    # --------------------------------------------------------------------------- output
    def _results(
        self,
        log_steps: list[int],
        eval_steps: list[int],
        train: _Records,
        evals: _Records,
        diverged_at: Tensor,
        wall: float,
    ) -> list[RunResult]:
        host_train = {k: v.cpu().numpy() for k, v in train.columns.items()}
        host_eval = {k: v.cpu().numpy() for k, v in evals.columns.items()}
        diverged = diverged_at.cpu().numpy()
        extras = sorted((set(host_train) | set(host_eval)) - set(schema.COLUMNS))
        # An estimator's extras go to its own runs only, so a run's columns never depend on its
        # stack-mates; the stack-wide ones (embedding and system readouts) go to every run.
        estimator_extras = set().union(*(g.extra_names for g in self.groups))
        own_extras = {
            index: [e for e in extras if e not in estimator_extras or e in group.extra_names]
            for group in self.groups
            for index in range(group.start, group.stop)
        }
        M_train, M_eval = self._matrix_size(self.K), self._matrix_size(self.E)
        truth_cache: dict[int, np.ndarray] = {}
        results: list[RunResult | None] = [None] * self.n_runs
        critic_arch = self.critic.architecture
        for index, run in enumerate(self.runs):
            cfg = run.config
            truth = truth_cache.get(id(run.task))
            if truth is None:
                truth = np.array(
                    [run.task.true_mi(s) for s in range(self.n_steps)], dtype=np.float64
                )
                truth_cache[id(run.task)] = truth
            div_step = int(diverged[index]) if diverged[index] >= 0 else None
            parts = []
            for readout, steps, host, times, size in (
                (schema.READOUT_TRAIN, log_steps, host_train, train.times, M_train),
                (schema.READOUT_EVAL, eval_steps, host_eval, evals.times, M_eval),
            ):
                step_arr = np.asarray(steps, dtype=np.int64)
                after = step_arr > div_step if div_step is not None else np.zeros(len(steps), bool)
                columns: dict[str, Any] = {}
                for name in (*_TRAIN_METRICS, *own_extras[index]):
                    values = (
                        host[name][:, index].copy() if name in host else np.full(len(steps), np.nan)
                    )
                    values[after] = np.nan
                    columns[name] = values
                ceiling = run.spec.ceiling(size)
                parts.append(
                    pd.DataFrame(
                        {
                            schema.STEP: step_arr,
                            schema.READOUT: readout,
                            schema.TRUE_MI: truth[step_arr],
                            schema.LOG_K: math.log(size),
                            schema.CEILING: math.nan if ceiling is None else ceiling,
                            schema.DIVERGED: (
                                step_arr >= div_step
                                if div_step is not None
                                else np.zeros(len(steps), bool)
                            ),
                            schema.TIME_S: np.asarray(times, dtype=np.float64),
                            **columns,
                        }
                    )
                )
            frame = pd.concat(parts, ignore_index=True)
            mi_level = self._mi_level(cfg, truth)
            constants = {
                schema.RUN_ID: cfg.cell_hash(),
                schema.SUITE: cfg.suite,
                schema.ESTIMATOR: cfg.estimator,
                schema.TASK: cfg.task,
                schema.TASK_ID: run.task.id,
                schema.DIM: run.task.dim_x,
                schema.MI_LEVEL: mi_level,
                schema.BATCH_SIZE: cfg.batch_size,
                schema.CRITIC: cfg.critic,
                schema.SEED: cfg.seed,
                schema.DTYPE: cfg.dtype,
                schema.NEGATIVES: cfg.negatives,
            }
            for name, value in constants.items():
                frame[name] = value
            frame = frame[[*schema.COLUMNS, *own_extras[index]]]
            # Hook: the run's system and candidates per anchor for each readout (systems.py).
            frame[systems.SYSTEM] = cfg.system
            frame[systems.K_EFF] = np.where(
                frame[schema.READOUT].to_numpy() == schema.READOUT_TRAIN,
                systems.k_eff(cfg, self.layout, self.K),
                systems.k_eff(cfg, self.layout, self.E),
            )
            head = self.heads.get(self._head_of(run.spec))
            arch, n_params = critic_arch, self.critic.n_parameters
            if head is not None:
                arch = f"{arch} + {head[1].architecture}"
                n_params += head[1].n_parameters
            results[run.position] = RunResult(
                config=cfg,
                frame=frame,
                diverged_step=div_step,
                wall_time_s=wall,
                critic_architecture=arch,
                n_parameters=n_params,
                task_id=run.task.id,
            )
        return [r for r in results if r is not None]

    def _matrix_size(self, n: int) -> int:
        if self.system is not None:  # hook: MoCo's K_eff = Q + 1 sets log_k and the ceiling
            return self.system.queue_size + 1
        return 2 * n if self.layout == "views" else n

    @staticmethod
    def _mi_level(config: RunConfig, truth: np.ndarray) -> float:
        level = dict(config.task_params).get("mi")
        if isinstance(level, int | float) and not isinstance(level, bool):
            return float(level)
        return float(truth[0]) if np.all(truth == truth[0]) else math.nan


def _to_device(state: Any, device: torch.device) -> Any:
    """Tensors of a loaded checkpoint (nested containers) moved to ``device``."""
    if isinstance(state, Tensor):
        return state.to(device)
    if isinstance(state, dict):
        return {k: _to_device(v, device) for k, v in state.items()}
    if isinstance(state, tuple | list):
        return type(state)(_to_device(v, device) for v in state)
    return state


def _clone(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.clone()
    if isinstance(state, dict):
        return {k: _clone(v) for k, v in state.items()}
    if isinstance(state, tuple | list):
        return type(state)(_clone(v) for v in state)
    return state


def _stack_states(states: list[Any]) -> Any:
    """Stack per-step estimator states along a new leading (step) axis."""
    first = states[0]
    if isinstance(first, Tensor):
        return torch.stack(states)
    if isinstance(first, dict):
        return {k: _stack_states([s[k] for s in states]) for k in first}
    if isinstance(first, tuple | list):
        return type(first)(_stack_states(list(parts)) for parts in zip(*states, strict=True))
    return first


def _detach(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, dict):
        return {k: _detach(v) for k, v in state.items()}
    if isinstance(state, tuple | list):
        return type(state)(_detach(v) for v in state)
    return state


def train_stack(
    configs: Sequence[RunConfig | ResolvedRun],
    *,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    tasks: Sequence[Task] | None = None,
    eval_tasks: Sequence[Task] | None = None,
    estimators: Sequence[Estimator] | None = None,
    stop: StopRule | None = None,
    checkpoint: Checkpoint | None = None,
    resume_from: dict[str, Any] | None = None,
) -> list[RunResult]:
    """Train every config in ``configs`` as one stacked computation; one result per config, in order.

    Args:
        configs: runs sharing :func:`stack_key` (else ValueError naming the differing field):
            configs, resolved (and checked) here by :func:`mibench.resolve.resolve_run`, or
            :class:`~mibench.resolve.ResolvedRun` records, trained as they are.
        device: where parameters, data blocks and records live ("cpu", "cuda", ...).
        progress: called with the number of steps done after every data block.
        tasks: optional task objects, one per config, used instead of building
            ``config.task``/``task_params`` from the registry (e.g. a user's data set).
        estimators: optional estimator specs, one per config, used instead of the registry's
            ``config.estimator`` (e.g. a user-written :class:`~mibench.interface.Estimator`,
            trained without registering it); ``config.estimator_params`` apply on top.
        eval_tasks: optional tasks, one per config, that the held-out "eval" batches are drawn
            from (e.g. a held-out split); default: the training task. Dims must match.
        stop: optional early-stopping rule, called after every data block with the eval steps
            done so far and their eval estimates ``(n_done, R)``; True ends training there (every
            run of the stack stops; the frames end at the block's last step). Default: never.
        checkpoint: called after every data block but the last as ``checkpoint(steps_done,
            state)``; ``state()`` builds the stack's full state (a dict of tensors and plain
            values, for ``torch.save``) only when the callback decides to keep one.
        resume_from: such a state: training goes on from its step, bit for bit as if never
            stopped (same device and thread count); ValueError if it belongs to other runs.
    Returns:
        ``RunResult`` per config, in the order given.
    """
    runs = resolve_runs(list(configs), tasks=tasks, estimators=estimators)
    check_stack(runs, eval_tasks)
    lone = len(runs) == 1
    if lone:  # trained as a stack of two copies of itself: see _LONE_RUN_COPIES
        runs = runs * _LONE_RUN_COPIES
        eval_tasks = None if eval_tasks is None else list(eval_tasks) * _LONE_RUN_COPIES
    stack = _Stack(runs, torch.device(device), eval_tasks=eval_tasks)
    results = stack.run(progress, stop, checkpoint, resume_from)
    return results[:1] if lone else results
