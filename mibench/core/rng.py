"""Per-run random streams, derived from the run's config alone (never from its stack)."""

from __future__ import annotations

import hashlib

import torch

from mibench.core.interface import RunConfig

# Named streams: parameters of the main critic, of each dual head, training data, held-out data.
STREAM_INIT = "init"
STREAM_DATA = "data"
STREAM_EVAL = "eval"


def stream_seed(config: RunConfig, stream: str) -> int:
    """63-bit seed: SHA-256 of ``"<cell hash>:<seed>:<stream>"`` (seed is also in the hash)."""
    blob = f"{config.cell_hash()}:{config.seed}:{stream}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


def generator(config: RunConfig, stream: str) -> torch.Generator:
    """A fresh CPU generator for ``stream`` of this run (same config -> same numbers)."""
    return torch.Generator(device="cpu").manual_seed(stream_seed(config, stream))
