"""Diverged runs (first NaN step per run) and unstable cells, as the report lists them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mibench.report.blocks import Bullets, Paragraph
from mibench.report.divergence import diverged_runs, divergence_section, unstable_cells
from mibench.report.tables import Table
from mibench.results import schema
from tests.plots.synthetic import synthetic_runs
from tests.report._suites import handmade_summary


def runs() -> pd.DataFrame:
    return synthetic_runs(estimators=("infonce", "nwj"), rng=np.random.default_rng(3),
                          mi_levels=(2.0, 6.0), seeds=(0, 1), n_steps=40, eval_every=20,
                          diverging=("nwj",))  # fmt: skip


def test_each_diverged_run_with_its_first_nan_step() -> None:
    frame = runs()
    expected = frame[frame[schema.DIVERGED]].groupby(schema.RUN_ID)[schema.STEP].min()
    assert len(expected) == 1  # nwj, seed 0, at the top level
    table = diverged_runs(frame)
    assert list(table[schema.RUN_ID]) == list(expected.index)
    assert list(table["first_diverged_step"]) == list(expected)
    assert set(table[schema.ESTIMATOR]) == {"nwj"}
    assert diverged_runs(frame.assign(**{schema.DIVERGED: False})).empty


def test_unstable_cells_in_task_estimator_level_order_with_their_wild_share() -> None:
    summary = handmade_summary()
    table = unstable_cells(summary)
    assert set(table[schema.ESTIMATOR]) == {"js"}
    assert list(table[schema.MI_LEVEL]) == [6.0, 8.0, 10.0] * 2
    assert list(table[schema.TASK].unique()) == ["staircase (cubic)", "staircase (gaussian)"]
    assert set(table[schema.WILD_FRACTION]) == {"25%"}
    assert unstable_cells(summary.assign(**{schema.UNSTABLE: False})).empty
    assert unstable_cells(None).empty


def test_the_section_says_how_many_runs_diverged_and_lists_them() -> None:
    blocks = divergence_section(runs(), handmade_summary())
    texts = [b.text for b in blocks if isinstance(b, Paragraph)]
    assert texts[0] == "1 of 8 runs diverged (frozen at the step shown)."
    assert any(isinstance(b, Bullets) for b in blocks)  # the summary's diverged cells
    tables = [b for b in blocks if isinstance(b, Table)]
    assert tables[0].columns[0] == schema.RUN_ID
    assert tables[1].title == "Unstable cells (median bias, IQR in nats)"
    calm = divergence_section(runs().assign(**{schema.DIVERGED: False}), None)
    assert [b.text for b in calm if isinstance(b, Paragraph)] == ["No run produced a NaN/Inf."]
