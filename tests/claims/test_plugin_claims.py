"""The plug-in claims: a declared lower bound above the truth and a capped estimator above
log K are FAILs; honest plug-ins PASS; no plug-in: not applicable."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import mibench
from mibench.claims.results import judge
from mibench.estimators import infonce_value
from tests.plan._plugin_fixtures import SMALL_SUITE

CLAIMS = ["results-plugin-lower-bound-le-truth", "results-plugin-le-log-k"]


def _over_truth(scores: torch.Tensor) -> torch.Tensor:
    return infonce_value(scores) + 5.0  # 5 nats above InfoNCE: above the truth (I <= 1 here)


def _over_log_k(scores: torch.Tensor) -> torch.Tensor:
    K = scores.shape[-1]
    return infonce_value(scores) + math.log(K)  # may reach 2 log K


@pytest.fixture(scope="module")
def suite_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("claims")
    (root / "small.toml").write_text(SMALL_SUITE)
    cases = {
        "broken": [mibench.Estimator(name="liar", value_fn=_over_truth, kind="lower_bound"),
                   mibench.Estimator(name="uncapped", value_fn=_over_log_k, kind="estimate",
                                     caps_at_log_k=True)],
        "honest": [mibench.Estimator(name="fair", value_fn=infonce_value, kind="lower_bound",
                                     caps_at_log_k=True)],
        "none": ["infonce"],
    }  # fmt: skip
    out = {}
    for case, estimators in cases.items():
        res = mibench.run(root / "small.toml", estimators=estimators, out=root / case,
                          workers=1, progress=False, figures=False)  # fmt: skip
        out[case] = res.suite_dir
    return out


def test_broken_promises_fail(suite_dirs: dict[str, Path]) -> None:
    verdicts = {v.claim_id: v for v in judge(suite_dirs["broken"], CLAIMS)}
    assert not verdicts[CLAIMS[0]].passed and "liar" in verdicts[CLAIMS[0]].summary
    assert not verdicts[CLAIMS[1]].passed and verdicts[CLAIMS[1]].evidence["above_log_k"] > 0


def test_honest_plugins_pass_and_no_plugin_is_not_applicable(suite_dirs) -> None:
    honest = {v.claim_id: v for v in judge(suite_dirs["honest"], CLAIMS)}
    assert all(v.passed and v.applicable for v in honest.values())
    none = judge(suite_dirs["none"], CLAIMS)
    assert all(v.passed and not v.applicable for v in none)
