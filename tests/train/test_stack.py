"""Stacked trainer: schema, stack independence, divergence, reproducibility, bounds."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from mibench.core.interface import Batch, Estimator, RunConfig
from mibench.estimators import get as get_estimator
from mibench.estimators import registry as estimator_registry
from mibench.plan.resolve import resolve_runs
from mibench.results import schema
from mibench.systems.in_batch import derangement_scores, random_cycles
from mibench.tasks import registry as task_registry
from mibench.tasks.gaussian import build_gaussian
from mibench.train import build_task, compatibility, default_critic_for, stack_key, train_stack
from mibench.train.stack import DIAGNOSTICS_EVERY, _Stack

SMALL_CRITIC = {"hidden": (16,), "embed_dim": 8}
METRICS = [schema.ESTIMATE, schema.LOSS, schema.INFONCE_VALUE, schema.ESS, schema.GRAD_NORM]


def _config(**overrides: Any) -> RunConfig:
    base: dict[str, Any] = {
        "estimator": "infonce",
        "task": "gaussian",
        "task_params": {"dim": 3, "mi": 1.0},
        "critic_params": SMALL_CRITIC,
        "batch_size": 16,
        "n_steps": 12,
        "eval_every": 5,
        "lr": 1e-3,
    }
    base.update(overrides)
    return RunConfig.make(**base)


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    return frame[METRICS].to_numpy(dtype=np.float64)


def _train(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[schema.READOUT] == schema.READOUT_TRAIN]


def _diagnosed(train: pd.DataFrame) -> np.ndarray:
    """Train rows that carry the K^2 diagnostics: every DIAGNOSTICS_EVERY-th row and the last."""
    rows = np.arange(len(train))
    return (rows % DIAGNOSTICS_EVERY == 0) | (rows == len(train) - 1)


def test_frame_follows_the_schema() -> None:
    (result,) = train_stack([_config()])
    frame = result.frame
    assert list(frame.columns[: len(schema.COLUMNS)]) == list(schema.COLUMNS)
    train = _train(frame)
    evals = frame[frame[schema.READOUT] == schema.READOUT_EVAL]
    assert train[schema.STEP].tolist() == list(range(12))
    assert evals[schema.STEP].tolist() == [0, 5, 10, 11]
    assert (train[schema.LOG_K] == math.log(16)).all()
    assert (evals[schema.LOG_K] == math.log(64)).all()  # eval batch defaults to 4K
    assert (train[schema.CEILING] == math.log(16)).all()
    assert np.allclose(frame[schema.TRUE_MI], 1.0) and (frame[schema.MI_LEVEL] == 1.0).all()
    assert evals[schema.LOSS].isna().all() and train[schema.LOSS].notna().all()
    assert (frame[schema.RUN_ID] == result.config.cell_hash()).all()
    assert result.diverged_step is None and not frame[schema.DIVERGED].any()
    assert result.task_id == build_task(result.config).id
    assert result.n_parameters == 2 * (3 * 16 + 16 + 16 * 8 + 8)


def test_log_every_keeps_the_last_step() -> None:
    (result,) = train_stack([_config(log_every=5)])
    assert _train(result.frame)[schema.STEP].tolist() == [0, 5, 10, 11]


MIXED = [
    _config(estimator="infonce"),
    _config(estimator="nwj", task_params={"dim": 3, "mi": 2.0}),
    _config(estimator="tuba", seed=3, lr=3e-3),
    _config(estimator="mine", task_params={"dim": 3, "mi": 0.5}),
    _config(estimator="flo", seed=5),
    _config(estimator="alpha", estimator_params={"alpha": 0.3}),
    _config(estimator="infonce", task="cubic", seed=9, lr=2e-3),
]


def test_run_alone_equals_run_inside_a_mixed_stack() -> None:
    """Each run's numbers do not depend on its stack-mates (estimators, MI levels, lr, tasks)."""
    order = [4, 1, 6, 0, 3, 5, 2]
    stacked = train_stack([MIXED[i] for i in order])
    assert [r.config for r in stacked] == [MIXED[i] for i in order]
    for result in stacked:
        (alone,) = train_stack([result.config])
        # Exactly equal: see tests/train/test_stack_independence.py.
        np.testing.assert_array_equal(_numbers(result.frame), _numbers(alone.frame))
        assert alone.n_parameters == result.n_parameters
        assert alone.critic_architecture == result.critic_architecture


def test_grouped_losses_in_float64_equal_each_run_trained_alone() -> None:
    """Losses run once per estimator group over the group's run axis (``split`` of the stacked
    scores and dual outputs): in float64 a run inside a mixed stack — several groups, two dual
    heads, groups of two runs — follows its solo trajectory to rounding (1e-9 over 12 steps;
    float64 batched matmuls of different R round differently at ~1e-16 per op)."""
    configs = [
        _config(estimator=name, seed=seed, dtype="float64")
        for name, seed in (
            ("nwj", 0), ("tuba", 1), ("infonce", 2), ("tuba", 3), ("flo", 4), ("nwj", 5),
            ("alpha", 6), ("smile", 7),
        )
    ]  # fmt: skip
    stacked = train_stack(configs)
    for result in stacked:
        (alone,) = train_stack([result.config])
        np.testing.assert_allclose(
            _numbers(result.frame), _numbers(alone.frame), rtol=1e-9, atol=1e-9
        )


def test_same_config_gives_an_identical_frame() -> None:
    first = train_stack(MIXED[:3])
    second = train_stack(MIXED[:3])
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(
            a.frame.drop(columns=schema.TIME_S), b.frame.drop(columns=schema.TIME_S)
        )


@dataclass(frozen=True)
class NanAfterTask:
    """The gaussian task whose x becomes NaN from training step ``start`` on (test-only)."""

    start: int
    dim: int = 3
    name: str = "nan_after"
    target: str = "mi"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"nan_after-{self.start}"

    dim_x = property(lambda self: self.dim)
    dim_y = property(lambda self: self.dim)

    def true_mi(self, step: int = 0) -> float:
        return 1.0

    def sample(
        self, n: int, generator: torch.Generator, *, steps=None, dtype=torch.float32
    ) -> Batch:
        batch = build_gaussian(dim=self.dim, mi=1.0).sample(n, generator, dtype=dtype)
        if steps is None:  # the trainer's one-off probe of the task's outputs
            return batch
        bad = (steps >= self.start).unsqueeze(-1)
        return Batch(x=batch.x.masked_fill(bad, math.nan), y=batch.y)

    def log_ratio(self, x, y, *, steps=None) -> None:
        return None


@pytest.fixture
def nan_task() -> Iterator[None]:
    spec = task_registry.TaskSpec(name="nan_after", build=NanAfterTask, defaults={"start": 7})
    with task_registry.REGISTRY.registered(spec):
        yield


@pytest.mark.usefixtures("nan_task")
def test_divergence_is_recorded_at_its_step_and_the_others_are_unaffected() -> None:
    healthy = [_config(estimator="nwj"), _config(estimator="infonce", seed=1)]
    poisoned = _config(estimator="nwj", task="nan_after", task_params={"start": 7}, seed=2)
    blown_up = _config(estimator="nwj", lr=1e4, seed=4, n_steps=12)
    results = train_stack([healthy[0], poisoned, healthy[1], blown_up])
    nan_run = results[1]
    assert nan_run.diverged_step == 7
    train = _train(nan_run.frame)
    assert train[schema.DIVERGED].tolist() == [s >= 7 for s in range(12)]
    before = train[schema.STEP].to_numpy() < 7
    assert np.isfinite(train[METRICS].to_numpy()[before & _diagnosed(train)]).all()
    every_row = [schema.ESTIMATE, schema.LOSS, schema.GRAD_NORM]
    assert np.isfinite(train[every_row].to_numpy()[before]).all()
    assert train[METRICS].iloc[8:].isna().all().all()  # metrics after the divergence step are NaN
    # The huge-lr run: diverged where the first non-finite loss/estimate/gradient appeared.
    lr_run = _train(results[3].frame)
    step = results[3].diverged_step
    assert step is not None
    finite = np.isfinite(lr_run[[schema.ESTIMATE, schema.LOSS, schema.GRAD_NORM]].to_numpy()).all(
        axis=1
    )
    assert finite[:step].all() and not finite[step]
    without = train_stack(healthy)
    for with_bad, alone in zip([results[0], results[2]], without, strict=True):
        assert with_bad.diverged_step is None
        np.testing.assert_array_equal(_numbers(with_bad.frame), _numbers(alone.frame))


def test_diagnostics_are_computed_every_nth_train_row_and_equal_the_every_row_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """InfoNCE value and ESS: at train rows 0, N, 2N, ... and the last, NaN in the others, and
    there the very numbers an every-row readout gives; estimate, loss and gradient norm (and every
    eval row) are unaffected by the cadence."""
    configs = [_config(n_steps=25, log_every=2), _config(estimator="nwj", n_steps=25, log_every=2)]
    cadenced = train_stack(configs)
    monkeypatch.setattr("mibench.train.stack.DIAGNOSTICS_EVERY", 1)
    every_row = train_stack(configs)
    diagnostics = [schema.INFONCE_VALUE, schema.ESS]
    for sparse, full in zip(cadenced, every_row, strict=True):
        train, train_full = _train(sparse.frame), _train(full.frame)
        steps = train[schema.STEP].to_numpy()
        assert steps.tolist() == list(range(0, 25, 2))  # 0, 2, ..., 24 (the last step)
        diagnosed = np.isfinite(train[schema.ESS].to_numpy())
        assert steps[diagnosed].tolist() == [0, 20, 24]  # rows 0 and 10, and the last row
        assert (
            train[diagnostics].to_numpy()[~diagnosed].size
            and np.isnan(train[diagnostics].to_numpy()[~diagnosed]).all()
        )
        np.testing.assert_array_equal(
            train[diagnostics].to_numpy()[diagnosed], train_full[diagnostics].to_numpy()[diagnosed]
        )
        others = [schema.ESTIMATE, schema.LOSS, schema.GRAD_NORM]
        np.testing.assert_array_equal(train[others].to_numpy(), train_full[others].to_numpy())
        evals = sparse.frame[sparse.frame[schema.READOUT] == schema.READOUT_EVAL]
        evals_full = full.frame[full.frame[schema.READOUT] == schema.READOUT_EVAL]
        np.testing.assert_array_equal(evals[METRICS].to_numpy(), evals_full[METRICS].to_numpy())


def test_dtype_comes_from_the_config() -> None:
    for dtype, torch_dtype in (("float32", torch.float32), ("float64", torch.float64)):
        stack = _Stack(resolve_runs([_config(dtype=dtype, estimator="tuba")]), torch.device("cpu"))
        assert {leaf.dtype for leaf in stack.leaves} == {torch_dtype}
        x, _, _, _ = stack._draw(stack.data_gens, [0, 1], stack.K)
        assert x.dtype == torch_dtype and x.shape == (2, 1, 16, 3)


def test_incompatible_configs_name_the_differing_field() -> None:
    with pytest.raises(ValueError, match=r"batch_size is 16 .* but 32"):
        train_stack([_config(), _config(batch_size=32)])
    with pytest.raises(ValueError, match="critic is 'separable'"):
        train_stack([_config(), _config(critic="concat", critic_params={"hidden": (16,)})])
    with pytest.raises(ValueError, match="sincere needs labels; task gaussian has none"):
        train_stack([_config(estimator="sincere", critic="encoder")])
    with pytest.raises(ValueError, match="at least one config"):
        train_stack([])
    with pytest.raises(ValueError, match="n_steps must be >= 1, got 0"):
        train_stack([_config(n_steps=0)])
    with pytest.raises(ValueError, match="batch_size must be >= 2, got 1"):
        train_stack([_config(batch_size=1)])
    assert stack_key(_config(estimator="dv", seed=3, lr=1.0)) == stack_key(_config())


def test_compatibility_reasons_and_default_critics() -> None:
    gaussian = build_task(_config())
    labeled = build_task(_config(task="labeled_gaussians", task_params={}))
    assert compatibility("infonce", gaussian, "separable") is None
    assert compatibility("sincere", labeled, "encoder") is None
    assert compatibility("ntxent", gaussian, "encoder") is None
    assert (
        compatibility("sincere", gaussian, "encoder")
        == "sincere needs labels; task gaussian has none"
    )
    assert "need the encoder critic" in compatibility("supcon", labeled, "separable")
    assert "has no y" in compatibility("infonce", labeled, "encoder")
    assert default_critic_for(get_estimator("sincere"), labeled) == "encoder"
    assert default_critic_for(get_estimator("ntxent"), gaussian) == "encoder"
    assert default_critic_for(get_estimator("nwj"), gaussian) == "separable"


def test_views_and_labels_layouts_train() -> None:
    (views,) = train_stack([_config(estimator="ntxent", critic="encoder")])
    train = _train(views.frame)
    assert (train[schema.LOG_K] == math.log(32)).all()  # 2N x 2N Gram matrix
    assert np.isfinite(train[METRICS][_diagnosed(train)].to_numpy()).all()
    labeled = _config(
        estimator="sincere", critic="encoder", task="labeled_gaussians", task_params={}
    )
    (result,) = train_stack([labeled, *[]])
    train = _train(result.frame)
    assert train[schema.INFONCE_VALUE].isna().all()  # no pair structure in the labels layout
    assert np.isfinite(train[schema.ESTIMATE]).all()


def test_random_cycles_are_derangements() -> None:
    perms = random_cycles(50, 7, torch.Generator().manual_seed(0))
    assert torch.equal(perms.sort(dim=1).values, torch.arange(7).expand(50, 7))
    assert not (perms == torch.arange(7)).any()
    # A single 7-cycle: following pi from 0 returns to 0 after exactly 7 steps.
    position = torch.zeros(50, dtype=torch.int64)
    for hop in range(1, 8):
        position = perms.gather(1, position.unsqueeze(1)).squeeze(1)
        assert (position == 0).all() == (hop == 7)


def test_derangement_scores_give_the_one_negative_dv() -> None:
    """Under derangement negatives, DV = mean_i g(x_i, y_i) - log mean_i exp g(x_i, y_pi(i))."""
    pos = torch.tensor([1.0, 2.0, 0.5, -1.0], dtype=torch.float64)
    neg = torch.tensor([0.1, -0.3, 0.7, 0.2], dtype=torch.float64)
    scores = derangement_scores(pos, neg)
    expected = pos.mean() - torch.log(torch.exp(neg).mean())
    torch.testing.assert_close(get_estimator("dv").value(scores), expected)
    (result,) = train_stack([_config(estimator="dv", negatives="derangement")])
    train = _train(result.frame)
    assert np.allclose(train[schema.ESS][_diagnosed(train)], 1.0)  # constant rows: ESS = 1


def test_progress_is_called_per_block_up_to_n_steps() -> None:
    seen: list[int] = []
    train_stack([_config(n_steps=300)], progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 300 and len(seen) >= 2


def test_infonce_never_exceeds_log_k_even_when_the_truth_does() -> None:
    """I = 10 nats, K = 64: InfoNCE <= log 64 for ANY scores (Eq. (1) of FlatNCE), so exactly."""
    config = _config(
        task_params={"dim": 5, "mi": 10.0},
        critic_params={"hidden": (64,), "embed_dim": 16},
        batch_size=64,
        n_steps=150,
        lr=3e-3,
        eval_every=50,
    )
    (result,) = train_stack([config])
    frame = result.frame
    train, evals = _train(frame), frame[frame[schema.READOUT] == schema.READOUT_EVAL]
    assert (train[schema.ESTIMATE] <= math.log(64)).all()
    assert (evals[schema.ESTIMATE] <= math.log(256)).all()
    # and training pushes it well up towards the cap (not a vacuous check on a dead critic).
    assert train[schema.ESTIMATE].iloc[-20:].mean() > 0.5 * math.log(64)


@pytest.mark.slow
def test_trained_infonce_reaches_the_truth_up_to_its_small_k_bias() -> None:
    """I = 2 nats, K = 128: a trained InfoNCE ends within 0.3 nats of I.

    Why 0.3: InfoNCE is maximised by the density-ratio critic [Poole et al. 2019], whose value at
    K = 128 sits below I by the finite-K bias measured here with the task's analytic log-ratio
    (about 0.09 nats for d = 5); 0.3 leaves about 0.2 nats for an imperfect 1500-step critic. The
    trained mean over the last 150 steps also cannot beat the oracle by more than 4 standard
    errors of a 150-batch mean (fresh batch each step).
    """
    n_steps, window, K = 1500, 150, 128
    config = _config(
        task_params={"dim": 5, "mi": 2.0},
        critic_params={},
        batch_size=K,
        n_steps=n_steps,
        eval_every=500,
    )
    task = build_task(config)
    gen = torch.Generator().manual_seed(0)
    oracle = []
    for _ in range(200):
        batch = task.sample(K, gen, dtype=torch.float64)
        scores = task.log_ratio(batch.x.unsqueeze(1), batch.y.unsqueeze(0))
        oracle.append(get_estimator("infonce").value(scores).item())
    oracle_mean, oracle_sd = float(np.mean(oracle)), float(np.std(oracle, ddof=1))
    assert 0.0 < 2.0 - oracle_mean < 0.2  # the finite-K bias is small and positive at I << log K
    (result,) = train_stack([config])
    trained = _train(result.frame)[schema.ESTIMATE].iloc[-window:].mean()
    assert abs(trained - 2.0) < 0.3
    assert trained <= oracle_mean + 4 * oracle_sd / math.sqrt(window)


def _count_state(scores: torch.Tensor, state: torch.Tensor | None, **_: float) -> torch.Tensor:
    return torch.ones(scores.shape[:-2], dtype=torch.int64) if state is None else state + 1


def _nan_after_value(
    scores: torch.Tensor, *, state: torch.Tensor | None, nan_from: float
) -> torch.Tensor:
    value = get_estimator("infonce").value(scores)
    return value if state is None else torch.where(state > nan_from, math.nan, value)


def _infonce_loss(scores: torch.Tensor, *, state: torch.Tensor, nan_from: float) -> torch.Tensor:
    return get_estimator("infonce").loss(scores)


@pytest.fixture
def nan_value_estimator() -> Iterator[None]:
    """An estimator whose loss stays finite but whose value is NaN from step ``nan_from`` on.

    Its state counts steps (1 after step 0), so the value at step t is NaN when t + 1 > nan_from.
    """
    spec = Estimator(
        name="nan_value",
        family="test",
        value_fn=_nan_after_value,
        loss_fn=_infonce_loss,
        citation="test",
        needs=frozenset({"state"}),
        state_fn=_count_state,
        hyper={"nan_from": 6.0},
    )
    with estimator_registry.REGISTRY.registered(spec):
        yield


@pytest.mark.usefixtures("nan_value_estimator")
def test_estimate_only_divergence_replays_the_block_and_freezes_at_that_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    healthy = [_config(estimator="nwj"), _config(estimator="infonce", seed=1)]
    bad = _config(estimator="nan_value")
    stack = _Stack(resolve_runs([healthy[0], bad, healthy[1]]), torch.device("cpu"))
    row = next(i for i, run in enumerate(stack.runs) if run.config == bad)
    history: list[list[torch.Tensor]] = []
    step = stack.adam.step

    def recording_step(grads: list[torch.Tensor], alive: torch.Tensor) -> None:
        step(grads, alive)
        history.append([leaf[row].detach().clone() for leaf in stack.leaves])

    monkeypatch.setattr(stack.adam, "step", recording_step)
    results = stack.run(None)
    result = next(r for r in results if r.config == bad)
    assert result.diverged_step == 6
    train = _train(result.frame)
    assert (
        np.isfinite(train[schema.ESTIMATE].iloc[:6]).all()
        and train[schema.ESTIMATE].iloc[6:].isna().all()
    )
    last = history[-12:]  # the replayed pass (the first pass also recorded 12 steps)
    assert len(history) == 24
    for after_update in last[6:]:  # frozen from step 6: no update at step 6 or later
        assert all(torch.equal(a, b) for a, b in zip(after_update, last[5], strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(last[5], last[4], strict=True))
    assert stack.groups[[g.spec.name for g in stack.groups].index("nan_value")].state.tolist() == [
        6
    ]
    for with_bad, alone in zip(
        [r for r in results if r.config != bad], train_stack(healthy), strict=True
    ):
        np.testing.assert_array_equal(_numbers(with_bad.frame), _numbers(alone.frame))


def test_explicit_tasks_and_held_out_eval_tasks() -> None:
    config = _config()
    (default,) = train_stack([config])
    (explicit,) = train_stack([config], tasks=[build_task(config)])
    pd.testing.assert_frame_equal(
        default.frame.drop(columns=schema.TIME_S), explicit.frame.drop(columns=schema.TIME_S)
    )
    # Held-out batches come from eval_tasks: a NaN eval task spoils eval rows only.
    (held,) = train_stack([config], eval_tasks=[NanAfterTask(start=0)])
    frame = held.frame
    evals = frame[frame[schema.READOUT] == schema.READOUT_EVAL]
    assert evals[schema.ESTIMATE].isna().all() and held.diverged_step is None
    assert np.array_equal(_numbers(_train(frame)), _numbers(_train(default.frame)), equal_nan=True)
    with pytest.raises(ValueError, match="one task per config"):
        train_stack([config], tasks=[])
    with pytest.raises(ValueError, match=r"eval task .* has dims"):
        train_stack([config], eval_tasks=[NanAfterTask(start=0, dim=4)])
