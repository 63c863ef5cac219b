"""``mibench.estimate_mi`` on user arrays: the runner's trainer on a train/held-out split."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import mibench
import mibench.train
from mibench import estimators
from mibench.api import readout as api_readout
from mibench.api.empirical import EmpiricalTask, digest
from mibench.api.estimate import SPLIT_COLUMN, estimate_mi
from mibench.results import schema
from mibench.tasks.gaussian import mi_from_rho

FAST = {"method": "neural", "interval": False, "steps": 150, "batch_size": 32,
        "critic": "separable", "critic_params": {"hidden": [16], "embed_dim": 8}}  # fmt: skip


def gaussian_pairs(n: int, rho: float, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    return x, y


def test_estimate_on_gaussian_data_is_near_the_truth():
    rho, dim = 0.8, 2
    truth = mi_from_rho(rho, dim)  # -(d/2) log(1 - rho^2) = 1.02 nats
    x, y = gaussian_pairs(4000, rho, dim, seed=0)
    result = estimate_mi(x, y, estimator="infonce", steps=600, batch_size=128, lr=2e-3, interval=False,
                         critic="separable", critic_params={"hidden": [32], "embed_dim": 16})  # fmt: skip
    # InfoNCE at K = 128 has ceiling log 128 = 4.85 >> 1.02, and a separable critic represents the
    # optimal Gaussian critic up to a constant, so what remains is optimisation error of a short
    # run and the sampling error of the 800 held-out rows: the pointwise log ratio has variance
    # d rho^2 = 1.28 here, so sd 1.13 / sqrt(800) = 0.04 nats. 0.25 nats is 6 such sds (measured
    # error: +0.04) and still fails for a broken split or an untrained critic (estimate ~0).
    # The held-out 30 % is 1200 rows, halved into validation and test: 600 test rows, so the
    # sampling sd of the readout is ~1.13 / sqrt(600) = 0.05; stderr covers it (< 0.1).
    assert abs(result.estimate - truth) < 0.25, result
    assert 0 < result.stderr < 0.1
    assert (result.n_train, result.n_heldout) == (2800, 1200)


def test_independent_data_gives_about_zero():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2000, 2)), rng.standard_normal((2000, 2))
    result = estimate_mi(x, y, estimator="infonce", **FAST)
    # I = 0; a held-out InfoNCE value can only exceed 0 by overfitting the critic to training rows
    # it never sees at readout, so the held-out estimate sits at 0 up to batch noise: 5 standard
    # errors, and at least 0.1 nats in case the window's readouts happen to agree closely.
    assert abs(result.estimate) < max(5 * result.stderr, 0.1), result


def test_estimate_is_the_mean_of_the_test_readouts_around_the_best_validation_window():
    x, y = gaussian_pairs(1000, 0.5, 1, seed=2)
    result = estimate_mi(
        x, y, estimator="nwj", eval_every=5, window=3, early_stopping=False, **FAST
    )
    trace = result.trace
    held = trace[trace[schema.READOUT] == "eval"]
    # Evaluations alternate: step s reads the validation half when (s // 5) is even, else test.
    assert (
        held[SPLIT_COLUMN] == np.where((held[schema.STEP] // 5) % 2 == 0, "validation", "test")
    ).all()
    validation = held[held[SPLIT_COLUMN] == "validation"]
    curve = np.convolve(validation[schema.ESTIMATE], np.ones(3) / 3, mode="valid")
    best = api_readout.best_index(curve)  # unit-tested in test_api_readout.py
    first, last = validation[schema.STEP].iloc[[best, best + 2]]
    test = held[(held[SPLIT_COLUMN] == "test") & held[schema.STEP].between(first - 5, last + 5)]
    assert result.best_step == last
    # 3 validation readouts enclose 2 test ones, plus one on each side.
    assert result.n_readouts == len(test) == 4
    assert result.estimate == pytest.approx(test[schema.ESTIMATE].mean())
    assert result.readout == "test" and not result.early_stopped and result.stopped_step == 149
    assert result.config.task == "empirical" and result.config.suite == "estimate_mi"


def test_same_seed_same_numbers_other_seed_other_numbers():
    x, y = gaussian_pairs(800, 0.6, 2, seed=3)
    a = estimate_mi(x, y, seed=4, **FAST)
    b = estimate_mi(x, y, seed=4, **FAST)
    c = estimate_mi(x, y, seed=5, **FAST)
    assert a.estimate == b.estimate
    assert a.config.cell_hash() == b.config.cell_hash() != c.config.cell_hash()
    assert a.estimate != c.estimate


def test_runs_through_train_stack_with_disjoint_splits(monkeypatch):
    real = mibench.train.train_stack
    seen = {}

    def spy(configs, **kwargs):
        seen.update(kwargs, configs=configs)
        return real(configs, **kwargs)

    monkeypatch.setattr(mibench.train, "train_stack", spy)
    x, y = gaussian_pairs(500, 0.3, 2, seed=6)
    estimate_mi(x, y, gaussianize=False, standardize=False, **FAST)
    ((run,),), (held_task,) = (seen["configs"],), seen["eval_tasks"]
    train_task = run.task  # the resolved run carries its task
    validation, test = held_task.splits
    rows = np.concatenate([train_task.x.numpy(), validation.x.numpy(), test.x.numpy()])
    # Every user row is in exactly one split (compare as sets of rows).
    assert sorted(map(tuple, rows)) == sorted(map(tuple, x))
    assert train_task.data_digest == validation.data_digest == test.data_digest
    assert (validation.n, test.n) == (75, 75)  # 30 % of 500 rows held out, halved


def test_empirical_batches_are_distinct_rows_and_reproducible():
    data = torch.arange(20, dtype=torch.float64).reshape(10, 2)
    task = EmpiricalTask(data, -data, split="train", data_digest=digest(data))
    steps = torch.arange(3).repeat_interleave(10)  # three batches of all 10 rows
    batch = task.sample(30, torch.Generator().manual_seed(0), steps=steps)
    for b in range(3):
        rows = batch.x[b * 10 : (b + 1) * 10, 0]
        assert sorted(rows.tolist()) == data[:, 0].tolist()  # a permutation: no row twice
    assert torch.equal(batch.y, -batch.x)  # pairs stay paired
    again = task.sample(30, torch.Generator().manual_seed(0), steps=steps)
    assert torch.equal(again.x, batch.x)
    assert math.isnan(task.true_mi()) and task.log_ratio(batch.x, batch.y) is None
    with pytest.raises(ValueError, match="needs at least 11 samples"):
        task.sample(11, torch.Generator())


BAD = {
    "rows differ": ({"y": np.zeros((99, 1))}, "same number of rows, got 100 and 99"),
    "NaN": ({"x": np.full((100, 1), np.nan)}, "x contains NaN or Inf"),
    "batch < 2": ({"batch_size": 1}, "batch_size must be an integer >= 2, got 1"),
    "batch > rows": ({"batch_size": 90}, "batch_size 90 exceeds the 70 training rows"),
    "heldout fraction": ({"heldout_fraction": 1.0}, r"heldout_fraction must lie in \(0, 1\)"),
    "unknown estimator": ({"estimator": "smiley"}, "unknown estimator 'smiley'; valid choices"),
    "unknown critic": ({"critic": "mlp"}, "unknown critic 'mlp'; valid choices"),
    "labels estimator": ({"estimator": "sincere"}, "does not apply"),
    "steps < 4": ({"steps": 3}, "steps must be an integer >= 4, got 3"),
    "bad dtype": ({"dtype": "half"}, "valid choices: float32, float64"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_arguments_name_the_value(case):
    overrides, pattern = BAD[case]
    rng = np.random.default_rng(0)
    kwargs = {"x": rng.standard_normal((100, 1)), "y": rng.standard_normal((100, 1)),
              "method": "neural", "batch_size": 32, **overrides}  # fmt: skip
    with pytest.raises(ValueError, match=pattern):
        estimate_mi(**kwargs)


def test_lazy_export_keeps_import_light():
    assert mibench.estimate_mi is estimate_mi
    code = "import sys, mibench; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


TINY = {"interval": False, "steps": 12, "batch_size": 16, "eval_every": 3,
        "critic_params": None, "early_stopping": False}  # fmt: skip


# Every estimator that reads (x, y) pairs as a critic or a sample estimator of I(X; Y) must give
# an estimate here; the others (labels, H(Y), the encoder critic, the sliced MI) must say why not.
ESTIMATES_EXPECTED = {
    name
    for name in estimators.names()
    if (estimators.get(name).layout == "pairs" and "entropy_y" not in estimators.get(name).needs)
    and getattr(estimators.get(name), "target", "mi") == "mi"
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # 12-step runs: wild-readout warnings are noise
@pytest.mark.parametrize("name", estimators.names())
def test_every_registered_estimator_estimates_or_says_why_not(name):
    x, y = gaussian_pairs(200, 0.6, 2, seed=7)
    try:
        result = estimate_mi(x, y, estimator=name, **TINY)
    except ValueError as error:
        message = str(error)
        # One line that names the estimator and says why (labels, H(Y), an encoder critic, ...).
        assert name in message and "\n" not in message, message
        assert any(word in message for word in ("needs", "need", "cannot", "does not apply"))
        assert name not in ESTIMATES_EXPECTED, message
        return
    assert math.isfinite(result.estimate) and result.estimator == name
    kind = "sample" if estimators.is_sample(name) else "neural"
    assert result.method == kind and name in result.why


def test_auto_on_one_dimension_is_ksg_with_the_same_numbers():
    x, y = gaussian_pairs(2000, 0.6, 1, seed=8)
    chosen = estimate_mi(x, y, seed=3)
    fixed = estimate_mi(x, y, seed=3, estimator="ksg")
    assert (chosen.method, chosen.estimator) == ("sample", "ksg") and "KSG:" in chosen.why
    assert (chosen.estimate, chosen.interval) == (fixed.estimate, fixed.interval)


def test_auto_in_many_dimensions_is_the_neural_path_with_the_same_numbers():
    x, y = gaussian_pairs(800, 0.5, 4, seed=9)
    small = {"steps": 40, "batch_size": 32, "eval_every": 5,
             "critic_params": {"hidden": [8], "embed_dim": 4}}  # fmt: skip
    chosen = estimate_mi(x, y, **small)
    fixed = estimate_mi(x, y, method="neural", **small)
    assert (chosen.method, chosen.estimator) == ("neural", "infonce")
    assert "more than" in chosen.why
    assert chosen.estimate == fixed.estimate and chosen.interval == fixed.interval
    assert chosen.interval[0] <= chosen.estimate <= chosen.interval[1]


def test_threads_are_set_for_the_call_and_restored(monkeypatch):
    import mibench.execute.executor as executor

    before = torch.get_num_threads()
    x, y = gaussian_pairs(300, 0.6, 1, seed=10)
    assert estimate_mi(x, y, threads=1).threads == 1
    monkeypatch.setattr(executor, "in_process_threads", lambda: 1)
    assert estimate_mi(x, y).threads == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        estimate_mi(x, y, threads=0)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"method": "fast"}, "invalid method 'fast'; valid choices: auto, neural, sample"),
        ({"method": "sample", "estimator": "infonce"}, "'infonce', a neural estimator"),
        ({"method": "neural", "estimator": "ksg"}, "'ksg', a sample estimator"),
    ],
)
def test_method_and_estimator_must_agree(kwargs, pattern):
    x, y = gaussian_pairs(100, 0.6, 1, seed=11)
    with pytest.raises(ValueError, match=pattern):
        estimate_mi(x, y, **kwargs)
