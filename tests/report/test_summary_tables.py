"""The per-setting tables on hand-made summaries: unstable cells never show their exploded mean,
every row and title names what tells it apart (the f-MICL and truth tables' base task), skipped
and diverged lines say what tells cells apart."""

from __future__ import annotations

import pandas as pd

from mibench.report.summary_tables import (
    SUMMARY_LEGEND,
    diverged_lines,
    f_value_tables,
    sandwich_table,
    skipped_lines,
    truth_tables,
)
from mibench.report.summary_tables import (
    summary_tables as setting_tables,
)
from mibench.results import schema


def summary_row(**overrides) -> dict:
    row = {
        schema.CELL_ID: "c0",
        schema.ESTIMATOR: "js",
        schema.TASK: "gaussian",
        schema.TASK_ID: "gaussian-d5-mi10",
        schema.TARGET: "mi",
        schema.DIM: 5,
        schema.MI_LEVEL: 10.0,
        schema.TRUE_MI: 10.0,
        schema.SEGMENT: 0,
        schema.CRITIC: "separable",
        schema.BATCH_SIZE: 64,
        schema.DTYPE: "float32",
        schema.NEGATIVES: "offdiag",
        schema.N_STEPS: 600,
        schema.LR: 1e-3,
        schema.CRITIC_PARAMS: "{}",
        schema.TASK_PARAMS: '{"dim": 5, "mi": 10}',
        schema.ESTIMATOR_PARAMS: "{}",
        schema.N_SEEDS: 3,
        schema.BIAS: -9.8e61,
        schema.STD: 1e62,
        schema.MSE: 1e124,
        schema.MEAN_ESTIMATE: -9.8e61,
        schema.MEDIAN_BIAS: -1.234,
        schema.WILD_FRACTION: 0.004,
        schema.UNSTABLE: True,
        schema.DIVERGED_FRACTION: 0.0,
    }
    return row | overrides


def all_text(tables) -> str:
    return "\n".join("\t".join(row) for table in tables for row in (table.columns, *table.rows))


def test_unstable_cells_show_median_and_wild_share_never_the_exploded_mean():
    summary = pd.DataFrame(
        [
            summary_row(),
            summary_row(
                **{schema.CELL_ID: "c1", schema.ESTIMATOR: "infonce", schema.BIAS: -5.84},
                **{schema.STD: 0.02, schema.MSE: 34.1, schema.UNSTABLE: False},
            ),
        ]
    )
    (table,) = setting_tables(summary)
    assert table.rows == (
        ("js", "unstable -1.23 (0.4%)"),
        ("infonce", "-5.84/0.02/34.10"),
    )
    assert table.columns == ("estimator", "I=10")


def test_titles_name_the_setting_and_what_tells_two_bases_apart():
    gaussian = summary_row(**{schema.UNSTABLE: False, schema.BIAS: -0.5, schema.STD: 0.1,
                              schema.MSE: 0.26,
                              schema.TASK_PARAMS: '{"dim": 5, "mi": 10}'})  # fmt: skip
    cubic = gaussian | {schema.CELL_ID: "c9", schema.TASK_PARAMS: '{"base": "cubic", "dim": 5}'}
    (alone,) = setting_tables(pd.DataFrame([gaussian]))
    assert alone.title == "gaussian (d=5), separable critic, K=64"
    first, second = setting_tables(pd.DataFrame([gaussian, cubic]))
    assert first.title == "gaussian (d=5), separable critic, K=64"
    assert second.title == "gaussian (d=5), separable critic, K=64, base=cubic"
    assert "bias/std/MSE" in SUMMARY_LEGEND and "bias/std/MSE" not in first.title


def test_several_hyperparameter_sets_of_one_estimator_get_a_row_each():
    rows = [
        summary_row(**{schema.ESTIMATOR_PARAMS: '{"alpha": 0.5}', schema.UNSTABLE: False}),
        summary_row(**{schema.CELL_ID: "c1", schema.ESTIMATOR_PARAMS: '{"alpha": 0.9}'}),
    ]
    (table,) = setting_tables(pd.DataFrame(rows))
    assert [row[0] for row in table.rows] == ['js {"alpha": 0.5}', 'js {"alpha": 0.9}']
    assert table.check() is table


def test_diverged_lines_name_what_tells_two_cells_apart():
    summary = pd.DataFrame(
        [
            summary_row(**{schema.ESTIMATOR: "flo", schema.LR: 1e-3, schema.CELL_ID: "a"}),
            summary_row(
                **{schema.ESTIMATOR: "flo", schema.LR: 0.1, schema.CELL_ID: "b"},
                **{schema.DIVERGED_FRACTION: 2 / 3},
            ),
            # a second segment of the same cell: one line per cell, not per segment
            summary_row(
                **{schema.ESTIMATOR: "flo", schema.LR: 0.1, schema.CELL_ID: "b"},
                **{schema.DIVERGED_FRACTION: 1 / 3},
            ),
        ]
    )
    assert diverged_lines(summary) == [
        "diverged: flo on gaussian-d5-mi10, lr=0.1: 67% of 3 seeds (left out of that cell's metrics)"
    ]


def _staircase(base: str, **overrides) -> dict:
    """A row of a staircase on ``base``: one task name, the base in the task id."""
    return summary_row(
        **{schema.TASK: "staircase", schema.TASK_ID: f"staircase-d5-{base}",
           schema.CELL_ID: f"{base}-{overrides.get(schema.ESTIMATOR, 'js')}"},
        **overrides,
    )  # fmt: skip


def test_f_value_tables_name_the_base_task_and_mark_an_unknown_f_mi():
    rows = [
        _staircase("gaussian", **{schema.ESTIMATOR: "fmicl_kl", schema.F_VALUE: 1.0}),
        _staircase("cubic", **{schema.ESTIMATOR: "fmicl_kl", schema.F_VALUE: 1.0}),
        _staircase("cubic", **{schema.ESTIMATOR: "nwj", schema.F_VALUE: float("nan")}),
    ]
    summary = pd.DataFrame(rows).assign(
        **{schema.F_VALUE_MEDIAN: [0.75, 0.5, float("nan")], schema.TRUE_F_MI: [1.0, None, None]}
    )
    tables = f_value_tables(summary)
    titles = [t.title for t in tables]
    assert titles == [
        "f-MICL on staircase (gaussian): f-value / true f-MI",
        "f-MICL on staircase (cubic): f-value / true f-MI",
    ]
    assert tables[0].rows == (("fmicl_kl", "0.75/1.00"),)
    assert tables[1].rows == (("fmicl_kl", "0.50/?"),)  # nwj has no f-value: left out
    assert "nwj" not in all_text(tables)
    assert f_value_tables(summary.drop(columns=schema.F_VALUE)) == []


def test_truth_tables_show_an_unstable_cell_by_its_median_readout_and_flag_it():
    # The default suite printed -4.0e+53 for flo on the cubic staircase: the window mean of a
    # cell whose readouts exploded. Such a cell reads as true MI + median bias, marked "*".
    summary = pd.DataFrame(
        [
            summary_row(**{schema.MEAN_ESTIMATE: -4.0e53}),  # js: unstable, median bias -1.234
            summary_row(
                **{schema.CELL_ID: "c1", schema.ESTIMATOR: "infonce", schema.UNSTABLE: False},
                **{schema.MEAN_ESTIMATE: 4.16},
            ),
            summary_row(
                **{schema.CELL_ID: "c2", schema.ESTIMATOR: "ksg", schema.UNSTABLE: False},
                **{schema.MEAN_ESTIMATE: 9.5, schema.MEDIAN_BIAS: float("nan")},
            ),
        ]
    )
    (table,) = truth_tables(summary)
    assert table.columns == ("estimator", "I=10.00")
    assert dict(table.rows) == {"ksg": "9.50", "infonce": "4.16", "js": "8.77*"}
    assert any(note.startswith("* unstable") for note in table.notes)
    (stable,) = truth_tables(summary.assign(**{schema.UNSTABLE: False}))
    assert dict(stable.rows)["js"] == "-4e+53"  # a stable cell: its mean, 3 digits
    assert not any(note.startswith("*") for note in stable.notes)
    no_sample = summary[summary[schema.ESTIMATOR] != "ksg"]
    assert truth_tables(no_sample) == []


def test_truth_tables_are_one_per_base_with_the_base_in_the_title():
    rows = [
        _staircase(base, **{schema.ESTIMATOR: name, schema.UNSTABLE: False,
                            schema.MEAN_ESTIMATE: 9.0})
        for base in ("gaussian", "cubic")
        for name in ("ksg", "infonce")
    ]  # fmt: skip
    tables = truth_tables(pd.DataFrame(rows))
    assert [t.title.split(" (nats")[0] for t in tables] == [
        "estimate vs truth on staircase (gaussian)",
        "estimate vs truth on staircase (cubic)",
    ]
    assert all(t.check() is t for t in tables)


def test_sandwich_table_brackets_each_level_between_a_lower_and_an_upper_bound():
    rows = [
        summary_row(**{schema.ESTIMATOR: "infonce", schema.MEAN_ESTIMATE: 4.1,
                       schema.CELL_ID: "a", schema.UNSTABLE: False}),
        summary_row(**{schema.ESTIMATOR: "club", schema.MEAN_ESTIMATE: 11.0, schema.CELL_ID: "b",
                       schema.UNSTABLE: False}),
    ]  # fmt: skip
    table = sandwich_table(pd.DataFrame(rows))
    assert table is not None
    assert table.rows == (("gaussian", "64", "10.00", "4.10 (infonce)", "11.00 (club)", "6.90",
                           "yes"),)  # fmt: skip
    assert sandwich_table(pd.DataFrame(rows[:1])) is None


def test_skipped_lines_group_estimators_by_reason():
    skipped = [
        {"estimator": "sincere", "task": "gaussian", "critic": "encoder",
         "reason": "sincere needs labels; task gaussian has none"},
        {"estimator": "supcon", "task": "gaussian", "critic": "encoder",
         "reason": "supcon needs labels; task gaussian has none"},
        {"estimator": "nwj", "task": "labeled", "critic": "separable",
         "reason": "nwj needs paired samples (x, y); task labeled has no y"},
    ]  # fmt: skip
    assert skipped_lines(skipped) == [
        "gaussian with encoder: sincere, supcon - needs labels; task gaussian has none",
        "labeled with separable: nwj - needs paired samples (x, y); task labeled has no y",
    ]


def test_a_sliced_mi_estimator_gets_a_table_of_its_own_headed_si():
    mi = summary_row(**{schema.UNSTABLE: False, schema.BIAS: -0.5, schema.STD: 0.1,
                        schema.MSE: 0.26, schema.ESTIMATOR: "ksg"})  # fmt: skip
    sliced = mi | {schema.CELL_ID: "s", schema.ESTIMATOR: "sliced", schema.TARGET: "sliced"}
    first, second = setting_tables(pd.DataFrame([mi, sliced]))
    assert (first.columns, first.title.endswith("target=mi")) == (("estimator", "I=10"), True)
    assert (second.columns, second.rows[0][0]) == (("estimator", "SI=10"), "sliced")
    assert second.title.endswith("target=sliced")
