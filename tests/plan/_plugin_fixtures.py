"""Helpers for the plug-in tests: a user's module in a folder, and the example plug-in's entry
points exposed without pip (a ``*.dist-info`` folder on ``sys.path`` is what
``importlib.metadata`` reads for an installed distribution)."""

from __future__ import annotations

import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mibench-example-plugin"
EXAMPLE_ENTRY_POINTS = {
    "symmetric_infonce": "mibench_example_plugin.bounds:symmetric_infonce",
    "copula_gaussian": "mibench_example_plugin.copula:copula_gaussian_mi",
}

# A user's module: one score-matrix bound (NWJ written out, trained by its own value) and one
# plain f(x, y) -> float (the Gaussian MI of the first coordinates' correlation, per dimension).
USER_MODULE = """
import math

import numpy as np
import torch

import mibench


def _nwj(scores):
    K = scores.shape[-1]
    off = scores - 1.0 + torch.diag_embed(torch.full(scores.shape[:-1], -math.inf))
    log_mean = torch.logsumexp(off, dim=(-2, -1)) - math.log(K * (K - 1))
    return torch.diagonal(scores, dim1=-2, dim2=-1).mean(-1) - torch.exp(log_mean)


bound = mibench.Estimator(name="my_nwj", value_fn=_nwj, kind="lower_bound")


def fn(x, y):
    rho = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    return float(-0.5 * x.shape[1] * np.log(1 - rho**2))
"""

SMALL_SUITE = """
[suite]
name = "small"
steps = 40
seeds = 2
batch_sizes = [8]
eval_every = 20
sample_size = 200

[[grid]]
estimators = ["infonce"]
tasks = [{ name = "gaussian", dim = 2, mi = [0.5, 1.0] }]
critics = [{ name = "separable", hidden = [8], embed_dim = 4 }]
"""


def write_module(folder: Path, name: str, body: str) -> Path:
    """``folder/name.py`` holding ``body`` (dedented)."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def write_distribution(
    folder: Path,
    name: str = "mibench-example-plugin",
    version: str = "0.1.0",
    entry_points: dict[str, str] | None = None,
) -> Path:
    """A ``<name>-<version>.dist-info`` in ``folder`` declaring ``entry_points`` in the group
    ``mibench.estimators`` (default: the example plug-in's); returns ``folder``."""
    points = EXAMPLE_ENTRY_POINTS if entry_points is None else entry_points
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[mibench.estimators]", *(f"{k} = {v}" for k, v in points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return folder
