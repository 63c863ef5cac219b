"""Early stopping and the readouts of ``estimate_mi`` on synthetic held-out curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mibench.api import readout as api_readout
from mibench.api.readout import EarlyStopping, best_index, read_out, smoothed

EVERY = 10


def curve_steps(n_evals: int) -> np.ndarray:
    return np.arange(n_evals) * EVERY  # evaluation k reads validation if k is even, else test


def test_smoothed_is_the_trailing_mean():
    values = np.array([1.0, 2.0, 6.0, 3.0, 0.0])
    assert np.allclose(smoothed(values, 3), [3.0, 11 / 3, 3.0])
    assert np.allclose(smoothed(values[:2], 3), [1.5])  # fewer than a window: one mean


def test_best_index_needs_an_improvement_beyond_min_delta():
    delta = api_readout.MIN_DELTA
    assert best_index(np.array([0.0, 1.0, 1.0 + delta / 2, 0.5])) == 1
    assert best_index(np.array([0.0, 1.0, 1.0 + 2 * delta, 0.5])) == 2


def test_early_stopping_waits_patience_windows_after_the_validation_peak():
    rule = EarlyStopping(EVERY, window=2, patience=3)
    # Validation (even evaluations) rises to a peak at its 4th value and then falls; the test
    # values (odd) are huge so that a rule peeking at them would never stop.
    validation = [0.1, 0.5, 0.9, 1.0, 0.8, 0.7, 0.6, 0.5]
    values = np.empty(2 * len(validation))
    values[0::2], values[1::2] = validation, 100.0
    steps = curve_steps(len(values))
    fired = [rule(steps[: k + 1], values[: k + 1, None]) for k in range(len(values))]
    # Smoothed (window 2): 0.3, 0.7, 0.95, 0.9, 0.75, 0.65, 0.55: best = index 2 (validation
    # values 3 and 4); three windows later (validation value 7, evaluation 12) the rule fires.
    assert fired.index(True) == 12
    assert rule.fired_at == steps[12]


def test_early_stopping_fires_on_nan_and_not_on_a_rising_curve():
    rule = EarlyStopping(EVERY, window=2, patience=2)
    rising = np.linspace(0, 1, 20)[:, None]
    assert not rule(curve_steps(20), rising)
    broken = rising.copy()
    broken[4] = math.nan
    assert rule(curve_steps(20), broken)


def synthetic(n_evals: int, seed: int, peak_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    trend = np.zeros(n_evals)
    if peak_at is not None:
        trend = 1.0 - np.abs(np.arange(n_evals) - peak_at) / peak_at
    return curve_steps(n_evals), trend + 0.05 * rng.standard_normal(n_evals)


def test_test_readout_is_the_mean_of_test_values_in_the_best_window():
    steps, values = synthetic(60, seed=0, peak_at=30)
    reading = read_out(steps, values, eval_every=EVERY, window=3, readout="test",
                       eval_batch_size=100, test_rows=300)  # fmt: skip
    validation = values[0::2]
    best = best_index(np.convolve(validation, np.ones(3) / 3, mode="valid"))
    first, last = steps[0::2][best], steps[0::2][best + 2]
    test_steps, test_values = steps[1::2], values[1::2]
    chosen = test_values[(test_steps >= first - EVERY) & (test_steps <= last + EVERY)]
    assert len(chosen) == reading.n_readouts == 4
    assert reading.estimate == pytest.approx(chosen.mean())
    # SE = s sqrt(E / (N - E) + 1 / n) with E = 100 of N = 300 test rows.
    assert reading.stderr == pytest.approx(chosen.std(ddof=1) * math.sqrt(100 / 200 + 1 / 4))
    assert reading.best_step == last and abs(last - 300) <= 4 * EVERY  # near the true peak
    # The curve fell from ~1 to ~0.05: overfitting flagged.
    assert reading.overfitting and reading.overfit_drop > 0.8


def test_max_readout_is_optimistic_and_the_test_readout_is_not():
    # Pure noise around a flat truth of 0 (independent data): across 200 synthetic curves the
    # max readout sits ~2.4 noise sds (0.05) above 0, the test readout at 0 within 4 standard
    # errors of its mean (0.05 sqrt(1/4) / sqrt(200) = 0.002 per curve average).
    tests, maxes = [], []
    for seed in range(200):
        steps, values = synthetic(40, seed)
        kwargs = {"eval_every": EVERY, "window": 3, "eval_batch_size": 100, "test_rows": 100}
        tests.append(read_out(steps, values, readout="test", **kwargs).estimate)
        maxes.append(read_out(steps, values, readout="max", **kwargs).estimate)
    assert abs(np.mean(tests)) < 4 * 0.05 / math.sqrt(4) / math.sqrt(200)
    assert np.mean(maxes) > 0.1


def test_a_spike_is_counted_as_wild_and_a_flat_noisy_curve_is_not():
    steps, values = synthetic(40, seed=1)
    kwargs = {"eval_every": EVERY, "window": 3, "readout": "test", "eval_batch_size": 10,
              "test_rows": 100}  # fmt: skip
    calm = read_out(steps, values, **kwargs)
    assert calm.wild_readouts == 0 and not calm.overfitting
    values[17] = 117.6  # one heavy-tailed readout, as Student-t data with dof 1 gave
    wild = read_out(steps, values, **kwargs)
    assert wild.wild_readouts == 1 and wild.wild_deviation == pytest.approx(117.6, abs=0.2)


def test_unknown_readout_and_too_few_readouts_are_value_errors():
    steps, values = synthetic(10, seed=2)
    kwargs = {"eval_every": EVERY, "window": 3, "eval_batch_size": 10, "test_rows": 100}
    with pytest.raises(ValueError, match="invalid readout 'mean'; valid choices: test, max"):
        read_out(steps, values, readout="mean", **kwargs)
    with pytest.raises(ValueError, match="1 validation and 1 test readouts"):
        read_out(steps[:2], values[:2], readout="test", **kwargs)


def test_all_stopped_waits_for_every_run_and_remembers_who_fired():
    first = api_readout.EarlyStopping(eval_every=1, window=1, patience=2, column=0)
    second = api_readout.EarlyStopping(eval_every=1, window=1, patience=2, column=1)
    rule = api_readout.AllStopped([first, second])
    steps = np.arange(0, 12, 2)  # validation evaluations only (even // 1 % 2 == 0)
    # Run 0 peaks at once and stalls; run 1 keeps improving for the first 5 evaluations.
    values = np.stack([[1.0, 0.9, 0.8, 0.7, 0.6, 0.5], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]], axis=1)
    assert not rule(steps[:4], values[:4]) and first.fired_at is not None
    assert second.fired_at is None
    stalled = np.concatenate([values, [[0.4, 0.6], [0.3, 0.6]]])
    assert rule(np.arange(0, 16, 2), stalled) and second.fired_at is not None
