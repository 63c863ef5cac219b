"""Results: the tidy schema (:mod:`.schema`), the atomic per-run store (:mod:`.store`) and the
per-cell summary (:mod:`.summary`).

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

__all__ = [
    "finished_run_ids",
    "is_finished",
    "load_runs",
    "load_sidecars",
    "read_run",
    "read_sidecar",
    "write_run",
]
