r"""One call for users' own data: :func:`estimate_mi`.

Three paths, one result type (:class:`MIEstimate`):

* ``method="auto"`` (default): the rule of :mod:`mibench.api.auto` picks KSG or a trained critic
  from the data (dimensions, rows, KSG's stability over k) and says why (``result.why``);
* ``method="sample"`` or a sample estimator's name (``estimator="ksg"``, ``"cca"``, ...): any
  registered :class:`~mibench.core.interface.SampleEstimator` on all rows (:mod:`mibench.api.sample`);
* ``method="neural"`` or a critic-based estimator's name (``estimator="infonce"``, ``"smile"``,
  or an :class:`~mibench.core.interface.Estimator` object): the benchmark's stacked trainer on a
  train / validation / test split with early stopping (:mod:`mibench.api.neural`).

Rows are checked and converted first (:mod:`mibench.api.preprocess`: NumPy, pandas, torch or
lists; a transposed ``(d, n)`` array, complex values, NaN/Inf or a constant column is a
ValueError), and each coordinate is mapped by an MI-preserving monotone map (normal scores of its
empirical CDF by default).

``result.interval`` is a 95 % interval that accounts for the finite-sample bias as well as the
noise: the estimator is rerun on disjoint random subsets of the rows and its trend with the
subset size is extrapolated (subsample-and-extrapolate, Abdelaleem, Martini and Nemenman 2025;
:mod:`mibench.api.interval` gives the formulas). ``result.stderr`` is noise only — the spread a
rerun on new rows would show — and says nothing about bias: do not read ±2 stderr as an interval.

Torch threads: by default as many as there are idle cores, chosen as ``mibench run`` chooses them
(:func:`mibench.execute.executor.in_process_threads`; on a busy machine extra threads that wait
for cores make small kernels many times slower), or ``threads=``; restored afterwards.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from mibench.api import arguments
from mibench.api import auto as api_auto
from mibench.api import interval as api_interval
from mibench.api import neural as api_neural
from mibench.api import preprocess as api_data
from mibench.api import readout as api_readout
from mibench.api import sample as api_sample
from mibench.api.neural import SPLIT_COLUMN, TrainingDivergedError
from mibench.core.interface import Estimator, RunConfig, SampleEstimator

METHODS = ("auto", "neural", "sample")
DEFAULT_METHOD = "auto"
DEFAULT_CRITIC = "separable"
CONDITIONAL_CRITIC = "gaussian_conditional"  # for estimators that read scores as log q(y|x)
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

__all__ = ["SPLIT_COLUMN", "MIEstimate", "TrainingDivergedError", "estimate_mi"]


@dataclass(frozen=True)
class MIEstimate:
    """The result of :func:`estimate_mi`.

    Attributes:
        estimate: the MI estimate in nats on all rows (neural: held-out, per ``readout``).
        interval: 95 % interval (low, high) covering bias and noise (module docstring), or None
            when ``interval=False`` or the rows are too few to subsample.
        extrapolated: the bias-corrected estimate of the subsample fit (None without interval).
        subsamples: that fit (:class:`mibench.api.interval.Extrapolation`: the estimates on
            every subset, their means, the noise), or None.
        stderr: the noise of ``estimate`` only (sample path: from the subsets; neural path: the
            held-out readouts' sampling error, :mod:`mibench.api.readout`); it excludes bias.
        method: "sample" or "neural"; ``estimator``: the estimator's name; ``why``: the reason.
        threads: torch threads used.
        warnings: messages also issued as ``UserWarning`` (neural path: overfitting, wild readouts).
        n_train, n_heldout: rows trained on and held out (sample path: all rows and 0).

    The neural path also fills (None on the sample path): ``n_readouts`` (test readouts
    averaged), ``train_estimate`` (mean training-batch readout over the same steps), ``readout``
    ("test" or "max"), ``best_step`` (end of the best smoothed validation window),
    ``stopped_step`` (where early stopping fired, else ``steps - 1``; the trace may run one data
    block further), ``early_stopped``, ``heldout_peak`` (best smoothed validation value),
    ``overfit_drop`` (that peak minus the last one), ``wild_readouts`` (held-out readouts far
    outside their neighbours' spread), ``trace`` (the per-step frame, with a ``split`` column),
    ``config`` (its ``cell_hash()`` identifies data + settings), ``critic_architecture``,
    ``n_parameters``; ``diverged_step`` is always None (divergence raises).
    """

    estimate: float
    interval: tuple[float, float] | None
    extrapolated: float | None
    subsamples: api_interval.Extrapolation | None
    stderr: float
    method: str
    estimator: str
    why: str
    threads: int
    warnings: tuple[str, ...]
    n_train: int
    n_heldout: int
    n_readouts: int | None = None
    train_estimate: float | None = None
    readout: str | None = None
    best_step: int | None = None
    stopped_step: int | None = None
    early_stopped: bool | None = None
    heldout_peak: float | None = None
    overfit_drop: float | None = None
    wild_readouts: int | None = None
    trace: pd.DataFrame | None = None
    config: RunConfig | None = None
    diverged_step: int | None = None
    critic_architecture: str | None = None
    n_parameters: int | None = None


def _int_at_least(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Torch's intra-op threads set to ``threads`` (None: the idle cores) inside the block."""
    from mibench.execute.executor import in_process_threads

    chosen = in_process_threads() if threads is None else _int_at_least("threads", threads, 1)
    before = torch.get_num_threads()
    torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)


def _choose(
    method: str, estimator: Any, x: np.ndarray, y: np.ndarray, mode: str
) -> tuple[api_auto.Choice, Estimator | SampleEstimator]:
    """Which path and estimator run, and why (an ``estimator`` given fixes both)."""
    from mibench.plan import resolve

    if method not in METHODS:
        raise ValueError(f"invalid method {method!r}; valid choices: {', '.join(METHODS)}")
    if estimator is not None:
        spec = resolve.estimator_spec(estimator)  # an unknown name lists the valid ones
        kind = "sample" if isinstance(spec, SampleEstimator) else "neural"
        target = getattr(spec, "target", "mi")
        if kind == "sample" and target != "mi":
            raise ValueError(
                f"estimator {spec.name!r} estimates the {target} MI, not I(X; Y), so it cannot "
                f"give this result; call mibench.estimators.get({spec.name!r}).estimate(x, y)"
            )
        if method not in ("auto", kind):
            raise ValueError(
                f"method {method!r} does not fit estimator {spec.name!r}, a {kind} estimator; "
                f"pass method={kind!r} or leave method at 'auto'"
            )
        return api_auto.Choice(kind, spec.name, f"estimator {spec.name!r} was asked for"), spec
    if method == "auto":
        choice = api_auto.choose(api_auto.diagnose(x, y, mode=mode))
    else:
        name = api_auto.NEURAL_ESTIMATOR if method == "neural" else api_auto.SAMPLE_ESTIMATOR
        choice = api_auto.Choice(method, name, f"method {method!r}: its default estimator")
    return choice, resolve.estimator_spec(choice.estimator)


def _sample_result(
    choice: api_auto.Choice, spec: SampleEstimator, x: np.ndarray, y: np.ndarray,
    options: Mapping[str, Any],
) -> MIEstimate:  # fmt: skip
    if options["estimator_params"]:
        spec = spec.with_hyper(**options["estimator_params"])
    reading = api_sample.sample_estimate(
        spec, x, y, mode=options["mode"], seed=options["seed"], with_interval=options["interval"]
    )
    fit = reading.fit
    return MIEstimate(
        estimate=reading.estimate,
        interval=None if fit is None else fit.interval,
        extrapolated=None if fit is None else fit.extrapolated,
        subsamples=fit,
        stderr=math.nan if fit is None else fit.sd_full,
        method=choice.method,
        estimator=spec.name,
        why=choice.why,
        threads=options["threads"],
        warnings=(),
        n_train=len(x),
        n_heldout=0,
    )


def _checked_schedule(options: Mapping[str, Any]) -> dict[str, Any]:
    """The training schedule's arguments, checked (each error names its argument)."""
    steps = _int_at_least("steps", options["steps"], 4)
    eval_every = _int_at_least("eval_every", options["eval_every"], 1)
    if eval_every > steps // 4:
        raise ValueError(
            f"eval_every {eval_every} exceeds steps // 4 = {steps // 4}: at least 4 held-out "
            "evaluations (alternately validation and test) are needed; lower eval_every"
        )
    fraction, lr, readout = options["heldout_fraction"], options["lr"], options["readout"]
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {fraction!r}")
    if isinstance(lr, bool) or not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if readout not in api_readout.READOUTS:
        raise ValueError(
            f"invalid readout {readout!r}; valid choices: {', '.join(api_readout.READOUTS)}"
        )
    eval_batch = options["eval_batch_size"]
    return {
        "steps": steps,
        "eval_every": eval_every,
        "heldout_fraction": float(fraction),
        "lr": float(lr),
        "readout": readout,
        "batch_size": _int_at_least("batch_size", options["batch_size"], 2),
        "seed": _int_at_least("seed", options["seed"], 0),
        "patience": _int_at_least("patience", options["patience"], 1),
        "window": _int_at_least("window", options["window"], 1),
        "eval_batch_size": None
        if eval_batch is None
        else _int_at_least("eval_batch_size", eval_batch, 2),
        "early_stopping": bool(options["early_stopping"]),
        "mode": options["mode"],
        "dtype": api_data.dtype_name(options["dtype"]),
        "device": api_data.device_name(options["device"]),
    }


def _neural_settings(spec: Estimator, options: Mapping[str, Any]) -> api_neural.NeuralSettings:
    """The estimator with its hyperparameters, the critic (by default the one the estimator's
    scores need: separable, or ``gaussian_conditional`` for log-density estimators)."""
    from mibench import critics
    from mibench.plan import resolve

    schedule = _checked_schedule(options)
    if options["estimator_params"]:
        spec = spec.with_hyper(**options["estimator_params"])
    critic = options["critic"]
    if critic is None:
        critic = CONDITIONAL_CRITIC if spec.score_kind == "log_conditional" else DEFAULT_CRITIC
    critic_spec = resolve.critic_spec(critic)
    params = options["critic_params"]
    params = TUNED_CRITIC_PARAMS.get(critic, {}) if params is None else params
    resolved = critics.resolve_params(critic_spec, dict(params))
    return api_neural.NeuralSettings(spec=spec, critic=critic, critic_params=resolved, **schedule)


def _guard_messages(reading: api_readout.Readout, stopped_step: int, mode: str) -> list[str]:
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
            + ("a lower lr" if mode == "gaussianize" else "gaussianize=True or a lower lr")
        )
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=4)
    return messages


def _neural_result(
    choice: api_auto.Choice, spec: Estimator, x: np.ndarray, y: np.ndarray,
    options: Mapping[str, Any],
) -> MIEstimate:  # fmt: skip
    from mibench.results import schema

    settings = _neural_settings(spec, options)
    out = api_neural.neural_estimate(x, y, settings, with_interval=options["interval"])
    reading, frame, part, fit = out.reading, out.frame, out.part, out.fit
    trained = frame[
        (frame[schema.READOUT] == schema.READOUT_TRAIN) & frame[schema.STEP].between(*reading.span)
    ]
    stopped_step = out.fired_at if out.fired_at is not None else int(frame[schema.STEP].max())
    messages = _guard_messages(reading, stopped_step, settings.mode)
    return MIEstimate(
        estimate=reading.estimate,
        interval=None if fit is None else fit.interval,
        extrapolated=None if fit is None else fit.extrapolated,
        subsamples=fit,
        stderr=reading.stderr,
        method=choice.method,
        estimator=settings.spec.name,
        why=choice.why,
        threads=options["threads"],
        warnings=tuple(messages),
        n_train=part.train.n,
        n_heldout=part.heldout.splits[0].n + part.heldout.splits[1].n,
        n_readouts=reading.n_readouts,
        train_estimate=float(trained[schema.ESTIMATE].mean()),
        readout=settings.readout,
        best_step=reading.best_step,
        stopped_step=stopped_step,
        early_stopped=out.fired_at is not None,
        heldout_peak=reading.peak,
        overfit_drop=reading.overfit_drop,
        wild_readouts=reading.wild_readouts,
        trace=frame,
        config=part.config,
        critic_architecture=out.critic_architecture,
        n_parameters=out.n_parameters,
    )


# fmt: off
def estimate_mi(
    x: Any, y: Any, *,
    method: str = DEFAULT_METHOD, estimator: str | Estimator | SampleEstimator | None = None,
    interval: bool = True, seed: int = 0, threads: int | None = None,
    gaussianize: bool = True, standardize: bool = True,
    estimator_params: Mapping[str, float] | None = None,
    critic: str | None = None, critic_params: Mapping[str, Any] | None = None,
    steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH_SIZE, lr: float = DEFAULT_LR,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION, eval_every: int = DEFAULT_EVAL_EVERY,
    eval_batch_size: int | None = None, early_stopping: bool = True,
    patience: int = DEFAULT_PATIENCE, window: int = DEFAULT_WINDOW,
    readout: str = DEFAULT_READOUT, dtype: Any = "float32", device: Any = "cpu",
) -> MIEstimate:
    """Estimate I(X; Y) in nats with a 95 % interval; the module docstring describes the paths.

    Args:
        x: ``(n,)`` or ``(n, d_x)`` array-like (NumPy, pandas, torch, lists), at least ``2 d_x`` rows.
        y: ``(n,)`` or ``(n, d_y)``; row i pairs with row i of ``x``.
        method: "auto" (:mod:`mibench.api.auto` chooses), "neural" (InfoNCE unless ``estimator``
            names another) or "sample" (KSG unless ``estimator`` names another).
        estimator: a registered name (``mibench list estimators``) or an estimator object; it
            fixes the path. One that cannot run on paired samples raises a ValueError saying why.
        interval: compute ``result.interval`` (reruns on subsets; the neural path trains two
            half-data runs in the same stack).
        seed: seeds the splits, the subsets and the training.
        threads: torch threads (default: the idle cores, as ``mibench run`` picks them).
        gaussianize: map each coordinate to normal scores of its empirical CDF.
        standardize: without ``gaussianize``, median / IQR per coordinate (both off: raw).
        estimator_params: hyperparameters over the estimator's defaults (e.g. ``{"k": 5}``).

    The other keywords (``critic`` ... ``device``) set the neural path (:mod:`mibench.api.neural`).
    Returns :class:`MIEstimate` (``method``, ``estimator``, ``why``: what ran); raises ValueError
    naming a bad argument or why the estimator cannot run (:class:`TrainingDivergedError`: NaN).

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal(3000)
        >>> y = x + rng.standard_normal(3000)  # I = 0.5 log 2 = 0.347 nats
        >>> result = estimate_mi(x, y)
        >>> result.method, result.estimator, round(result.estimate, 2)
        ('sample', 'ksg', 0.36)
        >>> low, high = result.interval
        >>> bool(low < 0.347 < high)
        True
    """
    arguments.check_estimate_arguments(locals())
    x_all, y_all = api_data.to_float64("x", x), api_data.to_float64("y", y)
    if x_all.shape[0] != y_all.shape[0]:
        raise ValueError(
            f"x and y need the same number of rows, got {x_all.shape[0]} and {y_all.shape[0]}"
        )
    mode = "gaussianize" if gaussianize else "standardize" if standardize else "raw"
    options = dict(locals())
    with torch_threads(threads) as used:
        options["threads"] = used
        choice, spec = _choose(method, estimator, x_all, y_all, mode)
        if isinstance(spec, SampleEstimator):
            return _sample_result(choice, spec, x_all, y_all, options)
        arguments.check_sample_size(x_all.shape[0], heldout_fraction)
        return _neural_result(choice, spec, x_all, y_all, options)
# fmt: on
