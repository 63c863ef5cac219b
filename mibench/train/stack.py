r"""The stacked trainer: R runs with equal shapes trained as ONE computation.

Per step, for all runs at once: one critic forward giving scores ``(R, K, K)`` (batched matmuls over
parameters ``(R, ...)``), per-run losses (one vectorised call per estimator group), one backward of
their sum, one Adam step over the stacked tensors (:class:`~mibench.train.adam.StackedAdam`, per-run
learning rate). The runs arrive resolved and checked (:mod:`mibench.plan.resolve`: a config's names
become a :class:`~mibench.plan.resolve.ResolvedRun`, checked once, and :func:`~mibench.plan.resolve.stack_runs`
puts a stack's runs in order). Nothing mixes runs, so run r's numbers are those it would get alone:

* its parameters are drawn from its own generator (stream ``init``, seeded from its cell hash);
* its training data come from its own ``data`` stream, in blocks of T steps drawn with ONE
  ``task.sample(T*K, ...)`` call per run (:mod:`mibench.train.batches`), T fixed by the shapes
  (never by the stack size R);
* its held-out batches (``eval_batch_size``, default 4K) come from a separate ``eval`` stream.

Negatives (``config.negatives``: ``"offdiag"``, the full K x K matrix, or ``"derangement"``,
one shuffled partner per row) and what the estimator sees under each contrastive system (in-batch,
CLIP, MoCo) are the system's business: :mod:`mibench.systems`.

Divergence: a run whose loss, gradient norm or (at logged steps) estimate is NaN/Inf at step t is
frozen from t on: the fused Adam kernel skips its update (p, m, v and the estimator state stay bit
for bit), with the decision made on device (``torch.where``, no host sync); its rows from step t on
are flagged ``diverged`` and its metrics after t are NaN. The other runs go on unchanged. Loss and
gradient are checked every step. The float64 estimates are computed in batches (below), so a run
whose *estimate alone* turns NaN/Inf is found at the end of the block: the block is then replayed
from a snapshot taken at its start (same pre-drawn data, so every other run repeats bit for bit)
with that run frozen at that step. One host read per block decides whether to replay.

Readouts (the "train" rows every ``log_every`` steps, the held-out "eval" rows every
``eval_every`` steps, both in float64): :mod:`mibench.train.readout`; their frames:
:mod:`mibench.train.frames`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mibench import critics as critic_registry
from mibench import systems
from mibench.core import rng
from mibench.core.interface import Estimator, RunConfig, Task
from mibench.plan.resolve import ResolvedRun, check_stack, resolve_runs, stack_runs, task_entropy_y
from mibench.results import schema
from mibench.train import batches, frames, groups, snapshots, trees
from mibench.train.adam import StackedAdam
from mibench.train.buffers import Pending, Records
from mibench.train.readout import NEVER, StackReadout
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
DTYPES = {"float32": torch.float32, "float64": torch.float64}
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


class _Stack(StackReadout):
    """One stacked computation: the critic, dual heads, optimiser and per-run streams of R runs."""

    def __init__(
        self,
        runs: Sequence[ResolvedRun],
        device: torch.device,
        eval_tasks: Sequence[Task] | None = None,
    ) -> None:
        # Checked where they were resolved (mibench.plan.resolve.check_run) and as one stack by
        # train_stack (check_stack); each estimator as its contrastive system presents it.
        self.runs = runs = stack_runs(runs, eval_tasks, present=systems.wrap_estimator)
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
        # Per dual kind, its runs and head (what the readout and the frames name); the heads are
        # trained and evaluated as head passes, where heads of one input width share one MLP.
        self.heads = groups.build_heads(runs, first, self.dim_x, self.dim_y, self.dtype, device)
        self.head_passes = groups.head_passes(self.heads)
        for head_pass in self.head_passes:
            for leaf in head_pass.head.parameters():
                self.leaves.append(leaf)
                self.slices.append(head_pass.runs)
        self.groups = groups.groups_of(runs)
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
        self.system = systems.build(
            systems.SystemInputs(
                self.critic, [r.config for r in runs], [r.task for r in runs], self.layout,
                self.negatives, self.dtype, device,
            )
        )  # fmt: skip

    # ----------------------------------------------------------------------------- data
    def _block_steps(self) -> int:
        per_step = self.K * (self.dim_x + (self.dim_y if self.layout != "labels" else 0))
        return max(1, min(MAX_BLOCK_STEPS, BLOCK_ELEMENTS // per_step))

    def _draw(
        self, gens: list[torch.Generator], steps: list[int], n: int, *, held_out: bool = False
    ) -> batches.Block:
        return batches.draw(
            self.runs, gens, steps, n, layout=self.layout, negatives=self.negatives,
            dtype=self.dtype, device=self.device, held_out=held_out,
        )  # fmt: skip

    # -------------------------------------------------------------------------- forward
    def _duals(self, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        outputs: dict[str, Tensor] = {}
        for head_pass in self.head_passes:
            outputs.update(head_pass.forward(x, y))
        return outputs

    def _inputs(
        self,
        group: groups.Group,
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

    def _diagnosed(self, row: int) -> bool:
        """Whether train row ``row`` gets the K^2 diagnostics (every N-th row and the last)."""
        return row % DIAGNOSTICS_EVERY == 0 or row == len(self.log_row) - 1

    # ----------------------------------------------------------------------------- loop
    def _schedule(self, every: int) -> list[int]:
        """Steps 0, every, 2 every, ... and the last step (the logged or the evaluated steps)."""
        steps = list(range(0, self.n_steps, every))
        return steps if steps[-1] == self.n_steps - 1 else [*steps, self.n_steps - 1]

    def run(
        self,
        progress: Progress | None,
        stop: StopRule | None = None,
        checkpoint: Checkpoint | None = None,
        resume_from: dict[str, Any] | None = None,
    ) -> list[RunResult]:
        R, device = self.n_runs, self.device
        log_steps, eval_steps = self._schedule(self.log_every), self._schedule(self.eval_every)
        self.log_row = {s: i for i, s in enumerate(log_steps)}
        self.eval_row = {s: i for i, s in enumerate(eval_steps)}
        train = Records(len(log_steps), R, torch.float64, device)
        evals = Records(len(eval_steps), R, torch.float64, device)
        alive = torch.ones(R, dtype=torch.bool, device=device)
        diverged_at = torch.full((R,), -1, dtype=torch.int64, device=device)
        self._t0 = time.perf_counter()
        block = self._block_steps()
        start = 0
        if resume_from is not None:
            alive, diverged_at, start, elapsed = snapshots.load_checkpoint(
                self, resume_from, train, evals
            )
            self._t0 = time.perf_counter() - elapsed  # time_s goes on from where it was
        for block_start in range(start, self.n_steps, block):
            steps = list(range(block_start, min(self.n_steps, block_start + block)))
            data = self._draw(self.data_gens, steps, self.K)
            eval_in_block = [s for s in steps if s in self.eval_row]
            eval_data = (
                self._draw(self.eval_gens, eval_in_block, self.E, held_out=True)
                if eval_in_block
                else None
            )
            snapshot = snapshots.snapshot(self, alive, diverged_at, train, evals)
            alive, diverged_at, first_bad = self._block(
                steps, data, eval_in_block, eval_data, alive, diverged_at, None, train, evals
            )
            # One host read per block: did a logged estimate turn NaN/Inf while loss and gradient
            # stayed finite? Then replay the block from its snapshot with that run frozen at
            # that step (the block's data are kept, so every other run replays bit for bit).
            bad = first_bad < NEVER
            if bool(bad.any()):
                alive, diverged_at = snapshots.restore(self, snapshot, train, evals)
                forced = torch.where(bad, first_bad, -1)
                alive, diverged_at, _ = self._block(
                    steps, data, eval_in_block, eval_data, alive, diverged_at, forced, train, evals
                )
            if checkpoint is not None and steps[-1] + 1 < self.n_steps:
                checkpoint(
                    steps[-1] + 1,
                    lambda a=alive, d=diverged_at, n=steps[-1] + 1: snapshots.checkpoint_state(
                        self, n, a, d, train, evals, time.perf_counter() - self._t0
                    ),
                )
            if progress is not None:
                progress(steps[-1] + 1)
            if stop is not None and self._should_stop(stop, eval_steps, evals, steps[-1]):
                log_steps = train.keep_trained(log_steps, steps[-1])
                eval_steps = evals.keep_trained(eval_steps, steps[-1])
                break
        wall = time.perf_counter() - self._t0
        return self._results(log_steps, eval_steps, train, evals, diverged_at, wall)

    @staticmethod
    def _should_stop(stop: StopRule, eval_steps: list[int], evals: Records, last: int) -> bool:
        done = np.asarray([s for s in eval_steps if s <= last], dtype=np.int64)
        if len(done) == 0 or schema.ESTIMATE not in evals.columns:
            return False
        return bool(stop(done, evals.columns[schema.ESTIMATE][: len(done)].cpu().numpy()))

    def _block(
        self,
        steps: list[int],
        data: batches.Block,
        eval_in_block: list[int],
        eval_data: batches.Block | None,
        alive: Tensor,
        diverged_at: Tensor,
        forced: Tensor | None,
        train: Records,
        evals: Records,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Train one block of steps; returns alive, diverged_at and each run's first bad estimate."""
        first_bad = torch.full_like(diverged_at, NEVER)
        pending = Pending()
        capacity = max(1, READOUT_ELEMENTS // (self.n_runs * self.system.matrix_size(self.K) ** 2))
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
        train: Records,
        pending: Pending,
    ) -> tuple[Tensor, Tensor]:
        scores = self.system.scores(x, y, perm, self.eye)
        duals = self._duals(x, y)
        score_parts, dual_parts = groups.split_parts(self.groups, self.heads, scores, duals)
        losses, new_states = [], []
        for index, (group, s) in enumerate(zip(self.groups, score_parts, strict=True)):
            state = group.state
            if group.uses_state:
                state = trees.detach(group.spec.next_state(s, group.state))
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
        self.system.after_step(alive)  # e.g. MoCo: momentum update, then enqueue (after the loss)
        for group, state in zip(self.groups, new_states, strict=True):
            if group.uses_state:
                group.state = trees.where_runs(alive[group.start : group.stop], state, group.state)
        return alive, diverged_at

    # --------------------------------------------------------------------------- output
    def _results(
        self,
        log_steps: list[int],
        eval_steps: list[int],
        train: Records,
        evals: Records,
        diverged_at: Tensor,
        wall: float,
    ) -> list[RunResult]:
        readouts = tuple(
            frames.host_readout(
                name,
                steps,
                records.columns,
                records.times,
                batch=batch,
                matrix_size=self.system.matrix_size(batch),
            )
            for name, steps, records, batch in (
                (schema.READOUT_TRAIN, log_steps, train, self.K),
                (schema.READOUT_EVAL, eval_steps, evals, self.E),
            )
        )
        return frames.run_results(
            self.runs,
            self.groups,
            readouts,
            diverged_at.cpu().numpy(),
            layout=self.layout,
            n_steps=self.n_steps,
            described=[frames.described(self.critic, self.heads, run.spec) for run in self.runs],
            wall=wall,
        )


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
        configs: runs sharing :func:`~mibench.plan.resolve.stack_key` (else ValueError naming the
            differing field): configs, resolved (and checked) here by
            :func:`mibench.plan.resolve.resolve_run`, or :class:`~mibench.plan.resolve.ResolvedRun`
            records, trained as they are.
        device: where parameters, data blocks and records live ("cpu", "cuda", ...).
        progress: called with the number of steps done after every data block.
        tasks: optional task objects, one per config, used instead of building
            ``config.task``/``task_params`` from the registry (e.g. a user's data set).
        eval_tasks: optional tasks, one per config, that the held-out "eval" batches are drawn
            from (e.g. a held-out split); default: the training task. Dims must match.
        estimators: optional estimator specs, one per config, used instead of the registry's
            ``config.estimator`` (e.g. a user-written :class:`~mibench.core.interface.Estimator`,
            trained without registering it); ``config.estimator_params`` apply on top.
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
