"""Shared helpers of the plot tests: the synthetic suite's shape and a PNG header reader."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd

from tests.plots.synthetic import synthetic_runs

# Registered names, so colours come from the real registry order.
ESTIMATORS = ("infonce", "nwj", "flatnce")
CAPPED = ("infonce",)
MI_LEVELS = (2.0, 6.0)
BATCH_SIZES = (16, 64)
SEEDS = (0, 1)
N_STEPS = 60
EVAL_EVERY = 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_runs(**overrides: object) -> pd.DataFrame:
    """A gaussian-task runs frame: 3 estimators x 2 MI levels x 2 K x 2 seeds x 60 steps, with
    one NWJ seed diverging at the highest level."""
    options: dict[str, object] = {
        "estimators": ESTIMATORS,
        "capped": CAPPED,
        "rng": np.random.default_rng(0),
        "mi_levels": MI_LEVELS,
        "batch_sizes": BATCH_SIZES,
        "seeds": SEEDS,
        "n_steps": N_STEPS,
        "eval_every": EVAL_EVERY,
        "diverging": ("nwj",),
    }
    options.update(overrides)
    return synthetic_runs(**options)  # type: ignore[arg-type]


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the 8-byte PNG signature."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    assert data[12:16] == b"IHDR", "first chunk is not IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height
