"""Results: a results folder as one object, reopened from its files."""

from __future__ import annotations

from pathlib import Path

import pytest

import mibench
from mibench.api.results import Results
from mibench.results import schema


def test_open_reads_a_finished_folder_and_refuses_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds no finished run"):
        Results.open(tmp_path)
    res = mibench.run(tasks=[{"name": "gaussian", "dim": 2, "mi": [1.0]}], estimators="cca",
                      seeds=2, out=tmp_path, progress=False, figures=False)  # fmt: skip
    assert "2 runs, 2 trained, 0 reused" in repr(res)
    reopened = Results.open(res.suite_dir)
    assert reopened.run_report is None and repr(reopened) == f"Results({str(res.suite_dir)!r})"
    assert list(reopened.summary[schema.ESTIMATOR]) == ["cca"]
    assert reopened.standing().empty  # no plug-in
    assert len(reopened.runs()) == 4  # 2 runs x (train, eval) x one level
