"""The collapsed appendix: configuration values over the runs, every summary cell (unstable ones
never at their exploded mean), the skipped pairs."""

from __future__ import annotations

import json
from pathlib import Path

from mibench.report import appendix
from mibench.report.appendix import configuration_section, every_cell_section, shown_cell
from mibench.report.blocks import Paragraph
from mibench.report.tables import Table
from mibench.results import schema, store
from tests.report._suites import handmade_summary


def test_distinct_values_are_sorted_naturally_and_truncated() -> None:
    assert appendix.distinct([10, 9, 100]) == "9, 10, 100"
    many = appendix.distinct(range(20))
    assert many.endswith("… (20 distinct)") and many.count(",") == appendix.MAX_DISTINCT_SHOWN
    assert "\n" in appendix.distinct(["x" * 50, "y"])  # long values one per line


def test_configuration_lists_the_settings_and_the_wall_times(tmp_path: Path) -> None:
    sidecars = [{"config": {"batch_size": 64}, "wall_time_s": 1.0, "device": "cpu"},
                {"config": {"batch_size": 128}, "wall_time_s": 3.0, "device": "cpu"}]  # fmt: skip
    blocks = configuration_section(sidecars, tmp_path)
    tables = [b for b in blocks if isinstance(b, Table)]
    assert tables[0].rows == (("batch_size", "64, 128"),)
    assert tables[1].rows == (("device", "cpu"),)
    assert "Wall time per run: 1.0 to 3.0 s" in blocks[-1].text
    empty = configuration_section([], tmp_path)
    assert [b.text for b in empty if isinstance(b, Paragraph)] == [
        "No run sidecar (runs/*.json) was found.",
        "The sidecars record no versions or device.",
    ]


def test_every_cell_hides_exploded_means_and_lists_skipped_pairs(tmp_path: Path) -> None:
    summary = handmade_summary()
    unstable = summary[summary[schema.UNSTABLE]].iloc[0]
    assert shown_cell(unstable, schema.BIAS) == "unstable"
    assert shown_cell(unstable, schema.MEDIAN_BIAS) == "0.6"
    assert shown_cell(unstable, schema.WILD_FRACTION) == "25%"
    skipped = [{"estimator": "nwj", "task": "labeled", "reason": "no y"}]
    (tmp_path / store.SKIPPED_FILE).write_text(json.dumps(skipped))
    blocks = every_cell_section(summary, tmp_path)
    cells, pairs = (b for b in blocks if isinstance(b, Table))
    assert len(cells.rows) == len(summary)
    assert "-4e+53" not in str(cells.rows) and "1e+120" not in str(cells.rows)
    assert pairs.rows == (("nwj", "labeled", "no y"),)
