"""Estimator hyperparameters checked at plan time by the functions the trainer calls.

An estimator's value checks (SMILE's clip τ > 0, a temperature > 0, ...) live in its own
functions, which raise ValueError when called with a bad value. Calling them once on a tiny
score matrix when the plan is made (:func:`check_values`) turns a failure deep in training into
a one-line plan error, from the same code, so the schema cannot drift from the trainer.
"""

from __future__ import annotations

from typing import Any

from mibench.core.interface import Estimator, SampleEstimator

PROBE_K = 4  # side of the probe score matrix: every estimator takes K >= 2
PROBE_SAMPLES = 64  # joint draws of the probe for sample estimators


def _probe_inputs(spec: Estimator) -> tuple[Any, dict[str, Any]]:
    import torch

    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(1, PROBE_K, PROBE_K, generator=generator, dtype=torch.float64)
    if spec.score_kind == "log_conditional":  # log q(y_j | x_i): a normalised log density
        scores = torch.log_softmax(scores, dim=-2)
    inputs: dict[str, Any] = {}
    if "dual" in spec.needs:
        inputs["dual"] = torch.zeros(1, PROBE_K, dtype=torch.float64)
    if "labels" in spec.needs:
        inputs["labels"] = torch.arange(PROBE_K).remainder(2).unsqueeze(0)
    if "entropy_y" in spec.needs:
        inputs["entropy_y"] = torch.zeros(1, dtype=torch.float64)
    return scores, inputs


def _call(spec: Estimator | SampleEstimator) -> None:
    if isinstance(spec, SampleEstimator):
        import numpy as np

        rng = np.random.default_rng(0)
        x = rng.standard_normal((PROBE_SAMPLES, 1))
        spec.sample_fn(x, x + rng.standard_normal((PROBE_SAMPLES, 1)), **spec.hyper)
        return
    scores, inputs = _probe_inputs(spec)
    if "state" in spec.needs:
        inputs["state"] = spec.next_state(scores, None)
    spec.loss(scores, **inputs)
    spec.value(scores, **inputs)
    spec.ceiling(PROBE_K)


def _is_builtin(spec: object) -> bool:
    from mibench import estimators

    name = getattr(spec, "name", None)
    return name in estimators.names() and estimators.get(name) is spec


def check_values(default: Estimator | SampleEstimator, chosen: Estimator | SampleEstimator) -> None:
    """Raise ValueError (the estimator's own message) when ``chosen``'s hyperparameters are ones
    its functions refuse. A probe that fails with the defaults too says nothing about the
    values (an estimator that needs inputs the probe lacks), so it is not held against them.
    Only registered estimators are probed: a plug-in's code runs when it trains.

    Examples:
        >>> from mibench import estimators
        >>> smile = estimators.get("smile")
        >>> check_values(smile, smile.with_hyper(clip=-1.0))
        Traceback (most recent call last):
        ...
        ValueError: clip (tau) must be > 0, got -1.0
        >>> check_values(smile, smile.with_hyper(clip=2.0))
    """
    if not _is_builtin(default):  # a plug-in's code (or program) is not run at plan time
        return
    try:
        _call(chosen)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as error:
        try:
            _call(default)
        except Exception:
            return
        raise ValueError(" ".join(str(error).split()) or type(error).__name__) from None


__all__ = ["PROBE_K", "PROBE_SAMPLES", "check_values"]
