"""The results schema (mibench.results.schema): unique names, the documented table, real frames.

The frames checked here come from a tiny real training stack (3 steps, K = 8, three estimators
with different extras), so a column the trainer writes without the schema naming it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mibench import estimators
from mibench.core.interface import RunConfig
from mibench.results import schema, store
from mibench.train import train_stack
from mibench.train.record import RunResult

# Per-step columns by kind (the schema docstring's table says what each holds).
STRING_COLUMNS = (
    schema.RUN_ID, schema.SUITE, schema.ESTIMATOR, schema.TASK, schema.TASK_ID, schema.CRITIC,
    schema.DTYPE, schema.NEGATIVES, schema.READOUT,
)  # fmt: skip
INTEGER_COLUMNS = (schema.DIM, schema.BATCH_SIZE, schema.SEED, schema.STEP)
BOOLEAN_COLUMNS = (schema.DIVERGED,)
FLOAT_COLUMNS = tuple(
    c for c in schema.COLUMNS if c not in {*STRING_COLUMNS, *INTEGER_COLUMNS, *BOOLEAN_COLUMNS}
)

# Columns the contrastive systems and the embedding readouts add to a frame (and the summary's
# system_params); named in schema.py like every other column.
SYSTEM_COLUMNS = frozenset(
    {"system", "system_params", "k_eff", "align", "unif", "estimate_xy", "estimate_yx",
     "estimate_before_head"}
)  # fmt: skip

# FlatNCE reports per_row_dv, f-MICL f_value, InfoNCE none: three kinds of extras in one stack.
ESTIMATORS = ("infonce", "flatnce", "fmicl_kl")


def _schema_names() -> dict[str, str]:
    """Every string constant of the schema module (column names and readout values)."""
    return {k: v for k, v in vars(schema).items() if k.isupper() and isinstance(v, str)}


def _estimator_extras(name: str) -> set[str]:
    """The names an estimator's own ``extras`` reports, on a random 6 x 6 score matrix."""
    scores = torch.randn(1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    spec = estimators.get(name)
    return set(spec.extras(scores))


@pytest.fixture(scope="module")
def tiny_results() -> list[RunResult]:
    configs = [
        RunConfig.make(
            estimator=name,
            task="gaussian",
            task_params={"dim": 2, "mi": 1.0},
            critic="separable",
            critic_params={"hidden": (4,), "embed_dim": 2},
            batch_size=8,
            n_steps=3,
            eval_every=2,
        )
        for name in ESTIMATORS
    ]
    return train_stack(configs)


def test_column_names_are_unique() -> None:
    assert len(set(schema.COLUMNS)) == len(schema.COLUMNS)
    names = _schema_names()
    values = list(names.values())
    duplicates = {v for v in values if values.count(v) > 1}
    assert not duplicates, {k: v for k, v in names.items() if v in duplicates}
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", v) for v in values), values


def test_the_docstring_table_lists_exactly_the_per_step_columns_in_order() -> None:
    doc = schema.__doc__ or ""
    table = doc.split("==================  ")[1]  # the rows between the two rules
    documented = re.findall(r"^``([a-z_]+)``", table, flags=re.MULTILINE)
    # ``task`` and ``task_id`` share a row ("``task``  ...; ``task_id`` the task's derived id").
    assert schema.TASK_ID in table
    documented.insert(documented.index(schema.TASK) + 1, schema.TASK_ID)
    assert documented == list(schema.COLUMNS)


def test_every_per_step_column_is_typed() -> None:
    kinds = (STRING_COLUMNS, INTEGER_COLUMNS, BOOLEAN_COLUMNS, FLOAT_COLUMNS)
    assert sorted(c for kind in kinds for c in kind) == sorted(schema.COLUMNS)
    assert schema.ESTIMATE in FLOAT_COLUMNS and schema.TRUE_MI in FLOAT_COLUMNS


def test_a_trained_frame_starts_with_the_schema_columns(tiny_results: list[RunResult]) -> None:
    for result in tiny_results:
        frame = result.frame
        assert frame.columns.is_unique
        assert list(frame.columns[: len(schema.COLUMNS)]) == list(schema.COLUMNS)
        assert set(frame[schema.READOUT]) == {schema.READOUT_TRAIN, schema.READOUT_EVAL}


def test_every_further_column_is_in_the_schema_or_the_estimators_own_extra(
    tiny_results: list[RunResult],
) -> None:
    declared = set(_schema_names().values())
    for result in tiny_results:
        name = result.config.estimator
        own = _estimator_extras(name)
        further = set(result.frame.columns[len(schema.COLUMNS) :])
        undeclared = further - declared - own
        assert not undeclared, (name, sorted(undeclared))
        assert own <= further, (name, sorted(own - further))  # its extras reach its frame
        # An estimator's extras go to its own runs only (stack-mates do not see them).
        for other in ESTIMATORS:
            if other != name:
                assert not (_estimator_extras(other) - own) & further, (name, other)


def test_extras_of_the_three_estimators_are_what_they_say() -> None:
    assert _estimator_extras("infonce") == set()
    assert _estimator_extras("flatnce") == {schema.PER_ROW_DV}
    assert _estimator_extras("fmicl_kl") == {schema.F_VALUE}


def test_system_columns_are_in_the_schema() -> None:
    assert set(_schema_names().values()) >= SYSTEM_COLUMNS


def _check_dtypes(frame: pd.DataFrame) -> None:
    for column in STRING_COLUMNS:
        assert pd.api.types.is_string_dtype(frame[column]), (column, frame[column].dtype)
    for column in INTEGER_COLUMNS:
        assert frame[column].dtype == np.int64, (column, frame[column].dtype)
    for column in BOOLEAN_COLUMNS:
        assert frame[column].dtype == np.bool_, (column, frame[column].dtype)
    for column in FLOAT_COLUMNS:
        assert frame[column].dtype == np.float64, (column, frame[column].dtype)


def test_dtypes_of_a_trained_frame(tiny_results: list[RunResult]) -> None:
    for result in tiny_results:
        _check_dtypes(result.frame)
        own = _estimator_extras(result.config.estimator)
        for column in own:  # "added as further float columns"
            assert result.frame[column].dtype == np.float64, column


def test_dtypes_survive_the_store(tiny_results: list[RunResult], tmp_path: Path) -> None:
    result = tiny_results[1]
    run_id = result.config.cell_hash()
    sidecar = {"run_id": run_id, "config": result.config.as_dict()}
    store.write_run(tmp_path, run_id, result.frame, sidecar)
    back = store.read_run(tmp_path, run_id)
    _check_dtypes(back)
    assert list(back.columns) == list(result.frame.columns)
    pd.testing.assert_frame_equal(back, result.frame, check_dtype=False)
