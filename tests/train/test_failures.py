"""Failed runs: stored with the schema, their reason in the sidecar, left out of the metrics."""

from __future__ import annotations

import math

import numpy as np

from mibench.core.interface import EstimatorFailedError, RunConfig
from mibench.plan.resolve import build_task
from mibench.results import schema, store
from mibench.results.summary import summarize
from mibench.train import failures


def _config(seed: int, **kwargs) -> RunConfig:
    return RunConfig.make(
        estimator="cmd", task="staircase", task_params={"levels": [1.0, 2.0], "steps_per_level": 10, "dim": 2},
        critic="none",
        batch_size=50, n_steps=20, dtype="float64", seed=seed, estimator_fingerprint="ab" * 8,
        **kwargs,
    )  # fmt: skip


def test_a_failed_run_has_the_schema_one_row_per_level_and_its_reason(tmp_path) -> None:
    config = _config(0)
    frame, sidecar = failures.failed_run(
        config, build_task(config), EstimatorFailedError("exited with status 1", "boom\nbad")
    )
    store.check_frame(frame)
    train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
    assert list(train[schema.STEP]) == [9, 19] and list(train[schema.TRUE_MI]) == [1.0, 2.0]
    assert frame[schema.ESTIMATE].isna().all() and frame[schema.DIVERGED].all()
    assert sidecar["failure"] == {"reason": "exited with status 1", "detail": "boom\nbad"}
    store.write_run(tmp_path, config.cell_hash(), frame, sidecar)
    assert failures.is_failed(tmp_path, config.cell_hash())
    assert not failures.is_failed(tmp_path, "0" * 16)


def test_the_summary_counts_failed_seeds_apart_from_diverged_ones() -> None:
    ok, bad = _config(0), _config(1)
    task = build_task(ok)
    frame_ok = failures.level_frame(ok, task, [9, 19], [0.9, 1.8], [0.1, 0.2])
    sidecar_ok = store.sidecar_record(config=ok.as_dict(), run_id=ok.cell_hash(), wall_time_s=0.1,
                                      critic_architecture="none", n_parameters=0,
                                      diverged_step=None, task_id=task.id, n_rows=4)  # fmt: skip
    frame_bad, sidecar_bad = failures.failed_run(bad, task, EstimatorFailedError("timed out"))
    # The failed run sorts first by id on purpose: it must still not be the reference run.
    frames = {"0": frame_bad, "1": frame_ok}
    summary = summarize(frames, {"0": sidecar_bad, "1": sidecar_ok})
    assert list(summary[schema.FAILED_FRACTION]) == [0.5, 0.5]
    assert list(summary[schema.DIVERGED_FRACTION]) == [0.0, 0.0]
    assert list(summary[schema.FAILURE]) == ["timed out", "timed out"]
    assert np.allclose(summary[schema.BIAS], [-0.1, -0.2])  # the surviving seed only
    assert summary[schema.N_SEEDS].tolist() == [2, 2]


def test_an_exception_becomes_a_failure_with_its_traceback_tail() -> None:
    try:
        math.sqrt(-1)
    except ValueError as error:
        failure = failures.failure_of(error)
    assert failure.reason == "raised ValueError: math domain error"
    assert "math.sqrt(-1)" in failure.detail
