"""The results store: one Parquet file per finished run, written atomically, keyed by cell hash.

Layout of a suite directory (``<out>/<suite>/``)::

    runs/<run_id>.json       sidecar: full config, hash, versions, seed, device, dtype, wall time,
                             critic architecture and parameter count, diverged step, task id
    runs/<run_id>.parquet    the tidy per-step frame (columns of :mod:`mibench.results.schema`);
                             its Parquet metadata repeats the sidecar under the key ``mibench``
    manifest.json            run ids of the latest ``mibench run`` invocation (its plan)
    summary.parquet          one row per cell and readout (see :mod:`mibench.results.summary`)
    skipped.json             estimator-task-critic combinations that do not apply, with the reason
    suite.json               the resolved suite (after command-line overrides)
    plugins.json             the plan's estimators from outside mibench: kind, origin, version,
                             fingerprint (mibench.plan.plugins); [] when there are none
    figures/                 the figures of :mod:`mibench.plots`
    report.md, report.html   the report of :mod:`mibench.report.document`
    verify.json              optional: ``mibench verify --json`` results the report shows

Every path of this layout is built here and every file of it is read and written here (or, for
claims and the summary's manifest digest, in :mod:`mibench.results.lock` and
:mod:`mibench.results.views`); nothing else in the package joins these names.

Write order and the meaning of "finished": the sidecar is written first, then the Parquet file;
each goes to a hidden temporary name in the same directory (``.<name>.<pid>@<host>.partial``) and
is moved into place with :func:`os.replace`, which is atomic on POSIX within one file system. A run
is *finished* exactly when ``runs/<run_id>.parquet`` exists: a process killed at any point leaves
either no Parquet file (the cell is recomputed, its sidecar overwritten) or a complete one, and
never a half-written file under a result name. Temporary files of killed processes (in the suite
folder, ``runs/`` and ``figures/``) are removed by :func:`clean_leftovers` at the start of the
next ``mibench run``, ``plot`` or ``report``.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mibench.results import fserrors, schema, tempfiles

RUNS_DIR = "runs"
SUMMARY_FILE = "summary.parquet"
SKIPPED_FILE = "skipped.json"
MANIFEST_FILE = "manifest.json"
SUITE_FILE = "suite.json"
FIGURES_DIR = "figures"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
VERIFY_FILE = "verify.json"
PLUGINS_FILE = "plugins.json"
PARTIAL_SUFFIX = tempfiles.PARTIAL_SUFFIX
PARQUET_METADATA_KEY = b"mibench"
_VERSIONED_PACKAGES = ("mibench", "torch", "numpy", "pandas", "pyarrow", "scipy")
# What a damaged file raises while it is parsed: pyarrow's errors (ArrowInvalid: "Parquet magic
# bytes not found", ...), JSON syntax errors, bytes that are not UTF-8, a folder where a file
# must be, a file that vanished or cannot be read.
_UNREADABLE = (pa.ArrowException, OSError, ValueError, UnicodeDecodeError)


class DamagedFileError(ValueError):
    """A file of a results folder that does not parse or does not match what it must hold.

    ``str(error)`` is one line naming the file and what is wrong with it; ``path`` is the file.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def one_line(error: BaseException) -> str:
    """An exception's message on one line (pyarrow's span several), with its type."""
    text = " ".join(str(error).split())
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def runs_dir(suite_dir: Path) -> Path:
    """``<suite_dir>/runs``."""
    return Path(suite_dir) / RUNS_DIR


def run_path(suite_dir: Path, run_id: str) -> Path:
    """Path of the Parquet file of one run."""
    return runs_dir(suite_dir) / f"{run_id}.parquet"


def sidecar_path(suite_dir: Path, run_id: str) -> Path:
    """Path of the JSON sidecar of one run."""
    return runs_dir(suite_dir) / f"{run_id}.json"


def summary_path(suite_dir: Path) -> Path:
    """``<suite_dir>/summary.parquet``."""
    return Path(suite_dir) / SUMMARY_FILE


def manifest_path(suite_dir: Path) -> Path:
    """``<suite_dir>/manifest.json``."""
    return Path(suite_dir) / MANIFEST_FILE


def suite_record_path(suite_dir: Path) -> Path:
    """``<suite_dir>/suite.json``."""
    return Path(suite_dir) / SUITE_FILE


def skipped_path(suite_dir: Path) -> Path:
    """``<suite_dir>/skipped.json``."""
    return Path(suite_dir) / SKIPPED_FILE


def figures_dir(suite_dir: Path) -> Path:
    """``<suite_dir>/figures``."""
    return Path(suite_dir) / FIGURES_DIR


def report_paths(suite_dir: Path) -> tuple[Path, Path]:
    """``(<suite_dir>/report.md, <suite_dir>/report.html)``."""
    return Path(suite_dir) / REPORT_MD, Path(suite_dir) / REPORT_HTML


def verify_path(suite_dir: Path) -> Path:
    """``<suite_dir>/verify.json``."""
    return Path(suite_dir) / VERIFY_FILE


# What each path of the layout must be where it exists: a folder or a regular file.
_LAYOUT_FOLDERS = (RUNS_DIR, FIGURES_DIR, "checkpoints")
_LAYOUT_FILES = (SUMMARY_FILE, SKIPPED_FILE, MANIFEST_FILE, SUITE_FILE, REPORT_MD, REPORT_HTML)


def layout_problems(suite_dir: Path) -> list[str]:
    """One line per path of the layout that exists as the wrong kind (``runs`` a file,
    ``manifest.json`` a folder, ...); empty for a sound or absent folder."""
    suite_dir = Path(suite_dir)
    problems = []
    for name in _LAYOUT_FOLDERS:
        path = suite_dir / name
        if path.exists() and not path.is_dir():
            problems.append(f"{path} is a file where mibench keeps a folder; move it away")
    for name in _LAYOUT_FILES:
        path = suite_dir / name
        if path.exists() and not path.is_file():
            problems.append(f"{path} is not a file (mibench writes a file there); move it away")
    return problems


def is_finished(suite_dir: Path, run_id: str) -> bool:
    """True when the run's Parquet file exists (it is only ever created complete)."""
    return run_path(suite_dir, run_id).is_file()


def finished_run_ids(suite_dir: Path) -> list[str]:
    """Sorted ids of every finished run in ``suite_dir``."""
    directory = runs_dir(suite_dir)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.parquet") if not p.name.startswith("."))


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return tuple(versions.items())


def environment_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages a result depends on (read once)."""
    return dict(_versions())


def write_atomic(
    target: Path, write: Callable[[Path], None], *, suffix: str = PARTIAL_SUFFIX
) -> Path:
    """Atomically create ``target``: ``write(tmp)`` writes a hidden temporary file in the same
    directory (named by :func:`mibench.results.tempfiles.temp_name`), which is flushed to disk
    and renamed over ``target``. A failed write leaves neither ``target`` changed nor the
    temporary file behind. Every atomic write of the package comes through here."""
    target = Path(target)
    tmp = tempfiles.temp_name(target, suffix)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as error:  # name the file the user knows, not our hidden temporary one
        if error.filename is not None and Path(error.filename) != tmp:
            raise
        raise fserrors.with_path(error, target, replace=error.filename is not None) from error
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same directory + rename."""
    write_atomic(target, lambda tmp: tmp.write_bytes(data))


def write_json_atomic(target: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented, key-sorted JSON (deterministic bytes)."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=str, allow_nan=True) + "\n"
    write_bytes_atomic(target, text.encode())


def write_parquet_atomic(
    target: Path, frame: pd.DataFrame, *, metadata: Mapping[str, Any] | None = None
) -> None:
    """Atomically write ``frame`` (no index) as Parquet; ``metadata`` goes in the file footer."""
    target = Path(target)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        blob = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), PARQUET_METADATA_KEY: blob}
        )
    write_atomic(target, lambda tmp: pq.write_table(table, tmp))


def clean_partials(directory: Path) -> list[Path]:
    """Remove temporary files that a killed writer left in ``directory``; returns what was removed.

    Only those of dead writers: another ``mibench run`` sharing the folder may be writing its
    own right now (see :mod:`mibench.results.tempfiles`).
    """
    return tempfiles.remove_leftovers(directory)


def clean_leftovers(suite_dir: Path) -> list[Path]:
    """:func:`clean_partials` of a suite folder, its ``runs/`` and its ``figures/``."""
    suite_dir = Path(suite_dir)
    removed = []
    for directory in (suite_dir, runs_dir(suite_dir), figures_dir(suite_dir)):
        removed.extend(clean_partials(directory))
    return removed


def check_frame(frame: pd.DataFrame) -> None:
    """Raise ValueError naming the missing schema columns of a per-step frame."""
    missing = [c for c in schema.COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"run frame lacks schema columns: {', '.join(missing)}")


def sidecar_record(
    *,
    config: Mapping[str, Any],
    run_id: str,
    wall_time_s: float,
    critic_architecture: str,
    n_parameters: int,
    diverged_step: int | None,
    task_id: str,
    n_rows: int,
) -> dict[str, Any]:
    """The JSON sidecar of one run (what DESIGN.md "Results" asks to store beside the data)."""
    return {
        "run_id": run_id,
        "config": dict(config),
        "seed": config.get("seed"),
        "device": config.get("device"),
        "dtype": config.get("dtype"),
        "wall_time_s": float(wall_time_s),
        "critic_architecture": critic_architecture,
        "n_parameters": int(n_parameters),
        "diverged_step": None if diverged_step is None else int(diverged_step),
        "task_id": task_id,
        "n_rows": int(n_rows),
        "versions": environment_versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_run(
    suite_dir: Path, run_id: str, frame: pd.DataFrame, sidecar: Mapping[str, Any]
) -> Path:
    """Store one finished run: sidecar first, then the Parquet file (whose existence = finished)."""
    check_frame(frame)
    directory = runs_dir(suite_dir)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(sidecar_path(suite_dir, run_id), sidecar)
    target = run_path(suite_dir, run_id)
    write_parquet_atomic(target, frame, metadata=sidecar)
    return target


def read_sidecar(suite_dir: Path, run_id: str) -> dict[str, Any]:
    """The sidecar of one run; :class:`DamagedFileError` naming it when it is not a JSON object
    with a ``config`` mapping."""
    path = sidecar_path(suite_dir, run_id)
    record = _parse_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise DamagedFileError(path, "not a run sidecar (a JSON object with a 'config' mapping)")
    return record


def read_run(suite_dir: Path, run_id: str) -> pd.DataFrame:
    """The per-step frame of one finished run (:class:`DamagedFileError` naming an unreadable one)."""
    path = run_path(suite_dir, run_id)
    try:
        return pd.read_parquet(path)
    except _UNREADABLE as error:
        raise DamagedFileError(path, f"not a readable Parquet file ({one_line(error)})") from None


def read_columns(suite_dir: Path, run_id: str, columns: Iterable[str]) -> dict[str, Any]:
    """Some columns of one run as NumPy arrays (absent ones skipped): no pandas conversion,
    which is most of the cost of reading a run file."""
    path = run_path(suite_dir, run_id)
    try:
        present = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in columns if c in present])
        return {name: table.column(name).to_numpy() for name in table.column_names}
    except _UNREADABLE as error:
        raise DamagedFileError(path, f"not a readable Parquet file ({one_line(error)})") from None


_REWRITTEN_BY_RUN = "`mibench run` on the suite rewrites it"


def _parse_json(path: Path) -> Any:
    """The JSON document at ``path``; :class:`DamagedFileError` naming it when it cannot be read."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except _UNREADABLE as error:
        hint = f"; {_REWRITTEN_BY_RUN}" if Path(path).name in (SKIPPED_FILE, SUITE_FILE) else ""
        raise DamagedFileError(path, f"not readable JSON ({one_line(error)}){hint}") from None


def _runs_dataset(suite_dir: Path, run_ids: Sequence[str]) -> ds.FileSystemDataset:
    """One dataset over the Parquet files of ``run_ids`` (in that order), with the union of
    their schemas: a column some runs lack (an estimator's own diagnostic) is null there, as
    :func:`pandas.concat` of the separate frames fills it with NaN."""
    paths = [str(run_path(suite_dir, r)) for r in run_ids]
    factory = ds.FileSystemDatasetFactory(pafs.LocalFileSystem(), paths, ds.ParquetFileFormat())
    return factory.finish(factory.inspect(promote_options="default", fragments=None))


def read_columns_of_runs(
    suite_dir: Path, run_ids: Sequence[str], columns: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """:func:`read_columns` of many runs in one dataset read: ``{run id: {column: array}}``.

    Each run keeps exactly the columns its own file has (a column only other runs have is not
    added as NaN), in the dtypes :func:`read_columns` gives.
    """
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    dataset = _runs_dataset(Path(suite_dir), run_ids)
    wanted = [c for c in dict.fromkeys(columns) if c in dataset.schema.names]
    table = dataset.to_table(columns=wanted)
    out: dict[str, dict[str, Any]] = {}
    offset = 0
    for run_id, fragment in zip(run_ids, dataset.get_fragments(), strict=True):
        rows = fragment.metadata.num_rows
        present = set(fragment.physical_schema.names)
        part = table.slice(offset, rows)
        out[run_id] = {c: part.column(c).to_numpy() for c in wanted if c in present}
        offset += rows
    return out


def _read_json(path: Path) -> Any:
    """The JSON document at ``path``, or None when there is no such file (a folder of that name
    is no such file either: :class:`DamagedFileError`)."""
    return _parse_json(path) if path.exists() else None


def write_manifest(suite_dir: Path, run_ids: Iterable[str]) -> None:
    """``manifest.json``: the run ids of this invocation's plan, in plan order."""
    write_json_atomic(manifest_path(suite_dir), {"run_ids": list(run_ids)})


def manifest_run_ids(suite_dir: Path) -> list[str] | None:
    """Run ids of the latest invocation (``manifest.json``), or None when there is none;
    :class:`DamagedFileError` when it is not ``{"run_ids": [str, ...]}``."""
    path = manifest_path(suite_dir)
    manifest = _read_json(path)
    if manifest is None:
        return None
    ids = manifest.get("run_ids") if isinstance(manifest, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise DamagedFileError(path, 'not a manifest (a JSON object {"run_ids": [ids]})')
    return list(ids)


def latest_run_ids(suite_dir: Path) -> list[str]:
    """The runs of the latest invocation (``manifest.json``), or every finished run without one
    (finished or not: callers skip the unfinished ones)."""
    ids = manifest_run_ids(suite_dir)
    return finished_run_ids(suite_dir) if ids is None else ids


def manifest_bytes(suite_dir: Path) -> bytes | None:
    """The bytes of ``manifest.json`` (what the summary's digest is taken of), or None."""
    path = manifest_path(suite_dir)
    if not path.exists():
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise DamagedFileError(path, f"cannot be read ({one_line(error)})") from None


def read_verify(suite_dir: Path) -> Any:
    """``verify.json`` as written by ``mibench verify --json`` (None when there is none);
    raises json.JSONDecodeError for a malformed file (the report names it)."""
    return _read_json(verify_path(suite_dir))


def write_suite_record(suite_dir: Path, record: Mapping[str, Any]) -> None:
    """``suite.json``: the resolved suite (:func:`mibench.plan.suite.suite_record`)."""
    write_json_atomic(suite_record_path(suite_dir), record)


def read_suite_record(suite_dir: Path) -> dict[str, Any] | None:
    """``suite.json``, or None when there is none; :class:`DamagedFileError` when it is not a
    JSON object."""
    path = suite_record_path(suite_dir)
    record = _read_json(path)
    if record is not None and not isinstance(record, dict):
        raise DamagedFileError(path, f"not a suite record (a JSON object); {_REWRITTEN_BY_RUN}")
    return record


def write_skipped(suite_dir: Path, skipped: Iterable[Mapping[str, str]]) -> None:
    """``skipped.json``: the combinations that do not apply, each with its reason."""
    write_json_atomic(skipped_path(suite_dir), [dict(item) for item in skipped])


def read_skipped(suite_dir: Path) -> list[dict[str, str]] | None:
    """``skipped.json``, or None when there is none; :class:`DamagedFileError` when it is not a
    list of objects of text fields (what :func:`write_skipped` writes)."""
    path = skipped_path(suite_dir)
    skipped = _read_json(path)
    if skipped is None:
        return None
    if not isinstance(skipped, list) or not all(
        isinstance(item, dict) and all(isinstance(v, str) for v in item.values())
        for item in skipped
    ):
        raise DamagedFileError(
            path, f"not a list of skipped combinations (JSON objects of text); {_REWRITTEN_BY_RUN}"
        )
    return skipped


def write_report(suite_dir: Path, markdown: str, html: str) -> tuple[Path, Path]:
    """Atomically write ``report.md`` and then ``report.html`` (UTF-8); returns their paths."""
    md_path, html_path = report_paths(suite_dir)
    write_bytes_atomic(md_path, markdown.encode("utf-8"))
    write_bytes_atomic(html_path, html.encode("utf-8"))
    return md_path, html_path


def has_summary(suite_dir: Path) -> bool:
    """True when ``summary.parquet`` exists."""
    return summary_path(suite_dir).is_file()


def write_summary(
    suite_dir: Path, summary: pd.DataFrame, *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Atomically write ``summary.parquet`` (``metadata`` in its footer, see
    :func:`mibench.results.views.write_summary`)."""
    target = summary_path(suite_dir)
    write_parquet_atomic(target, summary, metadata=metadata)
    return target


def read_summary(suite_dir: Path) -> pd.DataFrame | None:
    """``summary.parquet``, or None when there is none (:class:`DamagedFileError` naming an
    unreadable one)."""
    path = summary_path(suite_dir)
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except _UNREADABLE as error:
        raise DamagedFileError(path, f"not a readable Parquet file ({one_line(error)})") from None


def summary_metadata(suite_dir: Path) -> dict[str, Any] | None:
    """The ``mibench`` record in ``summary.parquet``'s footer (None: no summary, or none;
    :class:`DamagedFileError` naming an unreadable one)."""
    path = summary_path(suite_dir)
    if not path.exists():
        return None
    try:
        blob = (pq.read_schema(path).metadata or {}).get(PARQUET_METADATA_KEY)
        record = None if blob is None else json.loads(blob)
    except _UNREADABLE as error:
        raise DamagedFileError(path, f"not a readable Parquet file ({one_line(error)})") from None
    return record if isinstance(record, dict) else None


def load_runs(suite_dir: Path, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Concatenate the per-step frames of a suite directory.

    ``run_ids=None`` reads the runs of the latest invocation when ``manifest.json`` exists (so
    figures and ``summary.parquet`` describe the same cells) and every finished run otherwise.
    Raises FileNotFoundError naming the directory when there is nothing to read, and
    :class:`DamagedFileError` naming a run file or sidecar that does not parse or does not match
    (:mod:`mibench.results.integrity`).
    """
    suite_dir = Path(suite_dir)
    ids = latest_run_ids(suite_dir) if run_ids is None else list(run_ids)
    ids = [i for i in ids if is_finished(suite_dir, i)]
    if not ids:
        raise FileNotFoundError(f"no finished runs under {runs_dir(suite_dir)}")
    from mibench.results import integrity  # it builds on this module

    integrity.require_trusted(suite_dir, ids)
    # One dataset read (threads decode the files together) instead of a frame per file: the
    # same rows, columns and dtypes as pd.concat of read_run, in a fraction of the time.
    return _runs_dataset(suite_dir, ids).to_table().to_pandas()


def load_sidecars(suite_dir: Path, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per run with the sidecar fields (config flattened as ``config.<field>``)."""
    suite_dir = Path(suite_dir)
    ids = latest_run_ids(suite_dir) if run_ids is None else list(run_ids)
    ids = [i for i in ids if is_finished(suite_dir, i)]
    from mibench.results import integrity  # it builds on this module

    integrity.require_trusted(suite_dir, ids)
    rows = []
    for run_id in ids:
        record = read_sidecar(suite_dir, run_id)
        flat = {k: v for k, v in record.items() if k not in {"config", "versions"}}
        flat.update({f"config.{k}": v for k, v in record["config"].items()})
        rows.append(flat)
    return pd.DataFrame(rows)


__all__ = [
    "FIGURES_DIR",
    "MANIFEST_FILE",
    "PARQUET_METADATA_KEY",
    "PARTIAL_SUFFIX",
    "REPORT_HTML",
    "REPORT_MD",
    "RUNS_DIR",
    "SKIPPED_FILE",
    "SUITE_FILE",
    "SUMMARY_FILE",
    "VERIFY_FILE",
    "DamagedFileError",
    "check_frame",
    "clean_leftovers",
    "clean_partials",
    "environment_versions",
    "figures_dir",
    "finished_run_ids",
    "has_summary",
    "is_finished",
    "latest_run_ids",
    "layout_problems",
    "load_runs",
    "load_sidecars",
    "manifest_bytes",
    "manifest_path",
    "manifest_run_ids",
    "one_line",
    "read_columns",
    "read_columns_of_runs",
    "read_run",
    "read_sidecar",
    "read_skipped",
    "read_suite_record",
    "read_summary",
    "read_verify",
    "report_paths",
    "run_path",
    "runs_dir",
    "sidecar_path",
    "sidecar_record",
    "skipped_path",
    "suite_record_path",
    "summary_metadata",
    "summary_path",
    "verify_path",
    "write_atomic",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_manifest",
    "write_parquet_atomic",
    "write_report",
    "write_run",
    "write_skipped",
    "write_suite_record",
    "write_summary",
]


def plugins_path(suite_dir: Path) -> Path:
    """``<suite_dir>/plugins.json``."""
    return Path(suite_dir) / PLUGINS_FILE


def write_plugins(suite_dir: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Record the plan's plug-in estimators (one JSON object each), atomically."""
    write_json_atomic(plugins_path(suite_dir), [dict(r) for r in records])


def read_plugins(suite_dir: Path) -> dict[str, dict[str, Any]]:
    """The recorded plug-in estimators by name ({} when the folder has none or predates them)."""
    path = plugins_path(suite_dir)
    if not path.is_file():
        return {}
    return {str(r["name"]): dict(r) for r in _read_json(path)}
