"""The suite report: ``results/<suite>/report.md`` and a self-contained ``report.html``.

Both are rendered from one document model (a list of blocks), so they always hold the same
content: the suite configuration and environment (from the run sidecars), the summary tables,
every figure of :mod:`mibench.plots` with two lines saying what it plots and what it shows for
this suite, the diverged runs, and the ``mibench verify`` table when one is available.

Inputs read from ``results/<suite>/`` (nothing is re-trained):

* the runs of the latest invocation (:func:`mibench.results.load_runs`) and their JSON sidecars:
  the sidecar's ``config`` mapping (or its top-level :class:`~mibench.interface.RunConfig`
  fields) feeds the configuration table; ``versions`` and keys naming the device or the platform
  feed the environment table. ``suite.json`` (the resolved suite) is quoted when present.
* ``summary.parquet`` (optional): the summary tables and summary figures.
* ``verify.json`` (optional), the output of ``mibench verify --json``: a JSON list of objects
  ``{"id": str, "statement": str, "source": str, "evidence": str | object, "passed": bool}``
  (other keys, e.g. ``seconds``, are shown too when present).
* ``skipped.json`` (optional): estimator-task pairs the runner skipped, listed as given.

The Markdown links the figures (``figures/<name>.png``); the HTML embeds them as base64 data
URIs, so the one file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mibench import __version__
from mibench.interface import RunConfig
from mibench.plots import draw_figures, load_summary
from mibench.plots.drawing import DrawnFigure
from mibench.plots.frames import SUMMARY_SETTING_COLUMNS, main_setting
from mibench.plots.palette import sort_estimators
from mibench.results import load_runs, schema, store, tempfiles

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
VERIFY_JSON = "verify.json"
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
    schema.F_VALUE,
    schema.TRUE_F_MI,
    schema.F_BIAS,
)


# --------------------------------------------------------------------------- document model


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class FigureBlock:
    figure: DrawnFigure


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Paragraph | Table | FigureBlock | Code


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
    ids = store.manifest_run_ids(suite_dir)
    ids = store.finished_run_ids(suite_dir) if ids is None else ids
    return [
        store.read_sidecar(suite_dir, run_id)
        for run_id in ids
        if store.is_finished(suite_dir, run_id) and store.sidecar_path(suite_dir, run_id).is_file()
    ]


def load_verify(suite_dir: str | Path) -> list[dict[str, Any]] | None:
    """``verify.json`` of a suite (format in the module docstring), or None if absent.

    Raises:
        ValueError: the file is not a JSON list of objects with ``id`` and ``passed``.
    """
    path = Path(suite_dir) / VERIFY_JSON
    if not path.is_file():
        return None
    try:
        claims = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed {path}: {error}") from None
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


# --------------------------------------------------------------------------- sections


def _overview(suite: str, runs: pd.DataFrame) -> list[Block]:
    train = runs[runs[schema.READOUT] == schema.READOUT_TRAIN] if schema.READOUT in runs else runs
    n_runs = runs[schema.RUN_ID].nunique() if schema.RUN_ID in runs else 0
    estimators = sort_estimators(map(str, runs[schema.ESTIMATOR].unique()))
    return [
        Heading(f"mibench report — {suite}", level=1),
        Paragraph(
            f"{n_runs} runs, {len(train)} logged training steps, {len(estimators)} estimators "
            f"({', '.join(estimators)}), tasks: "
            f"{', '.join(sorted(map(str, runs[schema.TASK].unique())))}. Generated by mibench "
            f"{__version__} from the files in this folder; MI in nats."
        ),
    ]


def _configuration(sidecars: Sequence[Mapping[str, Any]], suite_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Suite configuration")]
    config, environment, walls = _config_and_environment(sidecars)
    if config:
        rows = [[key, _distinct(values)] for key, values in sorted(config.items())]
        blocks.append(Table(["setting", "values over the runs"], rows))
    else:
        blocks.append(Paragraph("No run sidecar (runs/*.json) was found."))
    suite_file = suite_dir / store.SUITE_FILE
    if suite_file.is_file():
        resolved = json.dumps(json.loads(suite_file.read_text()), indent=1, sort_keys=True)
        blocks += [Paragraph(f"The resolved suite (`{store.SUITE_FILE}`):"), Code(resolved)]
    blocks.append(Heading("Environment"))
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


def _summary_tables(summary: pd.DataFrame | None, suite_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Summary")]
    if summary is None:
        return [*blocks, Paragraph(f"No `summary.parquet` in {suite_dir}.")]
    blocks.append(
        Paragraph(
            "Metrics over the evaluation window (the last "
            f"{schema.EVAL_FRACTION:.0%} of the steps at a fixed MI level): bias = mean(Î) − I; "
            "std = sqrt(var_within + var_across) (batch noise within a run, spread across "
            "seeds); MSE = mean (Î − I)²; saturation_gap = log K − mean(Î); steps_to_90 = first "
            "step reaching 90 % of min(I, ceiling)."
        )
    )
    numeric = summary.copy()
    if schema.MI_LEVEL in numeric and schema.MSE in numeric and schema.ESTIMATOR in numeric:
        fixed = numeric[np.isfinite(numeric[schema.MI_LEVEL].astype(float))]
        data, _ = main_setting(fixed, SUMMARY_SETTING_COLUMNS)
        for task, cells in data.groupby(schema.TASK, observed=True, sort=True):
            for metric in (schema.BIAS, schema.STD, schema.MSE):
                if metric not in cells:
                    continue
                table = cells.pivot_table(
                    index=schema.ESTIMATOR, columns=schema.MI_LEVEL, values=metric, observed=True
                )
                table = table.reindex(sort_estimators(map(str, table.index)))
                table.columns = [f"I = {_fmt(c)}" for c in table.columns]
                blocks.append(
                    _frame_table(
                        table.reset_index(),
                        caption=f"{metric} by estimator and true MI — task {task} (nats"
                        + ("²" if metric == schema.MSE else "")
                        + ")",
                    )
                )
    columns = [c for c in SUMMARY_TABLE_COLUMNS if c in summary.columns]
    order = [c for c in (schema.TASK, schema.MI_LEVEL, schema.BATCH_SIZE) if c in summary]
    full = summary[columns]
    if schema.ESTIMATOR in full:
        rank = {e: i for i, e in enumerate(sort_estimators(map(str, full[schema.ESTIMATOR])))}
        full = full.assign(_rank=full[schema.ESTIMATOR].astype(str).map(rank))
        full = full.sort_values([*order, "_rank"], kind="stable").drop(columns="_rank")
    blocks.append(
        _frame_table(
            full,
            caption="Every cell of summary.parquet (main columns; the file has them all)",
        )
    )
    skipped_path = suite_dir / store.SKIPPED_FILE
    if skipped_path.is_file():
        skipped = json.loads(skipped_path.read_text())
        items = skipped if isinstance(skipped, list) else [skipped]
        if items and all(isinstance(i, Mapping) for i in items):
            keys = list(dict.fromkeys(k for i in items for k in i))
            rows = [[_fmt(i.get(k)) for k in keys] for i in items]
            blocks.append(Table(keys, rows, caption="Estimator-task pairs skipped by the runner"))
        else:
            blocks.append(Code(json.dumps(skipped, indent=1)))
    return blocks


def _figures(drawn: Sequence[DrawnFigure], skipped: Sequence[str]) -> list[Block]:
    blocks: list[Block] = [Heading("Figures")]
    for figure in drawn:
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


def _divergence(runs: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = [Heading("Diverged runs")]
    table = diverged_runs(runs)
    if table.empty:
        return [*blocks, Paragraph("No run produced a NaN/Inf.")]
    n_runs = runs[schema.RUN_ID].nunique()
    blocks.append(Paragraph(f"{len(table)} of {n_runs} runs diverged (frozen at the step shown)."))
    return [*blocks, _frame_table(table)]


def _claims(verify: list[dict[str, Any]] | None, suite: str) -> list[Block]:
    blocks: list[Block] = [Heading("Claims (mibench verify)")]
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


def build_report(
    suite_dir: str | Path,
    *,
    runs: pd.DataFrame,
    summary: pd.DataFrame | None,
    drawn: Sequence[DrawnFigure],
    skipped_figures: Sequence[str] = (),
    sidecars: Sequence[Mapping[str, Any]] = (),
    verify: list[dict[str, Any]] | None = None,
) -> list[Block]:
    """The report as a list of blocks (rendered by :func:`to_markdown` and :func:`to_html`)."""
    suite_dir = Path(suite_dir)
    return [
        *_overview(suite_dir.name, runs),
        *_configuration(sidecars, suite_dir),
        *_summary_tables(summary, suite_dir),
        *_figures(drawn, skipped_figures),
        *_divergence(runs),
        *_claims(verify, suite_dir.name),
    ]


# --------------------------------------------------------------------------- rendering


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(blocks: Sequence[Block], *, base_dir: str | Path) -> str:
    """Markdown with figures linked relative to ``base_dir`` (the folder of report.md)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(block.text)
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
    return "\n\n".join(out) + "\n"


HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-style: italic; padding: 4px 0; }
img { max-width: 100%; border: 1px solid #ddd; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
.reading { margin-top: 0.3em; }
"""
MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _inline_code(escaped: str) -> str:
    """Markdown `code` spans of an already escaped paragraph as <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _html_cell(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def to_html(blocks: Sequence[Block], *, title: str) -> str:
    """One self-contained HTML page: figures inlined as base64 data URIs, no external files."""
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{HTML_STYLE}</style></head><body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline_code(esc(block.text))}</p>")
        elif isinstance(block, Code):
            out.append(f"<pre>{esc(block.text)}</pre>")
        elif isinstance(block, Table):
            rows = ["<table>"]
            if block.caption:
                rows.append(f"<caption>{esc(block.caption)}</caption>")
            rows.append("<tr>" + "".join(f"<th>{esc(c)}</th>" for c in block.columns) + "</tr>")
            rows += [
                "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in block.rows
            ]
            out.append("\n".join([*rows, "</table>"]))
        elif isinstance(block, FigureBlock):
            figure = block.figure
            data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
            mime = MIME[figure.path.suffix.lower()]
            out.append(
                f'<figure><img alt="{esc(figure.name)}" src="data:{mime};base64,{data}">'
                f'<figcaption><p class="reading">{esc(figure.what)}<br>{esc(figure.reading)}'
                "</p></figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    tmp = tempfiles.temp_name(path, tempfiles.TMP_SUFFIX)  # writer pid@host: see tempfiles
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    drawn, skipped = draw_figures(suite_dir, fmt=fmt, runs=runs, summary=summary)
    blocks = build_report(
        suite_dir,
        runs=runs,
        summary=summary,
        drawn=drawn,
        skipped_figures=skipped,
        sidecars=sidecars,
        verify=verify,
    )
    md_path, html_path = suite_dir / REPORT_MD, suite_dir / REPORT_HTML
    _write_atomic(md_path, to_markdown(blocks, base_dir=suite_dir))
    _write_atomic(html_path, to_html(blocks, title=f"mibench report — {suite_dir.name}"))
    return md_path, html_path
