r"""mibench against the BMI benchmark's own neural estimators on the correlated Gaussian.

Run (not part of CI; BMI needs JAX, kept in its own virtual environment)::

    python3 -m venv <bmi-venv>
    <bmi-venv>/bin/pip install "benchmark-mi==0.1.3" "jax==0.4.33" "jaxlib==0.4.33"
    python benchmarks/bench_vs_bmi.py --bmi-python <bmi-venv>/bin/python

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
The last lines add the wall time of the ``mibench run`` path on a suite of the same 16 runs (the
CLI's planning, workers as it picks them by default, storing and summary) and BMI's total over it.

``--classical`` instead compares the sample estimators on the same samples: mibench draws n
pairs from a selection of BMI's tasks (its own task implementations, seed 0), saves them, and
both tools estimate from exactly those arrays: mibench ``ksg`` (k = 3, max-norm) against BMI's
``KSGEnsembleFirstEstimator`` with ``neighborhoods=(3,)`` and the Chebyshev metric (the same
estimator, so the numbers should agree to rounding, except that BMI clips at 0) and with BMI's
defaults (k = 5 and 10 averaged, Euclidean norm within x and within y), and mibench ``cca``
(closed-form log-det) against BMI's ``CCAMutualInformationEstimator`` (scikit-learn's iterative
CCA, then -1/2 sum log(1 - r_i^2)).
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
CLASSICAL_SAMPLES = 5000
CLASSICAL_TASKS = (  # (label, mibench task, parameters): a selection of BMI's v1 list
    ("1v1-normal", "gaussian", {"dim": 1, "rho": 0.75}),
    ("1v1-additive-0.1", "additive_uniform", {"epsilon": 0.1}),
    ("1v1-bimodal", "bimodal", {}),
    ("wiggly-1v1", "wiggly", {}),
    ("swissroll-2v1", "swissroll", {}),
    ("student-2v2-df1", "student_t", {"dim": 2, "nu": 1, "rho": 0.0}),
    ("dense-5v5", "multinormal_dense", {"dim_x": 5, "dim_y": 5}),
    ("2pair-5v5", "multinormal_sparse", {"dim_x": 5, "dim_y": 5}),
    ("spiral-5v5", "spiral", {"dim": 5}),
    ("dense-25v25", "multinormal_dense", {"dim_x": 25, "dim_y": 25}),
    ("mixture-X", "mixture_x", {}),
)


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
    from mibench.core.interface import RunConfig
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


SUITE_TOML = """
[suite]
name = "vs_bmi"
steps = {steps}
seeds = 1
lr = {lr}
batch_sizes = [{batch}]
log_every = {steps}
eval_every = {eval_every}

[[grid]]
estimators = {estimators}
tasks = [{{ name = "gaussian", dim = {dims}, mi = {levels} }}]
critics = [{{ name = "concat", hidden = {hidden} }}]
"""


def mibench_run_wall(steps: int) -> tuple[float, int]:
    """Wall seconds and workers of the ``mibench run`` path (planning, stacking, the workers it
    picks by default, storing, summary; no figures) on a suite of the same 16 runs (their seed
    streams differ from :func:`mibench_rows`', being keyed by the suite's name)."""
    import tempfile

    from rich.console import Console

    from mibench.execute import runner

    text = SUITE_TOML.format(
        steps=steps, lr=LEARNING_RATE, batch=BATCH_SIZE, eval_every=EVAL_EVERY,
        estimators=json.dumps(list(ESTIMATORS)), dims=list(DIMS), levels=list(MI_LEVELS),
        hidden=list(HIDDEN),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        suite = Path(folder) / "vs_bmi.toml"
        suite.write_text(text)
        prepared = runner.prepare(suite, out=Path(folder) / "out")
        workers = runner.default_workers(prepared)
        start = time.perf_counter()
        runner.execute(prepared, show_progress=False, workers=workers,
                       console=Console(stderr=True, quiet=True))  # fmt: skip
        return time.perf_counter() - start, workers


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


# ------------------------------------------------------------ classical estimators, same samples
def write_classical_samples(path: Path, samples: int) -> dict[str, float]:
    """Draw every CLASSICAL_TASKS sample with mibench (seed 0) into ``path`` (.npz); the truths."""
    import numpy as np
    import torch

    from mibench import tasks

    arrays, truths = {}, {}
    for label, name, params in CLASSICAL_TASKS:
        task = tasks.build(name, **params)
        batch = task.sample(samples, torch.Generator().manual_seed(SEED), dtype=torch.float64)
        arrays[f"{label}:x"], arrays[f"{label}:y"] = batch.x.numpy(), batch.y.numpy()
        truths[label] = task.true_mi()
    np.savez(path, **arrays)
    return truths


def bmi_classical_worker(path: Path) -> list[dict[str, object]]:
    """Runs inside the BMI virtual environment: BMI's KSG and CCA on the saved arrays."""
    import numpy as np
    from bmi import estimators

    data = np.load(path)
    variants = {
        "bmi_ksg_k3_chebyshev": lambda: estimators.KSGEnsembleFirstEstimator(
            neighborhoods=(3,), metric_x="chebyshev", metric_y="chebyshev", chunk_size=100
        ),
        "bmi_ksg_default": lambda: estimators.KSGEnsembleFirstEstimator(chunk_size=100),
        "bmi_cca": lambda: estimators.CCAMutualInformationEstimator(),
    }
    rows = []
    for label, _, _ in CLASSICAL_TASKS:
        x, y = data[f"{label}:x"], data[f"{label}:y"]
        for variant, make in variants.items():
            start = time.perf_counter()
            value = float(make().estimate(x, y))
            rows.append({"task": label, "variant": variant, "estimate": value,
                         "wall_s": time.perf_counter() - start})  # fmt: skip
    return rows


def mibench_classical_rows(path: Path) -> list[dict[str, object]]:
    import numpy as np

    from mibench import estimators

    data = np.load(path)
    rows = []
    for label, _, _ in CLASSICAL_TASKS:
        x, y = data[f"{label}:x"], data[f"{label}:y"]
        for name in ("ksg", "cca"):
            start = time.perf_counter()
            value = estimators.get(name).estimate(x, y)
            rows.append({"task": label, "variant": f"mibench_{name}", "estimate": value,
                         "wall_s": time.perf_counter() - start})  # fmt: skip
    return rows


CLASSICAL_COLUMNS = ("mibench_ksg", "bmi_ksg_k3_chebyshev", "bmi_ksg_default", "mibench_cca",
                     "bmi_cca")  # fmt: skip


def render_classical(rows: list[dict[str, object]], truths: dict[str, float]) -> str:
    key = {(r["task"], r["variant"]): r["estimate"] for r in rows}
    lines = [f"{'task':<18} {'truth':>6} " + " ".join(f"{c:>20}" for c in CLASSICAL_COLUMNS)]
    for label, _, _ in CLASSICAL_TASKS:
        values = " ".join(f"{key.get((label, c), math.nan):>20.4f}" for c in CLASSICAL_COLUMNS)
        lines.append(f"{label:<18} {truths[label]:>6.3f} {values}")
    for ours, theirs in (("mibench_ksg", "bmi_ksg_k3_chebyshev"), ("mibench_cca", "bmi_cca")):
        gaps = [abs(key[(t, ours)] - key[(t, theirs)]) for t, _, _ in CLASSICAL_TASKS
                if (t, theirs) in key]  # fmt: skip
        if gaps:
            lines.append(f"max |{ours} - {theirs}| = {max(gaps):.2e} nats over {len(gaps)} tasks")
    return "\n".join(lines)


def run_classical(bmi_python: str | None, samples: int, out: Path) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "samples.npz"
        truths = write_classical_samples(path, samples)
        rows = mibench_classical_rows(path)
        if bmi_python:
            done = subprocess.run(
                [bmi_python, __file__, "--bmi-classical-worker", str(path)],
                check=True, capture_output=True, text=True,
                env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
            )  # fmt: skip
            rows += json.loads(done.stdout.strip().splitlines()[-1])
    table = render_classical(rows, truths)
    sys.stdout.write(table + "\n")
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = out / f"vs_bmi_classical_{stamp}.json"
    target.write_text(json.dumps({"samples": samples, "truths": truths, "rows": rows,
                                  "table": table}, indent=2))  # fmt: skip
    sys.stdout.write(f"wrote {target}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bmi-python", help="python of the virtual environment with bmi + jax")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="BMI's fixed sample")
    parser.add_argument("--bmi-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bmi-classical-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--classical", action="store_true",
                        help="compare KSG and CCA with BMI's on the same samples instead")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    if args.bmi_worker:
        sys.stdout.write(json.dumps(bmi_worker(args.steps, args.samples)) + "\n")
        return 0
    if args.bmi_classical_worker:
        sys.stdout.write(json.dumps(bmi_classical_worker(args.bmi_classical_worker)) + "\n")
        return 0
    if args.classical:
        return run_classical(args.bmi_python, CLASSICAL_SAMPLES, args.out)
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
    run_wall, workers = mibench_run_wall(args.steps)
    bmi_total = sum(float(r["wall_s"]) for r in rows if r["tool"] == "bmi")
    stacks_total = sum(float(r["wall_s"]) for r in rows if r["tool"] == "mibench")
    table += (
        f"\nwall for all {len(DIMS) * len(MI_LEVELS) * len(ESTIMATORS)} runs: BMI {bmi_total:.1f} s "
        f"(one run after another); mibench, one stack per dimension in this process "
        f"{stacks_total:.1f} s; mibench run (the CLI's path, {workers} worker(s)) {run_wall:.1f} s"
    )
    if bmi_total > 0:
        table += (
            f"\nBMI / mibench: {bmi_total / stacks_total:.2f}x (stacks in this process), "
            f"{bmi_total / run_wall:.2f}x (mibench run)"
        )
    sys.stdout.write(table + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = args.out / f"vs_bmi_{stamp}.json"
    path.write_text(json.dumps({"steps": args.steps, "samples": args.samples, "rows": rows,
                                "mibench_run_wall_s": run_wall, "mibench_run_workers": workers,
                                "table": table}, indent=2))  # fmt: skip
    sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
