r"""One call for users' own data: :func:`estimate_mi`.

It runs the benchmark's own code path on an :class:`~mibench.empirical.EmpiricalTask`: the same
:class:`~mibench.interface.RunConfig`, the same stacked trainer (:func:`mibench.train.train_stack`,
a stack of one run), the same per-step frame and the same evaluation window as ``mibench run``.
Only the task differs: the rows are split once into a training part and a held-out part, the
critic trains on batches of the first and the ``eval`` readout is computed on fresh batches of the
second.

Returned estimate (over the evaluation window, the last ``EVAL_FRACTION`` = 20 % of the steps):

.. math::  \hat I = \frac1n \sum_{t \in W} \hat I^{\rm held\text{-}out}_t, \qquad
           \mathrm{SE} = \frac{\operatorname{sd}_{t \in W}\big(\hat I^{\rm held\text{-}out}_t\big)}{\sqrt n}

where :math:`\hat I^{\rm held\text{-}out}_t` is the estimator's value on a held-out batch of
``eval_batch_size`` distinct rows at step t (every ``eval_every`` steps) and n the number of such
readouts in the window. The standard error measures the batch-to-batch noise of the held-out
readout; it does not include the sampling error of the finite data set itself (bootstrap the rows
for that) nor the estimator's bias, which the benchmark suites measure on tasks with known truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from mibench.empirical import EMPIRICAL_TASK, EmpiricalTask, as_matrix, digest
from mibench.interface import RunConfig
from mibench.results import schema
from mibench.results.summary import window_start

DEFAULT_ESTIMATOR = "smile"
DEFAULT_CRITIC = "separable"
DEFAULT_STEPS = 2000
DEFAULT_BATCH_SIZE = 128
DEFAULT_LR = 5e-4
DEFAULT_HELDOUT_FRACTION = 0.2
EVAL_READOUTS = 50  # held-out readouts per run by default: 10 of them fall in the window
API_SUITE = "estimate_mi"


@dataclass(frozen=True)
class MIEstimate:
    """The result of :func:`estimate_mi`.

    Attributes:
        estimate: held-out MI estimate in nats (mean over the evaluation window).
        stderr: its standard error (see the module docstring for what it covers).
        n_readouts: held-out readouts averaged.
        train_estimate: the same window mean of the training-batch readout.
        trace: the run's per-step frame (``readout`` "train" and "eval"; columns of
            :mod:`mibench.results.schema`).
        config: the run's config (its ``cell_hash()`` identifies data digest + settings).
        diverged_step: first NaN/Inf step, or None.
        critic_architecture: the critic trained.
        n_parameters: its parameter count.
        n_train: rows used for training.
        n_heldout: rows held out.
    """

    estimate: float
    stderr: float
    n_readouts: int
    train_estimate: float
    trace: pd.DataFrame
    config: RunConfig
    diverged_step: int | None
    critic_architecture: str
    n_parameters: int
    n_train: int
    n_heldout: int


def _int_at_least(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _split(
    x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    n = x.shape[0]
    n_heldout = max(1, round(fraction * n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held, train = order[:n_heldout], order[n_heldout:]
    return x[train], y[train], x[held], y[held]


def _standardize(train: torch.Tensor, held: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Per-coordinate affine maps are invertible, so MI is unchanged; statistics from the training
    # rows only, so the held-out part stays unseen.
    mean = train.mean(dim=0)
    scale = train.std(dim=0).clamp_min(1e-12)
    return (train - mean) / scale, (held - mean) / scale


def estimate_mi(
    x: Any,
    y: Any,
    *,
    estimator: str = DEFAULT_ESTIMATOR,
    critic: str = DEFAULT_CRITIC,
    steps: int = DEFAULT_STEPS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float = DEFAULT_LR,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    critic_params: Mapping[str, Any] | None = None,
    estimator_params: Mapping[str, float] | None = None,
    eval_every: int | None = None,
    eval_batch_size: int | None = None,
    standardize: bool = True,
    dtype: str = "float32",
    device: str = "cpu",
) -> MIEstimate:
    """Estimate I(X; Y) in nats from paired samples by training a critic; see the module docstring.

    Args:
        x: ``(n,)`` or ``(n, d_x)`` array-like (NumPy, torch, lists); row i pairs with ``y[i]``.
        y: ``(n,)`` or ``(n, d_y)``.
        estimator: a registered pairs-layout estimator (``mibench list estimators``).
        critic: a registered critic (``mibench list critics``); ``critic_params`` over its defaults.
        steps: training steps. batch_size: K pairs per step (>= 2, <= training rows).
        lr: Adam learning rate. heldout_fraction: share of rows held out, in (0, 1).
        seed: seeds the split, the critic's initialisation and the batches.
        estimator_params: hyperparameters over the estimator's defaults.
        eval_every: held-out readout period (default ``max(1, steps // 50)``).
        eval_batch_size: held-out batch (default ``min(4 * batch_size, held-out rows)``).
        standardize: z-score each coordinate with training-split statistics (MI-preserving).
        dtype: "float32" or "float64" training precision. device: "cpu", "cuda", ...
    Returns:
        :class:`MIEstimate`.
    Raises:
        ValueError: naming the bad argument (unknown names list the valid ones).
    """
    from mibench import critics, estimators, train

    x_all, y_all = as_matrix("x", x), as_matrix("y", y)
    if x_all.shape[0] != y_all.shape[0]:
        raise ValueError(
            f"x and y need the same number of rows, got {x_all.shape[0]} and {y_all.shape[0]}"
        )
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {heldout_fraction!r}")
    steps = _int_at_least("steps", steps, 1)
    batch_size = _int_at_least("batch_size", batch_size, 2)
    seed = _int_at_least("seed", seed, 0)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"invalid dtype {dtype!r}; valid choices: float32, float64")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    spec = estimators.get(estimator)
    if estimator_params:
        spec = spec.with_hyper(**estimator_params)
    resolved_critic = critics.resolve_params(critic, dict(critic_params or {}))
    data_digest = digest(x_all, y_all)
    x_train, y_train, x_held, y_held = _split(x_all, y_all, heldout_fraction, seed)
    if standardize:
        x_train, x_held = _standardize(x_train, x_held)
        y_train, y_held = _standardize(y_train, y_held)
    if x_train.shape[0] < batch_size:
        raise ValueError(
            f"batch_size {batch_size} exceeds the {x_train.shape[0]} training rows; "
            "lower it or give more samples"
        )
    if x_held.shape[0] < 2:
        raise ValueError(f"only {x_held.shape[0]} held-out rows; raise heldout_fraction or n")
    train_task = EmpiricalTask(x_train, y_train, split="train", data_digest=data_digest)
    heldout_task = EmpiricalTask(x_held, y_held, split="heldout", data_digest=data_digest)
    reason = train.compatibility(estimator, train_task, critic)
    if reason is not None:
        raise ValueError(f"estimator {estimator!r} with critic {critic!r} does not apply: {reason}")
    eval_every = max(1, steps // EVAL_READOUTS) if eval_every is None else eval_every
    eval_every = _int_at_least("eval_every", eval_every, 1)
    default_eval = min(4 * batch_size, heldout_task.n)
    eval_batch_size = default_eval if eval_batch_size is None else eval_batch_size
    eval_batch_size = _int_at_least("eval_batch_size", eval_batch_size, 2)
    if eval_batch_size > heldout_task.n:
        raise ValueError(
            f"eval_batch_size {eval_batch_size} exceeds the {heldout_task.n} held-out rows"
        )
    config = RunConfig.make(
        estimator=estimator,
        task=EMPIRICAL_TASK,
        task_params={
            "data": data_digest,
            "n": int(x_all.shape[0]),
            "dim_x": train_task.dim_x,
            "dim_y": train_task.dim_y,
            "heldout_fraction": float(heldout_fraction),
            "standardize": bool(standardize),
        },
        estimator_params=dict(spec.hyper),
        critic=critic,
        critic_params=resolved_critic,
        batch_size=batch_size,
        n_steps=steps,
        lr=float(lr),
        seed=seed,
        dtype=dtype,
        eval_every=eval_every,
        eval_batch_size=eval_batch_size,
        log_every=1,
        suite=API_SUITE,
        device=device,
    )
    (result,) = train.train_stack(
        [config], device=device, tasks=[train_task], eval_tasks=[heldout_task]
    )
    frame = result.frame
    start = window_start(0, steps)
    window = frame[frame[schema.STEP] >= start]
    held = window.loc[window[schema.READOUT] == schema.READOUT_EVAL, schema.ESTIMATE].to_numpy()
    trained = window.loc[window[schema.READOUT] == schema.READOUT_TRAIN, schema.ESTIMATE]
    n_readouts = len(held)
    stderr = float(held.std(ddof=1) / math.sqrt(n_readouts)) if n_readouts > 1 else math.nan
    return MIEstimate(
        estimate=float(held.mean()) if n_readouts else math.nan,
        stderr=stderr,
        n_readouts=n_readouts,
        train_estimate=float(trained.mean()),
        trace=frame,
        config=config,
        diverged_step=result.diverged_step,
        critic_architecture=result.critic_architecture,
        n_parameters=result.n_parameters,
        n_train=train_task.n,
        n_heldout=heldout_task.n,
    )
