"""Per-level window statistics and EMA smoothing (mibench.reproduce.levels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mibench.reproduce import levels
from tests.reproduce._frames import staircase_frame


def test_level_stats_match_numpy_on_the_window():
    frame = staircase_frame({("NWJ", "concat", "Gaussian"): lambda i: (i - 1, 0.5)})
    stats = levels.level_stats(frame, fraction=0.25)
    for level, row in stats.set_index("true_mi").iterrows():
        part = frame[frame["true_mi"] == level]
        window = part["estimate"].to_numpy()[-20:]  # 80 steps per level, fraction 1/4
        assert row["mean"] == pytest.approx(window.mean())
        assert row["variance"] == pytest.approx(np.var(window))
        assert row["bias"] == pytest.approx(window.mean() - level)
        assert row["mse"] == pytest.approx((window.mean() - level) ** 2 + np.var(window))


def test_seeds_are_averaged_and_counted():
    one = staircase_frame({("a", "c", "t"): lambda i: (i, 1.0)}, seed=1)
    two = staircase_frame({("a", "c", "t"): lambda i: (i, 1.0)}, seed=2).assign(run_id="other")
    stats = levels.level_stats(pd.concat([one, two]), fraction=0.5)
    first = levels.level_stats(one, fraction=0.5)
    second = levels.level_stats(two, fraction=0.5)
    assert (stats["n_seeds"] == 2).all()
    np.testing.assert_allclose(stats["variance"], (first["variance"] + second["variance"]) / 2)


def test_non_finite_readouts_are_dropped_and_counted():
    frame = staircase_frame({("a", "c", "t"): lambda i: (i, 0.0)}, steps_per_level=8)
    frame.loc[7, "estimate"] = np.inf
    stats = levels.level_stats(frame, fraction=0.5)
    assert stats.loc[0, "n_bad"] == 1
    assert stats.loc[0, "mean"] == pytest.approx(2.0)


def test_ema_equals_pandas_and_rejects_bad_span():
    values = np.random.default_rng(0).normal(size=50)
    np.testing.assert_allclose(levels.ema(values, 7), pd.Series(values).ewm(span=7).mean())
    with pytest.raises(ValueError, match="span"):
        levels.ema(values, 0)


def test_window_fraction_is_checked():
    with pytest.raises(ValueError, match="fraction"):
        levels.window_bounds(0, 10, fraction=0.0)
