"""Training claims: decisions on synthetic result frames (PASS and FAIL) and the plumbing with
an injected trainer; the real training runs are the slow tests at the end."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mibench.claims.training as training
from mibench.claims import ClaimContext
from mibench.claims import get as get_claim
from mibench.claims.training import (
    decide_ess_scheduling,
    decide_ess_trajectories,
    decide_log_k_curse,
    decide_precision,
    decide_small_batch,
    ess_schedule_configs,
    ess_schedule_outcome,
    logk_configs,
)
from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.train import stack_key

# A run's synthetic trajectory: fraction of training in [0, 1] -> value.
Curve = Callable[[np.ndarray], np.ndarray]


@dataclass
class FakeResult:
    """What the claims read from a RunResult: its frame."""

    config: RunConfig
    frame: pd.DataFrame


def synthetic_frame(
    config: RunConfig,
    *,
    estimate: Curve,
    proxy: Curve,
    ess: Curve,
    extras: dict[str, Curve] | None = None,
    noise: float = 0.0,
) -> pd.DataFrame:
    """Train rows every ``log_every`` steps and eval rows every ``eval_every`` steps (schema names)."""
    rng = np.random.default_rng(config.seed)
    log_k = math.log(config.batch_size)
    parts = []
    for readout, every in (
        (schema.READOUT_TRAIN, config.log_every),
        (schema.READOUT_EVAL, config.eval_every),
    ):
        steps = np.arange(0, config.n_steps, every)
        fraction = steps / max(int(steps[-1]), 1)

        def jitter(values: np.ndarray, size: int = len(steps)) -> np.ndarray:
            return values + noise * rng.standard_normal(size)

        columns = {
            schema.RUN_ID: config.cell_hash(),
            schema.ESTIMATOR: config.estimator,
            schema.SEED: config.seed,
            schema.STEP: steps,
            schema.READOUT: readout,
            schema.ESTIMATE: jitter(estimate(fraction)),
            schema.INFONCE_VALUE: jitter(proxy(fraction)),
            schema.ESS: jitter(ess(fraction)),
            schema.LOG_K: log_k,
            schema.TRUE_MI: 8.0,
            schema.BATCH_SIZE: config.batch_size,
        }
        for name, curve in (extras or {}).items():
            columns[name] = jitter(curve(fraction))
        parts.append(pd.DataFrame(columns))
    return pd.concat(parts, ignore_index=True)


def rising(start: float, end: float) -> Curve:
    return lambda f: start + (end - start) * f


def saturating(start: float, end: float, rate: float = 8.0) -> Curve:
    return lambda f: end - (end - start) * np.exp(-rate * f)


PAPER_LIKE: dict[str, dict[str, Curve]] = {
    # InfoNCE: estimate at 95 % of log 16, proxy flat at 4.5 after a quick rise, ESS falling
    "infonce": {
        "estimate": lambda f: 0.95 * math.log(16) + 0 * f,
        "proxy": saturating(3.0, 4.5, rate=30.0),
        "ess": rising(0.20, 0.10),
    },
    # FlatNCE: proxy still rising at the end, ESS rising
    "flatnce": {
        "estimate": rising(4.0, 6.0),
        "proxy": rising(3.5, 5.5),
        "ess": rising(0.15, 0.35),
    },
}


def fake_trainer(
    behaviour: dict[str, dict[str, Curve]],
    calls: list[list[RunConfig]] | None = None,
    noise: float = 0.01,
) -> Callable[..., list[FakeResult]]:
    def train(configs: Sequence[RunConfig], *, device: str, progress: Any) -> list[FakeResult]:
        if calls is not None:
            calls.append(list(configs))
        return [
            FakeResult(c, synthetic_frame(c, noise=noise, **behaviour[c.estimator]))
            for c in configs
        ]

    return train


def frame_of(behaviour: dict[str, dict[str, Curve]], configs: Sequence[RunConfig]) -> pd.DataFrame:
    train = fake_trainer(behaviour)
    return pd.concat([r.frame for r in train(configs, device="cpu", progress=None)])


# --- configs -----------------------------------------------------------------------------------
def test_logk_configs_form_one_stack_per_dtype() -> None:
    configs = logk_configs()
    assert {stack_key(c) for c in configs} == {stack_key(configs[0])}
    assert {c.estimator for c in configs} == {"infonce", "flatnce"}
    assert len(configs) == 2 * training.LOGK_SEEDS
    assert all(c.resolved_eval_batch_size == 64 * c.batch_size for c in configs)
    float64 = logk_configs(("infonce",), dtype="float64")
    assert {c.dtype for c in float64} == {"float64"}


def test_ess_schedule_configs_cover_both_directions_and_every_target() -> None:
    configs = ess_schedule_configs("flatnce_ess")
    params = {
        (dict(c.estimator_params)["direction"], dict(c.estimator_params)["target"]) for c in configs
    }
    assert params == {(d, t) for d in (-1.0, 1.0) for t in training.ESS_TARGETS}


# --- decisions on synthetic frames --------------------------------------------------------------
def test_log_k_curse_decision() -> None:
    configs = logk_configs()
    assert decide_log_k_curse(frame_of(PAPER_LIKE, configs)).passed
    unsaturated = {**PAPER_LIKE, "infonce": {**PAPER_LIKE["infonce"], "estimate": rising(1.0, 1.5)}}
    assert not decide_log_k_curse(frame_of(unsaturated, configs)).passed
    both_flat = {
        **PAPER_LIKE,
        "flatnce": {**PAPER_LIKE["flatnce"], "proxy": saturating(3.0, 4.6, 30.0)},
    }
    result = decide_log_k_curse(frame_of(both_flat, configs))
    assert not result.passed and not result.evidence["flatnce_gains_more"]


def test_small_batch_decision() -> None:
    configs = logk_configs()
    assert decide_small_batch(frame_of(PAPER_LIKE, configs)).passed
    tied = {
        **PAPER_LIKE,
        "flatnce": {**PAPER_LIKE["flatnce"], "proxy": PAPER_LIKE["infonce"]["proxy"]},
    }
    assert not decide_small_batch(frame_of(tied, configs)).passed


def test_ess_trajectories_decision() -> None:
    configs = logk_configs()
    assert decide_ess_trajectories(frame_of(PAPER_LIKE, configs)).passed
    flat_ess = {
        name: {**curves, "ess": lambda f: 0.17 + 0 * f} for name, curves in PAPER_LIKE.items()
    }
    result = decide_ess_trajectories(frame_of(flat_ess, configs))
    assert not result.passed
    assert not result.evidence["infonce_falls"] and not result.evidence["flatnce_rises"]


def test_precision_decision() -> None:
    configs32, configs64 = logk_configs(), logk_configs(("infonce",), dtype="float64")
    frame32 = frame_of(PAPER_LIKE, configs32)
    better = {"infonce": {**PAPER_LIKE["infonce"], "proxy": saturating(3.0, 5.2, 30.0)}}
    assert decide_precision(frame32, frame_of(better, configs64)).passed
    same = {"infonce": PAPER_LIKE["infonce"]}
    assert not decide_precision(frame32, frame_of(same, configs64)).passed


def _schedule_behaviour(printed_reaches: bool) -> Callable[[RunConfig], dict[str, Curve]]:
    def curves(config: RunConfig) -> dict[str, Curve]:
        params = dict(config.estimator_params)
        target = params["target"]
        reaches = params["direction"] > 0 or printed_reaches
        end = target if reaches else 1.0 / 15.0
        return {
            "estimate": rising(1.0, 5.0),
            "proxy": rising(1.0, 4.0),
            "ess": lambda f: 0.17 + 0 * f,
            "extras": {
                training.SCHEDULED_ESS: saturating(0.4, end, 20.0),
                training.BETA: rising(1.0, 1.0 if reaches else 200.0),
            },
        }

    return curves


def _schedule_frame(printed_reaches: bool, configs: Sequence[RunConfig]) -> pd.DataFrame:
    behaviour = _schedule_behaviour(printed_reaches)
    return pd.concat([synthetic_frame(c, noise=0.005, **behaviour(c)) for c in configs])


def test_ess_scheduling_decision() -> None:
    configs = ess_schedule_configs("flatnce_ess")
    reaching = ess_schedule_outcome(_schedule_frame(True, configs), configs)
    assert reaching["reached"].all()
    assert decide_ess_scheduling(reaching).passed
    diverging = ess_schedule_outcome(_schedule_frame(False, configs), configs)
    result = decide_ess_scheduling(diverging)
    assert not result.passed
    assert all(result.evidence["stable_reached"]) and not any(result.evidence["printed_reached"])


# --- plumbing with an injected trainer ----------------------------------------------------------
def test_training_claims_share_one_stack_and_one_training_call() -> None:
    calls: list[list[RunConfig]] = []
    context = ClaimContext(functions={"train_stack": fake_trainer(PAPER_LIKE, calls)})
    for claim_id in ("log-k-curse", "flatnce-small-batch", "ess-trajectories"):
        result = get_claim(claim_id).check(context)
        assert result.passed, (claim_id, result.summary)
    assert len(calls) == 1  # trained once, read three times
    assert len({stack_key(c) for c in calls[0]}) == 1


def test_training_claims_fail_on_a_trainer_where_flatnce_does_not_help() -> None:
    no_help = {"infonce": PAPER_LIKE["infonce"], "flatnce": PAPER_LIKE["infonce"]}
    context = ClaimContext(functions={"train_stack": fake_trainer(no_help)})
    for claim_id in ("log-k-curse", "flatnce-small-batch", "ess-trajectories"):
        assert not get_claim(claim_id).check(context).passed, claim_id


def test_ess_scheduling_claim_with_an_injected_trainer() -> None:
    def train(
        configs: Sequence[RunConfig], *, device: str, progress: Any, estimators: Any
    ) -> list[FakeResult]:
        # The scheduled FlatNCE is handed over as a spec (it is not registered).
        assert [e.name for e in estimators] == [c.estimator for c in configs]
        assert all("state" in e.needs for e in estimators)
        behaviour = _schedule_behaviour(printed_reaches=False)
        return [FakeResult(c, synthetic_frame(c, noise=0.005, **behaviour(c))) for c in configs]

    result = get_claim("ess-scheduling-reaches-target").check(
        ClaimContext(functions={"train_stack": train})
    )
    assert not result.passed
    assert all(result.evidence["stable_reached"])


# --- the real runs (minutes) ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_context() -> ClaimContext:
    """One context for every real training claim, so the log-K stack is trained once."""
    return ClaimContext()


@pytest.mark.slow
@pytest.mark.parametrize(
    "claim_id",
    [
        "log-k-curse",
        "flatnce-small-batch",
        "ess-trajectories",
        "log-k-curse-precision",
        "ess-scheduling-reaches-target",
    ],
)
def test_real_training_claims_run_and_report_evidence(
    claim_id: str, real_context: ClaimContext
) -> None:
    """The verdicts are measurements (some FAIL on our setting; see the issue note); this checks
    that the real runs complete without diverging and fill every evidence field with numbers."""
    result = get_claim(claim_id).check(real_context)
    assert result.evidence and result.summary
    for key, value in result.evidence.items():
        values = value if isinstance(value, list) else [value]
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in values), key
