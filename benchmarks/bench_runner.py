r"""Throughput of the stacked trainer against a plain PyTorch loop, FLOP/s against matmul peak, RSS.

Run (not part of the test suite)::

    python benchmarks/bench_runner.py                  # CPU, both critic sizes, R = 1 8 32 64 128
    python benchmarks/bench_runner.py --device cuda    # the same on a GPU

For each critic size (``poole``: d = 20, K = 64, separable critic 20->256->256->32 on each side;
``bmi``: d = 5, K = 256, concat critic [x; y] -> 16 -> 8 -> 1) and each stack size R it measures,
in this one process:

* run-steps/s of :func:`mibench.train.train_stack` training R InfoNCE runs as one stack (readouts
  only at the first and last step, so the hot loop is what is timed);
* run-steps/s of the same R runs trained one after another in a plain PyTorch loop: ``nn.Linear``
  towers, ``torch.optim.Adam(fused=True)``, the run's data drawn in one call before its loop, the
  losses kept on the device (no per-step host sync). The concat critic evaluates its first layer
  as x W_x + (y W_y + b) in both loops (2K products instead of K^2);
* the ratio stacked / sequential;
* achieved FLOP/s of the stacked step, counted analytically (:func:`train_step_flops`: 3 x the
  forward matmul FLOPs, 2 m n k per matmul; biases, activations, the loss and Adam not counted),
  as a fraction of the peak measured by timing a large float32 ``torch.matmul`` here;
* peak resident memory (VmHWM, reset before each measurement) or, on CUDA, peak allocated memory.

Each cell is measured ``--repeats`` times; the table shows the median and the JSON keeps every
repeat. It writes ``benchmarks/results/<UTC timestamp>.json`` with machine information.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from mibench.core.interface import RunConfig
from mibench.tasks.gaussian import rho_from_mi
from mibench.train import train_stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_RUNS = (1, 8, 32, 64, 128)
# Matmul peak: n x n float32 products (2 n^3 FLOPs each), best of this many timed trials.
PEAK_SIZE = 2048
PEAK_TRIALS = 10
# Seconds each throughput measurement aims to last (a first short run calibrates the steps).
TARGET_SECONDS = 2.0
CALIBRATION_STEPS = 10
MIN_STEPS = 20
MI_NATS = 2.0
# Held-out readouts (first and last step only) on the smallest batch: the default 4K would add
# two K^2-sized evaluations (16 x a training forward for the concat critic) to a short timing.
EVAL_BATCH = 2
LR = 5e-4
# FLOPs of backward ~ 2 x forward for every matmul (input and weight gradients).
BACKWARD_FACTOR = 2


@dataclass(frozen=True)
class Setup:
    """One critic size of the benchmark."""

    name: str
    dim: int
    batch_size: int
    critic: str
    hidden: tuple[int, ...]
    embed_dim: int | None = None  # separable only

    @property
    def critic_params(self) -> dict[str, object]:
        params: dict[str, object] = {"hidden": list(self.hidden)}
        if self.embed_dim is not None:
            params["embed_dim"] = self.embed_dim
        return params


SETUPS = {
    "poole": Setup(
        "poole", dim=20, batch_size=64, critic="separable", hidden=(256, 256), embed_dim=32
    ),
    "bmi": Setup("bmi", dim=5, batch_size=256, critic="concat", hidden=(16, 8)),
}


# ------------------------------------------------------------------------------- FLOP counting
def mlp_matmul_flops(sizes: Sequence[int], rows: int) -> int:
    r"""Forward matmul FLOPs of an MLP ``sizes[0] -> ... -> sizes[-1]`` on ``rows`` inputs.

    .. math::  F = \sum_l 2\, n\, a_l\, b_l   \quad (2mnk \text{ per } (m\times k)(k\times n) \text{ matmul})
    """
    return sum(2 * rows * a * b for a, b in itertools.pairwise(sizes))


def forward_flops(setup: Setup, K: int | None = None) -> int:
    r"""Forward matmul FLOPs of one run's critic on a K x K score matrix.

    Separable: two towers on K rows each, then S = f(x) h(y)^T:
    :math:`2 F_{\mathrm{MLP}}(K) + 2 K^2 e`. Concat: first layer split into x W_x and y W_y
    (K rows each), the remaining layers on all K^2 pairs:
    :math:`2K d_x h_1 + 2K d_y h_1 + F_{\mathrm{MLP}, h_1\to\dots\to 1}(K^2)`.
    """
    K = setup.batch_size if K is None else K
    d = setup.dim
    if setup.critic == "separable":
        sizes = (d, *setup.hidden, setup.embed_dim)
        return 2 * mlp_matmul_flops(sizes, K) + 2 * K * K * setup.embed_dim
    if setup.critic == "concat":
        h1 = setup.hidden[0]
        first = 2 * K * d * h1 + 2 * K * d * h1
        return first + mlp_matmul_flops((*setup.hidden, 1), K * K)
    raise ValueError(f"no FLOP count for critic {setup.critic!r}")


def train_step_flops(setup: Setup, K: int | None = None) -> int:
    """One run's training step: forward plus backward ~ (1 + BACKWARD_FACTOR) x forward."""
    return (1 + BACKWARD_FACTOR) * forward_flops(setup, K)


# ------------------------------------------------------------------------------- measurements
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, *, size: int = PEAK_SIZE, trials: int = PEAK_TRIALS) -> float:
    """Best float32 ``torch.matmul`` FLOP/s over ``trials`` products of two size x size matrices."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    out = torch.empty(size, size, device=device)
    torch.matmul(a, b, out=out)
    sync(device)
    best = math.inf
    for _ in range(trials):
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    with contextlib.suppress(OSError):  # Linux: writing 5 resets this process's VmHWM (peak RSS)
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # lifetime peak fallback


def stacked_configs(
    setup: Setup, n_runs: int, n_steps: int, device: torch.device
) -> list[RunConfig]:
    return [
        RunConfig.make(
            estimator="infonce",
            task="gaussian",
            task_params={"dim": setup.dim, "mi": MI_NATS},
            critic=setup.critic,
            critic_params=setup.critic_params,
            batch_size=setup.batch_size,
            n_steps=n_steps,
            lr=LR,
            seed=seed,
            log_every=n_steps,
            eval_every=n_steps,
            eval_batch_size=EVAL_BATCH,
            suite="bench",
            device=str(device),
        )
        for seed in range(n_runs)
    ]


def stacked_rate(setup: Setup, n_runs: int, n_steps: int, device: torch.device) -> float:
    """Run-steps/s of one ``train_stack`` call (its own wall clock: training loop only)."""
    results = train_stack(stacked_configs(setup, n_runs, n_steps, device), device=device)
    return n_runs * n_steps / results[0].wall_time_s


def _mlp(sizes: Sequence[int], device: torch.device) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(device)


class PlainSeparable(nn.Module):
    def __init__(self, setup: Setup, device: torch.device) -> None:
        super().__init__()
        sizes = (setup.dim, *setup.hidden, setup.embed_dim)
        self.f, self.h = _mlp(sizes, device), _mlp(sizes, device)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.f(x) @ self.h(y).T


class PlainConcat(nn.Module):
    """MLP([x_i; y_j]) on all pairs, first layer split as x W_x + (y W_y + b)."""

    def __init__(self, setup: Setup, device: torch.device) -> None:
        super().__init__()
        self.wx = nn.Linear(setup.dim, setup.hidden[0], bias=False).to(device)
        self.wy = nn.Linear(setup.dim, setup.hidden[0]).to(device)
        self.rest = _mlp((*setup.hidden, 1), device)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        K = x.shape[0]
        pre = (self.wx(x).unsqueeze(1) + self.wy(y).unsqueeze(0)).relu()
        return self.rest(pre).reshape(K, K)


def infonce_loss(scores: Tensor) -> Tensor:
    """Negative InfoNCE bound (without its log K constant): -mean_i(S_ii - logsumexp_j S_ij)."""
    return (scores.logsumexp(dim=1) - scores.diagonal()).mean()


def sequential_rate(setup: Setup, n_runs: int, n_steps: int, device: torch.device) -> float:
    """Run-steps/s of R runs trained one after another in a plain PyTorch loop."""
    K, d = setup.batch_size, setup.dim
    rho = rho_from_mi(MI_NATS, d)
    sync(device)
    start = time.perf_counter()
    for seed in range(n_runs):
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # nn.Linear init only; local to this fork
            model = (PlainSeparable if setup.critic == "separable" else PlainConcat)(setup, device)
        opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
        x = torch.randn(n_steps, K, d, generator=gen).to(device)
        y = rho * x + math.sqrt(1 - rho * rho) * torch.randn(n_steps, K, d, generator=gen).to(
            device
        )
        losses = torch.empty(n_steps, device=device)
        for t in range(n_steps):
            loss = infonce_loss(model(x[t], y[t]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses[t] = loss.detach()
        losses.cpu()  # one host read per run
    sync(device)
    return n_runs * n_steps / (time.perf_counter() - start)


def calibrated_steps(rate_fn, n_runs: int, target_s: float) -> int:  # type: ignore[no-untyped-def]
    """Steps per run so that a measurement of ``rate_fn`` lasts about ``target_s`` seconds."""
    rate = rate_fn(CALIBRATION_STEPS)
    return max(MIN_STEPS, int(target_s * rate / n_runs))


@dataclass
class Cell:
    setup: str
    device: str
    n_runs: int
    stacked_steps: int
    sequential_steps: int
    stacked_rate: list[float] = field(default_factory=list)
    sequential_rate: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    peak_mem_mib: list[float] = field(default_factory=list)
    flops_per_run_step: int = 0
    fraction_of_peak: list[float] = field(default_factory=list)


def measure(
    setup: Setup, n_runs: int, device: torch.device, peak: float, repeats: int, target_s: float
) -> Cell:
    seq_runs = n_runs
    stacked_steps = calibrated_steps(
        lambda s: stacked_rate(setup, n_runs, s, device), n_runs, target_s
    )
    sequential_steps = calibrated_steps(
        lambda s: sequential_rate(setup, 1, s, device), seq_runs, target_s
    )
    cell = Cell(setup.name, str(device), n_runs, stacked_steps, sequential_steps)
    cell.flops_per_run_step = train_step_flops(setup)
    for _ in range(repeats):
        reset_peak_memory(device)
        stacked = stacked_rate(setup, n_runs, stacked_steps, device)
        cell.peak_mem_mib.append(peak_memory_mib(device))
        sequential = sequential_rate(setup, seq_runs, sequential_steps, device)
        cell.stacked_rate.append(stacked)
        cell.sequential_rate.append(sequential)
        cell.ratio.append(stacked / sequential)
        cell.fraction_of_peak.append(stacked * cell.flops_per_run_step / peak)
    return cell


def machine_info(device: torch.device) -> dict[str, object]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, object] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def render(cells: Sequence[Cell], peak: float) -> str:
    med = statistics.median
    lines = [
        f"matmul peak: {peak / 1e9:.1f} GFLOP/s (float32 {PEAK_SIZE}x{PEAK_SIZE})",
        f"{'setup':<6} {'R':>4} {'stacked run-steps/s':>20} {'sequential':>11} {'ratio':>7} "
        f"{'(min-max)':>13} {'GFLOP/s':>8} {'of peak':>8} {'peak MiB':>9}",
    ]
    for c in cells:
        lines.append(
            f"{c.setup:<6} {c.n_runs:>4} {med(c.stacked_rate):>20.0f} {med(c.sequential_rate):>11.0f} "
            f"{med(c.ratio):>6.1f}x {min(c.ratio):>6.1f}-{max(c.ratio):<6.1f} "
            f"{med(c.stacked_rate) * c.flops_per_run_step / 1e9:>8.1f} "
            f"{med(c.fraction_of_peak):>7.0%} {max(c.peak_mem_mib):>9.0f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated: poole,bmi")
    parser.add_argument("--runs", default=",".join(map(str, DEFAULT_RUNS)), help="stack sizes R")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=TARGET_SECONDS, help="per measurement")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.stderr.write("--device cuda: no GPU available\n")
        return 2
    info = machine_info(device)
    peak = matmul_peak(device)
    cells = []
    for name in args.setups.split(","):
        for n_runs in (int(v) for v in args.runs.split(",")):
            cell = measure(SETUPS[name], n_runs, device, peak, args.repeats, args.seconds)
            cells.append(cell)
            sys.stdout.write(render([cell], peak).splitlines()[-1] + "\n")
            sys.stdout.flush()
    peak_after = matmul_peak(device)
    table = render(cells, peak)
    sys.stdout.write(
        "\n" + table + f"\n(matmul peak re-measured at the end: {peak_after / 1e9:.1f})\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    info["load_average_end"] = os.getloadavg()
    payload = {
        "machine": info,
        "device": str(device),
        "matmul_peak_flops": peak,
        "matmul_peak_flops_end": peak_after,
        "flop_count": "3 x forward matmul FLOPs (2mnk each); biases, activations, loss, Adam not counted",
        "cells": [asdict(c) for c in cells],
        "table": table,
    }
    path = args.out / f"{stamp}.json"
    path.write_text(json.dumps(payload, indent=2))
    sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
