"""A suite's results folder as one Python object: :class:`Results`.

:func:`mibench.run` returns one; :meth:`Results.open` reads any folder ``mibench run`` wrote.
Every method reads the files in the folder (nothing is kept from the training process), so a
``Results`` opened later says what a fresh one says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mibench.results import store, views

if TYPE_CHECKING:
    from mibench.claims.base import ClaimResult
    from mibench.execute.runner import RunReport


@dataclass(frozen=True)
class Results:
    """The results of one suite: ``suite_dir`` (``OUT/<suite>``) and, when it was just run,
    what that run did (``run_report``: runs trained, reused, wall time).

    Examples:
        >>> import mibench, tempfile
        >>> res = mibench.run(
        ...     tasks=[{"name": "gaussian", "dim": 2, "mi": [1.0]}], estimators=["cca"],
        ...     out=tempfile.mkdtemp(), seeds=2, progress=False, figures=False)
        >>> list(res.summary["estimator"].unique()), res.run_report.n_trained
        (['cca'], 2)
    """

    suite_dir: Path
    run_report: RunReport | None = None

    @classmethod
    def open(cls, suite_dir: str | Path) -> Results:
        """The results in ``suite_dir`` (a folder ``mibench run`` wrote: it has ``runs/``).

        Raises:
            FileNotFoundError: ``suite_dir`` has no finished run.
        """
        path = Path(suite_dir)
        if not store.finished_run_ids(path):
            raise FileNotFoundError(f"{path} holds no finished run (no {store.RUNS_DIR}/*.parquet)")
        return cls(path)

    @property
    def summary(self) -> pd.DataFrame:
        """``summary.parquet``: one row per cell and MI level (rebuilt first if it is stale)."""
        views.refresh_summary(self.suite_dir)
        summary = store.read_summary(self.suite_dir)
        if summary is None:
            raise FileNotFoundError(f"no {store.SUMMARY_FILE} in {self.suite_dir}")
        return summary

    def runs(self) -> pd.DataFrame:
        """The long frame: one row per run, readout and logged step, of the latest run's plan."""
        return store.load_runs(self.suite_dir, store.latest_run_ids(self.suite_dir))

    def standing(self) -> pd.DataFrame:
        """Where each plug-in estimator stands against the built-in ones, per task and level
        (:func:`mibench.report.standing.standing`); empty without plug-ins."""
        from mibench.report.standing import standing

        return standing(self.summary)

    def findings(self) -> dict[str, list[Any]]:
        """What the report says first: the best estimators per level, saturation at log K and
        instability (:mod:`mibench.report.findings`)."""
        from mibench.report import findings

        summary = self.summary
        return {
            "best_per_level": findings.best_per_level(summary),
            "saturation": findings.saturation(summary),
            "instability": findings.instability(summary),
        }

    def plot(self, *, fmt: str = "png") -> list[Path]:
        """Draw every figure that applies into ``figures/``; the paths written."""
        from mibench.plots import draw_all

        views.refresh_summary(self.suite_dir)
        return draw_all(self.suite_dir, fmt=fmt)

    def report(self, *, fmt: str = "png") -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.html`` (figures drawn first); their paths."""
        from mibench.report.document import write_report

        views.refresh_summary(self.suite_dir)
        return write_report(self.suite_dir, fmt=fmt)

    def verify(self, claims: list[str] | None = None) -> list[ClaimResult]:
        """The result claims judged on these runs (``mibench verify --results``); each verdict's
        ``passed`` says PASS or FAIL."""
        from mibench.claims.results import judge

        views.refresh_summary(self.suite_dir)
        return judge(self.suite_dir, claims)

    def __repr__(self) -> str:
        report = self.run_report
        if report is None:
            return f"Results({str(self.suite_dir)!r})"
        return (
            f"Results({str(self.suite_dir)!r}: {report.n_cells} runs, {report.n_trained} trained, "
            f"{report.n_reused} reused, {report.wall_time_s:.1f} s)"
        )
