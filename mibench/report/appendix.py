"""The report's collapsed appendix: the configuration and environment over the runs, the
resolved suite, every cell of the summary and the skipped estimator-task pairs."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mibench.plots.palette import sort_estimators
from mibench.report.blocks import Block, Code, Heading, Paragraph
from mibench.report.sidecars import config_and_environment
from mibench.report.tables import Table
from mibench.results import schema, store
from mibench.results.formatting import share, value

MAX_DISTINCT_SHOWN = 12  # a configuration key with more distinct values is shown truncated
LONG_VALUE_CHARS = 40  # values longer than this (critic architectures) are listed one per line
# Columns of the every-cell table (summary.parquet has more: ids, windows, JSON parameters);
# absent ones are left out.
SUMMARY_TABLE_COLUMNS: tuple[str, ...] = (
    schema.ESTIMATOR,
    schema.TASK,
    schema.TARGET,
    schema.MI_LEVEL,
    schema.TRUE_MI,
    schema.BATCH_SIZE,
    schema.CRITIC,
    schema.DIM,
    schema.MEAN_ESTIMATE,
    schema.BIAS,
    schema.VAR_WITHIN,
    schema.VAR_ACROSS,
    schema.STD,
    schema.MSE,
    schema.SATURATION_GAP,
    schema.STEPS_TO_90,
    schema.ESS_MEAN,
    schema.DIVERGED_FRACTION,
    schema.N_SEEDS,
    schema.HELDOUT_BIAS,
    schema.HELDOUT_MSE,
    schema.MEDIAN_BIAS,
    schema.IQR,
    schema.BIAS_CI_LOW,
    schema.BIAS_CI_HIGH,
    schema.WILD_FRACTION,
    schema.UNSTABLE,
    schema.F_VALUE,
    schema.F_VALUE_MEDIAN,
    schema.TRUE_F_MI,
    schema.F_BIAS,
)
# Mean-based columns an exploding readout decides: an unstable cell shows "unstable" there.
MEAN_BASED_COLUMNS = frozenset(
    {
        schema.MEAN_ESTIMATE,
        schema.BIAS,
        schema.VAR_WITHIN,
        schema.VAR_ACROSS,
        schema.STD,
        schema.MSE,
        schema.SATURATION_GAP,
        schema.BIAS_CI_LOW,
        schema.BIAS_CI_HIGH,
    }
)
HELDOUT_MEAN_BASED_COLUMNS = frozenset({schema.HELDOUT_BIAS, schema.HELDOUT_MSE})
UNSTABLE_TEXT = "unstable"
EVERY_CELL_CAPTION = (
    "Every cell of summary.parquet (main columns; the file has them all). Mean-based columns of "
    "unstable cells read 'unstable': see median_bias and wild_fraction."
)


def _natural(text: str) -> tuple[int, float, str]:
    """Sort key: numbers numerically first, then text alphabetically."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def distinct(values: Iterable[Any]) -> str:
    """The distinct values, sorted naturally, at most :data:`MAX_DISTINCT_SHOWN` of them.

    Examples:
        >>> distinct([64, 8.0, 64, "a"])
        '8, 64, a'
    """
    shown = sorted({value(v) for v in values}, key=_natural)
    more = len(shown) > MAX_DISTINCT_SHOWN
    shown = shown[:MAX_DISTINCT_SHOWN] + ([f"… ({len(shown)} distinct)"] if more else [])
    # Long values (critic architectures) may hold commas: one per line instead.
    return ("\n" if any(len(v) > LONG_VALUE_CHARS for v in shown) else ", ").join(shown)


def configuration_section(sidecars: Sequence[Mapping[str, Any]], suite_dir: Path) -> list[Block]:
    """The settings over the runs, the resolved suite, the environment and the wall times."""
    blocks: list[Block] = [Heading("Suite configuration", level=3)]
    settings = config_and_environment(sidecars)
    if settings.config:
        rows = [[key, distinct(values)] for key, values in sorted(settings.config.items())]
        blocks.append(Table("", ["setting", "values over the runs"], rows))
    else:
        blocks.append(Paragraph("No run sidecar (runs/*.json) was found."))
    record = store.read_suite_record(suite_dir)
    if record is not None:
        resolved = json.dumps(record, indent=1, sort_keys=True)
        blocks += [Paragraph(f"The resolved suite (`{store.SUITE_FILE}`):"), Code(resolved)]
    blocks.append(Heading("Environment", level=3))
    if settings.environment:
        rows = [[key, distinct(values)] for key, values in sorted(settings.environment.items())]
        blocks.append(Table("", ["key", "values over the runs"], rows))
    else:
        blocks.append(Paragraph("The sidecars record no versions or device."))
    walls = settings.wall_times
    if walls:
        blocks.append(
            Paragraph(
                f"Wall time per run: {min(walls):.1f} to {max(walls):.1f} s (runs trained together "
                "in one stack record the stack's time)."
            )
        )
    return blocks


def shown_cell(row: pd.Series, column: str) -> str:
    """A cell of the every-cell table: "unstable" where an exploding readout decides it."""
    item = row[column]
    if column in MEAN_BASED_COLUMNS and bool(row.get(schema.UNSTABLE, False)):
        return UNSTABLE_TEXT
    held_wild = row.get(schema.HELDOUT_WILD_FRACTION, 0.0)
    if column in HELDOUT_MEAN_BASED_COLUMNS and _positive(held_wild):
        return UNSTABLE_TEXT
    if column == schema.WILD_FRACTION and isinstance(item, float) and math.isfinite(item):
        return share(item)
    return value(item)


def _positive(item: Any) -> bool:
    try:
        return float(item) > schema.WILD_THRESHOLD
    except (TypeError, ValueError):
        return False


def every_cell_section(summary: pd.DataFrame | None, suite_dir: Path) -> list[Block]:
    """Every summary cell (main columns, in task, level, K and estimator order), then the
    skipped estimator-task pairs."""
    blocks: list[Block] = [Heading("Every cell of the summary", level=3)]
    if summary is None:
        return [*blocks, Paragraph(f"No `summary.parquet` in {suite_dir}.")]
    columns = [c for c in SUMMARY_TABLE_COLUMNS if c in summary.columns]
    order = [c for c in (schema.TASK, schema.MI_LEVEL, schema.BATCH_SIZE) if c in summary]
    full = summary
    if schema.ESTIMATOR in full:
        rank = {e: i for i, e in enumerate(sort_estimators(map(str, full[schema.ESTIMATOR])))}
        full = full.assign(_rank=full[schema.ESTIMATOR].astype(str).map(rank))
        full = full.sort_values([*order, "_rank"], kind="stable").drop(columns="_rank")
    rows = [[shown_cell(row, c) for c in columns] for _, row in full.iterrows()]
    blocks.append(Table(EVERY_CELL_CAPTION, columns, rows, key_columns=0))
    return [*blocks, *_skipped(suite_dir)]


def _skipped(suite_dir: Path) -> list[Block]:
    skipped = store.read_skipped(suite_dir)
    if skipped is None:
        return []
    items = skipped if isinstance(skipped, list) else [skipped]
    if items and all(isinstance(i, Mapping) for i in items):
        keys = list(dict.fromkeys(k for i in items for k in i))
        rows = [[value(i.get(k)) for k in keys] for i in items]
        title = "Estimator-task pairs skipped by the runner"
        return [Table(title, keys, rows, key_columns=0)]
    return [Code(json.dumps(skipped, indent=1))]
