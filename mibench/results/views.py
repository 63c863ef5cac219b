"""``summary.parquet`` as a view of the runs in ``manifest.json``: detect a stale one and rebuild it.

``mibench run`` writes ``manifest.json`` (the run ids of its plan), then ``summary.parquet``. A run
killed between the two leaves the new manifest beside the summary of an earlier invocation, and
figures would silently draw one against the other. The summary therefore carries, in its Parquet
metadata, the SHA-256 of the manifest bytes it was built from; :func:`refresh_summary` compares
them and rebuilds the summary from the stored run files when they differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from mibench.results import store

MANIFEST_DIGEST_KEY = "manifest_sha256"


def manifest_digest(suite_dir: Path) -> str | None:
    """SHA-256 of ``manifest.json``'s bytes, or None when there is none."""
    data = store.manifest_bytes(suite_dir)
    return None if data is None else hashlib.sha256(data).hexdigest()


def summary_digest(suite_dir: Path) -> str | None:
    """The manifest digest recorded in ``summary.parquet`` (None: no summary, or no record)."""
    record = store.summary_metadata(suite_dir)
    return None if record is None else record.get(MANIFEST_DIGEST_KEY)


def write_summary(suite_dir: Path, summary: pd.DataFrame) -> Path:
    """Atomically write ``summary.parquet``, recording the digest of the current manifest."""
    return store.write_summary(
        suite_dir, summary, metadata={MANIFEST_DIGEST_KEY: manifest_digest(suite_dir)}
    )


def summary_is_current(suite_dir: Path) -> bool:
    """True when there is no manifest to compare with, or the summary was built from it (an
    unreadable summary is not current: it is rebuilt)."""
    digest = manifest_digest(suite_dir)
    if digest is None:
        return True
    try:
        return summary_digest(suite_dir) == digest
    except store.DamagedFileError:
        return False


def build_summary(suite_dir: Path, run_ids: list[str]) -> pd.DataFrame:
    """The summary of ``run_ids``, from their stored frames and sidecars (no plan needed)."""
    from mibench.plan.resolve import build_task
    from mibench.core.interface import RunConfig
    from mibench.results.summary import SUMMARY_COLUMNS, summarize

    frames = store.read_columns_of_runs(suite_dir, run_ids, SUMMARY_COLUMNS)
    sidecars = {r: store.read_sidecar(suite_dir, r) for r in run_ids}
    tasks = {r: build_task(RunConfig.make(**sidecars[r]["config"])) for r in run_ids}
    targets = {r: getattr(task, "target", "mi") for r, task in tasks.items()}
    return summarize(frames, sidecars, targets=targets, tasks=tasks)


def refresh_summary(suite_dir: Path) -> str | None:
    """Rebuild a stale ``summary.parquet`` from the runs of ``manifest.json``.

    Returns a note saying what was rebuilt, or None when the summary was current. Raises
    ValueError (one line) when the manifest lists runs that are not finished, so that no figure
    is drawn from a summary of other runs.
    """
    suite_dir = Path(suite_dir)
    run_ids = store.manifest_run_ids(suite_dir) or []
    missing = [r for r in run_ids if not store.is_finished(suite_dir, r)]
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(run_ids)} runs of {store.manifest_path(suite_dir)} are "
            "not finished (an interrupted mibench run, or damaged runs moved to "
            "runs/quarantine/); `mibench run` on the suite trains them"
        )
    if summary_is_current(suite_dir):
        return None
    damaged = store.has_summary(suite_dir) and _unreadable_summary(suite_dir)
    write_summary(suite_dir, build_summary(suite_dir, run_ids))
    why = "it could not be read" if damaged else "it described other runs: an interrupted run?"
    return f"rebuilt {store.SUMMARY_FILE} from the {len(run_ids)} runs of {store.MANIFEST_FILE} ({why})"


def _unreadable_summary(suite_dir: Path) -> bool:
    try:
        store.summary_metadata(suite_dir)
    except store.DamagedFileError:
        return True
    return False


__all__ = [
    "MANIFEST_DIGEST_KEY",
    "build_summary",
    "manifest_digest",
    "refresh_summary",
    "summary_digest",
    "summary_is_current",
    "write_summary",
]
