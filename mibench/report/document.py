"""The suite report: ``results/<suite>/report.md`` and a self-contained ``report.html``.

Both are rendered from one document model (a list of blocks), so they always hold the same
content, in the order a reader wants it: a table of contents; **Findings** generated from the data
(:mod:`mibench.report.findings`: the best estimator per MI level by robust MSE, where each estimator
saturates at log K or becomes unstable, the claims' verdicts); the headline figure (the training
curves); the summary tables, formatted as the console prints them (an unstable cell reads
"unstable: median -1.23, wild 0.4%", never as its exploded mean); the other figures, each with two
lines saying what it plots and what it shows for this suite; the diverged runs and unstable cells;
the claims; and, collapsed in a ``<details>`` appendix, the configuration, the resolved suite, the
environment and every cell of the summary.

Inputs read from ``results/<suite>/`` (nothing is re-trained):

* the runs of the latest invocation (:func:`mibench.results.load_runs`) and their JSON sidecars:
  the sidecar's ``config`` mapping (or its top-level :class:`~mibench.core.interface.RunConfig`
  fields) feeds the configuration table; ``versions`` and keys naming the device or the platform
  feed the environment table. ``suite.json`` (the resolved suite) is quoted when present.
* ``summary.parquet`` (optional): the findings, the summary tables and summary figures.
* ``verify.json`` (optional), the output of ``mibench verify --json``: a JSON list of objects
  ``{"id": str, "statement": str, "source": str, "evidence": str | object, "passed": bool}``
  (other keys, e.g. ``seconds``, are shown too when present).
* the result claims, judged on the stored runs by ``mibench.claims.results.judge(suite_dir)``
  where that module exists (:func:`mibench.report.findings.result_claim_verdicts`).
* ``skipped.json`` (optional): estimator-task pairs the runner skipped, listed as given.

The Markdown links the figures (``figures/<name>.png``); the HTML embeds them as base64 data
URIs, so the one file can be mailed or archived alone. Both files are written atomically with the
results store's writer.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mibench import __version__
from mibench.core.interface import RunConfig
from mibench.plots import draw_figures, load_summary
from mibench.plots.drawing import DrawnFigure
from mibench.plots.palette import sort_estimators
from mibench.report import console, findings
from mibench.results import load_runs, schema, store
from mibench.results.formatting import number, share
from mibench.results.robust import unstable_mask
from mibench.results.selection import label_tasks

VERIFY_JSON = store.VERIFY_FILE  # named in the report's hints
MAX_DISTINCT_SHOWN = 12  # a configuration key with more distinct values is shown truncated
SIGNIFICANT_DIGITS = 3
LONG_VALUE_CHARS = 40

# Sidecar keys that describe one run rather than the suite or the machine.
PER_RUN_KEYS = frozenset(
    {
        "hash",
        "cell_hash",
        "run_id",
        "created",
        "created_at",
        "created_time",
        "created_utc",
        "diverged_step",
        "n_rows",
        "dtype",  # repeated from the config
        "task_id",
        "synthetic",
        "wall_time",
        "wall_time_s",
        "seed",
    }
)
# Sidecar keys (besides the run config) that describe what ran, shown with the configuration.
CONFIG_EXTRA_KEYS = frozenset(
    {"critic_architecture", "n_parameters", "parameter_count", "n_params"}
)
ENVIRONMENT_HINTS = (
    "version",
    "device",
    "platform",
    "python",
    "host",
    "cpu",
    "gpu",
    "cuda",
    "thread",
    "machine",
    "os",
)
WALL_TIME_KEYS = ("wall_time_s", "wall_time")
# Columns of the full summary table in the report (summary.parquet has more: ids, windows, JSON
# parameters); absent ones are left out.
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
HEADLINE_FIGURE = "training_curves"


# --------------------------------------------------------------------------- document model


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return kept.replace(" ", "-")


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2

    @property
    def anchor(self) -> str:
        return slug(self.text)


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    nowrap: bool = False  # numeric cells kept on one line (the table scrolls sideways instead)


@dataclass(frozen=True)
class FigureBlock:
    figure: DrawnFigure


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Contents:
    """A table of contents: links to the level-2 headings that follow (filled by
    :func:`build_report`)."""

    entries: Sequence[Heading] = ()


@dataclass(frozen=True)
class Details:
    """A collapsed section (HTML ``<details>``): ``summary`` is always shown, ``blocks`` on click."""

    summary: str
    blocks: Sequence[Any]
    anchor: str = ""


Block = Heading | Paragraph | Table | FigureBlock | Code | Bullets | Contents | Details


# --------------------------------------------------------------------------- reading inputs


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))  # an empty mapping adds nothing
        else:
            out[name] = value
    return out


def read_sidecars(suite_dir: str | Path) -> list[dict[str, Any]]:
    """The full JSON sidecars (config, versions, device, ...) of the runs the figures show: those
    of the latest invocation (``manifest.json``) or, without one, every finished run."""
    suite_dir = Path(suite_dir)
    return [
        store.read_sidecar(suite_dir, run_id)
        for run_id in store.latest_run_ids(suite_dir)
        if store.is_finished(suite_dir, run_id) and store.sidecar_path(suite_dir, run_id).is_file()
    ]


def load_verify(suite_dir: str | Path) -> list[dict[str, Any]] | None:
    """``verify.json`` of a suite (format in the module docstring), or None if absent.

    Raises:
        ValueError: the file is not a JSON list of objects with ``id`` and ``passed``.
    """
    path = store.verify_path(Path(suite_dir))
    try:
        claims = store.read_verify(Path(suite_dir))
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed {path}: {error}") from None
    if claims is None:
        return None
    if not isinstance(claims, list) or not all(
        isinstance(c, dict) and "id" in c and "passed" in c for c in claims
    ):
        raise ValueError(f"{path}: expected a list of objects with 'id' and 'passed'")
    return claims


def _config_and_environment(
    sidecars: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], list[float]]:
    """Distinct values per configuration key and per environment key, and the run wall times."""
    config_fields = {f.name for f in fields(RunConfig)}
    config: dict[str, list[Any]] = {}
    environment: dict[str, list[Any]] = {}
    walls: list[float] = []
    for sidecar in sidecars:
        nested = sidecar.get("config")
        run_config = (
            nested
            if isinstance(nested, Mapping)
            else {k: v for k, v in sidecar.items() if k in config_fields}
        )
        for key, value in _flatten(run_config).items():
            config.setdefault(key, []).append(value)
        for key, value in _flatten(sidecar).items():
            top = key.split(".")[0]
            leaf = key.split(".")[-1]
            if top == "config" or (nested is None and top in config_fields):
                continue
            if leaf in WALL_TIME_KEYS and isinstance(value, int | float):
                walls.append(float(value))
                continue
            if leaf in PER_RUN_KEYS:
                continue
            if leaf in CONFIG_EXTRA_KEYS:
                config.setdefault(key, []).append(value)
            elif top == "versions" or any(h in key.lower() for h in ENVIRONMENT_HINTS):
                environment.setdefault(key, []).append(value)
            else:
                config.setdefault(key, []).append(value)
    return config, environment, walls


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any) -> str:
    """A table cell: floats to 3 significant digits, NaN/None as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "–"
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.{SIGNIFICANT_DIGITS}g}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def _natural(text: str) -> tuple[int, float, str]:
    """Sort key: numbers numerically first, then text alphabetically."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _distinct(values: Iterable[Any]) -> str:
    shown = sorted({_fmt(v) for v in values}, key=_natural)
    more = len(shown) > MAX_DISTINCT_SHOWN
    shown = shown[:MAX_DISTINCT_SHOWN] + ([f"… ({len(shown)} distinct)"] if more else [])
    # Long values (critic architectures) may hold commas: one per line instead.
    return ("\n" if any(len(v) > LONG_VALUE_CHARS for v in shown) else ", ").join(shown)


def _frame_table(frame: pd.DataFrame, caption: str = "") -> Table:
    rows = [[_fmt(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return Table([str(c) for c in frame.columns], rows, caption)


def _level(value: float) -> str:
    return f"{value:.3g}"


# --------------------------------------------------------------------------- sections


def _overview(suite: str, runs: pd.DataFrame) -> list[Block]:
    train = runs[runs[schema.READOUT] == schema.READOUT_TRAIN] if schema.READOUT in runs else runs
    n_runs = runs[schema.RUN_ID].nunique() if schema.RUN_ID in runs else 0
    estimators = sort_estimators(map(str, runs[schema.ESTIMATOR].unique()))
    tasks = sorted(map(str, label_tasks(runs[[schema.TASK, schema.TASK_ID]])[schema.TASK].unique()))
    return [
        Heading(f"mibench report — {suite}", level=1),
        Paragraph(
            f"{n_runs} runs, {len(train)} logged training steps, {len(estimators)} estimators "
            f"({', '.join(estimators)}), tasks: {', '.join(tasks)}. Generated by mibench "
            f"{__version__} from the files in this folder; MI in nats."
        ),
    ]


def _winner_cell(winner: findings.LevelWinner) -> str:
    """Three lines: the best stable estimator (robust MSE, median bias), the runner-up, and how
    many of the level's cells were stable."""
    if winner.best is None:
        lines = ["none stable"]
    else:
        best = winner.best
        lines = [
            f"{best.estimator} {number(best.robust_mse)} (median "
            f"{number(best.median_bias, signed=True)})"
        ]
        if winner.runner_up is not None:
            lines.append(f"then {winner.runner_up.estimator} {number(winner.runner_up.robust_mse)}")
    lines.append(f"{winner.n_stable} of {winner.n_cells} stable")
    return "\n".join(lines)


def _winner_table(winners: Sequence[findings.LevelWinner]) -> Table:
    """One row per task, one column per level: the best stable estimator there."""
    levels = sorted({(w.unit, w.level) for w in winners}, key=lambda u: (u[0] != "I", u[1]))
    tasks = list(dict.fromkeys(w.task for w in winners))
    by_key = {(w.task, w.unit, w.level): w for w in winners}
    rows = [
        [
            task,
            *(
                _winner_cell(by_key[(task, unit, level)]) if (task, unit, level) in by_key else ""
                for unit, level in levels
            ),
        ]
        for task in tasks
    ]
    columns = ["task", *(f"{unit} = {_level(level)}" for unit, level in levels)]
    return Table(
        columns,
        rows,
        caption="Best stable estimator per level: robust MSE (nats²) and median bias (nats)",
    )


def _findings(
    summary: pd.DataFrame | None,
    verdicts: Sequence[findings.Verdict] | None,
    paper_claims: Sequence[findings.Verdict] | None,
    suite: str,
) -> list[Block]:
    blocks: list[Block] = [Heading("Findings")]
    if summary is None or summary.empty:
        blocks.append(Paragraph("No `summary.parquet`: the findings need the run summary."))
    else:
        winners = findings.best_per_level(summary)
        if winners:
            blocks.append(
                Paragraph(
                    "Which estimator to trust at which MI: the lowest robust MSE = median bias² + "
                    "(IQR/1.349)² over the evaluation window (one exploding batch cannot decide "
                    "it) among the level's stable cells; a cell with a window readout off by more "
                    f"than max({schema.WILD_NATS:g}, I) nats is unstable and not eligible. Each "
                    "estimator at its most common setting, as in the figures."
                )
            )
            blocks.append(_winner_table(winners))
        saturated = findings.saturation(summary)
        unstable = findings.instability(summary)
        items = []
        for task in sorted({f.task for f in [*saturated, *unstable]}):
            names = [
                f"{f.estimator} from {_level(f.from_level)} nats (estimate {number(f.estimate)})"
                for f in saturated
                if f.task == task
            ]
            if names:
                log_k = next(f.log_k for f in saturated if f.task == task)
                items.append(
                    f"{task}: saturated at log K = {log_k:.2f} (estimate within "
                    f"{findings.SATURATION_FRACTION:.0%} of log K while the truth is above it): "
                    + "; ".join(names)
                    + "."
                )
            names = [
                f"{f.estimator} at {', '.join(_level(v) for v in f.levels)} nats (wild up to "
                f"{share(f.max_wild_share)})"
                for f in unstable
                if f.task == task
            ]
            if names:
                items.append(f"{task}: unstable: " + "; ".join(names) + ".")
        if not saturated:
            items.append("No estimator saturates at log K at any level of this suite.")
        if not unstable and findings.has_robust_summary(summary):
            items.append("No cell is unstable: every window readout is within max(10, I) nats.")
        blocks.append(Bullets(items))
    blocks += _verdict_findings(verdicts, paper_claims, suite)
    return blocks


def _verdict_findings(
    verdicts: Sequence[findings.Verdict] | None,
    paper_claims: Sequence[findings.Verdict] | None,
    suite: str,
) -> list[Block]:
    items = []
    for name, group, absent in (
        (
            "Result claims (judged on this suite's runs)",
            verdicts,
            "not judged: this mibench has no `mibench.claims.results.judge` yet",
        ),
        (
            "Paper claims (`mibench verify`)",
            paper_claims,
            f"no {VERIFY_JSON}; `mibench verify --json results/{suite}/{VERIFY_JSON}` writes one",
        ),
    ):
        if group is None:
            items.append(f"{name}: {absent}.")
            continue
        counts = findings.verdict_counts(group)
        tally = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
        failed = [v.claim_id for v in group if v.verdict == "FAIL"]
        text = f"{name}: {tally}"
        if failed:
            text += " (FAIL: " + ", ".join(failed) + ")"
        items.append(text + "; details under Claims.")
    return [Bullets(items)]


def _headline(drawn: Sequence[DrawnFigure]) -> list[Block]:
    curves = [f for f in drawn if f.name.startswith(HEADLINE_FIGURE)]
    if not curves:
        return []
    blocks: list[Block] = [Heading("Training curves")]
    for figure in curves:
        blocks.append(FigureBlock(figure))
    return blocks


def _rich_table(table: Any) -> Table:
    """A report table from a rich Table of :mod:`mibench.report.console` (the console's cell texts)."""
    headers = [str(column.header) for column in table.columns]
    cells = [[str(c) for c in column.cells] for column in table.columns]
    rows = [list(row) for row in zip(*cells, strict=True)] if cells else []
    return Table(headers, rows, caption=str(table.title or ""), nowrap=True)


def _summary_tables(summary: pd.DataFrame | None, suite_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Summary tables")]
    if summary is None:
        return [*blocks, Paragraph(f"No `summary.parquet` in {suite_dir}.")]
    blocks.append(
        Paragraph(
            "Cells as the console prints them: bias/std/MSE (nats, nats²) over the evaluation "
            f"window (the last {schema.EVAL_FRACTION:.0%} of the steps at a fixed MI level): bias = "
            "mean(Î) − I; std = sqrt(var_within + var_across) (batch noise within a run, spread "
            "across seeds); MSE = mean (Î − I)². A cell with a wild readout (non-finite or off "
            f"by more than max({schema.WILD_NATS:g}, I) nats) is unstable: it shows its median "
            "bias and the share of wild readouts, never its exploded mean."
        )
    )
    blocks += [_rich_table(t) for t in console.summary_tables(summary)]
    f_table = console.f_value_table(summary)
    if f_table is not None:
        blocks.append(_rich_table(f_table))
    return blocks


def _figures(drawn: Sequence[DrawnFigure], skipped: Sequence[str]) -> list[Block]:
    blocks: list[Block] = [Heading("Figures")]
    for figure in drawn:
        if figure.name.startswith(HEADLINE_FIGURE):
            continue
        blocks += [Heading(figure.name, level=3), FigureBlock(figure)]
    if skipped:
        blocks.append(Paragraph("Not drawn: " + "; ".join(skipped) + "."))
    return blocks


def diverged_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run that hit NaN/Inf: its cell and the first diverged step."""
    if schema.DIVERGED not in runs or not runs[schema.DIVERGED].any():
        return pd.DataFrame()
    hit = runs[runs[schema.DIVERGED].astype(bool)]
    keys = [
        c
        for c in (
            schema.RUN_ID,
            schema.ESTIMATOR,
            schema.TASK,
            schema.TASK_ID,
            schema.MI_LEVEL,
            schema.BATCH_SIZE,
            schema.CRITIC,
            schema.SEED,
        )
        if c in runs
    ]
    first = hit.groupby(keys, observed=True, dropna=False)[schema.STEP].min().reset_index()
    first = first.rename(columns={schema.STEP: "first_diverged_step"})
    return first.sort_values(keys[1:] + keys[:1], kind="stable").reset_index(drop=True)


def unstable_cells(summary: pd.DataFrame | None) -> pd.DataFrame:
    """The unstable summary cells: estimator, task, level, K, critic, median bias, wild share."""
    if summary is None or summary.empty:
        return pd.DataFrame()
    flagged = label_tasks(summary)[unstable_mask(summary)]
    if flagged.empty:
        return pd.DataFrame()
    columns = [
        c
        for c in (
            schema.ESTIMATOR,
            schema.TASK,
            schema.MI_LEVEL,
            schema.BATCH_SIZE,
            schema.CRITIC,
            schema.MEDIAN_BIAS,
            schema.IQR,
            schema.WILD_FRACTION,
        )
        if c in flagged.columns
    ]
    rank = {e: i for i, e in enumerate(sort_estimators(map(str, flagged[schema.ESTIMATOR])))}
    order = flagged.assign(_rank=flagged[schema.ESTIMATOR].astype(str).map(rank))
    order = order.sort_values([schema.TASK, "_rank", schema.MI_LEVEL], kind="stable")
    table = order[columns].reset_index(drop=True)
    if schema.WILD_FRACTION in table:
        table[schema.WILD_FRACTION] = table[schema.WILD_FRACTION].map(share)
    return table


def _divergence(runs: pd.DataFrame, summary: pd.DataFrame | None) -> list[Block]:
    blocks: list[Block] = [Heading("Diverged runs and unstable cells")]
    table = diverged_runs(runs)
    if table.empty:
        blocks.append(Paragraph("No run produced a NaN/Inf."))
    else:
        n_runs = runs[schema.RUN_ID].nunique()
        blocks.append(
            Paragraph(f"{len(table)} of {n_runs} runs diverged (frozen at the step shown).")
        )
        if summary is not None:
            lines = console.diverged_lines(summary)
            if lines:
                blocks.append(Bullets(lines))
        blocks.append(_frame_table(table))
    flagged = unstable_cells(summary)
    if not flagged.empty:
        blocks.append(
            Paragraph(
                f"{len(flagged)} unstable cells: some window readout is non-finite or off by "
                f"more than max({schema.WILD_NATS:g}, I) nats (wild_fraction = their share), so "
                "the mean-based metrics of these cells are left out of the tables and figures."
            )
        )
        blocks.append(_frame_table(flagged, caption="Unstable cells (median bias, IQR in nats)"))
    return blocks


def _verdict_table(verdicts: Sequence[findings.Verdict]) -> Table:
    rows = [[v.claim_id, v.verdict, v.statement, v.source, v.evidence] for v in verdicts]
    return Table(["id", "result", "statement", "source", "evidence"], rows)


def _claims(
    verify: list[dict[str, Any]] | None,
    verdicts: Sequence[findings.Verdict] | None,
    suite: str,
) -> list[Block]:
    blocks: list[Block] = [Heading("Claims")]
    blocks.append(Heading("Result claims, judged on this suite's runs", level=3))
    if verdicts is None:
        blocks.append(
            Paragraph(
                "Not judged: this mibench has no `mibench.claims.results.judge(suite_dir)` "
                "(`mibench verify --results DIR` judges them where it exists)."
            )
        )
    else:
        counts = findings.verdict_counts(verdicts)
        tally = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no claims"
        blocks += [Paragraph(f"{tally}."), _verdict_table(verdicts)]
    blocks.append(Heading("Paper claims (mibench verify)", level=3))
    if verify is None:
        return [
            *blocks,
            Paragraph(
                f"No {VERIFY_JSON} here; `mibench verify --json results/{suite}/{VERIFY_JSON}` "
                "writes one."
            ),
        ]
    n_pass = sum(bool(c["passed"]) for c in verify)
    blocks.append(Paragraph(f"{n_pass} of {len(verify)} claims pass."))
    extra = [
        k
        for k in dict.fromkeys(k for c in verify for k in c)
        if k not in {"id", "passed", "statement", "source", "evidence"}
    ]
    columns = ["id", "result", "statement", "source", "evidence", *extra]
    rows = [
        [
            _fmt(c["id"]),
            "PASS" if c["passed"] else "FAIL",
            _fmt(c.get("statement")),
            _fmt(c.get("source")),
            _fmt(c.get("evidence")),
            *(_fmt(c.get(k)) for k in extra),
        ]
        for c in verify
    ]
    return [*blocks, Table(columns, rows)]


def _configuration(sidecars: Sequence[Mapping[str, Any]], suite_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Suite configuration", level=3)]
    config, environment, walls = _config_and_environment(sidecars)
    if config:
        rows = [[key, _distinct(values)] for key, values in sorted(config.items())]
        blocks.append(Table(["setting", "values over the runs"], rows))
    else:
        blocks.append(Paragraph("No run sidecar (runs/*.json) was found."))
    record = store.read_suite_record(suite_dir)
    if record is not None:
        resolved = json.dumps(record, indent=1, sort_keys=True)
        blocks += [Paragraph(f"The resolved suite (`{store.SUITE_FILE}`):"), Code(resolved)]
    blocks.append(Heading("Environment", level=3))
    if environment:
        rows = [[key, _distinct(values)] for key, values in sorted(environment.items())]
        blocks.append(Table(["key", "values over the runs"], rows))
    else:
        blocks.append(Paragraph("The sidecars record no versions or device."))
    if walls:
        blocks.append(
            Paragraph(
                f"Wall time per run: {min(walls):.1f} to {max(walls):.1f} s (runs trained together "
                "in one stack record the stack's time)."
            )
        )
    return blocks


def _shown_cell(row: pd.Series, column: str) -> str:
    """A cell of the every-cell table: "unstable" where an exploding readout decides it."""
    value = row[column]
    if column in MEAN_BASED_COLUMNS and bool(row.get(schema.UNSTABLE, False)):
        return UNSTABLE_TEXT
    held_wild = row.get(schema.HELDOUT_WILD_FRACTION, 0.0)
    if column in HELDOUT_MEAN_BASED_COLUMNS and _positive(held_wild):
        return UNSTABLE_TEXT
    if column == schema.WILD_FRACTION and isinstance(value, float) and math.isfinite(value):
        return share(value)
    return _fmt(value)


def _positive(value: Any) -> bool:
    try:
        return float(value) > schema.WILD_THRESHOLD
    except (TypeError, ValueError):
        return False


def _every_cell(summary: pd.DataFrame | None, suite_dir: Path) -> list[Block]:
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
    rows = [[_shown_cell(row, c) for c in columns] for _, row in full.iterrows()]
    blocks.append(
        Table(
            columns,
            rows,
            caption=(
                "Every cell of summary.parquet (main columns; the file has them all). Mean-based "
                "columns of unstable cells read 'unstable': see median_bias and wild_fraction."
            ),
        )
    )
    skipped = store.read_skipped(suite_dir)
    if skipped is not None:
        items = skipped if isinstance(skipped, list) else [skipped]
        if items and all(isinstance(i, Mapping) for i in items):
            keys = list(dict.fromkeys(k for i in items for k in i))
            table_rows = [[_fmt(i.get(k)) for k in keys] for i in items]
            blocks.append(
                Table(keys, table_rows, caption="Estimator-task pairs skipped by the runner")
            )
        else:
            blocks.append(Code(json.dumps(skipped, indent=1)))
    return blocks


def _standing(summary: pd.DataFrame | None) -> list[Block]:
    """Where each plug-in estimator stands (:mod:`mibench.report.standing`) and its failed runs;
    nothing for a suite of built-in estimators only."""
    from mibench.report import failed, standing

    frame = standing.standing(summary) if summary is not None else pd.DataFrame()
    if frame.empty:
        return []
    blocks: list[Block] = [
        Heading("Where the plug-in estimators stand"),
        Paragraph(standing.TITLE[0].upper() + standing.TITLE[1:] + "; figure: `standing`."),
        Table(standing.HEADERS, standing.table_rows(frame), nowrap=True),
    ]
    lines = failed.failed_lines(summary) if summary is not None else []
    return [*blocks, Bullets(lines)] if lines else blocks


APPENDIX_TITLE = "Appendix: configuration, resolved suite, environment, every summary cell"


def build_report(
    suite_dir: str | Path,
    *,
    runs: pd.DataFrame,
    summary: pd.DataFrame | None,
    drawn: Sequence[DrawnFigure],
    skipped_figures: Sequence[str] = (),
    sidecars: Sequence[Mapping[str, Any]] = (),
    verify: list[dict[str, Any]] | None = None,
    result_verdicts: Sequence[findings.Verdict] | None = None,
) -> list[Block]:
    """The report as a list of blocks (rendered by :func:`to_markdown` and :func:`to_html`):
    overview, contents, findings, training curves, summary tables, the other figures, diverged
    runs and unstable cells, claims, and the collapsed appendix."""
    suite_dir = Path(suite_dir)
    suite = suite_dir.name
    paper = [findings.verdict_of(c) for c in verify] if verify is not None else None
    body: list[Block] = [
        *_standing(summary),  # hook: plug-in estimators against the built-in ones, first
        *_findings(summary, result_verdicts, paper, suite),
        *_headline(drawn),
        *_summary_tables(summary, suite_dir),
        *_figures(drawn, skipped_figures),
        *_divergence(runs, summary),
        *_claims(verify, result_verdicts, suite),
    ]
    appendix = Details(
        APPENDIX_TITLE,
        [*_configuration(sidecars, suite_dir), *_every_cell(summary, suite_dir)],
    )
    entries = [b for b in body if isinstance(b, Heading) and b.level == 2]
    entries.append(Heading(APPENDIX_TITLE))
    return [*_overview(suite, runs), Contents(entries), *body, appendix]


# --------------------------------------------------------------------------- rendering


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _markdown_blocks(blocks: Sequence[Block], base_dir: str | Path) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Contents):
            out.append(
                "**Contents:** " + " · ".join(f"[{h.text}](#{h.anchor})" for h in block.entries)
            )
        elif isinstance(block, Code):
            out.append(f"```\n{block.text.rstrip()}\n```")
        elif isinstance(block, Table):
            lines = []
            if block.caption:
                lines.append(f"*{block.caption}*\n")
            lines.append("| " + " | ".join(_md_cell(c) for c in block.columns) + " |")
            lines.append("|" + "|".join("---" for _ in block.columns) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, FigureBlock):
            figure = block.figure
            link = os.path.relpath(figure.path, base_dir).replace(os.sep, "/")
            out.append(f"![{figure.name}]({link})\n\n{figure.what}  \n{figure.reading}")
        elif isinstance(block, Details):
            # GitHub renders <details> in Markdown; the blank lines keep the inside Markdown.
            out.append(f"## {block.summary}")
            out.append("<details>\n<summary>show (collapsed)</summary>")
            out += _markdown_blocks(block.blocks, base_dir)
            out.append("</details>")
    return out


def to_markdown(blocks: Sequence[Block], *, base_dir: str | Path) -> str:
    """Markdown with figures linked relative to ``base_dir`` (the folder of report.md)."""
    return "\n\n".join(_markdown_blocks(blocks, base_dir)) + "\n"


HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1500px; margin: 1.2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin: 0.2em 0 0.3em; font-size: 1.6em; }
nav.toc { font-size: 0.9em; margin: 0.4em 0 0.8em; }
nav.toc a { margin-right: 0.9em; white-space: nowrap; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-style: italic; padding: 4px 0; }
figure { margin: 0.6em 0 1.6em; }
img { display: block; max-width: 100%; height: auto; border: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
ul.findings { margin: 0.3em 0 0.9em; }
details > summary { cursor: pointer; font-size: 1.25em; font-weight: bold; margin: 1em 0; }
.reading { margin-top: 0.3em; }
.table-wrap { overflow-x: auto; }
table.nowrap td { white-space: nowrap; }
"""
MIME = {".png": "image/png", ".svg": "image/svg+xml"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _inline_code(escaped: str) -> str:
    """Markdown `code` spans of an already escaped paragraph as <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _html_cell(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None for another format."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _html_figure(figure: DrawnFigure) -> str:
    esc = html.escape
    raw = figure.path.read_bytes()
    data = base64.b64encode(raw).decode("ascii")
    mime = MIME[figure.path.suffix.lower()]
    size = _png_size(raw)
    # The intrinsic size lets the browser lay the page out before decoding; CSS scales it down.
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (
        f'<figure id="figure-{esc(slug(figure.name))}"><img alt="{esc(figure.name)}"{dims} '
        f'src="data:{mime};base64,{data}"><figcaption><p class="reading">{esc(figure.what)}'
        f"<br>{esc(figure.reading)}</p></figcaption></figure>"
    )


def _html_blocks(blocks: Sequence[Block]) -> list[str]:
    esc = html.escape
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            tag = f"h{block.level}"
            out.append(f'<{tag} id="{esc(block.anchor)}">{esc(block.text)}</{tag}>')
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline_code(esc(block.text))}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_inline_code(esc(item))}</li>" for item in block.items)
            out.append(f'<ul class="findings">{items}</ul>')
        elif isinstance(block, Contents):
            links = "".join(f'<a href="#{esc(h.anchor)}">{esc(h.text)}</a>' for h in block.entries)
            out.append(f'<nav class="toc" aria-label="contents"><b>Contents:</b> {links}</nav>')
        elif isinstance(block, Code):
            out.append(f"<pre>{esc(block.text)}</pre>")
        elif isinstance(block, Table):
            table_class = ' class="nowrap"' if block.nowrap else ""
            rows = [f'<div class="table-wrap"><table{table_class}>']
            if block.caption:
                rows.append(f"<caption>{esc(block.caption)}</caption>")
            rows.append(
                "<thead><tr>"
                + "".join(f"<th>{esc(c)}</th>" for c in block.columns)
                + "</tr></thead><tbody>"
            )
            rows += [
                "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in r) + "</tr>"
                for r in block.rows
            ]
            out.append("\n".join([*rows, "</tbody></table></div>"]))
        elif isinstance(block, FigureBlock):
            out.append(_html_figure(block.figure))
        elif isinstance(block, Details):
            anchor = f' id="{esc(block.anchor or slug(block.summary))}"'
            out.append(f"<details{anchor}><summary>{esc(block.summary)}</summary>")
            out += _html_blocks(block.blocks)
            out.append("</details>")
    return out


def to_html(blocks: Sequence[Block], *, title: str) -> str:
    """One self-contained HTML5 page: figures inlined as base64 data URIs, no external files."""
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{HTML_STYLE}</style></head><body>",
        *_html_blocks(blocks),
        "</body></html>",
    ]
    return "\n".join(out) + "\n"


def write_report(suite_dir: str | Path, *, fmt: str = "png") -> tuple[Path, Path]:
    """Draw the figures and write ``report.md`` and ``report.html`` into ``suite_dir``.

    Returns:
        The paths of the Markdown and HTML reports.
    Raises:
        FileNotFoundError: the suite has no ``runs`` folder.
        ValueError: no run files, a frame lacks a needed column, or a malformed sidecar or
            ``verify.json``.
    """
    suite_dir = Path(suite_dir)
    runs = load_runs(suite_dir)
    summary = load_summary(suite_dir)
    sidecars = read_sidecars(suite_dir)
    verify = load_verify(suite_dir)
    verdicts = findings.result_claim_verdicts(suite_dir)
    drawn, skipped = draw_figures(suite_dir, fmt=fmt, runs=runs, summary=summary)
    blocks = build_report(
        suite_dir,
        runs=runs,
        summary=summary,
        drawn=drawn,
        skipped_figures=skipped,
        sidecars=sidecars,
        verify=verify,
        result_verdicts=verdicts,
    )
    markdown = to_markdown(blocks, base_dir=suite_dir)
    page = to_html(blocks, title=f"mibench report — {suite_dir.name}")
    return store.write_report(suite_dir, markdown, page)
