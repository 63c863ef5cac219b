r"""One call for users' own data: :func:`estimate_mi`.

It runs the benchmark's own code path on an :class:`~mibench.api.empirical.EmpiricalTask`: the same
:class:`~mibench.core.interface.RunConfig`, the same stacked trainer (:func:`mibench.train.train_stack`,
a stack of one run) and the same per-step frame as ``mibench run``. Only the task differs:

1. the rows are checked and converted (:mod:`mibench.api.preprocess`: NumPy, pandas, torch or lists;
   a transposed ``(d, n)`` array, complex values, NaN/Inf or a constant column is a ValueError);
2. they are split once at random into training rows (1 - ``heldout_fraction``) and two equal
   held-out halves, *validation* and *test*;
3. each coordinate is mapped by an MI-preserving monotone map fitted on the training rows: normal
   scores of its empirical CDF (``gaussianize=True``, the default; removes heavy tails) or a
   robust standardisation (median / IQR, scale-free);
4. the critic trains on batches of training rows; every ``eval_every`` steps the estimator is
   evaluated on a held-out batch, alternately from the validation and the test half;
5. training stops early once the smoothed validation curve has not improved for ``patience``
   evaluations, and the estimate is read from the *test* readouts around the best validation
   window (:mod:`mibench.api.readout`, where the readouts ``"test"`` (default, not optimistic) and
   ``"max"`` (BMI's, optimistic) are defined, with the overfitting and wild-readout warnings).

The standard error (:mod:`mibench.api.readout`) approximates the sampling error of the test rows
(each test readout sees a random half of them) plus the readouts' own noise; it does not include
the randomness of the training rows (bootstrap them for that) nor the estimator's bias, which the
benchmark suites measure on tasks with known truth.

Defaults (InfoNCE, separable critic 64-64 -> 16, batch 256, lr 2e-3, gaussianize, early stopping)
come from a measured study on six tasks of BMI's list ("Beyond Normal", Czyż et al. 2023),
n = 5000, seeds 0 and 1, reproduced by ``benchmarks/study_estimate_mi.py``: mean absolute error
0.125 nats against 0.234 for BMI's own InfoNCE at its defaults on the same arrays (see
benchmarks/README.md for the table and the wall times).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from mibench.api import preprocess as api_data
from mibench.api import readout as api_readout
from mibench.api.empirical import EMPIRICAL_TASK, AlternatingSplits, EmpiricalTask, digest
from mibench.core.interface import Estimator, RunConfig
from mibench.results import schema

DEFAULT_ESTIMATOR = "infonce"
DEFAULT_CRITIC = "separable"
# Used when critic_params is None (else the critic registry's defaults apply).
TUNED_CRITIC_PARAMS: dict[str, dict[str, Any]] = {
    "separable": {"hidden": [64, 64], "embed_dim": 16},
    "concat": {"hidden": [16, 8]},  # BMI's default critic
}
DEFAULT_STEPS = 4000  # an upper bound: early stopping ends most runs far sooner
DEFAULT_BATCH_SIZE = 256
DEFAULT_LR = 2e-3
DEFAULT_HELDOUT_FRACTION = 0.3
DEFAULT_EVAL_EVERY = 25
DEFAULT_WINDOW = 5
DEFAULT_PATIENCE = 8
DEFAULT_READOUT = "test"
API_SUITE = "estimate_mi"
LOG_EVERY = 5  # train readouts: every 5th step is plenty for train_estimate and the trace
SPLIT_COLUMN = "split"  # trace column: "train", "validation" or "test"


class TrainingDivergedError(ValueError):
    """Training produced NaN/Inf (loss, gradient or estimate): usually a too large ``lr``."""


@dataclass(frozen=True)
class MIEstimate:
    """The result of :func:`estimate_mi` (readouts defined in :mod:`mibench.api.readout`).

    Attributes:
        estimate: held-out MI estimate in nats (per ``readout``).
        stderr: its standard error (see the module docstrings for what it covers).
        n_readouts: test readouts averaged.
        train_estimate: mean training-batch readout over the same steps (a large excess over
            ``estimate`` means the critic fits the training rows better than new ones).
        readout: "test" or "max".
        best_step: the step closing the best smoothed validation window.
        stopped_step: the evaluation step at which early stopping fired (``steps - 1`` if it
            never did); the trainer checks after each data block, so the trace may run up to one
            block (<= 128 steps) further.
        early_stopped: whether training ended before ``steps``.
        heldout_peak: the best smoothed validation value.
        overfit_drop: that peak minus the last smoothed validation value (>= 0 up to noise).
        wild_readouts: held-out readouts far outside their neighbours' spread (heavy tails).
        warnings: the messages also issued as ``UserWarning``.
        trace: the run's per-step frame (``readout`` "train" and "eval"; columns of
            :mod:`mibench.results.schema` plus ``split``).
        config: the run's config (its ``cell_hash()`` identifies data digest + settings).
        diverged_step: always None (divergence raises :class:`TrainingDivergedError`).
        critic_architecture: the critic trained.
        n_parameters: its parameter count.
        n_train: rows used for training.
        n_heldout: rows held out (validation + test).
    """

    estimate: float
    stderr: float
    n_readouts: int
    train_estimate: float
    readout: str
    best_step: int
    stopped_step: int
    early_stopped: bool
    heldout_peak: float
    overfit_drop: float
    wild_readouts: int
    warnings: tuple[str, ...]
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


def _split_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _warn(messages: list[str]) -> None:
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=3)


def estimate_mi(
    x: Any,
    y: Any,
    *,
    estimator: str | Estimator = DEFAULT_ESTIMATOR,
    critic: str = DEFAULT_CRITIC,
    steps: int = DEFAULT_STEPS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float = DEFAULT_LR,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    critic_params: Mapping[str, Any] | None = None,
    estimator_params: Mapping[str, float] | None = None,
    eval_every: int = DEFAULT_EVAL_EVERY,
    eval_batch_size: int | None = None,
    early_stopping: bool = True,
    patience: int = DEFAULT_PATIENCE,
    window: int = DEFAULT_WINDOW,
    readout: str = DEFAULT_READOUT,
    standardize: bool = True,
    gaussianize: bool = True,
    dtype: Any = "float32",
    device: Any = "cpu",
) -> MIEstimate:
    """Estimate I(X; Y) in nats from paired samples by training a critic; see the module docstring.

    Args:
        x: ``(n,)`` or ``(n, d_x)`` array-like (NumPy, pandas, torch, lists); row i pairs with
            ``y[i]``; at least ``2 d_x`` rows (fewer is taken for a transposed array).
        y: ``(n,)`` or ``(n, d_y)``.
        estimator: a registered pairs-layout estimator (``mibench list estimators``) by name, or
            an :class:`~mibench.core.interface.Estimator` object (e.g. one written by the user; it is
            trained as given, without registering it).
        critic: a registered critic (``mibench list critics``); ``critic_params`` over its defaults
            (None: ``TUNED_CRITIC_PARAMS`` for this critic: separable 64-64 -> 16, concat 16-8).
        steps: the most training steps. batch_size: K pairs per step (>= 2, <= training rows).
        lr: Adam learning rate. heldout_fraction: share of rows held out, in (0, 1), halved into
            validation and test rows.
        seed: seeds the split, the critic's initialisation and the batches.
        estimator_params: hyperparameters over the estimator's defaults.
        eval_every: held-out readout period, at most ``steps // 4``.
        eval_batch_size: held-out batch (default ``min(4 * batch_size, half a held-out half)``).
        early_stopping: stop once the smoothed validation curve has not improved for
            ``patience`` smoothed evaluations; ``window``: validation evaluations smoothed.
        readout: "test" (default; unbiased test readouts at the best validation window) or "max"
            (BMI's maximum over held-out readouts; optimistic).
        gaussianize: map each coordinate to normal scores of its empirical CDF (MI-preserving;
            removes heavy tails; the study's best setting, so the default).
        standardize: with ``gaussianize=False``, robust per-coordinate standardisation (median /
            IQR; MI-preserving) instead; both False: the raw values.
        dtype: float32 or float64 training precision, as a string, NumPy or torch dtype.
        device: "cpu", "cuda", "cuda:<i>" or "mps", where available.
    Returns:
        :class:`MIEstimate`; its ``warnings`` (also issued as ``UserWarning``) flag a held-out
        curve that fell from its peak (overfitting) and wild readouts (heavy tails).
    Raises:
        ValueError: naming the bad argument (unknown names list the valid ones).
        TrainingDivergedError: (a ValueError) training turned NaN/Inf, naming ``lr``.
    """
    from mibench import critics, train
    from mibench.api import arguments
    from mibench.plan import resolve

    arguments.check_estimate_arguments(locals())
    x_all, y_all = api_data.to_float64("x", x), api_data.to_float64("y", y)
    if x_all.shape[0] != y_all.shape[0]:
        raise ValueError(
            f"x and y need the same number of rows, got {x_all.shape[0]} and {y_all.shape[0]}"
        )
    arguments.check_sample_size(x_all.shape[0], heldout_fraction)
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {heldout_fraction!r}")
    steps = _int_at_least("steps", steps, 4)
    batch_size = _int_at_least("batch_size", batch_size, 2)
    seed = _int_at_least("seed", seed, 0)
    eval_every = _int_at_least("eval_every", eval_every, 1)
    if eval_every > steps // 4:
        raise ValueError(
            f"eval_every {eval_every} exceeds steps // 4 = {steps // 4}: at least 4 held-out "
            "evaluations (alternately validation and test) are needed; lower eval_every"
        )
    patience = _int_at_least("patience", patience, 1)
    window = _int_at_least("window", window, 1)
    if readout not in api_readout.READOUTS:
        raise ValueError(
            f"invalid readout {readout!r}; valid choices: {', '.join(api_readout.READOUTS)}"
        )
    dtype = api_data.dtype_name(dtype)
    device = api_data.device_name(device)
    if isinstance(lr, bool) or not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    base_spec = resolve.estimator_spec(estimator)  # the one name lookup
    spec = base_spec.with_hyper(**estimator_params) if estimator_params else base_spec
    critic_spec = resolve.critic_spec(critic)
    if critic_params is None:
        critic_params = TUNED_CRITIC_PARAMS.get(critic, {})
    resolved_critic = critics.resolve_params(critic_spec, dict(critic_params))
    data_digest = digest(torch.as_tensor(x_all), torch.as_tensor(y_all))
    # The config (whose hash seeds the critic's initialisation and the batches) names the data by
    # their per-column ranks: rescaled or monotonically mapped data get the same seeds, so the
    # same estimate (MI is invariant under such maps). The exact bytes name the task instead.
    rank_digest = digest(*(torch.as_tensor(api_data.ranks(v)) for v in (x_all, y_all)))
    rows = _split_rows(x_all.shape[0], heldout_fraction, seed)
    mode = "gaussianize" if gaussianize else "standardize" if standardize else "raw"
    x_train, x_val, x_test = _prepare("x", x_all, rows, mode)
    y_train, y_val, y_test = _prepare("y", y_all, rows, mode)
    if x_train.shape[0] < batch_size:
        raise ValueError(
            f"batch_size {batch_size} exceeds the {x_train.shape[0]} training rows; "
            "lower it or give more samples"
        )
    train_task = EmpiricalTask(x_train, y_train, split="train", data_digest=data_digest)
    heldout_task = AlternatingSplits(
        (
            EmpiricalTask(x_val, y_val, split="validation", data_digest=data_digest),
            EmpiricalTask(x_test, y_test, split="test", data_digest=data_digest),
        ),
        eval_every=eval_every,
    )
    reason = resolve.compatibility(spec, train_task, critic_spec)
    if reason is not None:
        raise ValueError(f"estimator {spec.name!r} with critic {critic!r} does not apply: {reason}")
    # Half of a held-out half: readouts then differ by rows, which the stderr needs (api_readout).
    default_eval = max(2, min(4 * batch_size, heldout_task.n // 2))
    eval_batch_size = default_eval if eval_batch_size is None else eval_batch_size
    eval_batch_size = _int_at_least("eval_batch_size", eval_batch_size, 2)
    if eval_batch_size > heldout_task.n:
        raise ValueError(
            f"eval_batch_size {eval_batch_size} exceeds the {heldout_task.n} rows of a held-out "
            "half; lower it, raise heldout_fraction or give more samples"
        )
    config = RunConfig.make(
        estimator=spec.name,
        task=EMPIRICAL_TASK,
        task_params={
            "data_ranks": rank_digest,
            "n": int(x_all.shape[0]),
            "dim_x": train_task.dim_x,
            "dim_y": train_task.dim_y,
            "heldout_fraction": float(heldout_fraction),
            "preprocessing": mode,
            "early_stopping": [window, patience] if early_stopping else None,
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
        log_every=LOG_EVERY,
        suite=API_SUITE,
        device=device,
    )
    rule = api_readout.EarlyStopping(eval_every, window, patience) if early_stopping else None
    # Checked above (this function's arguments are the run's settings), so resolved directly.
    run = resolve.ResolvedRun(
        config, resolve.resolve_estimator(config, spec), train_task, critic_spec
    )
    (result,) = train.train_stack([run], device=device, eval_tasks=[heldout_task], stop=rule)
    frame = result.frame
    evals = frame[frame[schema.READOUT] == schema.READOUT_EVAL]
    eval_steps = evals[schema.STEP].to_numpy()
    eval_values = evals[schema.ESTIMATE].to_numpy()
    if result.diverged_step is not None or not np.all(np.isfinite(eval_values)):
        step = result.diverged_step
        where = f"at step {step}" if step is not None else "(NaN/Inf held-out estimate)"
        raise TrainingDivergedError(
            f"training diverged {where} with lr={lr:g}: loss, gradient or estimate became "
            f"NaN/Inf; lower lr (default {DEFAULT_LR:g})"
        )
    reading = api_readout.read_out(
        eval_steps,
        eval_values,
        eval_every=eval_every,
        window=window,
        readout=readout,
        eval_batch_size=eval_batch_size,
        test_rows=heldout_task.splits[1].n,
    )
    split_names = np.array(["validation", "test"])
    frame[SPLIT_COLUMN] = np.where(
        frame[schema.READOUT].to_numpy() == schema.READOUT_EVAL,
        split_names[api_readout.split_of(frame[schema.STEP].to_numpy(), eval_every)],
        "train",
    )
    trained = frame[
        (frame[schema.READOUT] == schema.READOUT_TRAIN) & frame[schema.STEP].between(*reading.span)
    ]
    fired = rule.fired_at if rule is not None else None
    stopped_step = fired if fired is not None else int(frame[schema.STEP].max())
    messages = []
    if reading.overfitting:
        messages.append(
            f"estimate_mi: the held-out estimate fell from {reading.peak:.3f} nats (smoothed, "
            f"step {reading.best_step}) to {reading.last:.3f} by step {stopped_step}: the critic "
            "overfits the training rows; the estimate is read at the peak, but it may be low — "
            "try more data, a smaller critic or a lower lr"
        )
    if reading.wild_readouts:
        messages.append(
            f"estimate_mi: {reading.wild_readouts} held-out readout(s) lie far outside their "
            f"neighbours' spread (up to {reading.wild_deviation:.3g} nats away): heavy-tailed data "
            "or an unstable critic; the standard error understates the uncertainty — try "
            + ("a lower lr" if gaussianize else "gaussianize=True or a lower lr")
        )
    _warn(messages)
    return MIEstimate(
        estimate=reading.estimate,
        stderr=reading.stderr,
        n_readouts=reading.n_readouts,
        train_estimate=float(trained[schema.ESTIMATE].mean()),
        readout=readout,
        best_step=reading.best_step,
        stopped_step=stopped_step,
        early_stopped=fired is not None,
        heldout_peak=reading.peak,
        overfit_drop=reading.overfit_drop,
        wild_readouts=reading.wild_readouts,
        warnings=tuple(messages),
        trace=frame,
        config=config,
        diverged_step=None,
        critic_architecture=result.critic_architecture,
        n_parameters=result.n_parameters,
        n_train=train_task.n,
        n_heldout=heldout_task.splits[0].n + heldout_task.splits[1].n,
    )
