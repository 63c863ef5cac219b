"""ESS scheduling (FlatNCE Algorithm S2) as a stateful estimator wrapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mibench.estimators import ess, get
from mibench.train.ess_schedule import (
    DEFAULT_RATE,
    PRINTED_DIRECTION,
    STABLE_DIRECTION,
    ess_schedule_step,
    ess_scheduled,
)


def _scores(seed: int = 0, R: int = 3, K: int = 8) -> torch.Tensor:
    return 3.0 * torch.randn(
        R, K, K, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


def test_step_follows_the_printed_rule_and_its_sign_flip() -> None:
    beta = torch.tensor([1.0, 1.0])
    ess_values = torch.tensor([0.5, 0.1])  # above / below a target of 0.3
    printed = ess_schedule_step(beta, ess_values, target=0.3, direction=PRINTED_DIRECTION)
    torch.testing.assert_close(printed, torch.tensor([1 - DEFAULT_RATE, 1 + DEFAULT_RATE]))
    stable = ess_schedule_step(beta, ess_values, target=0.3, direction=STABLE_DIRECTION)
    torch.testing.assert_close(stable, torch.tensor([1 + DEFAULT_RATE, 1 - DEFAULT_RATE]))


def test_larger_beta_lowers_the_ess_so_only_the_flipped_sign_is_stable() -> None:
    # The premise of the module docstring, checked on random scores: ESS(beta S) decreases in beta.
    scores = _scores()
    values = [ess(beta * scores) for beta in (0.5, 1.0, 2.0)]
    assert torch.all(values[0] > values[1]) and torch.all(values[1] > values[2])


@pytest.mark.parametrize(
    "direction, converges", [(STABLE_DIRECTION, True), (PRINTED_DIRECTION, False)]
)
def test_the_schedule_on_fixed_scores(direction: float, converges: bool) -> None:
    """On a fixed critic, iterate the state update: the stable sign settles at ESS ≈ target, the
    printed one runs away to the boundary (ESS -> 1/(K-1) or 1)."""
    spec = ess_scheduled(get("flatnce"), target=0.3, direction=direction)
    scores = _scores(R=2, K=16)
    state = None
    for _ in range(600):
        state = spec.next_state(scores, state)
    final = ess(state[..., 0, None, None] * scores)
    if converges:
        # beta dithers by (1 +- 0.01): the ESS stays within the change of one step of the target
        assert torch.all((final - 0.3).abs() < 0.02), final
    else:
        assert torch.all((final - 0.3).abs() > 0.2), final


def test_value_loss_and_extras_use_the_tempered_scores() -> None:
    flatnce = get("flatnce")
    spec = ess_scheduled(flatnce, target=0.3)
    scores = _scores()
    state = torch.stack([torch.full((3,), 2.0), torch.full((3,), 2.02)], dim=-1).double()
    torch.testing.assert_close(spec.value(scores, state=state), flatnce.value(2.0 * scores))
    torch.testing.assert_close(spec.loss(scores, state=state), flatnce.loss(2.0 * scores))
    extras = spec.extras(scores, state=state)
    torch.testing.assert_close(extras["scheduled_ess"], ess(2.0 * scores))
    torch.testing.assert_close(extras["beta"], torch.full((3,), 2.0, dtype=torch.float64))
    # before any step (state None) beta is 1: the wrapped estimator itself
    torch.testing.assert_close(spec.value(scores, state=None), flatnce.value(scores))


def test_first_state_starts_at_beta_one_and_is_detached() -> None:
    spec = ess_scheduled(get("flatnce"), target=0.3)
    scores = _scores().requires_grad_(True)
    state = spec.next_state(scores, None)
    assert state.shape == (3, 2) and not state.requires_grad
    torch.testing.assert_close(state[:, 0], torch.ones(3, dtype=torch.float64))


def test_hyperparameters_pass_through_and_are_validated() -> None:
    holder = ess_scheduled(get("holder_flatnce"), target=0.2)
    assert set(holder.hyper) == {"gamma", "target", "rate", "direction"}
    scores = _scores()
    state = holder.next_state(scores, None)
    changed = holder.with_hyper(gamma=2.0)
    torch.testing.assert_close(
        changed.loss(scores, state=state), get("holder_flatnce").with_hyper(gamma=2.0).loss(scores)
    )
    for bad in ({"target": 0.0}, {"target": 1.5}, {"rate": 1.0}, {"direction": 0.5}):
        with pytest.raises(ValueError):
            ess_scheduled(get("flatnce"), **bad)
    with pytest.raises(ValueError, match="pairs-layout"):
        ess_scheduled(get("flo"))


def test_the_stacked_trainer_runs_the_schedule_step_by_step() -> None:
    """Through train_stack (the wrapped spec is handed to the trainer, not registered): the
    recorded beta follows the update rule exactly."""
    from mibench.core.interface import RunConfig
    from mibench.train import train_stack

    spec = ess_scheduled(get("flatnce"), target=0.5, name="flatnce_ess_test")
    configs = [
        RunConfig.make(
            estimator=spec.name,
            estimator_params={"target": target},
            task="gaussian",
            task_params={"dim": 2, "mi": 1.0},
            critic_params={"hidden": [8], "embed_dim": 4},
            batch_size=8,
            n_steps=30,
            dtype="float64",  # the readout's float64 ESS is then the state update's ESS exactly
            eval_every=30,
            log_every=1,
            seed=seed,
        )
        for seed, target in ((0, 0.5), (1, 0.9))
    ]
    results = train_stack(configs, device="cpu", estimators=[spec] * len(configs))
    for config, result in zip(configs, results, strict=True):
        train = result.frame[result.frame["readout"] == "train"]
        beta = train["beta"].to_numpy()
        scheduled = train["scheduled_ess"].to_numpy()
        target = dict(config.estimator_params)["target"]
        assert beta[0] == 1.0
        expected = np.where(scheduled[:-1] > target, 1 + DEFAULT_RATE, 1 - DEFAULT_RATE)
        np.testing.assert_allclose(beta[1:] / beta[:-1], expected, rtol=1e-12)
