"""Contrastive systems (mibench.train.systems): SimCLR/NT-Xent, CLIP, MoCo, and their trainer hooks."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

from mibench import critics, estimators, system_specs, tasks
from mibench.estimators import infonce_value
from mibench.estimators.contrastive import bank_infonce_loss
from mibench.estimators.diagnostics import bank_ess, bank_infonce_value
from mibench.interface import RunConfig
from mibench.results import schema
from mibench.suite import SuiteError, parse_suite, plan
from mibench.system_specs import SystemSpec
from mibench.train import rng, systems, train_stack
from mibench.train.embeddings import representation_readout

ENCODER = {"hidden": [8], "embed_dim": 4, "tau": 0.5, "activation": "relu"}


def _moco_config(queue: int, momentum: float, *, K: int = 4, seed: int = 0, **extra) -> RunConfig:
    return RunConfig.make(
        estimator="infonce",
        task="gaussian",
        task_params={"dim": 3, "mi": 1.0},
        critic="encoder",
        critic_params=ENCODER,
        batch_size=K,
        seed=seed,
        dtype="float64",
        system="moco",
        system_params={"queue": queue, "momentum": momentum},
        **extra,
    )


def _moco(configs: list[RunConfig]) -> tuple[critics.Critic, systems.MomentumQueue, list]:
    built = [tasks.build(c.task, **c.kwargs("task")) for c in configs]
    critic = critics.build(
        "encoder",
        3,
        3,
        generators=[rng.generator(c, rng.STREAM_INIT) for c in configs],
        dtype=torch.float64,
        params=ENCODER,
    )
    queue = systems.MomentumQueue(
        critic,
        configs,
        built,
        generators=[rng.generator(c, systems.STREAM_QUEUE) for c in configs],
        dtype=torch.float64,
        device=torch.device("cpu"),
    )
    return critic, queue, built


def _draw(task, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    batch = task.sample(n, torch.Generator().manual_seed(seed), dtype=torch.float64)
    return batch.x.unsqueeze(0), batch.y.unsqueeze(0)


# ------------------------------------------------------------------------------ SimCLR
def _views_gram(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    z = torch.cat([a, b])
    z = z / z.norm(dim=-1, keepdim=True)
    return z @ z.T / tau


@pytest.mark.parametrize("N", [2, 5, 16])
def test_ntxent_on_aligned_embeddings_closed_form(N: int) -> None:
    tau = 0.25
    # Aligned, mutually orthogonal pairs (a_i = b_i = e_i): each anchor scores its mate 1/tau and
    # its 2N - 2 negatives 0, so l = log(e^{1/tau} + 2N - 2) - 1/tau and
    # log(2N - 1) - L = log(2N - 1) - log(1 + (2N - 2) e^{-1/tau}).
    basis = torch.eye(N, dtype=torch.float64)
    value = estimators.get("ntxent").value(_views_gram(basis, basis, tau))
    expected = math.log(2 * N - 1) - math.log1p((2 * N - 2) * math.exp(-1.0 / tau))
    assert value.item() == pytest.approx(expected, rel=1e-12)
    # Fully aligned and collapsed (every view the same vector): all 2N - 1 candidates tie, so
    # L = log(2N - 1) exactly and the MI reading is 0.
    same = torch.ones(N, 3, dtype=torch.float64)
    assert estimators.get("ntxent").loss(_views_gram(same, same, tau)).item() == pytest.approx(
        math.log(2 * N - 1), rel=1e-12
    )
    assert estimators.get("ntxent").ceiling(2 * N) == pytest.approx(math.log(2 * N - 1))


# -------------------------------------------------------------------------------- CLIP
def _row_infonce(scores: np.ndarray) -> float:
    """Loop reference of Eq. (5) of the guide: anchor = row."""
    K = scores.shape[0]
    return float(
        np.mean([scores[i, i] - math.log(np.sum(np.exp(scores[i]))) for i in range(K)])
        + math.log(K)
    )


def test_clip_directions_loop_reference_and_mean() -> None:
    scores = torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    spec = systems.symmetric_estimator(estimators.get("infonce"))
    extras = spec.extras(scores)
    for r in range(2):
        s = scores[r].numpy()
        assert extras[schema.ESTIMATE_XY][r].item() == pytest.approx(_row_infonce(s), rel=1e-12)
        # y -> x: anchor y_j, candidates x_i, i.e. the softmax runs down column j.
        assert extras[schema.ESTIMATE_YX][r].item() == pytest.approx(_row_infonce(s.T), rel=1e-12)
    mean = 0.5 * (extras[schema.ESTIMATE_XY] + extras[schema.ESTIMATE_YX])
    assert torch.allclose(spec.value(scores), mean, rtol=1e-12)
    base = estimators.get("infonce")
    both = 0.5 * (base.loss(scores) + base.loss(scores.mT))
    assert torch.allclose(spec.loss(scores), both, rtol=1e-12)
    # An asymmetric matrix really gives two different directions (the check above is not vacuous).
    assert not torch.allclose(extras[schema.ESTIMATE_XY], extras[schema.ESTIMATE_YX])


def test_clip_directions_agree_on_a_symmetric_critic() -> None:
    # The siamese encoder critic scores S_ij = z(x_i).z(y_j)/tau; fed the same inputs on both
    # sides it is symmetric (S = S^T), so x -> y and y -> x must read the same value.
    config = RunConfig.make(
        estimator="infonce", task="gaussian", critic="encoder", critic_params=ENCODER
    )
    critic = critics.build(
        "encoder", 3, 3, generators=[rng.generator(config, rng.STREAM_INIT)], params=ENCODER
    )
    u = torch.randn(1, 7, 3, generator=torch.Generator().manual_seed(4))
    scores = critic.scores(u, u).detach().double()
    extras = systems.symmetric_estimator(estimators.get("infonce")).extras(scores)
    assert torch.allclose(extras[schema.ESTIMATE_XY], extras[schema.ESTIMATE_YX], rtol=1e-12)


# -------------------------------------------------------------------------------- MoCo
def test_moco_system_reads_its_logits_with_the_estimators_bank_functions() -> None:
    # Through the protocol: MoCo's scores are the queue's (R, K, 1 + Q) logits, its diagnostics
    # and its wrapped InfoNCE are exactly the estimators package's bank forms of those logits.
    configs = [_moco_config(queue=8, momentum=0.9, seed=s) for s in (0, 1)]
    built = [tasks.build(c.task, **c.kwargs("task")) for c in configs]
    critic = critics.build(
        "encoder", 3, 3, generators=[rng.generator(c, rng.STREAM_INIT) for c in configs],
        dtype=torch.float64, params=ENCODER,
    )  # fmt: skip
    inputs = systems.SystemInputs(
        critic, configs, built, "pairs", "offdiag", torch.float64, torch.device("cpu")
    )
    moco = systems.build(inputs)
    assert isinstance(moco, systems.MoCo) and moco.matrix_size(4) == 9
    x, y = (torch.cat(parts) for parts in zip(*[_draw(t, 4, 7) for t in built], strict=True))
    logits = moco.scores(x, y, None, torch.eye(4, dtype=torch.bool)).detach()
    assert logits.shape == (2, 4, 9)
    nce, ess_value = moco.diagnostics(logits)
    assert torch.equal(nce, bank_infonce_value(logits))
    assert torch.equal(ess_value, bank_ess(logits))
    spec = systems.wrap_estimator(estimators.get("infonce"), configs[0])
    assert torch.equal(spec.value(logits), bank_infonce_value(logits))
    assert torch.equal(spec.loss(logits), bank_infonce_loss(logits))
    assert spec.ceiling(moco.matrix_size(4)) == pytest.approx(math.log(9))
    assert [e.shape for e in moco.embeddings()] == [(2, 4, 4), (2, 4, 4)]  # (queries, keys)


def test_moco_with_m0_and_q_equal_k_scores_the_inbatch_critic_on_the_same_keys() -> None:
    K = 4
    config = _moco_config(queue=K, momentum=0.0, K=K)
    critic, queue, (task,) = _moco([config])
    x0, y0 = _draw(task, K, 10)
    x1, y1 = _draw(task, K, 11)
    queue.logits(x0, y0)
    queue.after_step(torch.tensor([True]))
    # m = 0: the key encoder is the online encoder, so after one step (no parameter change) the
    # queue holds exactly the plain critic's key embeddings of y0 and MoCo's logits are the
    # in-batch critic's scores: [g(x1_i, y1_i) | g(x1_i, y0_j) for the K queued keys].
    logits = queue.logits(x1, y1)
    with torch.no_grad():
        positives = critic.scores(x1, y1).diagonal(dim1=-2, dim2=-1)
        negatives = critic.scores(x1, y0)
    assert torch.allclose(logits[..., 0], positives, rtol=1e-12)
    assert torch.allclose(logits[..., 1:], negatives, rtol=1e-12)
    # The same batch twice: the queue is this batch's own keys, i.e. in-batch InfoNCE's candidate
    # set with the positive's earlier copy among them; the loop reference of that bound:
    queue.after_step(torch.tensor([True]))
    queue.logits(x1, y1)
    queue.after_step(torch.tensor([True]))
    logits = queue.logits(x1, y1)[0].detach().numpy()
    s = critic.scores(x1, y1).detach()[0].numpy()
    reference = np.mean(
        [s[i, i] - math.log(math.exp(s[i, i]) + np.exp(s[i]).sum()) for i in range(K)]
    ) + math.log(K + 1)
    assert bank_infonce_value(torch.from_numpy(logits)).item() == pytest.approx(reference)


def test_queue_never_holds_the_current_positive() -> None:
    K, Q = 4, 12
    _, queue, (task,) = _moco([_moco_config(queue=Q, momentum=0.9, K=K)])
    for step in range(2 * Q // K + 1):
        x, y = _draw(task, K, 100 + step)
        before = queue.queue.clone()
        logits = queue.logits(x, y)
        keys = queue.last_keys
        # Negatives are scored against the queue as it was BEFORE this step's keys went in...
        assert torch.allclose(logits[..., 1:] * queue.tau, queue.critic.embed(x) @ before.mT)
        # ... and no queued key is one of this step's keys (continuous draws: equality = a leak).
        distances = torch.cdist(before[0], keys[0])
        assert distances.min().item() > 1e-9
        pointer = queue.pointer
        queue.after_step(torch.tensor([True]))
        # After the loss the K keys fill the next K ring slots, oldest first.
        slots = [(pointer + i) % Q for i in range(K)]
        assert torch.equal(queue.queue[0, slots], keys[0])


def test_momentum_update_and_frozen_runs() -> None:
    m = 0.9
    configs = [_moco_config(queue=8, momentum=m, seed=s) for s in (0, 1)]
    critic, queue, built = _moco(configs)
    x, y = (torch.cat(parts) for parts in zip(*[_draw(t, 4, 7) for t in built], strict=True))
    queue.logits(x, y)
    old_key = [w.clone() for w in queue.key_encoder.weights]
    old_queue = queue.queue.clone()
    with torch.no_grad():
        for w in critic.f.weights:
            w.add_(1.0)  # stands for an optimiser step
    queue.after_step(torch.tensor([True, False]))
    for new, old, online in zip(queue.key_encoder.weights, old_key, critic.f.weights, strict=True):
        assert torch.allclose(new[0], m * old[0] + (1 - m) * online[0].detach(), rtol=1e-12)
        assert torch.equal(new[1], old[1])  # run 1 is frozen: its key encoder stays bit for bit
    assert torch.equal(queue.queue[1], old_queue[1])
    assert not torch.equal(queue.queue[0], old_queue[0])


def test_moco_in_the_trainer_stacked_equals_looped_and_records_k_eff() -> None:
    configs = [_moco_config(queue=8, momentum=0.5, seed=s, n_steps=6, eval_every=3) for s in (0, 1)]
    stacked = train_stack(configs)
    looped = [train_stack([c])[0] for c in configs]
    for a, b in zip(stacked, looped, strict=True):
        np.testing.assert_allclose(a.frame["estimate"], b.frame["estimate"], rtol=1e-10)
    frame = stacked[0].frame
    assert set(frame[schema.SYSTEM]) == {"moco"}
    assert set(frame[schema.K_EFF]) == {9}  # Q + 1 for the train and the held-out readout
    np.testing.assert_allclose(frame["log_k"], math.log(9))
    np.testing.assert_allclose(frame["ceiling"], math.log(9))
    assert (frame["estimate"] <= math.log(9) + 1e-12).all()
    _assert_diagnostics_on_their_rows(frame, [schema.ALIGN, schema.UNIF])


def test_trainer_records_system_columns_for_clip_and_ntxent() -> None:
    common = {"task": "gaussian", "task_params": {"dim": 3, "mi": 1.0}, "critic": "encoder",
              "critic_params": ENCODER, "n_steps": 3, "eval_every": 2}  # fmt: skip
    clip = train_stack([RunConfig.make(estimator="infonce", system="clip", batch_size=5, **common)])
    frame = clip[0].frame
    assert set(frame[schema.SYSTEM]) == {"clip"}
    np.testing.assert_allclose(
        frame["estimate"], 0.5 * (frame[schema.ESTIMATE_XY] + frame[schema.ESTIMATE_YX])
    )
    ntxent = train_stack([RunConfig.make(estimator="ntxent", batch_size=5, **common)])[0].frame
    train = ntxent[ntxent["readout"] == "train"]
    assert set(train[schema.K_EFF]) == {9}  # 2N - 1 with N = 5
    np.testing.assert_allclose(train["ceiling"], math.log(9))
    _assert_diagnostics_on_their_rows(ntxent, [schema.ALIGN, schema.UNIF])


def _assert_diagnostics_on_their_rows(frame: pd.DataFrame, columns: list[str]) -> None:
    """Finite in every eval row and in every DIAGNOSTICS_EVERY-th train row and the last; NaN in
    the other train rows (the trainer skips the K^2 diagnostics there)."""
    from mibench.train.stack import DIAGNOSTICS_EVERY

    evals = frame[frame["readout"] == "eval"][columns].to_numpy()
    train = frame[frame["readout"] == "train"][columns].to_numpy()
    rows = np.arange(len(train))
    diagnosed = (rows % DIAGNOSTICS_EVERY == 0) | (rows == len(train) - 1)
    assert np.isfinite(evals).all() and np.isfinite(train[diagnosed]).all()
    assert np.isnan(train[~diagnosed]).all()


# ------------------------------------------------------------- the protocol, from outside
def _pairs_only(config, spec, critic_name):
    return None if spec.layout == "pairs" else f"transposed needs pairs, got {spec.layout}"


class _Transposed:
    """A toy system written against the protocol alone: in-batch scores read in the y -> x
    direction (S^T: anchor y_j, candidates x_i), and a per-run count of the steps taken as its
    state. It only registers itself and its spec; the trainer is not touched."""

    spec: ClassVar[SystemSpec] = SystemSpec("transposed", compatibility=_pairs_only)
    built: ClassVar[list[_Transposed]] = []

    def __init__(self, inputs: systems.SystemInputs) -> None:
        self.critic = inputs.critic
        self.steps = torch.zeros(len(inputs.configs), dtype=torch.int64, device=inputs.device)
        self.train_scores: list[torch.Tensor] = []
        self.batch = inputs.configs[0].batch_size
        _Transposed.built.append(self)

    @classmethod
    def wrap_estimator(cls, spec):
        return spec

    @classmethod
    def k_eff(cls, config, layout, batch):
        return batch

    def scores(self, x, y, perm, eye):
        scores = self.critic.scores(x, y).mT
        if eye.shape[0] == self.batch:  # a training batch (eval batches are 4K)
            self.train_scores.append(scores.detach().clone())
        return scores

    def matrix_size(self, batch):
        return batch

    def diagnostics(self, scores64):
        return estimators.infonce_value(scores64), estimators.ess(scores64)

    def embeddings(self):
        return ()

    def after_step(self, alive):
        self.steps = self.steps + alive.long()  # a new tensor: snapshots keep the old one

    def state(self):
        return self.steps

    def load(self, state):
        self.steps = state


@pytest.fixture
def transposed(monkeypatch):
    monkeypatch.setattr(_Transposed, "built", [])
    with (
        system_specs.REGISTRY.registered(_Transposed.spec),
        systems.REGISTRY.registered(_Transposed),
    ):
        yield _Transposed


def _toy_configs(**extra) -> list[RunConfig]:
    common = {"estimator": "infonce", "task": "gaussian", "task_params": {"dim": 3, "mi": 1.0},
              "batch_size": 6, "n_steps": 9, "eval_every": 4, "dtype": "float64",
              "system": "transposed", **extra}  # fmt: skip
    return [RunConfig.make(seed=s, **common) for s in (0, 1)]


def test_a_system_written_outside_the_trainer_trains_through_train_stack(transposed) -> None:
    configs = _toy_configs()
    results = train_stack(configs)
    (system,) = transposed.built
    assert system.steps.tolist() == [9, 9]  # after_step once per step, for each live run
    assert len(system.train_scores) == 9
    for r, result in enumerate(results):
        frame = result.frame
        assert set(frame[schema.SYSTEM]) == {"transposed"}
        train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
        assert set(train[schema.K_EFF]) == {6}
        # Every train estimate is InfoNCE of the scores the system handed the trainer (S^T) ...
        expected = [infonce_value(s[r].double()).item() for s in system.train_scores]
        np.testing.assert_allclose(train[schema.ESTIMATE], expected, rtol=1e-12)
        # ... which is not the plain x -> y reading of the same critic (the check can fail).
        plain = [infonce_value(s[r].double().mT).item() for s in system.train_scores]
        assert not np.allclose(train[schema.ESTIMATE], plain, rtol=1e-6)
        assert np.isfinite(train[schema.ESS].iloc[0])


def test_a_system_state_goes_through_checkpoints(transposed, monkeypatch) -> None:
    from mibench.train import stack as stack_module

    monkeypatch.setattr(stack_module, "MAX_BLOCK_STEPS", 3)  # 9 steps = 3 blocks
    configs = _toy_configs()
    saved = {}
    reference = train_stack(configs, checkpoint=lambda n, state: saved.setdefault(n, state()))
    assert sorted(saved) == [3, 6]
    assert saved[3]["snapshot"]["system"].tolist() == [3, 3]  # the system's state() was saved
    resumed = train_stack(configs, resume_from=saved[6])
    assert transposed.built[-1].steps.tolist() == [9, 9]  # load() put back 6, three steps ran
    for a, b in zip(reference, resumed, strict=True):
        pd.testing.assert_frame_equal(
            a.frame.drop(columns=[schema.TIME_S]), b.frame.drop(columns=[schema.TIME_S])
        )


def test_unknown_systems_name_the_registered_ones(transposed) -> None:
    assert systems.names()[:3] == ["inbatch", "clip", "moco"] and "transposed" in systems.names()
    with pytest.raises(ValueError, match="valid choices: inbatch, clip, moco, transposed"):
        systems.get("byol")


# ------------------------------------------------------------------ config and suite
def test_default_system_keeps_existing_hashes() -> None:
    plain = RunConfig.make(estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0})
    explicit = RunConfig.make(
        estimator="dv", task="gaussian", task_params={"dim": 5, "mi": 2.0}, system="inbatch"
    )
    assert plain.cell_hash() == explicit.cell_hash()
    assert _moco_config(256, 0.99).cell_hash() != _moco_config(4096, 0.99).cell_hash()


def test_system_params_validation() -> None:
    assert systems.resolve_system_params("moco", {}) == {
        "queue": systems.DEFAULT_QUEUE,
        "momentum": systems.DEFAULT_MOMENTUM,
    }
    with pytest.raises(ValueError, match="valid choices: inbatch, clip, moco"):
        systems.resolve_system_params("byol", {})
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        systems.resolve_system_params("moco", {"momentum": 1.0})
    with pytest.raises(ValueError, match="no parameter 'queue'"):
        systems.resolve_system_params("clip", {"queue": 3})


def _suite(grid: dict) -> dict:
    base = {"estimators": ["infonce"], "tasks": [{"name": "gaussian", "dim": 3, "mi": 1.0}]}
    return {"suite": {"name": "s", "steps": 2}, "grid": [{**base, **grid}]}


def test_suite_systems_sweep_skip_and_errors() -> None:
    grid = {"critics": [{"name": "encoder"}], "batch_sizes": [8],
            "systems": ["inbatch", {"name": "moco", "queue": [16, 32]}]}  # fmt: skip
    configs = plan(parse_suite(_suite(grid))).configs
    assert [(c.system, c.kwargs("system").get("queue")) for c in configs] == [
        ("inbatch", None),
        ("moco", 16),
        ("moco", 32),
    ]
    skipped = plan(parse_suite(_suite({"systems": ["inbatch", "moco"]}))).skipped
    assert any("shared-encoder critic" in s.reason for s in skipped)
    with pytest.raises(SuiteError, match="valid choices: inbatch, clip, moco"):
        plan(parse_suite(_suite({"systems": ["byol"]})))
    with pytest.raises(SuiteError, match="queue must be an integer"):
        plan(parse_suite(_suite({"systems": [{"name": "moco", "queue": 0}]})))


def test_summary_rows_get_their_system_and_k_eff() -> None:
    from mibench.results.summary import summarize

    configs = [
        _moco_config(queue=8, momentum=0.5, n_steps=4, eval_every=2),
        RunConfig.make(**{**_moco_config(8, 0.5, n_steps=4, eval_every=2).as_dict(),
                          "system": "inbatch", "system_params": {}}),
    ]  # fmt: skip
    results = [train_stack([c])[0] for c in configs]
    frames = {r.config.cell_hash(): r.frame for r in results}
    sidecars = {r.config.cell_hash(): {"config": r.config.as_dict()} for r in results}
    labelled = systems.with_system_columns(summarize(frames, sidecars), sidecars)
    assert sorted(zip(labelled[schema.SYSTEM], labelled[schema.K_EFF], strict=True)) == [
        ("inbatch", 4),
        ("moco", 9),
    ]
    moco = labelled[labelled[schema.SYSTEM] == "moco"].iloc[0]
    assert moco["ceiling"] == pytest.approx(math.log(9))


# ------------------------------------------------------------------ SimCLR projection head
PROJECTED = {**ENCODER, "projection_hidden": [6], "projection_dim": 3}


def test_projection_head_and_the_reading_before_it() -> None:
    config = RunConfig.make(estimator="ntxent", task="gaussian", critic="encoder_projection")
    critic = critics.build(
        "encoder_projection",
        3,
        3,
        generators=[rng.generator(config, rng.STREAM_INIT)] * 2,
        dtype=torch.float64,
        params=PROJECTED,
    )
    assert critic.n_parameters == (3 * 8 + 8 + 8 * 4 + 4) + (4 * 6 + 6 + 6 * 3 + 3)
    u = torch.randn(2, 10, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    scores = critic.gram(u)
    # After the head: z = g(f(u)) normalised; before it: h = f(u) normalised (guide §10).
    z = critic.g.forward(critic.f.forward(u))
    z = z / z.norm(dim=-1, keepdim=True)
    assert torch.allclose(scores, z @ z.mT / 0.5, rtol=1e-12)

    class Group:  # the trainer's estimator group: runs [start, stop) with one spec
        spec, start, stop = estimators.get("ntxent"), 0, 2

    before = representation_readout(critic, "views", [Group])[schema.ESTIMATE_BEFORE_HEAD]
    h = critic.f.forward(u)
    h = h / h.norm(dim=-1, keepdim=True)
    expected = estimators.get("ntxent").value(h @ h.mT / 0.5)
    assert torch.allclose(before, expected.detach(), rtol=1e-12)
    assert not torch.allclose(before, estimators.get("ntxent").value(scores).detach())
    assert representation_readout(critic, "pairs", [Group]) == {}


def test_trainer_records_the_estimate_before_the_head() -> None:
    config = RunConfig.make(
        estimator="ntxent", task="gaussian", task_params={"dim": 3, "mi": 1.0},
        critic="encoder_projection", critic_params=PROJECTED, batch_size=6, n_steps=3,
        eval_every=2,
    )  # fmt: skip
    frame = train_stack([config])[0].frame
    values = frame[schema.ESTIMATE_BEFORE_HEAD].to_numpy()
    assert np.isfinite(values).all()
    assert (values <= math.log(2 * 6 - 1) + 1e-12).all()  # same estimator, same ceiling
