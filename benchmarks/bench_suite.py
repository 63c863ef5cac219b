r"""Suite-level throughput in one process: plain loop, uniform stack, mixed stack, ``mibench run``.

Run (not part of the test suite)::

    python benchmarks/bench_suite.py                        # staircase at 2000 steps, 2 repeats
    python benchmarks/bench_suite.py --steps 20000 --repeats 1   # the full staircase suite
    python benchmarks/bench_suite.py --readout-k 64,512     # also the train readout's share
    python benchmarks/bench_suite.py --seeds 3              # stacks of 24 runs (3 per estimator)

On the Poole staircase suite (``benchmarks/poole_staircase_separable.toml``: eight estimators,
separable critic 20-256-256-32, K = 64, one seed; ``--steps`` shortens every run, ``--seeds``
gives every estimator that many runs) it measures,
alternating within each repeat so that a change in the machine's load hits all of them alike:

* ``plain``: the plain sequential PyTorch loop of ``bench_runner.py`` (InfoNCE, ``nn.Linear``
  towers, fused Adam, no readout) on the same critic and batch, ``--plain-runs`` runs;
* ``uniform``: one :func:`~mibench.train.train_stack` of R = 8 x seeds InfoNCE runs with the
  suite's schedule (train readout every step, eval every 200 steps);
* ``mixed``: one ``train_stack`` of the suite's runs (eight estimators, two with a dual head)
  with the same schedule;
* ``mibench run``: :func:`mibench.execute.runner.execute` on the suite (the CLI's path: planning,
  stacking, workers as ``mibench run`` picks them, storing, summary), into a temporary folder.

It prints run-steps/s of each and the ratios of issue 17's goals: (1) mixed / uniform stack (goal
>= 0.85) and (2) the suite's wall time / the plain loop's time for the same run-steps (goal <=
0.45). Goal 1 is also shown per unit of arithmetic: TUBA's and I_alpha's dual heads (20-256-256-1
MLPs) add about 11 % to the parameters, i.e. to the multiply-adds per sample, that a mixed stack
trains beyond the uniform one. With ``--readout-k`` it also measures, for a 15-run stack of the
``batch_sweep`` setting (separable 64-64-16, five estimators x three MI levels) at each K, the
share of the wall time spent in the train readout (the float64 estimate, extras and diagnostics),
timed in place, at the suite's cadence (``log_every = "auto"``: every max(1, K // 128) steps) and
logging every step. It writes ``benchmarks/results/suite-<UTC timestamp>.json`` with every repeat
and the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_runner

from mibench.core.interface import RunConfig
from mibench.execute import runner
from mibench.plan.resolve import stack_key
from mibench.plan.suite import Overrides, load_suite, plan
from mibench.train import stack as stack_module
from mibench.train import train_stack

HERE = Path(__file__).resolve().parent
STAIRCASE = HERE / "poole_staircase_separable.toml"
READOUT_ESTIMATORS = ("infonce", "flatnce", "nwj", "smile", "dv")


def staircase_configs(steps: int, seeds: int = 1) -> list[RunConfig]:
    """The staircase suite's runs (eight estimators x ``seeds``), every run shortened to ``steps``."""
    return list(plan(load_suite(STAIRCASE), Overrides(steps=steps, seeds=seeds)).configs)


def uniform_configs(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """The same R runs (schedule, critic, tasks), every one InfoNCE, seeds 0..R-1."""
    return [
        dataclasses.replace(c, estimator="infonce", estimator_params=(), seed=i)
        for i, c in enumerate(configs)
    ]


def stack_rate(configs: Sequence[RunConfig]) -> tuple[float, float, int]:
    """Run-steps per wall second (the stack's own clock: the training loop) and per CPU second
    of this process (one thread: what the load of other processes on the machine moves least),
    and the stack's trained parameters (critics and dual heads, all runs): for MLPs on samples,
    as here, the multiply-adds per sample of a training step's forward pass."""
    cpu = time.process_time()
    results = train_stack(list(configs))
    cpu = time.process_time() - cpu
    run_steps = sum(c.n_steps for c in configs)
    n_parameters = sum(result.n_parameters for result in results)
    return run_steps / results[0].wall_time_s, run_steps / cpu, n_parameters


def suite_wall(steps: int, seeds: int = 1) -> tuple[float, int, int]:
    """Wall seconds, run-steps and workers of ``mibench run`` on the staircase (fresh folder)."""
    with tempfile.TemporaryDirectory() as out:
        overrides = Overrides(steps=steps, seeds=seeds)
        prepared = runner.prepare(STAIRCASE, overrides=overrides, out=out)
        workers = runner.default_workers(prepared, force=True)
        start = time.perf_counter()
        report = runner.execute(prepared, force=True, show_progress=False, workers=workers)
        return time.perf_counter() - start, report.run_steps, workers


class ReadoutTimer:
    """Seconds spent in the stacked trainer's train readout (the batched float64 flush and the
    embedding hook), by wrapping the two methods for the duration of a ``with`` block."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._saved: dict[str, Callable[..., Any]] = {}

    def __enter__(self) -> ReadoutTimer:
        self._own = {n for n in ("_flush", "_embedding_readout") if n in vars(stack_module._Stack)}
        for name in ("_flush", "_embedding_readout"):
            original = getattr(stack_module._Stack, name)
            self._saved[name] = original

            def timed(*args: Any, _original: Callable[..., Any] = original, **kw: Any) -> Any:
                start = time.perf_counter()
                try:
                    return _original(*args, **kw)
                finally:
                    self.seconds += time.perf_counter() - start

            setattr(stack_module._Stack, name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            if name in self._own:
                setattr(stack_module._Stack, name, original)
            else:  # inherited (mibench.train.readout): drop the wrapper, the base's method shows
                delattr(stack_module._Stack, name)


def readout_share(batch_size: int, steps: int, log_every: int | None = None) -> tuple[float, int]:
    """Share of a batch_sweep-like stack's wall time spent in the train readout (eval skipped),
    and the ``log_every`` it ran with: the suite's (``"auto"``: every max(1, K // 128) steps)
    unless ``log_every`` is given."""
    configs = plan(
        load_suite("batch_sweep"),
        Overrides(estimators=READOUT_ESTIMATORS, seeds=1, batch_sizes=(batch_size,), steps=steps),
    ).configs
    configs = [
        dataclasses.replace(c, eval_every=10 * steps, log_every=log_every or c.log_every)
        for c in configs
    ]
    # The FlatNCE family trains its own (cosine) critic: one stack per stack key, times summed.
    groups: dict[tuple[object, ...], list[RunConfig]] = {}
    for config in configs:
        groups.setdefault(stack_key(config), []).append(config)
    wall = 0.0
    with ReadoutTimer() as timer:
        for members in groups.values():
            wall += train_stack(members)[0].wall_time_s
    return timer.seconds / wall, configs[0].log_every


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="steps per staircase run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds per estimator: stacks of R = 8 x seeds runs")  # fmt: skip
    parser.add_argument("--plain-runs", type=int, default=2, help="runs of the plain loop")
    parser.add_argument("--no-suite", action="store_true", help="skip the mibench run path")
    parser.add_argument("--readout-k", default="", help="comma-separated K for the readout share")
    parser.add_argument("--readout-steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads of the plain loop and the stacks (default: every core, "
                        "as mibench run uses an idle machine)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=bench_runner.RESULTS_DIR)
    args = parser.parse_args(argv)
    if min(args.steps, args.repeats, args.seeds, args.plain_runs, args.readout_steps) < 1:
        parser.error("--steps, --repeats, --seeds, --plain-runs and --readout-steps must be >= 1")
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    configs = staircase_configs(args.steps, args.seeds)
    uniform = uniform_configs(configs)
    n_runs = len(configs)
    setup = bench_runner.SETUPS["poole"]
    device = torch.device("cpu")
    stack_rate(uniform[:2])  # warm-up: kernels, allocator, imports
    rates: dict[str, list[float]] = {"plain": [], "uniform": [], "mixed": [], "suite": []}
    cpu_rates: dict[str, list[float]] = {"uniform": [], "mixed": []}
    n_parameters: dict[str, int] = {}
    walls: list[float] = []
    workers = 0
    readout_ks = [int(k) for k in args.readout_k.split(",") if k]
    shares: dict[int, list[float]] = {k: [] for k in readout_ks}
    every_step: dict[int, list[float]] = {k: [] for k in readout_ks}
    cadence: dict[int, int] = {}
    for _ in range(args.repeats):
        rates["plain"].append(
            bench_runner.sequential_rate(setup, args.plain_runs, args.steps, device)
        )
        for key, members in (("uniform", uniform), ("mixed", configs)):
            wall_rate, cpu_rate, n_parameters[key] = stack_rate(members)
            rates[key].append(wall_rate)
            cpu_rates[key].append(cpu_rate)
        if not args.no_suite:
            wall, run_steps, workers = suite_wall(args.steps, args.seeds)
            walls.append(wall)
            rates["suite"].append(run_steps / wall)
        for k in readout_ks:
            share, cadence[k] = readout_share(k, args.readout_steps)
            shares[k].append(share)
            every_step[k].append(readout_share(k, args.readout_steps, log_every=1)[0])
    run_steps = sum(c.n_steps for c in configs)
    arithmetic = n_parameters["mixed"] / n_parameters["uniform"]
    lines = [
        f"Poole staircase, {n_runs} runs x {args.steps} steps, separable 20-256-256-32, K = 64, "
        f"{args.threads} torch thread(s) here, {os.cpu_count()} CPUs, load average "
        f"{load_start[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end",
        f"{'path':<34} {'run-steps/s (median)':>21} {'repeats':>24}",
    ]
    names = {
        "plain": f"plain sequential loop ({args.plain_runs} runs)",
        "uniform": f"uniform stack ({n_runs} x InfoNCE)",
        "mixed": f"mixed stack (8 estimators x {args.seeds})",
        "suite": f"mibench run ({workers} worker(s))",
    }
    for key, label in names.items():
        if rates[key]:
            shown = ", ".join(f"{v:.0f}" for v in rates[key])
            lines.append(f"{label:<34} {median(rates[key]):>21.0f} {shown:>24}")
    mixed_ratio = [m / u for m, u in zip(rates["mixed"], rates["uniform"], strict=True)]
    lines.append(
        f"goal 1: mixed / uniform stack = {median(mixed_ratio):.2f} (goal >= 0.85; repeats "
        + ", ".join(f"{v:.2f}" for v in mixed_ratio)
        + ")"
    )
    lines.append(
        f"the mixed stack trains {arithmetic:.2f}x the uniform one's parameters (its dual heads): "
        f"per unit of arithmetic, mixed / uniform = {median(mixed_ratio) * arithmetic:.2f}"
    )
    cpu_ratio = [m / u for m, u in zip(cpu_rates["mixed"], cpu_rates["uniform"], strict=True)]
    lines.append(
        f"goal 1 in CPU time: mixed / uniform = {median(cpu_ratio):.2f} (uniform "
        f"{median(cpu_rates['uniform']):.0f}, mixed {median(cpu_rates['mixed']):.0f} run-steps per "
        "CPU second; repeats " + ", ".join(f"{v:.2f}" for v in cpu_ratio) + ")"
    )
    if walls:
        # The plain loop's time for the suite's run-steps, at the rate measured in the same repeat.
        wall_ratio = [w / (run_steps / p) for w, p in zip(walls, rates["plain"], strict=True)]
        lines.append(
            f"goal 2: mibench run wall / plain loop time = {median(wall_ratio):.2f} (goal <= "
            "0.45; repeats " + ", ".join(f"{v:.2f}" for v in wall_ratio) + ")"
        )
    for k, values in shares.items():
        lines.append(
            f"train readout share of the step, K = {k}, 15-run stack, log_every = {cadence[k]} "
            f"(the suite's): {median(values):.0%} (goal <= 25 %; repeats "
            + ", ".join(f"{v:.0%}" for v in values)
            + f"); logging every step: {median(every_step[k]):.0%}"
        )
    table = "\n".join(lines)
    sys.stdout.write(table + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "machine": bench_runner.machine_info(device),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "steps": args.steps,
        "seeds": args.seeds,
        "parameters_mixed_over_uniform": arithmetic,
        "rates": rates,
        "cpu_rates": cpu_rates,
        "suite_walls": walls,
        "readout_shares": {str(k): v for k, v in shares.items()},
        "readout_shares_every_step": {str(k): v for k, v in every_step.items()},
        "readout_log_every": {str(k): v for k, v in cadence.items()},
        "table": table,
    }
    path = args.out / f"suite-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2))
    sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
