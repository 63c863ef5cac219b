"""Results: the tidy schema (:mod:`.schema`), the atomic per-run store (:mod:`.store`), the
per-cell summary (:mod:`.summary`), its robust statistics (:mod:`.robust`) and the selection of
a summary's main setting (:mod:`.selection`).

Public API::

    from mibench.results import load_runs, load_sidecars, load_summary
    frame = load_runs("results/default")        # per-step rows of the latest run's cells
"""

from __future__ import annotations

from mibench.results.store import (
    finished_run_ids,
    is_finished,
    load_runs,
    load_sidecars,
    read_run,
    read_sidecar,
    write_run,
)
from mibench.results.selection import load_summary

__all__ = [
    "finished_run_ids",
    "is_finished",
    "load_runs",
    "load_sidecars",
    "load_summary",
    "read_run",
    "read_sidecar",
    "write_run",
]
