"""The findings as a table and as lines: one row per task and level, one line per family."""

from __future__ import annotations

from mibench.report import findings
from mibench.report.findings import Instability, LevelWinner, Ranked, Saturation, Verdict
from mibench.report.findings_views import family_lines, verdict_line, winner_table


def test_the_winner_table_names_task_and_level_and_says_k_of_n_stable() -> None:
    winners = [
        LevelWinner("staircase (cubic)", 2.0, "I", Ranked("smile", 0.74, -0.46),
                    Ranked("gan_dime", 0.99, 0.1), 15, 28),
        LevelWinner("staircase (gaussian)", 2.0, "I", None, None, 0, 28),
        LevelWinner("labeled_gaussians", 3.49, "KL", Ranked("sincere", 3.86, -1.92), None, 1, 2),
    ]  # fmt: skip
    table = winner_table(winners)
    assert table.rows == (
        ("staircase (cubic)", "I=2", "smile 0.74 (-0.46)", "gan_dime 0.99", "15 of 28"),
        ("staircase (gaussian)", "I=2", "none stable", "-", "0 of 28"),
        ("labeled_gaussians", "KL=3.49", "sincere 3.86 (-1.92)", "-", "1 of 2"),
    )
    assert table.check() is table and table.key_columns == 2


def test_one_line_per_family_levels_merged_over_tasks() -> None:
    saturated = [
        Saturation("staircase (cubic)", "infonce", 4.16, 8.0, 4.1),
        Saturation("staircase (gaussian)", "infonce", 4.16, 6.0, 4.1),
        Saturation("staircase (gaussian)", "flatnce", 4.16, 10.0, 4.0),
        Saturation("staircase (gaussian)", "alpha", 4.16, 6.0, 4.0),
    ]
    unstable = [
        Instability("staircase (cubic)", "flo", (2.0, 4.0), 0.5),
        Instability("staircase (gaussian)", "flo", (6.0, 8.0, 10.0), 0.9),
        Instability("staircase (gaussian)", "nwj", (10.0,), 0.01),
        Instability("staircase (gaussian)", "my_plugin", (4.0,), 0.01),
    ]
    assert family_lines(saturated, unstable) == [
        "contrastive: at log K infonce (I≥6), flatnce (I≥10); unstable flo (I=2-10)",
        "variational: at log K alpha (I≥6); unstable nwj (I=10)",
        "plug-in: unstable my_plugin (I=4)",
    ]
    assert family_lines([], []) == []


def test_a_verdict_line_is_verdict_id_and_evidence_on_one_line() -> None:
    line = verdict_line(Verdict("results-a", "A", "PASS", "max excess\n-0.01  nats"))
    assert line == "PASS  results-a: max excess -0.01 nats"
    assert verdict_line(Verdict("results-b", "B", findings.NOT_APPLICABLE, "")) == "N/A   results-b"
