"""benchmarks/gpu_check.sh: its CPU dry run passes end to end, and its frame comparison can fail.

The GPU check runs unattended on a machine this test suite never sees, so its ``--dry-run`` (the
same code paths, tiny, on the CPU) runs here as a whole process: a section that raises would make
the script exit 1 and name the section.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_SPEC)
sys.modules["gpu_check"] = gpu_check
_SPEC.loader.exec_module(gpu_check)


@pytest.mark.integration
def test_dry_run_passes_and_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "check"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = {"machine", *gpu_check.SECTIONS}
    assert {p.stem for p in out.glob("*.json")} == names
    sections = {n: json.loads((out / f"{n}.json").read_text()) for n in gpu_check.SECTIONS}
    assert all(s["ok"] for s in sections.values())
    # Every paired estimator of the dry run trained on both tasks and both critics.
    canonical = sections["canonical"]
    assert canonical["runs"] == len(canonical["estimators"]) * 2 * 2
    plain = sections["stacked"]["plain_run_steps_per_s"]
    assert isinstance(plain["eager"], float) and isinstance(
        plain["torch_compile_reduce_overhead"], float
    )
    assert plain["cuda_graph"].startswith("not applicable")
    assert [r["runs"] for r in sections["stacked"]["stacked"]] == list(gpu_check.DRY.stack_sizes)
    # CPU against CPU: the same configs give the same numbers, so the comparison must agree.
    comparison = sections["cpu_vs_device"]
    assert comparison["within_tolerance"] and comparison["matched"] == comparison["runs_cpu"] > 0
    assert all(c["max_abs"] == 0.0 for c in comparison["columns"].values())
    assert (out / "summary.txt").read_text().count("\n") >= len(gpu_check.SECTIONS)


def _frame(estimate: np.ndarray) -> pd.DataFrame:
    steps = np.arange(len(estimate))
    return pd.DataFrame(
        {"run_id": "r", "readout": "train", "step": steps, "estimate": estimate, "time_s": steps}
    )


def test_compare_frames_flags_differences_beyond_float32_tolerance() -> None:
    base = np.linspace(0.0, 5.0, 20)
    reference = {"cfg": _frame(base)}
    # Within tolerance: a relative change 10x below FRAME_RTOL; clock times never count.
    close = _frame(base * (1 + gpu_check.FRAME_RTOL / 10)).assign(time_s=99.0)
    result = gpu_check.compare_frames(reference, {"cfg": close})
    assert result["outside_tolerance"] == []
    change = gpu_check.FRAME_RTOL / 10
    # Relative to the larger of the two values: change / (1 + change).
    assert result["columns"]["estimate"]["max_rel"] == pytest.approx(change / (1 + change))
    far = _frame(base + 10 * (gpu_check.FRAME_ATOL + gpu_check.FRAME_RTOL * 5.0))
    assert gpu_check.compare_frames(reference, {"cfg": far})["outside_tolerance"] == [
        "cfg: column estimate"
    ]
    relabelled = _frame(base).assign(readout="eval")
    assert gpu_check.compare_frames(reference, {"cfg": relabelled})["outside_tolerance"] == [
        "cfg: column readout differs"
    ]
