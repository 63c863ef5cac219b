r"""mibench against the BMI benchmark's own neural estimators on the correlated Gaussian.

Run (not part of CI; BMI needs JAX, kept in its own virtual environment)::

    python3 -m venv /work/bmi-venv
    /work/bmi-venv/bin/pip install "benchmark-mi==0.1.3" "jax==0.4.33" "jaxlib==0.4.33"
    python benchmarks/bench_vs_bmi.py --bmi-python /work/bmi-venv/bin/python

(the ``compare`` extra of pyproject.toml pins the same versions). Tasks: x ~ N(0, I_d),
y = rho x + sqrt(1 - rho^2) eps with I = -d/2 log(1 - rho^2) nats, d in {5, 20}, I in {1, 5}.
Both sides train InfoNCE, NWJ, DV and MINE with the concat critic MLP([x; y]) -> 16 -> 8 -> 1
(BMI's default), batch 256, Adam, learning rate 0.1 (BMI's default), the same number of steps.

Differences that remain, by design of each tool: BMI trains on a fixed sample (``--samples``,
half train / half test, standardised) and reports the maximum held-out estimate over its
evaluations every 250 steps (with its early stopping); mibench draws a fresh batch every step
and its "eval" readout uses fresh held-out batches of 1024. For mibench both the last and the
maximum eval estimate are reported. BMI's wall time is per estimator run (one after another,
JIT compilation included); mibench trains the runs of one dimension as ONE stack, so its time per
run is the stack's wall time divided by the number of runs (and the stack's total is shown too).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

DIMS = (5, 20)
MI_LEVELS = (1.0, 5.0)
ESTIMATORS = {"infonce": "InfoNCEEstimator", "nwj": "NWJEstimator", "dv": "DonskerVaradhanEstimator",
              "mine": "MINEEstimator"}  # fmt: skip
BATCH_SIZE = 256
HIDDEN = (16, 8)
LEARNING_RATE = 0.1
EVAL_EVERY = 250  # BMI's test_every_n_steps default
DEFAULT_STEPS = 2000
DEFAULT_SAMPLES = 10_000
SEED = 0


def rho_from_mi(mi: float, dim: int) -> float:
    """Per-coordinate correlation giving ``mi`` nats over ``dim`` coordinates: I = -d/2 log(1-rho^2)."""
    return math.sqrt(-math.expm1(-2.0 * mi / dim))


# ---------------------------------------------------------------------- BMI side (bmi venv only)
def bmi_worker(steps: int, samples: int) -> list[dict[str, object]]:
    """Runs inside the BMI virtual environment: imports numpy and bmi only."""
    import numpy as np
    from bmi import estimators

    rows = []
    for dim in DIMS:
        for mi in MI_LEVELS:
            rng = np.random.default_rng(SEED)
            rho = rho_from_mi(mi, dim)
            x = rng.standard_normal((samples, dim))
            y = rho * x + math.sqrt(1 - rho * rho) * rng.standard_normal((samples, dim))
            for name, cls_name in ESTIMATORS.items():
                estimator = getattr(estimators, cls_name)(
                    batch_size=BATCH_SIZE,
                    max_n_steps=steps,
                    learning_rate=LEARNING_RATE,
                    hidden_layers=HIDDEN,
                    test_every_n_steps=EVAL_EVERY,
                    verbose=False,
                    seed=SEED,
                )
                start = time.perf_counter()
                result = estimator.estimate_with_info(x, y)
                wall = time.perf_counter() - start
                rows.append(
                    {
                        "tool": "bmi",
                        "estimator": name,
                        "dim": dim,
                        "true_mi": mi,
                        "estimate": float(result.mi_estimate),
                        "wall_s": wall,
                    }
                )
    return rows


# ----------------------------------------------------------------------- mibench side (main venv)
def mibench_rows(steps: int) -> list[dict[str, object]]:
    from mibench.interface import RunConfig
    from mibench.results import schema
    from mibench.train import train_stack

    rows = []
    for dim in DIMS:
        configs = [
            RunConfig.make(
                estimator=name,
                task="gaussian",
                task_params={"dim": dim, "mi": mi},
                critic="concat",
                critic_params={"hidden": list(HIDDEN)},
                batch_size=BATCH_SIZE,
                n_steps=steps,
                lr=LEARNING_RATE,
                seed=SEED,
                eval_every=EVAL_EVERY,
                log_every=steps,
                suite="vs-bmi",
            )
            for mi in MI_LEVELS
            for name in ESTIMATORS
        ]
        start = time.perf_counter()
        results = train_stack(configs)
        stack_wall = time.perf_counter() - start
        for config, result in zip(configs, results, strict=True):
            frame = result.frame
            evals = frame[frame[schema.READOUT] == schema.READOUT_EVAL][schema.ESTIMATE]
            rows.append(
                {
                    "tool": "mibench",
                    "estimator": config.estimator,
                    "dim": dim,
                    "true_mi": dict(config.task_params)["mi"],
                    "estimate": float(evals.iloc[-1]),
                    "estimate_max": float(evals.max()),
                    "wall_s": stack_wall / len(configs),
                    "stack_wall_s": stack_wall,
                    "stack_runs": len(configs),
                }
            )
    return rows


def render(rows: list[dict[str, object]]) -> str:
    key = {(r["tool"], r["estimator"], r["dim"], r["true_mi"]): r for r in rows}
    lines = [
        f"{'estimator':<9} {'d':>3} {'I':>4} | {'BMI est':>8} {'BMI s/run':>10} | "
        f"{'mibench last':>12} {'(max)':>7} {'s/run':>7}"
    ]
    for dim in DIMS:
        for mi in MI_LEVELS:
            for name in ESTIMATORS:
                b = key.get(("bmi", name, dim, mi), {})
                m = key.get(("mibench", name, dim, mi), {})
                lines.append(
                    f"{name:<9} {dim:>3} {mi:>4.0f} | {b.get('estimate', math.nan):>8.2f} "
                    f"{b.get('wall_s', math.nan):>10.2f} | {m.get('estimate', math.nan):>12.2f} "
                    f"{m.get('estimate_max', math.nan):>7.2f} {m.get('wall_s', math.nan):>7.2f}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bmi-python", help="python of the virtual environment with bmi + jax")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="BMI's fixed sample")
    parser.add_argument("--bmi-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    if args.bmi_worker:
        sys.stdout.write(json.dumps(bmi_worker(args.steps, args.samples)) + "\n")
        return 0
    rows: list[dict[str, object]] = []
    if args.bmi_python:
        done = subprocess.run(
            [args.bmi_python, __file__, "--bmi-worker", "--steps", str(args.steps),
             "--samples", str(args.samples)],
            check=True, capture_output=True, text=True,
            env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    rows += mibench_rows(args.steps)
    table = render(rows)
    sys.stdout.write(table + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = args.out / f"vs_bmi_{stamp}.json"
    path.write_text(json.dumps({"steps": args.steps, "samples": args.samples, "rows": rows,
                                "table": table}, indent=2))  # fmt: skip
    sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
