"""Shared test settings: CPU only, float64 by default for reference comparisons."""

from __future__ import annotations

import os

import torch
from hypothesis import settings

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
torch.set_num_threads(1)  # tests run under pytest-xdist with one worker per core

settings.register_profile("mibench", deadline=None, max_examples=60)
settings.load_profile("mibench")
