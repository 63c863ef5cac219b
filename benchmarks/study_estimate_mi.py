r"""The study behind ``estimate_mi``'s defaults: candidate settings on BMI's tasks, MAE and wall time.

Data: six tasks of BMI's v1 list ("Beyond Normal", Czyż et al. 2023), sampled by BMI itself
(n = 5000, seeds 0 and 1) and cached as ``.npz``; the same arrays go to every setting (and, with
``--bmi-baseline``, to BMI's own ``InfoNCEEstimator`` at its defaults)::

    python3 -m venv <bmi-venv>
    <bmi-venv>/bin/pip install "benchmark-mi==0.1.3" "jax==0.4.33" "jaxlib==0.4.33"
    python benchmarks/study_estimate_mi.py --bmi-python <bmi-venv>/bin/python --cache <dir> \
        [--settings default,separable] [--bmi-baseline]

Without ``--bmi-python`` the cache must already hold the arrays. Each (setting, task, seed)
estimate is appended to ``<cache>/study.jsonl`` as it finishes, so an interrupted study resumes;
the table (per task: mean |estimate - truth| over seeds; then MAE over the six tasks, median wall
seconds and median steps trained) is printed at the end. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

TASKS = (
    "1v1-normal-0.75",
    "student-identity-2-2-1",
    "half_cube-multinormal-sparse-5-5-2-2.0",
    "spiral-multinormal-sparse-3-3-2-2.0",
    "asinh-student-identity-5-5-2",
    "multinormal-dense-25-25-0.5",
)
SHORT = ("1v1", "st2x2d1", "hcube5", "spiral3", "asinhst5", "dense25")
N_SAMPLES = 5000
SEEDS = (0, 1)
CONCAT_16_8 = {"critic": "concat", "critic_params": {"hidden": [16, 8]}}
SEPARABLE_SMALL = {"critic": "separable", "critic_params": {"hidden": [64, 64], "embed_dim": 16}}


def _neural(estimator: str, critic: dict[str, Any], batch_size: int, lr: float,
            gaussianize: bool) -> dict[str, Any]:  # fmt: skip
    return {"estimator": estimator, **critic, "batch_size": batch_size, "lr": lr,
            "gaussianize": gaussianize}  # fmt: skip


SETTINGS: dict[str, dict[str, Any]] = {
    # "default" is estimate_mi() with no keyword at all.
    "default": {},
    "default-no-gaussianize": {"gaussianize": False},  # robust standardisation instead
    # The defaults before this study (smile, separable 256-256 -> 32, K = 128, 2000 steps, no early
    # stopping); its readout is the new one (the old window mean no longer exists).
    "old-defaults": {"estimator": "smile", "critic": "separable", "critic_params": {},
                     "batch_size": 128, "lr": 5e-4, "steps": 2000, "early_stopping": False,
                     "gaussianize": False},
    "infonce-concat-k256-lr5e-4": _neural("infonce", CONCAT_16_8, 256, 5e-4, False),
    "infonce-concat-k256-lr2e-3": _neural("infonce", CONCAT_16_8, 256, 2e-3, False),
    "infonce-concat-k128-lr2e-3": _neural("infonce", CONCAT_16_8, 128, 2e-3, False),
    "infonce-concat-k128-lr2e-3-gaussianize": _neural("infonce", CONCAT_16_8, 128, 2e-3, True),
    "smile-concat-k256-lr2e-3": _neural("smile", CONCAT_16_8, 256, 2e-3, False),
    "infonce-separable-k256-lr2e-3": _neural("infonce", SEPARABLE_SMALL, 256, 2e-3, False),
    "infonce-separable-k256-lr2e-3-gaussianize": _neural("infonce", SEPARABLE_SMALL, 256, 2e-3, True),
}  # fmt: skip


def bmi_sampler(cache: str) -> None:
    """Runs inside BMI's virtual environment: writes ``<task>_s<seed>.npz`` (x, y, mi)."""
    import numpy as np
    from bmi.benchmark import BENCHMARK_TASKS

    for name in TASKS:
        task = BENCHMARK_TASKS[name]
        for seed in SEEDS:
            x, y = task.sample(N_SAMPLES, seed=seed)
            np.savez(Path(cache) / f"{name}_s{seed}.npz", x=np.asarray(x), y=np.asarray(y),
                     mi=task.mutual_information)  # fmt: skip


def bmi_baseline(cache: str) -> list[dict[str, Any]]:
    """Runs inside BMI's virtual environment: BMI's InfoNCE at its defaults on the cached arrays."""
    import numpy as np
    from bmi.estimators import InfoNCEEstimator

    rows = []
    for name in TASKS:
        for seed in SEEDS:
            data = np.load(Path(cache) / f"{name}_s{seed}.npz")
            start = time.perf_counter()
            result = InfoNCEEstimator(verbose=False, seed=seed).estimate_with_info(
                data["x"], data["y"]
            )
            rows.append({"setting": "bmi-infonce-defaults", "task": name, "seed": seed,
                         "truth": float(data["mi"]), "estimate": float(result.mi_estimate),
                         "wall_s": time.perf_counter() - start,
                         "steps": int(result.additional_information.get("n_training_steps", -1))})  # fmt: skip
    return rows


def run_setting(cache: Path, setting: str, done: set[tuple[str, str, int]], out: Path) -> None:
    import numpy as np

    from mibench import estimate_mi

    for name in TASKS:
        for seed in SEEDS:
            if (setting, name, seed) in done:
                continue
            data = np.load(cache / f"{name}_s{seed}.npz")
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = estimate_mi(data["x"], data["y"], seed=seed, **SETTINGS[setting])
            row = {"setting": setting, "task": name, "seed": seed, "truth": float(data["mi"]),
                   "estimate": result.estimate, "stderr": result.stderr,
                   "wall_s": time.perf_counter() - start, "steps": result.stopped_step + 1,
                   "best_step": result.best_step, "overfit_drop": result.overfit_drop,
                   "wild": result.wild_readouts, "warnings": len(caught)}  # fmt: skip
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


def student_t_gaussianize(settings: dict[str, Any]) -> str:
    """mibench's own ``student_t`` task (closed-form MI), dof 1 and 2: gaussianize off vs on."""
    import torch

    from mibench import estimate_mi
    from mibench.tasks import build

    lines = ["| dof | dim | truth | gaussianize | estimate (seeds 0, 1) | mean abs error |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for nu in (1.0, 2.0):
        task = build("student_t", dim=2, nu=nu, rho=0.0)
        for gaussianize in (False, True):
            estimates = []
            for seed in SEEDS:
                batch = task.sample(N_SAMPLES, torch.Generator().manual_seed(seed),
                                    dtype=torch.float64)  # fmt: skip
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = estimate_mi(batch.x, batch.y, seed=seed,
                                         **{**settings, "gaussianize": gaussianize})  # fmt: skip
                estimates.append(result.estimate)
            error = statistics.fmean(abs(e - task.true_mi()) for e in estimates)
            shown = ", ".join(f"{e:.3f}" for e in estimates)
            lines.append(
                f"| {nu:g} | 2 | {task.true_mi():.3f} | {gaussianize} | {shown} | {error:.3f} |"
            )
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    header = ["setting", *SHORT, "MAE", "median s", "median steps"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for setting in settings:
        mine = [row for row in rows if row["setting"] == setting]
        errors = []
        for name in TASKS:
            cell = [abs(row["estimate"] - row["truth"]) for row in mine if row["task"] == name]
            errors.append(statistics.fmean(cell) if cell else float("nan"))
        complete = all(e == e for e in errors)
        mae = statistics.fmean(errors) if complete else float("nan")
        wall = statistics.median(row["wall_s"] for row in mine)
        steps = statistics.median(row["steps"] for row in mine)
        cells = [f"{e:.2f}" for e in errors] + [f"{mae:.3f}", f"{wall:.1f}", f"{steps:.0f}"]
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", required=True, help="folder for the .npz arrays and study.jsonl")
    parser.add_argument("--bmi-python", help="python of a venv with benchmark-mi (samples tasks)")
    parser.add_argument("--settings", default="default", help=f"comma list of {sorted(SETTINGS)}")
    parser.add_argument("--bmi-baseline", action="store_true", help="also time BMI's InfoNCE")
    parser.add_argument("--student", action="store_true",
                        help="also: gaussianize off/on on mibench's student_t task, dof 1 and 2")  # fmt: skip
    parser.add_argument("--bmi-worker", choices=("sample", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    if args.bmi_worker == "sample":
        bmi_sampler(args.cache)
        return 0
    if args.bmi_worker == "baseline":
        sys.stdout.write(json.dumps(bmi_baseline(args.cache)) + "\n")
        return 0
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / "study.jsonl"
    missing = [n for n in TASKS for s in SEEDS if not (cache / f"{n}_s{s}.npz").exists()]
    if missing:
        if not args.bmi_python:
            parser.error(f"{len(missing)} task arrays missing from {cache}; give --bmi-python")
        subprocess.run([args.bmi_python, __file__, "--cache", args.cache, "--bmi-worker", "sample"],
                       check=True)  # fmt: skip
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    done = {(row["setting"], row["task"], row["seed"]) for row in rows}
    if args.bmi_baseline and not any(row["setting"] == "bmi-infonce-defaults" for row in rows):
        if not args.bmi_python:
            parser.error("--bmi-baseline needs --bmi-python")
        answer = subprocess.run(
            [args.bmi_python, __file__, "--cache", args.cache, "--bmi-worker", "baseline"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        with out.open("a") as handle:
            for row in json.loads(answer.stdout.strip().splitlines()[-1]):
                handle.write(json.dumps(row) + "\n")
    for setting in args.settings.split(","):
        if setting not in SETTINGS:
            parser.error(f"unknown setting {setting!r}; valid choices: {', '.join(SETTINGS)}")
        run_setting(cache, setting, done, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    wanted = {*args.settings.split(","), "bmi-infonce-defaults"}
    print(table([row for row in rows if row["setting"] in wanted]))
    if args.student:
        print(student_t_gaussianize(SETTINGS[args.settings.split(",")[0]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
