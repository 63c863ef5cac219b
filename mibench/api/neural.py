r"""The neural path of :func:`mibench.estimate_mi`: a critic trained on a train/held-out split.

It runs the benchmark's own code path on an :class:`~mibench.api.empirical.EmpiricalTask`: the
same :class:`~mibench.core.interface.RunConfig`, the same stacked trainer
(:func:`mibench.train.train_stack`) and the same per-step frame as ``mibench run``:

1. the rows are split once at random into training rows (1 - ``heldout_fraction``) and two equal
   held-out halves, *validation* and *test*;
2. each coordinate is mapped by an MI-preserving monotone map fitted on the training rows
   (:mod:`mibench.api.preprocess`);
3. the critic trains on batches of training rows; every ``eval_every`` steps the estimator is
   evaluated on a held-out batch, alternately from the validation and the test half;
4. training stops once the smoothed validation curve has not improved for ``patience``
   evaluations, and the estimate is read from the *test* readouts around the best validation
   window (:mod:`mibench.api.readout`).

For the interval (:mod:`mibench.api.interval`, γ ∈ {1, 2}) the same is done on each half of the
rows (cut at random), and the three runs train as one stack: in one computation, which costs
little more than the single run (a lone run is trained as a stack of two copies anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from mibench.api import interval as api_interval
from mibench.api import preprocess as api_data
from mibench.api import readout as api_readout
from mibench.api.empirical import EMPIRICAL_TASK, AlternatingSplits, EmpiricalTask, digest
from mibench.core.interface import Estimator, RunConfig
from mibench.results import schema

API_SUITE = "estimate_mi"
LOG_EVERY = 5  # train readouts: every 5th step is plenty for train_estimate and the trace
SPLIT_COLUMN = "split"  # trace column: "train", "validation" or "test"
PARTS = ("all", "half 1", "half 2")  # the runs of the stack, in order


class TrainingDivergedError(ValueError):
    """Training produced NaN/Inf (loss, gradient or estimate): usually a too large ``lr``."""


@dataclass(frozen=True)
class NeuralSettings:
    """Everything the neural path needs, checked (names as :func:`mibench.estimate_mi`'s)."""

    spec: Estimator
    critic: str
    critic_params: Mapping[str, Any]
    steps: int
    batch_size: int
    lr: float
    heldout_fraction: float
    seed: int
    eval_every: int
    eval_batch_size: int | None
    early_stopping: bool
    patience: int
    window: int
    readout: str
    mode: str
    dtype: str
    device: str


@dataclass(frozen=True)
class Part:
    """One run of the stack: its rows' tasks and its config."""

    label: str
    train: EmpiricalTask
    heldout: AlternatingSplits
    config: RunConfig


@dataclass(frozen=True)
class NeuralReading:
    """The full-data run's readout, frame and stopping, and the subsample fit (or None)."""

    reading: api_readout.Readout
    frame: pd.DataFrame
    part: Part
    fired_at: int | None
    critic_architecture: str
    n_parameters: int
    fit: api_interval.Extrapolation | None


def split_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random disjoint row indices: training, validation, test (the held-out part halved)."""
    n_heldout = max(4, round(fraction * n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    half = n_heldout // 2
    return order[n_heldout:], order[:half], order[half:n_heldout]


def _prepare(
    name: str, values: np.ndarray, rows: tuple[np.ndarray, ...], mode: str
) -> list[torch.Tensor]:
    train, *others = (values[r] for r in rows)
    if mode == "gaussianize":
        train, others = api_data.gaussianize(name, train, others)
    elif mode == "standardize":
        train, others = api_data.robust_standardize(name, train, others)
    else:
        api_data.check_float32_range(name, values)
    return [torch.as_tensor(part) for part in (train, *others)]


def _tasks(
    x: np.ndarray, y: np.ndarray, settings: NeuralSettings, data_digest: str
) -> tuple[EmpiricalTask, AlternatingSplits]:
    rows = split_rows(x.shape[0], settings.heldout_fraction, settings.seed)
    x_train, x_val, x_test = _prepare("x", x, rows, settings.mode)
    y_train, y_val, y_test = _prepare("y", y, rows, settings.mode)
    train = EmpiricalTask(x_train, y_train, split="train", data_digest=data_digest)
    halves = (
        EmpiricalTask(x_val, y_val, split="validation", data_digest=data_digest),
        EmpiricalTask(x_test, y_test, split="test", data_digest=data_digest),
    )
    return train, AlternatingSplits(halves, eval_every=settings.eval_every)


def _config(
    settings: NeuralSettings, part: str, train: EmpiricalTask, ranks: str, eval_batch_size: int
) -> RunConfig:
    return RunConfig.make(
        estimator=settings.spec.name,
        task=EMPIRICAL_TASK,
        task_params={
            "data_ranks": ranks,
            "n": train.n,
            "rows": part,
            "dim_x": train.dim_x,
            "dim_y": train.dim_y,
            "heldout_fraction": float(settings.heldout_fraction),
            "preprocessing": settings.mode,
            "early_stopping": [settings.window, settings.patience]
            if settings.early_stopping
            else None,
        },
        estimator_params=dict(settings.spec.hyper),
        critic=settings.critic,
        critic_params=dict(settings.critic_params),
        batch_size=settings.batch_size,
        n_steps=settings.steps,
        lr=float(settings.lr),
        seed=settings.seed,
        dtype=settings.dtype,
        eval_every=settings.eval_every,
        eval_batch_size=eval_batch_size,
        log_every=LOG_EVERY,
        suite=API_SUITE,
        device=settings.device,
    )


def _eval_batch_size(settings: NeuralSettings, heldouts: list[AlternatingSplits]) -> int:
    """The user's value, checked, or the default: one value for every run of the stack."""
    smallest = min(h.n for h in heldouts)
    if settings.eval_batch_size is None:
        # Half of a held-out half: readouts then differ by rows, which the stderr needs.
        return max(2, min(4 * settings.batch_size, smallest // 2))
    if settings.eval_batch_size > smallest:
        raise ValueError(
            f"eval_batch_size {settings.eval_batch_size} exceeds the {smallest} rows of a held-out "
            "half; lower it, raise heldout_fraction or give more samples"
        )
    return settings.eval_batch_size


def plan_parts(
    x: np.ndarray, y: np.ndarray, settings: NeuralSettings, *, halves: bool
) -> list[Part]:
    """The runs to train: all rows, and (``halves``) each random half when it holds a training
    batch and an eval batch."""
    data_digest = digest(torch.as_tensor(x), torch.as_tensor(y))
    # The config (whose hash seeds the critic's initialisation and the batches) names the data by
    # their per-column ranks: rescaled or monotonically mapped data get the same seeds, so the
    # same estimate (MI is invariant under such maps). The exact bytes name the task instead.
    ranks = digest(*(torch.as_tensor(api_data.ranks(v)) for v in (x, y)))
    row_sets = [np.arange(len(x))]
    if halves:
        row_sets += api_interval.subset_rows(len(x), 2, seed=settings.seed)
    tasks = [_tasks(x[rows], y[rows], settings, data_digest) for rows in row_sets]
    if tasks[0][0].n < settings.batch_size:
        raise ValueError(
            f"batch_size {settings.batch_size} exceeds the {tasks[0][0].n} training rows; "
            "lower it or give more samples"
        )
    wanted = settings.eval_batch_size or 2
    if any(t.n < settings.batch_size or h.n < wanted for t, h in tasks[1:]):
        tasks = tasks[:1]  # halves too small for a batch: no subsample fit
    eval_batch = _eval_batch_size(settings, [heldout for _, heldout in tasks])
    return [
        Part(label, train, heldout, _config(settings, label, train, ranks, eval_batch))
        for label, (train, heldout) in zip(PARTS, tasks, strict=False)
    ]


def train_parts(
    parts: list[Part], settings: NeuralSettings
) -> tuple[list[Any], list[api_readout.EarlyStopping | None]]:
    """Train every part as one stack; the results and each part's stopping rule."""
    from mibench import train
    from mibench.plan import resolve

    critic_spec = resolve.critic_spec(settings.critic)
    reason = resolve.compatibility(settings.spec, parts[0].train, critic_spec)
    if reason is not None:
        raise ValueError(
            f"estimator {settings.spec.name!r} with critic {settings.critic!r} does not apply: {reason}"
        )
    rules: list[api_readout.EarlyStopping | None] = [
        api_readout.EarlyStopping(settings.eval_every, settings.window, settings.patience, column=j)
        if settings.early_stopping
        else None
        for j in range(len(parts))
    ]
    live = [rule for rule in rules if rule is not None]
    stop = api_readout.AllStopped(live) if live else None
    # Checked above (estimate_mi's arguments are the runs' settings), so resolved directly.
    runs = [
        resolve.ResolvedRun(
            p.config, resolve.resolve_estimator(p.config, settings.spec), p.train, critic_spec
        )
        for p in parts
    ]
    heldouts = [p.heldout for p in parts]
    results = train.train_stack(runs, device=settings.device, eval_tasks=heldouts, stop=stop)
    return results, rules


def _check_finite(result: Any, values: np.ndarray, lr: float) -> None:
    if result.diverged_step is not None or not np.all(np.isfinite(values)):
        step = result.diverged_step
        where = f"at step {step}" if step is not None else "(NaN/Inf held-out estimate)"
        raise TrainingDivergedError(
            f"training diverged {where} with lr={lr:g}: loss, gradient or estimate became "
            "NaN/Inf; lower lr"
        )


def read_part(result: Any, part: Part, settings: NeuralSettings) -> api_readout.Readout:
    """The readout of one trained part (:func:`mibench.api.readout.read_out`), its frame labelled."""
    frame = result.frame
    evals = frame[frame[schema.READOUT] == schema.READOUT_EVAL]
    values = evals[schema.ESTIMATE].to_numpy()
    _check_finite(result, values, settings.lr)
    split_names = np.array(["validation", "test"])
    frame[SPLIT_COLUMN] = np.where(
        frame[schema.READOUT].to_numpy() == schema.READOUT_EVAL,
        split_names[api_readout.split_of(frame[schema.STEP].to_numpy(), settings.eval_every)],
        "train",
    )
    return api_readout.read_out(
        evals[schema.STEP].to_numpy(),
        values,
        eval_every=settings.eval_every,
        window=settings.window,
        readout=settings.readout,
        eval_batch_size=part.config.resolved_eval_batch_size,
        test_rows=part.heldout.splits[1].n,
    )


def neural_estimate(
    x: np.ndarray, y: np.ndarray, settings: NeuralSettings, *, with_interval: bool = True
) -> NeuralReading:
    """Train on all rows (and on each half, for the interval) and read every run out.

    The fit's noise floor is the full run's ``stderr`` (held-out sampling noise).
    """
    parts = plan_parts(x, y, settings, halves=with_interval)
    results, rules = train_parts(parts, settings)
    readings = [
        read_part(result, part, settings) for result, part in zip(results, parts, strict=True)
    ]
    fit = None
    if len(parts) == 3:
        estimates = {1: [readings[0].estimate], 2: [r.estimate for r in readings[1:]]}
        fit = api_interval.extrapolate(estimates, noise_floor=readings[0].stderr)
    rule = rules[0]
    return NeuralReading(
        reading=readings[0],
        frame=results[0].frame,
        part=parts[0],
        fired_at=None if rule is None else rule.fired_at,
        critic_architecture=results[0].critic_architecture,
        n_parameters=results[0].n_parameters,
        fit=fit,
    )
