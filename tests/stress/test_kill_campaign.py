"""The kill campaign (``kill_campaign.py``) as a test: slow (about two minutes on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stress.kill_campaign import run_campaign


@pytest.mark.slow
def test_ten_random_sigkills_lose_nothing_and_resume_to_identical_frames(tmp_path: Path) -> None:
    outcome = run_campaign(tmp_path, kills=10, workers=2, seed=0)
    assert outcome.kills == 10
    assert outcome.corrupt_files == []
    assert outcome.lost_runs == []
    assert outcome.leftovers == []
    assert outcome.frames_differing == []  # grad_norm included: every column but time_s
    assert outcome.summary_columns_differing == []
