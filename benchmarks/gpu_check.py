r"""Everything a GPU session should measure, in one unattended run (``benchmarks/gpu_check.sh``).

Run on a machine with a CUDA GPU (no edits needed; about 5-8 minutes on an H100/H200)::

    bash benchmarks/gpu_check.sh                 # writes benchmarks/results/gpu_check-<UTC>/
    bash benchmarks/gpu_check.sh --dry-run       # the same code paths, tiny, on the CPU

Sections, each written to its own JSON file in the output folder as soon as it is done (a
section that fails or runs out of time is recorded with its error and the next one runs):

1. ``machine.json``: GPU name, driver (``nvidia-smi``), torch/CUDA versions, CPU, load.
2. ``canonical.json``: ``mibench run benchmarks/gpu_canonical.toml`` on the device: every
   trainable estimator of the pairs layout x 3 seeds x 20 000 steps, Gaussian and cubic
   staircases (Poole et al. 2019, Fig. 2), separable and concat critics; wall seconds, runs and
   run-steps/s (the goal: under 60 s).
3. ``stacked.json``: run-steps/s of the stacked trainer (``mibench.train.train_stack``) at
   R = 1, 2, 4, ..., 256 InfoNCE runs of the Poole critic against the same runs in a plain
   PyTorch loop (``benchmarks/bench_runner.py``'s), the plain step eager, under
   ``torch.compile(mode="reduce-overhead")`` and captured in a CUDA graph; the ratios (the goal:
   at least 50x the plain loop at R = 128).
4. ``default_suite.json``: ``mibench run --estimators all`` (the default suite) on the device.
5. ``cpu_vs_device.json``: a short default suite on the CPU and on the device, every run's frame
   compared column by column (matched by the run's config without its device): the largest
   absolute and relative differences and whether all lie within float32 tolerance.

``--dry-run`` runs every section on the CPU with tiny sizes (steps, seeds, stack sizes, two
paired estimators, three in the default suite), the compiled step with torch.compile's
``eager`` backend (no compiler needed) and the CUDA-graph step recorded as not applicable;
``tests/benchmarks/test_gpu_check.py`` runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
CANONICAL_SUITE = ROOT / "benchmarks" / "gpu_canonical.toml"
# float32 tolerance after a short run: kernels sum in different orders on the two devices,
# ~1e-7 relative per operation, grown by a few dozen optimiser steps.
FRAME_RTOL = 1e-3
FRAME_ATOL = 1e-4
# Columns that are not numbers of the run (clock times) or that name the device.
UNCOMPARED_COLUMNS = ("time_s",)


@dataclass(frozen=True)
class Plan:
    """Sizes of one gpu_check run (full on the GPU, tiny for ``--dry-run``)."""

    device: str
    canonical_args: tuple[str, ...]
    default_args: tuple[str, ...]
    short_args: tuple[str, ...]
    stack_sizes: tuple[int, ...]
    seconds: float
    compile_backend: str
    timeout_s: float
    paired_limit: int | None = None  # the first N paired estimators only (None: all)
    estimators: str = "all"  # of the default suite and the short CPU-vs-device suite


# One process drives the GPU (--workers 1): several would each hold a CUDA context and split
# the stacks into smaller ones.
FULL = Plan(
    device="cuda",
    canonical_args=("--workers", "1"),
    default_args=("--workers", "1"),
    short_args=("--steps", "30", "--seeds", "1", "--workers", "1"),
    stack_sizes=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    seconds=1.5,
    compile_backend="inductor",
    timeout_s=300.0,
)
DRY = Plan(
    device="cpu",
    canonical_args=("--steps", "4", "--seeds", "1"),
    default_args=("--steps", "4", "--seeds", "1", "--tasks", "staircase"),
    short_args=("--steps", "4", "--seeds", "1", "--tasks", "staircase"),
    stack_sizes=(1, 2),
    seconds=0.05,
    compile_backend="eager",
    timeout_s=300.0,
    paired_limit=2,
    estimators="infonce,nwj,ksg",
)


def _bench_runner() -> Any:
    """``benchmarks/bench_runner.py`` as a module (the plain loop and the stacked rate)."""
    spec = importlib.util.spec_from_file_location(
        "bench_runner", ROOT / "benchmarks" / "bench_runner.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_runner"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# ------------------------------------------------------------------------------- the sections
def machine(plan: Plan) -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "device": plan.device,
    }
    if plan.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True, check=False)
        info["nvidia_smi"] = smi.stdout
    return info


def paired_estimators() -> list[str]:
    """Registered estimators trained on a score matrix of (x_i, y_j) pairs (not the sample
    estimators, not the views/labels layouts)."""
    from mibench import estimators
    from mibench.core.interface import Estimator

    names = []
    for name in estimators.registration_order():
        spec = estimators.get(name)
        if isinstance(spec, Estimator) and spec.layout == "pairs":
            names.append(name)
    return names


def mibench_run(arguments: Sequence[str], out: Path, timeout_s: float) -> dict[str, Any]:
    """``mibench run ARGUMENTS --out OUT`` in a subprocess: wall seconds, runs, run-steps."""
    command = [sys.executable, "-m", "mibench.cli", "run", *arguments, "--out", str(out)]
    command += ["--no-plots", "--no-progress"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    suite_dir = next(p for p in out.iterdir() if p.is_dir())
    from mibench.results import store

    frame = store.load_runs(suite_dir)
    train = frame[frame["readout"] == "train"]
    steps = int(train.groupby("run_id")["step"].max().add(1).sum())
    return {
        "command": command,
        "wall_s": wall,
        "runs": int(frame["run_id"].nunique()),
        "run_steps": steps,
        "run_steps_per_s": steps / wall,
        "suite_dir": str(suite_dir),
        "stdout_tail": done.stdout[-3000:],
    }


def canonical(plan: Plan, out: Path) -> dict[str, Any]:
    names = paired_estimators()[: plan.paired_limit]
    arguments = [str(CANONICAL_SUITE), "--estimators", ",".join(names), "--device", plan.device]
    result = mibench_run([*arguments, *plan.canonical_args], out / "canonical", plan.timeout_s)
    result["estimators"] = names
    result["goal"] = "wall_s < 60"
    return result


def default_suite(plan: Plan, out: Path) -> dict[str, Any]:
    arguments = ["--estimators", plan.estimators, "--device", plan.device, *plan.default_args]
    return mibench_run(arguments, out / "default", plan.timeout_s)


# ------------------------------------------------------------------------------- stacked vs loop
def _plain_model(bench: Any, setup: Any, device: torch.device) -> tuple[torch.nn.Module, Any]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # nn.Linear init only; local to this fork
        model = (bench.PlainSeparable if setup.critic == "separable" else bench.PlainConcat)(
            setup, device
        )
    capturable = device.type == "cuda"
    opt = torch.optim.Adam(model.parameters(), lr=bench.LR, fused=True, capturable=capturable)
    return model, opt


def _plain_data(bench: Any, setup: Any, n_steps: int, device: torch.device) -> tuple:
    gen = torch.Generator().manual_seed(0)
    rho = bench.rho_from_mi(bench.MI_NATS, setup.dim)
    x = torch.randn(n_steps, setup.batch_size, setup.dim, generator=gen)
    noise = torch.randn(n_steps, setup.batch_size, setup.dim, generator=gen)
    return x.to(device), (rho * x + math.sqrt(1 - rho * rho) * noise).to(device)


def compiled_plain_rate(
    bench: Any, setup: Any, n_steps: int, device: torch.device, backend: str
) -> float:
    """Run-steps/s of one run's plain loop with its forward and loss under ``torch.compile``
    (``mode="reduce-overhead"``, CUDA graphs, with the inductor backend; the backward pass is
    compiled with it; fused Adam eager). The first steps (compilation) are not timed."""
    model, opt = _plain_model(bench, setup, device)

    def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return bench.infonce_loss(model(x, y))

    if backend == "inductor":
        compiled = torch.compile(loss_of, mode="reduce-overhead")
    else:
        compiled = torch.compile(loss_of, backend=backend)
    x, y = _plain_data(bench, setup, n_steps + WARMUP_STEPS, device)
    losses = torch.empty(n_steps + WARMUP_STEPS, device=device)
    for t in range(n_steps + WARMUP_STEPS):
        if t == WARMUP_STEPS:
            bench.sync(device)
            start = time.perf_counter()
        loss = compiled(x[t], y[t])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[t] = loss.detach()
    losses.cpu()
    bench.sync(device)
    return n_steps / (time.perf_counter() - start)


def graphed_plain_rate(bench: Any, setup: Any, n_steps: int, device: torch.device) -> float:
    """Run-steps/s of one run's plain loop with the whole step (forward, backward, fused
    capturable Adam) captured once in a CUDA graph and replayed; each step copies its batch into
    the graph's input buffers first."""
    model, opt = _plain_model(bench, setup, device)
    x, y = _plain_data(bench, setup, n_steps, device)
    static_x, static_y = x[0].clone(), y[0].clone()
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):  # warm-up outside the graph (allocator, cuBLAS handles)
        for _ in range(WARMUP_STEPS):
            opt.zero_grad(set_to_none=True)
            bench.infonce_loss(model(static_x, static_y)).backward()
            opt.step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = bench.infonce_loss(model(static_x, static_y))
        static_loss.backward()
        opt.step()
    losses = torch.empty(n_steps, device=device)
    bench.sync(device)
    start = time.perf_counter()
    for t in range(n_steps):
        static_x.copy_(x[t])
        static_y.copy_(y[t])
        graph.replay()
        losses[t] = static_loss.detach()
    losses.cpu()
    bench.sync(device)
    return n_steps / (time.perf_counter() - start)


WARMUP_STEPS = 3


def _rate_or_reason(measure: Callable[[], float]) -> float | str:
    try:
        return measure()
    except Exception as error:  # a variant that fails is recorded; the others still run
        return f"failed: {type(error).__name__}: {error}"


def stacked(plan: Plan, out: Path) -> dict[str, Any]:
    bench = _bench_runner()
    device = torch.device(plan.device)
    setup = bench.SETUPS["poole"]
    # The plain loop's rate does not depend on R (runs one after another): measured on one run.
    plain_steps = bench.calibrated_steps(
        lambda s: bench.sequential_rate(setup, 1, s, device), 1, plan.seconds
    )
    plain = {
        "eager": bench.sequential_rate(setup, 1, plain_steps, device),
        "torch_compile_reduce_overhead": _rate_or_reason(
            lambda: compiled_plain_rate(bench, setup, plain_steps, device, plan.compile_backend)
        ),
        "cuda_graph": (
            _rate_or_reason(lambda: graphed_plain_rate(bench, setup, plain_steps, device))
            if device.type == "cuda"
            else "not applicable: needs a CUDA device"
        ),
    }
    rows = []
    for n_runs in plan.stack_sizes:
        steps = bench.calibrated_steps(
            lambda s, r=n_runs: bench.stacked_rate(setup, r, s, device), n_runs, plan.seconds
        )
        rate = bench.stacked_rate(setup, n_runs, steps, device)
        ratios = {k: rate / v for k, v in plain.items() if isinstance(v, float)}
        rows.append({"runs": n_runs, "steps": steps, "stacked_run_steps_per_s": rate,
                     "over_plain": ratios})  # fmt: skip
    return {
        "setup": setup.name,
        "compile_backend": plan.compile_backend,
        "plain_steps": plain_steps,
        "plain_run_steps_per_s": plain,
        "stacked": rows,
        "goal": "stacked at R = 128 >= 50 x the eager plain loop",
    }


# ------------------------------------------------------------------------------- CPU vs device
def _frames_by_config(suite_dir: Path) -> dict[str, pd.DataFrame]:
    """``{config without its device (JSON): the run's frame sorted by readout and step}``."""
    from mibench.results import store

    frames = {}
    for run_id in store.finished_run_ids(suite_dir):
        config = dict(store.read_sidecar(suite_dir, run_id)["config"])
        config.pop("device", None)
        frame = store.read_run(suite_dir, run_id)
        key = json.dumps(config, sort_keys=True, default=str)
        frames[key] = frame.sort_values(["readout", "step"], kind="stable").reset_index(drop=True)
    return frames


def compare_frames(
    reference: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """Largest absolute/relative difference per numeric column over runs present in both, the
    runs outside ``FRAME_RTOL``/``FRAME_ATOL`` and text columns that differ (run ids aside)."""
    worst: dict[str, dict[str, float]] = {}
    outside: list[str] = []
    for key in sorted(set(reference) & set(other)):
        a, b = reference[key], other[key]
        if len(a) != len(b):
            outside.append(f"{key}: {len(a)} rows against {len(b)}")
            continue
        for column in a.columns:
            if column in UNCOMPARED_COLUMNS or column == "run_id" or column not in b.columns:
                continue
            if not pd.api.types.is_numeric_dtype(a[column]):
                if not a[column].astype(str).equals(b[column].astype(str)):
                    outside.append(f"{key}: column {column} differs")
                continue
            x, y = a[column].to_numpy(float), b[column].to_numpy(float)
            both = np.isfinite(x) & np.isfinite(y)
            diff = np.abs(x - y)[both]
            scale = np.maximum(np.abs(x), np.abs(y))[both]
            entry = worst.setdefault(column, {"max_abs": 0.0, "max_rel": 0.0})
            if diff.size:
                entry["max_abs"] = max(entry["max_abs"], float(diff.max()))
                rel = diff / np.where(scale > 0, scale, 1.0)
                entry["max_rel"] = max(entry["max_rel"], float(rel.max()))
            if not np.allclose(x, y, rtol=FRAME_RTOL, atol=FRAME_ATOL, equal_nan=True):
                outside.append(f"{key}: column {column}")
    return {"columns": worst, "outside_tolerance": outside}


def cpu_vs_device(plan: Plan, out: Path) -> dict[str, Any]:
    cpu = mibench_run(
        ["--estimators", plan.estimators, "--device", "cpu", *plan.short_args],
        out / "short_cpu",
        plan.timeout_s,
    )
    dev = mibench_run(
        ["--estimators", plan.estimators, "--device", plan.device, *plan.short_args],
        out / "short_device",
        plan.timeout_s,
    )
    reference = _frames_by_config(Path(cpu["suite_dir"]))
    other = _frames_by_config(Path(dev["suite_dir"]))
    result = compare_frames(reference, other)
    result.update(
        runs_cpu=len(reference),
        runs_device=len(other),
        matched=len(set(reference) & set(other)),
        rtol=FRAME_RTOL,
        atol=FRAME_ATOL,
        within_tolerance=not result["outside_tolerance"] and set(reference) == set(other),
    )
    return result


# ------------------------------------------------------------------------------- driver
SECTIONS: dict[str, Callable[[Plan, Path], dict[str, Any]]] = {
    "canonical": canonical,
    "stacked": stacked,
    "default_suite": default_suite,
    "cpu_vs_device": cpu_vs_device,
}


def run_section(name: str, plan: Plan, out: Path) -> dict[str, Any]:
    """One section, timed; an error is recorded in its JSON instead of stopping the check."""
    start = time.perf_counter()
    try:
        payload: dict[str, Any] = {"ok": True, **SECTIONS[name](plan, out)}
    except Exception:  # recorded in the section's JSON: the GPU time of the others is kept
        payload = {"ok": False, "error": traceback.format_exc()}
    payload["section_wall_s"] = time.perf_counter() - start
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    return payload


def summary_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, payload in results.items():
        if not payload["ok"]:
            lines.append(f"{name}: FAILED ({payload['error'].strip().splitlines()[-1]})")
        elif name in ("canonical", "default_suite"):
            lines.append(f"{name}: {payload['wall_s']:.1f} s wall, {payload['runs']} runs, "
                         f"{payload['run_steps_per_s']:.0f} run-steps/s")  # fmt: skip
        elif name == "stacked":
            plain = payload["plain_run_steps_per_s"]
            lines.append(f"stacked: plain loop {plain} run-steps/s")
            for row in payload["stacked"]:
                ratios = ", ".join(f"{k} {v:.1f}x" for k, v in row["over_plain"].items())
                lines.append(f"  R={row['runs']:>3}: {row['stacked_run_steps_per_s']:.0f} "
                             f"run-steps/s ({ratios})")  # fmt: skip
        elif name == "cpu_vs_device":
            lines.append(f"cpu_vs_device: {payload['matched']} runs matched, within float32 "
                         f"tolerance: {payload['within_tolerance']}")  # fmt: skip
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny, on the CPU")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: a new one in "
                        "benchmarks/results/)")  # fmt: skip
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    args = parser.parse_args(argv)
    plan = DRY if args.dry_run else FULL
    if plan.device == "cuda" and not torch.cuda.is_available():
        sys.stderr.write("no CUDA device: run on a GPU machine, or use --dry-run\n")
        return 2
    unknown = sorted(set(args.sections.split(",")) - set(SECTIONS))
    if unknown:
        sys.stderr.write(f"unknown sections {unknown}; valid: {', '.join(SECTIONS)}\n")
        return 2
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS_DIR / f"gpu_check-{stamp}{'-dry' if args.dry_run else ''}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "machine.json").write_text(json.dumps(machine(plan), indent=2, default=str))
    results = {}
    for name in args.sections.split(","):
        results[name] = run_section(name, plan, out)
        sys.stdout.write("\n".join(summary_lines({name: results[name]})) + "\n")
        sys.stdout.flush()
    lines = summary_lines(results)
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    sys.stdout.write(f"wrote {out}\n")
    return 0 if all(payload["ok"] for payload in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
