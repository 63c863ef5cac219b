"""Per-run frames (mibench.train.frames): host copies, own extras, architectures, the run order."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from mibench import estimators
from mibench.results import schema
from mibench.train import frames
from mibench.train.record import RunResult
from tests.train._stack_helpers import small_config, small_stack


def _host(columns: dict[str, np.ndarray]) -> frames.HostReadout:
    return frames.HostReadout(schema.READOUT_TRAIN, [0], columns, [0.0], batch=4, matrix_size=4)


def test_host_readout_copies_the_device_columns() -> None:
    column = torch.arange(6, dtype=torch.float64).reshape(3, 2)
    host = frames.host_readout(schema.READOUT_EVAL, [0, 2, 3], {"estimate": column}, [0.1] * 3,
                               batch=8, matrix_size=8)  # fmt: skip
    assert isinstance(host.columns["estimate"], np.ndarray)
    np.testing.assert_array_equal(host.columns["estimate"], column.numpy())
    assert (host.readout, host.batch, host.matrix_size) == (schema.READOUT_EVAL, 8, 8)


def test_a_run_gets_its_own_estimators_extras_and_every_stack_wide_column() -> None:
    groups = [SimpleNamespace(start=0, stop=2, extra_names={"f_value"}),
              SimpleNamespace(start=2, stop=3, extra_names=set())]  # fmt: skip
    readouts = (_host({"estimate": np.zeros((1, 3)), "f_value": np.zeros((1, 3)),
                       schema.ALIGN: np.zeros((1, 3))}), _host({}))  # fmt: skip
    own = frames.own_extras(readouts, groups)
    assert own == {0: [schema.ALIGN, "f_value"], 1: [schema.ALIGN, "f_value"], 2: [schema.ALIGN]}


def test_described_adds_the_dual_head_of_the_runs_that_train_one() -> None:
    critic = SimpleNamespace(architecture="mlp", n_parameters=10)
    heads = {"x": (slice(0, 1), SimpleNamespace(architecture="head", n_parameters=3))}
    assert frames.described(critic, heads, estimators.get("tuba")) == ("mlp + head", 13)
    assert frames.described(critic, heads, estimators.get("infonce")) == ("mlp", 10)


def test_run_results_come_back_in_the_callers_order() -> None:
    stack = small_stack("tuba", "infonce")  # stack order: infonce (no head), then tuba
    assert [r.position for r in stack.runs] == [1, 0]
    results = stack.run(None)
    assert [r.config for r in results] == [small_config("tuba", 0), small_config("infonce", 1)]
    assert all(isinstance(r, RunResult) for r in results)
    assert "+" in results[0].critic_architecture and "+" not in results[1].critic_architecture
    frame = results[0].frame
    assert list(frame.columns[: len(schema.COLUMNS)]) == list(schema.COLUMNS)
    assert set(frame[schema.READOUT]) == {schema.READOUT_TRAIN, schema.READOUT_EVAL}
    assert frame[schema.ESTIMATOR].unique().tolist() == ["tuba"]
