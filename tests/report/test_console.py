"""Console output of ``mibench run`` on hand-made summaries: tables never truncate a number or an
estimator name, unstable cells never show their exploded mean, skipped and diverged lines say
what tells cells apart. (The same tables on a real run: tests/test_runner.py.)"""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from mibench.report import console
from mibench.results import schema


def test_summary_table_keeps_estimator_names_on_a_narrow_console():
    """A log file is an 80-column console: wide cells must not squeeze the first column away
    (rich collapses columns from the left; the staircase table printed no estimator names)."""
    cell = "+2.41e+11/3.05e+10/5.92e+22"
    body = [[name, *[cell] * 5] for name in ("alpha", "dv", "flatnce")]
    table = console.full_width_table("short title", ["estimator", *"ABCDE"], body)
    terminal = Console(record=True, width=80)
    console.print_wide(terminal, table)
    text = terminal.export_text()
    for name in ("alpha", "dv", "flatnce"):
        assert f"│ {name} " in text, name
    assert text.count(cell) == 15  # no number cropped either
    assert terminal.width == 80  # the console is restored


def test_skipped_lines_group_estimators_by_reason():
    skipped = [
        {"estimator": "sincere", "task": "gaussian", "critic": "encoder",
         "reason": "sincere needs labels; task gaussian has none"},
        {"estimator": "supcon", "task": "gaussian", "critic": "encoder",
         "reason": "supcon needs labels; task gaussian has none"},
        {"estimator": "nwj", "task": "labeled", "critic": "separable",
         "reason": "nwj needs paired samples (x, y); task labeled has no y"},
    ]  # fmt: skip
    assert console.skipped_lines(skipped) == [
        "gaussian with encoder: sincere, supcon - needs labels; task gaussian has none",
        "labeled with separable: nwj - needs paired samples (x, y); task labeled has no y",
    ]


def _summary_row(**overrides) -> dict:
    row = {
        schema.CELL_ID: "c0",
        schema.ESTIMATOR: "js",
        schema.TASK: "gaussian",
        schema.TASK_ID: "gaussian-d5-mi10",
        schema.TARGET: "mi",
        schema.DIM: 5,
        schema.MI_LEVEL: 10.0,
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
        schema.MEDIAN_BIAS: -1.234,
        schema.WILD_FRACTION: 0.004,
        schema.UNSTABLE: True,
        schema.DIVERGED_FRACTION: 0.0,
    }
    return row | overrides


def test_unstable_cells_show_median_and_wild_share_never_the_exploded_mean():
    summary = pd.DataFrame(
        [
            _summary_row(),
            _summary_row(
                **{schema.CELL_ID: "c1", schema.ESTIMATOR: "infonce", schema.BIAS: -5.84},
                **{schema.STD: 0.02, schema.MSE: 34.1, schema.UNSTABLE: False},
            ),
        ]
    )
    terminal = Console(record=True, width=200)
    for table in console.summary_tables(summary):
        console.print_wide(terminal, table)
    text = terminal.export_text()
    assert "unstable: median -1.23, wild 0.4%" in text
    assert "e+61" not in text and "e+124" not in text
    assert "-5.84/0.02/34.10" in text


def test_diverged_lines_name_what_tells_two_cells_apart():
    summary = pd.DataFrame(
        [
            _summary_row(**{schema.ESTIMATOR: "flo", schema.LR: 1e-3, schema.CELL_ID: "a"}),
            _summary_row(
                **{schema.ESTIMATOR: "flo", schema.LR: 0.1, schema.CELL_ID: "b"},
                **{schema.DIVERGED_FRACTION: 2 / 3},
            ),
            # a second segment of the same cell: one line per cell, not per segment
            _summary_row(
                **{schema.ESTIMATOR: "flo", schema.LR: 0.1, schema.CELL_ID: "b"},
                **{schema.DIVERGED_FRACTION: 1 / 3},
            ),
        ]
    )
    assert console.diverged_lines(summary) == [
        "diverged: flo on gaussian-d5-mi10, lr=0.1: 67% of 3 seeds (left out of that cell's metrics)"
    ]


def test_f_value_table_shows_the_gap_only_where_the_f_mi_is_known():
    summary = pd.DataFrame(
        [
            _summary_row(**{schema.ESTIMATOR: "fmicl_kl", schema.F_VALUE: 1.0}),
            _summary_row(**{schema.ESTIMATOR: "nwj", schema.F_VALUE: float("nan")}),
        ]
    ).assign(**{schema.F_VALUE_MEDIAN: [0.75, float("nan")], schema.TRUE_F_MI: [1.0, None]})
    table = console.f_value_table(summary)
    terminal = Console(record=True, width=200)
    console.print_wide(terminal, table)
    text = terminal.export_text()
    assert "fmicl_kl" in text and "nwj" not in text  # rows without an f-value are left out
    assert "0.75" in text and "-0.25" in text  # the median, and median - true f-MI
    unknown = summary.assign(**{schema.TRUE_F_MI: [float("nan"), None]})
    terminal = Console(record=True, width=200)
    console.print_wide(terminal, console.f_value_table(unknown))
    assert "unknown" in terminal.export_text()
    assert console.f_value_table(summary.drop(columns=schema.F_VALUE)) is None


def test_truth_table_shows_an_unstable_cell_by_its_median_readout_and_flags_it():
    # The default suite printed -4.0e+53 for flo on the cubic staircase: the window mean of a
    # cell whose readouts exploded. Such a cell reads as true MI + median bias, marked "*".
    summary = pd.DataFrame(
        [
            _summary_row(**{schema.MEAN_ESTIMATE: -4.0e53}),  # js: unstable, median bias -1.234
            _summary_row(
                **{schema.CELL_ID: "c1", schema.ESTIMATOR: "infonce", schema.UNSTABLE: False},
                **{schema.MEAN_ESTIMATE: 4.16},
            ),
            _summary_row(
                **{schema.CELL_ID: "c2", schema.ESTIMATOR: "ksg", schema.UNSTABLE: False},
                **{schema.MEAN_ESTIMATE: 9.5, schema.MEDIAN_BIAS: float("nan")},
            ),
        ]
    ).assign(**{schema.SEGMENT: 0, schema.TRUE_MI: 10.0})
    terminal = Console(record=True, width=200)
    console.print_wide(terminal, console.truth_comparison_table(summary))
    text = terminal.export_text()
    assert "8.77*" in text  # 10 - 1.234, flagged
    assert "4.16" in text and "4.16*" not in text and "9.50" in text
    assert "e+53" not in text
    assert "* unstable" in text  # the caption says what the mark means
    stable = summary.assign(**{schema.UNSTABLE: False})
    terminal = Console(record=True, width=200)
    console.print_wide(terminal, console.truth_comparison_table(stable))
    text = terminal.export_text()
    assert "-4e+53" in text and "*" not in text  # a stable cell keeps its mean (3 digits)


def test_summary_titles_name_the_setting_and_one_legend_says_what_a_cell_holds(tmp_path):
    from mibench.execute.runner import RunReport

    summary = pd.DataFrame([_summary_row(**{schema.UNSTABLE: False, schema.BIAS: -0.5})])
    summary = summary.assign(**{schema.SEGMENT: 0, schema.TRUE_MI: 10.0, schema.MEAN_ESTIMATE: 9.5})
    (table,) = console.summary_tables(summary)
    assert str(table.title) == "gaussian (d=5), separable critic, K=64"
    report = RunReport(
        suite_dir=tmp_path, n_cells=1, n_trained=1, n_reused=0, run_steps=600, wall_time_s=2.0,
        summary=summary, skipped=[], figures=[], n_by_others=0,
    )  # fmt: skip
    terminal = Console(record=True, width=100)
    console.print_report(report, terminal)
    text = terminal.export_text()
    assert text.count("bias/std/MSE") == 1 and text.index(console.SUMMARY_LEGEND) == 0
    # The table is as wide as its cells or its short title, no longer as the legend sentence.
    table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line.rstrip()) for line in table_lines) <= len(table.title)


def test_print_report_prints_tables_then_skipped_diverged_and_totals(tmp_path):
    from mibench.execute.runner import RunReport

    summary = pd.DataFrame(
        [
            _summary_row(**{schema.UNSTABLE: False, schema.BIAS: -0.5, schema.STD: 0.1}),
            _summary_row(**{schema.CELL_ID: "c1", schema.DIVERGED_FRACTION: 1 / 3}),
        ]
    ).assign(**{schema.SEGMENT: 0, schema.TRUE_MI: 10.0, schema.MEAN_ESTIMATE: 9.5})
    skipped = [{"estimator": "nwj", "task": "labeled", "critic": "separable", "reason": "no y"}]
    report = RunReport(
        suite_dir=tmp_path, n_cells=2, n_trained=1, n_reused=0, run_steps=600, wall_time_s=2.0,
        summary=summary, skipped=skipped, figures=[tmp_path / "f.png"], n_by_others=1,
    )  # fmt: skip
    terminal = Console(record=True, width=100)
    console.print_report(report, terminal)
    text = terminal.export_text()
    order = [
        "bias/std/MSE",
        f"skipped 1 estimator-task-critic combinations that do not apply (listed in {tmp_path}",
        "  labeled with separable: nwj - no y",
        "diverged: js on gaussian-d5-mi10",
        "1 runs were trained by another mibench run meanwhile",
        "2 runs (1 trained, 0 already finished), 600 run-steps in 2.0 s (300 run-steps/s)",
        f"figure: {tmp_path / 'f.png'}",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
