"""MoCo (mibench.systems.moco): momentum encoder, key queue, bank InfoNCE readings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mibench import critics, estimators, systems, tasks
from mibench.core import rng
from mibench.core.interface import RunConfig
from mibench.estimators.contrastive import bank_infonce_loss
from mibench.estimators.diagnostics import bank_ess, bank_infonce_value
from mibench.results import schema
from mibench.systems.moco import (
    DEFAULT_MOMENTUM,
    DEFAULT_QUEUE,
    STREAM_QUEUE,
    MoCo,
    MomentumQueue,
)
from mibench.train import train_stack
from tests.systems._system_helpers import (
    ENCODER,
    assert_diagnostics_on_their_rows,
    draw,
    moco_config,
    system_reason,
)


def _moco(configs: list[RunConfig]) -> tuple[critics.Critic, MomentumQueue, list]:
    built = [tasks.build(c.task, **c.kwargs("task")) for c in configs]
    critic = critics.build(
        "encoder",
        3,
        3,
        generators=[rng.generator(c, rng.STREAM_INIT) for c in configs],
        dtype=torch.float64,
        params=ENCODER,
    )
    queue = MomentumQueue(
        critic,
        configs,
        built,
        generators=[rng.generator(c, STREAM_QUEUE) for c in configs],
        dtype=torch.float64,
        device=torch.device("cpu"),
    )
    return critic, queue, built


def test_moco_system_reads_its_logits_with_the_estimators_bank_functions() -> None:
    # Through the protocol: MoCo's scores are the queue's (R, K, 1 + Q) logits, its diagnostics
    # and its wrapped InfoNCE are exactly the estimators package's bank forms of those logits.
    configs = [moco_config(queue=8, momentum=0.9, seed=s) for s in (0, 1)]
    built = [tasks.build(c.task, **c.kwargs("task")) for c in configs]
    critic = critics.build(
        "encoder", 3, 3, generators=[rng.generator(c, rng.STREAM_INIT) for c in configs],
        dtype=torch.float64, params=ENCODER,
    )  # fmt: skip
    inputs = systems.SystemInputs(
        critic, configs, built, "pairs", "offdiag", torch.float64, torch.device("cpu")
    )
    moco = systems.build(inputs)
    assert isinstance(moco, MoCo) and moco.matrix_size(4) == 9
    x, y = (torch.cat(parts) for parts in zip(*[draw(t, 4, 7) for t in built], strict=True))
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
    config = moco_config(queue=K, momentum=0.0, K=K)
    critic, queue, (task,) = _moco([config])
    x0, y0 = draw(task, K, 10)
    x1, y1 = draw(task, K, 11)
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
    _, queue, (task,) = _moco([moco_config(queue=Q, momentum=0.9, K=K)])
    for step in range(2 * Q // K + 1):
        x, y = draw(task, K, 100 + step)
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
    configs = [moco_config(queue=8, momentum=m, seed=s) for s in (0, 1)]
    critic, queue, built = _moco(configs)
    x, y = (torch.cat(parts) for parts in zip(*[draw(t, 4, 7) for t in built], strict=True))
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
    configs = [moco_config(queue=8, momentum=0.5, seed=s, n_steps=6, eval_every=3) for s in (0, 1)]
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
    assert_diagnostics_on_their_rows(frame, [schema.ALIGN, schema.UNIF])


def test_moco_params_are_checked_and_normalised() -> None:
    assert systems.resolve_system_params("moco", {}) == {
        "queue": DEFAULT_QUEUE,
        "momentum": DEFAULT_MOMENTUM,
    }
    # momentum normalised to a float (so 0 and 0.0 are one cell), queue kept as given
    assert systems.resolve_system_params("moco", {"queue": 16, "momentum": 0}) == {
        "queue": 16,
        "momentum": 0.0,
    }
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        systems.resolve_system_params("moco", {"momentum": 1.0})
    for queue in (0, 2.5, True):
        with pytest.raises(ValueError, match="queue must be an integer >= 1"):
            systems.resolve_system_params("moco", {"queue": queue})


def _moco_run(queue: int, **overrides: object) -> RunConfig:
    base: dict[str, object] = {"estimator": "infonce", "task": "gaussian",
                               "task_params": {"dim": 3, "mi": 1.0}, "critic": "encoder",
                               "batch_size": 8, "system": "moco",
                               "system_params": {"queue": queue, "momentum": 0.9}}  # fmt: skip
    return RunConfig.make(**{**base, **overrides})


def test_moco_applies_to_infonce_with_the_shared_encoder_and_a_queue_of_a_batch() -> None:
    assert system_reason(_moco_run(16)) is None
    assert "trains InfoNCE over its queue; got estimator 'nwj'" in system_reason(
        _moco_run(16, estimator="nwj")
    )
    assert "needs a pairs-layout estimator; ntxent is views" in system_reason(
        _moco_run(16, estimator="ntxent")
    )
    assert "shared-encoder critic (encoder)" in system_reason(_moco_run(16), critic="separable")
    assert "shared-encoder critic" in system_reason(_moco_run(16, critic="separable"))  # config's
    assert system_reason(_moco_run(8)) is None  # Q = K: one batch fits
    assert "moco queue (4) must hold at least one batch (K = 8)" in system_reason(_moco_run(4))
