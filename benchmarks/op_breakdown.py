r"""Where a stacked training step spends its time, op by op, with each op timed on its own.

Run (not part of the test suite)::

    python benchmarks/op_breakdown.py --setup poole --runs 32 --steps 100

It trains one stack of ``bench_runner.py``'s setup (InfoNCE, R runs) twice: once plainly, to
time the step, and once under a ``TorchDispatchMode`` that times every ATen op the forward,
backward and optimiser dispatch (the mode sees the backward's ops too). It prints the plain
ms/step, the sum of the op times per step, and the ops that take the most time, with their
calls per step; ``--shapes`` splits matmuls by operand shapes and strides.

Why not ``torch.profiler``: on this CPU it charged 18 ms per call to the weight-gradient ``bmm``
of the Poole 256 -> 256 layer (R = 32), which this timer and an isolated timing both put at
~3 ms. The dispatch-mode timing adds a few microseconds of Python per op, which is why the step
under the mode is slower than the plain step; the per-op sums are what to compare. Ops that
return many views (``unbind`` of a stacked leaf into its R rows) are inflated most: ~2 ms per step
at R = 32 under the mode against 0.4 ms timed plainly.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_runner

from mibench.train import train_stack

MATMULS = {
    "aten.bmm.default",
    "aten.baddbmm.default",
    "aten.baddbmm_.default",
    "aten.mm.default",
    "aten.addmm.default",
}


class OpTimer(TorchDispatchMode):
    """Wall time and call count of every dispatched ATen op (CPU: ops run synchronously)."""

    def __init__(self, *, split_matmul_shapes: bool = False) -> None:
        super().__init__()
        self.split_matmul_shapes = split_matmul_shapes
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def _key(self, func: Any, args: Sequence[Any]) -> str:
        name = str(func)
        if self.split_matmul_shapes and name in MATMULS:
            operands = [
                f"{tuple(a.shape)}/{a.stride()}" for a in args if isinstance(a, torch.Tensor)
            ]
            return f"{name} " + " x ".join(operands)
        return name

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        key = self._key(func, args)
        self.seconds[key] += time.perf_counter() - start
        self.calls[key] += 1
        return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup", default="poole", choices=sorted(bench_runner.SETUPS))
    parser.add_argument("--runs", type=int, default=32, help="stack size R")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--top", type=int, default=20, help="ops to list")
    parser.add_argument("--shapes", action="store_true", help="split matmuls by shape/stride")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.steps < 1:
        parser.error(f"--runs and --steps must be >= 1, got {args.runs} and {args.steps}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    setup = bench_runner.SETUPS[args.setup]
    device = torch.device("cpu")
    configs = bench_runner.stacked_configs(setup, args.runs, args.steps, device)
    train_stack(configs, device=device)  # warm-up: allocator, MKL/oneDNN kernels, imports
    start = time.perf_counter()
    train_stack(configs, device=device)
    plain_ms = (time.perf_counter() - start) / args.steps * 1e3

    timer = OpTimer(split_matmul_shapes=args.shapes)
    with timer:
        train_stack(configs, device=device)
    per_step = {key: seconds / args.steps * 1e3 for key, seconds in timer.seconds.items()}
    total_ms = sum(per_step.values())
    matmul_ms = sum(ms for key, ms in per_step.items() if key.split(" ")[0] in MATMULS)
    step_gflop = args.runs * bench_runner.train_step_flops(setup) / 1e9

    print(
        f"{args.setup}, R = {args.runs}, {torch.get_num_threads()} thread(s): "
        f"plain step {plain_ms:.2f} ms; sum of op times {total_ms:.2f} ms/step, "
        f"of which matmuls {matmul_ms:.2f} ms ({step_gflop / matmul_ms * 1e3:.0f} GFLOP/s "
        f"on the step's {step_gflop:.2f} GFLOP), everything else {total_ms - matmul_ms:.2f} ms"
    )
    ranked = sorted(per_step.items(), key=lambda item: -item[1])[: args.top]
    for key, ms in ranked:
        print(f"{ms:8.3f} ms/step {timer.calls[key] / args.steps:7.1f} calls/step  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
