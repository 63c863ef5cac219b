"""Trust no stored run that does not parse and match its sidecar's config hash; quarantine it.

A run is *finished* when ``runs/<run_id>.parquet`` exists (:func:`mibench.results.store.is_finished`),
and the store only ever creates that file complete. A disk that fails, a copy cut short or a
hand edit can still damage one. Before a run is read, skipped as done or summarised, it is
*trusted* only when (:func:`run_damage` returns None):

* its Parquet footer parses, lists every schema column, and holds as many rows as the sidecar says;
* its JSON sidecar parses, holds a ``config`` mapping, and that config hashes to ``run_id``;
* the copy of the sidecar in the Parquet footer (written with the data) names the same cell.

A damaged pair is moved to ``runs/quarantine/`` (:func:`quarantine_run`; the evidence is kept,
and ``finished_run_ids`` no longer sees the cell), so that ``mibench run`` trains that cell
again. The move is made by the process holding the cell's claim (:mod:`mibench.results.lock`):
only the claim holder writes a run's files, so a fresh run file of another process is never
moved. :func:`repair_folder` is what ``plot``, ``report`` and ``verify --results`` do first: they
quarantine damaged runs, rebuild an unreadable ``manifest.json`` from the trusted runs, and
say so in one line per file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mibench.core.interface import RunConfig
from mibench.results import schema, store

QUARANTINE_DIR = "quarantine"
_UNREADABLE = (pa.ArrowException, OSError, ValueError, UnicodeDecodeError)


def quarantine_dir(suite_dir: Path) -> Path:
    """``runs/quarantine``: where damaged run files are moved."""
    return store.runs_dir(suite_dir) / QUARANTINE_DIR


def _config_hash(config: object) -> str | None:
    if not isinstance(config, dict):
        return None
    try:
        return RunConfig.make(**config).cell_hash()
    except (TypeError, ValueError):
        return None


def _parquet_damage(path: Path, run_id: str) -> tuple[str | None, int | None]:
    """(why the run file is not to be trusted or None, its row count)."""
    try:
        metadata = pq.read_metadata(path)
    except _UNREADABLE as error:  # pyarrow: ArrowInvalid ("magic bytes not found"), OSError
        return f"not a readable Parquet file ({store.one_line(error)})", None
    names = set(metadata.schema.names)
    missing = [c for c in schema.COLUMNS if c not in names]
    if missing:
        return f"lacks schema columns {', '.join(missing[:5])}", metadata.num_rows
    blob = (metadata.metadata or {}).get(store.PARQUET_METADATA_KEY)
    if blob is not None:
        try:
            footer = json.loads(blob)
        except ValueError:
            return "its footer record is not JSON", metadata.num_rows
        digest = _config_hash(footer.get("config") if isinstance(footer, dict) else None)
        if digest != run_id:
            return f"its footer describes cell {digest}, not {run_id}", metadata.num_rows
    return None, metadata.num_rows


def run_damage(suite_dir: Path, run_id: str) -> store.DamagedFileError | None:
    """Why the finished run ``run_id`` is not to be trusted (naming the file), or None when it
    is, or when it is not finished (no Parquet file)."""
    parquet = store.run_path(suite_dir, run_id)
    if not parquet.exists():
        return None
    if not parquet.is_file():
        return store.DamagedFileError(parquet, "is not a file")
    reason, n_rows = _parquet_damage(parquet, run_id)
    if reason is not None:
        return store.DamagedFileError(parquet, reason)
    sidecar = store.sidecar_path(suite_dir, run_id)
    if not sidecar.exists():
        return store.DamagedFileError(sidecar, "missing (every finished run has its sidecar)")
    try:
        record = store.read_sidecar(suite_dir, run_id)
    except store.DamagedFileError as error:
        return error
    digest = _config_hash(record["config"])
    if digest != run_id:
        return store.DamagedFileError(sidecar, f"its config hashes to {digest}, not {run_id}")
    expected = record.get("n_rows")
    if isinstance(expected, int) and expected != n_rows:
        return store.DamagedFileError(parquet, f"{n_rows} rows where its sidecar says {expected}")
    return None


class TrustedRuns:
    """``trusted(run_id)``: the run is finished and :func:`run_damage` finds nothing.

    Results are cached per file state (size and modification time of both files), so a poll
    loop (a run waiting for another process's cells) reads each file once.
    """

    def __init__(self, suite_dir: Path) -> None:
        self.suite_dir = Path(suite_dir)
        self._cache: dict[str, tuple[tuple[int, ...], store.DamagedFileError | None]] = {}

    def _state(self, run_id: str) -> tuple[int, ...] | None:
        try:
            run = os.stat(store.run_path(self.suite_dir, run_id))
        except OSError:
            return None
        try:
            side = os.stat(store.sidecar_path(self.suite_dir, run_id))
            side_state = (side.st_size, side.st_mtime_ns, side.st_ino)
        except OSError:
            side_state = (-1, -1, -1)
        return (run.st_size, run.st_mtime_ns, run.st_ino, *side_state)

    def damage(self, run_id: str) -> store.DamagedFileError | None:
        """:func:`run_damage`, cached by file state (None for an unfinished run)."""
        state = self._state(run_id)
        if state is None:
            self._cache.pop(run_id, None)
            return None
        cached = self._cache.get(run_id)
        if cached is not None and cached[0] == state:
            return cached[1]
        found = run_damage(self.suite_dir, run_id)
        self._cache[run_id] = (state, found)
        return found

    def __call__(self, run_id: str) -> bool:
        return store.is_finished(self.suite_dir, run_id) and self.damage(run_id) is None


def quarantine_run(suite_dir: Path, run_id: str) -> Path:
    """Move the run's Parquet file and sidecar (those that exist) to ``runs/quarantine/``, under
    names that never overwrite an earlier quarantined pair; returns the quarantine folder.

    Call it holding the cell's claim, so that no other process is writing the pair.
    """
    folder = quarantine_dir(suite_dir)
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    while any((folder / f"{run_id}.{number}{suffix}").exists() for suffix in (".parquet", ".json")):
        number += 1
    for source in (store.run_path(suite_dir, run_id), store.sidecar_path(suite_dir, run_id)):
        if source.exists():
            os.replace(source, folder / f"{run_id}.{number}{source.suffix}")
    return folder


def quarantine_note(error: store.DamagedFileError, folder: Path, *, retrained: bool) -> str:
    """The one line a user reads about a quarantined run."""
    then = "retraining the cell" if retrained else "`mibench run` retrains the cell"
    return f"{error}; moved with its pair to {folder}/, {then}"


def require_trusted(suite_dir: Path, run_ids: Iterable[str]) -> None:
    """Raise the :class:`~mibench.results.store.DamagedFileError` of the first damaged run among
    ``run_ids`` (unfinished ones are skipped), with what repairs it; for readers such as
    :func:`mibench.results.store.load_runs`, which must not read what they cannot trust."""
    for run_id in run_ids:
        error = run_damage(suite_dir, run_id)
        if error is not None:
            raise store.DamagedFileError(
                error.path, f"{error.reason} (`mibench plot` or `mibench run` quarantines it)"
            )


def repair_folder(suite_dir: Path, run_ids: Iterable[str] | None = None) -> list[str]:
    """Quarantine the damaged runs among ``run_ids`` (default: the latest invocation's, or every
    finished one) and rebuild an unreadable ``manifest.json`` from the trusted runs; returns one
    note per file. A damaged run whose cell another live ``mibench run`` holds is left to it.
    """
    from mibench.results import lock

    suite_dir = Path(suite_dir)
    notes: list[str] = []
    try:
        ids = store.latest_run_ids(suite_dir) if run_ids is None else list(run_ids)
    except store.DamagedFileError as error:
        ids = store.finished_run_ids(suite_dir)
        notes.append(_rebuild_manifest(suite_dir, error, ids))
    damaged = [(r, e) for r in ids if (e := run_damage(suite_dir, r)) is not None]
    if not damaged:
        return notes
    claims = lock.CellLocks(suite_dir)
    for run_id, error in damaged:
        if not claims.try_claim(run_id):
            notes.append(f"{error}; another mibench run holds the cell and retrains it")
            continue
        try:
            if run_damage(suite_dir, run_id) is not None:  # still damaged, now under our claim
                folder = quarantine_run(suite_dir, run_id)
                notes.append(quarantine_note(error, folder, retrained=False))
        finally:
            claims.release(run_id)
    return notes


def _rebuild_manifest(suite_dir: Path, error: store.DamagedFileError, ids: list[str]) -> str:
    trusted = [r for r in ids if run_damage(suite_dir, r) is None]
    path = store.manifest_path(suite_dir)
    if path.is_dir():  # a folder where the manifest must be: not ours to remove
        return f"{error}; reading every finished run instead"
    store.write_manifest(suite_dir, trusted)
    return f"{error}; rebuilt it from the {len(trusted)} finished runs in {store.runs_dir(suite_dir)}"


__all__ = [
    "QUARANTINE_DIR",
    "TrustedRuns",
    "quarantine_dir",
    "quarantine_note",
    "quarantine_run",
    "repair_folder",
    "require_trusted",
    "run_damage",
]
