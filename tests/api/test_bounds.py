"""estimate_bounds: one estimate_mi call per named estimator, the right critic, the interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mibench.api.bounds as sandwich_api


class _Fake:
    def __init__(self, estimate: float) -> None:
        self.estimate = estimate


def test_calls_estimate_mi_per_name_with_the_density_critic_for_club(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    values = {"smile": 1.2, "infonce": 1.0, "club": 3.0, "l1out": 1.5}

    def fake(x: Any, y: Any, **kwargs: Any) -> _Fake:
        calls.append(kwargs)
        return _Fake(values[kwargs["estimator"]])

    monkeypatch.setattr(sandwich_api, "estimate_mi", fake)
    x = y = np.zeros((10, 2))
    result = sandwich_api.estimate_bounds(
        x, y, bounds=("smile", "infonce", "club", "l1out"), steps=7
    )
    assert [(c["estimator"], c["critic"], c["steps"]) for c in calls] == [
        ("smile", "separable", 7),
        ("infonce", "separable", 7),
        ("club", "gaussian_conditional", 7),
        ("l1out", "gaussian_conditional", 7),
    ]
    assert (result.lower_estimator, result.upper_estimator) == ("smile", "l1out")
    assert result.width == pytest.approx(0.3) and not result.lower_is_bound


def test_bounds_without_an_upper_bound_are_rejected() -> None:
    with pytest.raises(ValueError, match="club"):
        sandwich_api.estimate_bounds(np.zeros((4, 1)), np.zeros((4, 1)), bounds=("smile", "nwj"))


def test_a_real_short_run_returns_an_ordered_pair() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    y = 0.8 * x + 0.6 * rng.standard_normal((400, 2))
    result = sandwich_api.estimate_bounds(
        x, y, bounds=("infonce", "club"), steps=120, batch_size=32, eval_every=10
    )
    assert np.isfinite(result.lower) and np.isfinite(result.upper)
    assert set(result.estimates) == {"infonce", "club"}
