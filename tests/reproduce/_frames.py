"""Synthetic reproduction frames: staircase curves of known mean and spread per level."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from mibench.reproduce.base import Readings

LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
Curve = Callable[[float], tuple[float, float]]  # true MI -> (mean, standard deviation)


def staircase_frame(
    curves: Mapping[tuple[str, str, str], Curve], *, steps_per_level: int = 80, seed: int = 0
) -> pd.DataFrame:
    """One run per (label, critic, task_label): per level, normal readouts N(mean, sd²)."""
    rng = np.random.default_rng(seed)
    frames = []
    for index, ((label, critic, task), curve) in enumerate(curves.items()):
        truth = np.repeat(LEVELS, steps_per_level)
        mean_sd = np.array([curve(level) for level in truth])
        estimate = mean_sd[:, 0] + mean_sd[:, 1] * rng.standard_normal(len(truth))
        frames.append(
            pd.DataFrame(
                {
                    "run_id": f"run{index}",
                    "label": label,
                    "critic": critic,
                    "task_label": task,
                    "step": np.arange(len(truth)),
                    "estimate": estimate,
                    "true_mi": truth,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def readings(train: pd.DataFrame, heldout: pd.DataFrame | None = None) -> Readings:
    empty = train.iloc[0:0]
    return Readings(
        train=train, heldout=empty if heldout is None else heldout, summary=pd.DataFrame()
    )


def verdict_of(rows, start: str) -> str:
    """The verdict of the row whose statement starts with ``start``."""
    matches = [r for r in rows if r.statement.startswith(start)]
    assert len(matches) == 1, [r.statement for r in rows]
    return matches[0].verdict
