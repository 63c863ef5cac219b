"""Stack jobs (mibench.execute.jobs): stack ids, checkpoint paths, the f-MI truth column, finished runs."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mibench import estimators
from mibench.core.interface import RunConfig
from mibench.execute import jobs
from mibench.results import schema
from mibench.tasks import build
from mibench.tasks.gaussian import rho_from_mi


def _config(seed: int = 0, **overrides: object) -> RunConfig:
    base: dict[str, object] = {
        "estimator": "infonce",
        "task": "gaussian",
        "task_params": {"dim": 2, "mi": 1.0},
        "batch_size": 8,
        "n_steps": 4,
        "seed": seed,
    }
    base.update(overrides)
    return RunConfig.make(**base)


def test_stack_id_hashes_the_cell_hashes_in_order() -> None:
    a, b = _config(0), _config(1)
    expected = hashlib.sha256(f"{a.cell_hash()},{b.cell_hash()}".encode()).hexdigest()[:16]
    assert jobs.stack_id([a, b]) == expected
    assert jobs.stack_id([b, a]) != expected  # order matters (the stack's run order)


def test_make_jobs_one_per_stack_with_absolute_checkpoint_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stacks = [[_config(0), _config(1)], [_config(2)]]
    made = jobs.make_jobs(stacks, Path("results") / "tiny", checkpoint_every_s=5)
    assert [job.index for job in made] == [0, 1]
    assert [job.configs for job in made] == [tuple(s) for s in stacks]
    folder = (tmp_path / "results" / "tiny" / jobs.CHECKPOINT_DIR).resolve()
    for job, stack in zip(made, stacks, strict=True):
        assert job.checkpoint_path == str(
            folder / f"{jobs.stack_id(stack)}{jobs.CHECKPOINT_SUFFIX}"
        )
        assert Path(job.checkpoint_path).is_absolute() and job.checkpoint_every_s == 5.0
    assert (made[0].device, made[0].n_steps, made[0].run_steps) == ("cpu", 4, 8)
    off = jobs.make_jobs(stacks, tmp_path, checkpoint_every_s=None)
    assert all(job.checkpoint_path is None and job.checkpoint_every_s == 0.0 for job in off)
    assert jobs.checkpoint_dir(tmp_path) == tmp_path / "checkpoints"


def _frame(steps: list[int], truth: list[float]) -> pd.DataFrame:
    return pd.DataFrame({schema.STEP: steps, schema.TRUE_MI: truth})


def test_f_truth_is_the_gaussian_closed_form_per_row() -> None:
    # KL f-MI is the MI itself; the Pearson chi^2 f-MI of the correlated Gaussian is (1 - rho^2)^(-d) - 1.
    task = build("gaussian", dim=2, mi=1.0)
    out = jobs.with_f_truth(_frame([0, 1], [1.0, 1.0]), estimators.get("fmicl_pearson"), task)
    rho = rho_from_mi(1.0, 2)
    np.testing.assert_allclose(out[schema.TRUE_F_MI], (1 - rho**2) ** -2 - 1, rtol=1e-12)
    kl = jobs.with_f_truth(_frame([0], [1.0]), estimators.get("fmicl_kl"), task)
    assert kl[schema.TRUE_F_MI].tolist() == pytest.approx([1.0], rel=1e-12)


def test_f_truth_leaves_other_frames_alone() -> None:
    task = build("gaussian", dim=2, mi=1.0)
    frame = _frame([0], [1.0])
    assert jobs.with_f_truth(frame, estimators.get("infonce"), task) is frame  # no f-information
    done = frame.assign(**{schema.TRUE_F_MI: 5.0})
    assert jobs.with_f_truth(done, estimators.get("fmicl_kl"), task) is done  # already there

    class NoFTruth:
        pass

    assert jobs.with_f_truth(frame, estimators.get("fmicl_kl"), NoFTruth()) is frame


def test_f_truth_of_a_schedule_task_is_read_once_per_level() -> None:
    calls: list[int] = []

    class Steps:
        def f_mi(self, name: str, *, step: int = 0, alpha: float | None = None) -> float | None:
            calls.append(step)
            return None if step >= 4 else 10.0 + step

    frame = _frame([0, 1, 2, 3, 4, 5], [1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    out = jobs.with_f_truth(frame, estimators.get("fmicl_kl"), Steps())
    assert calls == [0, 2, 4]  # the first step of each level
    values = out[schema.TRUE_F_MI].tolist()
    assert values[:4] == [10.0, 10.0, 12.0, 12.0] and all(math.isnan(v) for v in values[4:])
    assert schema.TRUE_F_MI not in frame.columns  # a copy
