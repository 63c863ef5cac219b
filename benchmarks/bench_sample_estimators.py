"""Bias per level and seconds per estimate of the sample estimators on the Gaussian staircase.

Each estimator reads n fresh joint draws of the d-dimensional Gaussian at each staircase level
(I = 2, 4, 6, 8, 10 nats by default), for several seeds, and is scored as the runner scores it:
against I, or against the level's sliced MI for ``sliced``. Prints a Markdown table of
mean bias per level (with the seeds' SD) and the mean thread-seconds of one estimate.

    python benchmarks/bench_sample_estimators.py --n 2000 --dim 5 --seeds 3
    python benchmarks/bench_sample_estimators.py --estimators ksg,kl --levels 2,4
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from mibench import estimators
from mibench.tasks import build


def measure(
    names: list[str], *, n: int, dim: int, levels: list[float], seeds: int
) -> dict[str, dict[str, list[float]]]:
    """``{estimator: {"bias": per level, "sd": per level, "seconds": [mean per estimate]}}``."""
    out: dict[str, dict[str, list[float]]] = {}
    for name in names:
        spec = estimators.get(name)
        biases, sds, seconds = [], [], []
        for level in levels:
            task = build("gaussian", dim=dim, mi=level)
            truth = task.sliced_mi() if spec.target == "sliced" else task.true_mi()
            errors = []
            for seed in range(seeds):
                batch = task.sample(n, torch.Generator().manual_seed(seed), dtype=torch.float64)
                started = time.process_time()
                errors.append(spec.estimate(batch.x.numpy(), batch.y.numpy()) - truth)
                seconds.append(time.process_time() - started)
            biases.append(float(np.mean(errors)))
            sds.append(float(np.std(errors, ddof=1)) if seeds > 1 else math.nan)
        out[name] = {"bias": biases, "sd": sds, "seconds": [float(np.mean(seconds))]}
    return out


def markdown(results: dict[str, dict[str, list[float]]], levels: list[float]) -> str:
    header = "| estimator | " + " | ".join(f"I = {lv:g}" for lv in levels) + " | s / estimate |"
    lines = [header, "|" + "---|" * (len(levels) + 2)]
    for name, row in results.items():
        cells = [f"{b:+.2f} ({s:.2f})" for b, s in zip(row["bias"], row["sd"], strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['seconds'][0]:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", default=",".join(estimators.sample_names()))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--levels", default="2,4,6,8,10")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    levels = [float(v) for v in args.levels.split(",")]
    names = args.estimators.split(",")
    results = measure(names, n=args.n, dim=args.dim, levels=levels, seeds=args.seeds)
    print(markdown(results, levels))


if __name__ == "__main__":
    main()
