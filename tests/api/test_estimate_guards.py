"""``estimate_mi``'s early stopping, warnings and errors on real (tiny) training runs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mibench.api import readout as api_readout
from mibench.api.estimate import TrainingDivergedError, estimate_mi

FAST = {"method": "neural", "interval": False, "steps": 60, "batch_size": 16, "eval_every": 5,
        "critic": "separable", "critic_params": {"hidden": [8], "embed_dim": 4}}  # fmt: skip
# A critic far too big for 300 rows at a high lr: the held-out curve peaks within ~100 steps and
# then collapses (measured: smoothed peak ~1 nat at step ~80, -4 nats by step 400; truth 2.55).
OVERFIT = {"estimator": "infonce", "critic": "separable", "batch_size": 64, "lr": 1e-2,
           "critic_params": {"hidden": [128, 128], "embed_dim": 32}, "eval_every": 10,
           "steps": 400, "interval": False}  # fmt: skip


def gaussian_pairs(n: int, rho: float, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))


def test_overfitting_critic_stops_early_and_warns():
    x, y = gaussian_pairs(300, 0.8, 5, seed=3)
    with pytest.warns(UserWarning, match="fell from .* overfits the training rows"):
        result = estimate_mi(x, y, **OVERFIT)
    assert result.early_stopped and result.stopped_step < 399
    assert result.best_step < result.stopped_step
    assert result.trace["step"].max() < 399  # training really ended early
    assert result.overfit_drop > 0.5 and any("overfits" in m for m in result.warnings)


def test_without_early_stopping_all_steps_run():
    x, y = gaussian_pairs(300, 0.8, 5, seed=3)
    with pytest.warns(UserWarning, match="overfits"):
        result = estimate_mi(x, y, early_stopping=False, **OVERFIT)
    assert not result.early_stopped and result.stopped_step == 399
    assert result.trace["step"].max() == 399


def test_max_readout_is_the_largest_held_out_readout_of_the_same_run():
    x, y = gaussian_pairs(400, 0.7, 2, seed=4)
    test = estimate_mi(x, y, **FAST)
    best = estimate_mi(x, y, readout="max", **FAST)
    held = best.trace[best.trace["readout"] == "eval"]["estimate"]
    assert best.estimate == held.max() >= test.estimate  # same training: readout is read-only
    assert best.readout == "max" and best.config.cell_hash() == test.config.cell_hash()


def test_wild_readouts_warn(monkeypatch):
    # Thresholds at zero: every readout off its running median counts (exercises the plumbing;
    # the detector itself is tested on synthetic curves in test_api_readout.py).
    monkeypatch.setattr(api_readout, "WILD_SIGMAS", 0.0)
    monkeypatch.setattr(api_readout, "WILD_NATS", 0.0)
    x, y = gaussian_pairs(400, 0.7, 2, seed=5)
    with pytest.warns(UserWarning, match="heavy-tailed data .* a lower lr"):
        result = estimate_mi(x, y, **FAST)
    assert result.wild_readouts > 0


def test_calm_run_has_no_warnings():
    x, y = gaussian_pairs(400, 0.7, 2, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = estimate_mi(x, y, **FAST)
    assert result.warnings == () and math.isfinite(result.stderr) and result.stderr > 0


def test_huge_lr_raises_a_divergence_error_naming_lr():
    x, y = gaussian_pairs(400, 0.7, 2, seed=7)
    with pytest.raises(TrainingDivergedError, match=r"diverged at step \d+ with lr=1e\+06"):
        estimate_mi(x, y, **{**FAST, "lr": 1e6})


@pytest.mark.parametrize("eval_every", [16, 61, 1000])
def test_eval_every_beyond_a_quarter_of_steps_is_rejected(eval_every):
    x, y = gaussian_pairs(400, 0.7, 2, seed=8)
    with pytest.raises(ValueError, match=r"eval_every \d+ exceeds steps // 4 = 15"):
        estimate_mi(x, y, **{**FAST, "eval_every": eval_every})


def test_eval_every_at_the_limit_gives_a_finite_stderr():
    x, y = gaussian_pairs(400, 0.7, 2, seed=8)
    result = estimate_mi(x, y, **{**FAST, "eval_every": 15})
    assert result.n_readouts >= 2 and math.isfinite(result.stderr)


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"readout": "mean"}, "invalid readout 'mean'; valid choices: test, max"),
        ({"patience": 0}, "patience must be an integer >= 1"),
        ({"window": 0}, "window must be an integer >= 1"),
        ({"lr": True}, "lr must be a finite number > 0"),
    ],
)
def test_bad_stopping_arguments(overrides, pattern):
    x, y = gaussian_pairs(100, 0.7, 1, seed=9)
    with pytest.raises(ValueError, match=pattern):
        estimate_mi(x, y, **{**FAST, **overrides})
