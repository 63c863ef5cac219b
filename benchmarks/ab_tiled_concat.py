r"""A/B in one process: the concat critic's tiled path against plain autograd, BMI size.

Run (not part of the test suite)::

    python benchmarks/ab_tiled_concat.py --runs 1,8,64 --repeats 3

For each stack size R it times :func:`mibench.train.train_stack` on the BMI-size setup of
``bench_runner.py`` (d = 5, K = 256, concat critic 16 -> 8 -> 1, InfoNCE) twice per repeat,
alternating: once with the tiled, recomputing all-pairs path of :mod:`mibench.critics.tiled`
(the default) and once with it switched off (``TILED_MIN_ELEMENTS`` raised past any size, so the
plain autograd path runs). It prints run-steps/s of both and their ratio (median and range).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_runner

from mibench.critics import concat


def rate(n_runs: int, n_steps: int, *, tiled: bool) -> float:
    threshold = concat.TILED_MIN_ELEMENTS
    concat.TILED_MIN_ELEMENTS = threshold if tiled else 2**62
    try:
        return bench_runner.stacked_rate(
            bench_runner.SETUPS["bmi"], n_runs, n_steps, torch.device("cpu")
        )
    finally:
        concat.TILED_MIN_ELEMENTS = threshold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="1,8,64")
    parser.add_argument("--steps", type=int, default=20, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'R':>4} {'tiled':>8} {'plain':>8} {'tiled/plain':>12} {'(min-max)':>11}")
    for n_runs in (int(v) for v in args.runs.split(",")):
        rate(n_runs, 3, tiled=True)  # warm-up (allocator, MKL)
        tiled, plain = [], []
        for _ in range(args.repeats):
            tiled.append(rate(n_runs, args.steps, tiled=True))
            plain.append(rate(n_runs, args.steps, tiled=False))
        ratios = [a / b for a, b in zip(tiled, plain, strict=True)]
        print(
            f"{n_runs:>4} {statistics.median(tiled):>8.0f} {statistics.median(plain):>8.0f} "
            f"{statistics.median(ratios):>11.1f}x {min(ratios):>5.1f}-{max(ratios):<5.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
