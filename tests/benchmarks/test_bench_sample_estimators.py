"""benchmarks/bench_sample_estimators.py: the bias it reports is estimate − truth, per level."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sample_estimators.py"
_SPEC = importlib.util.spec_from_file_location("bench_sample_estimators", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_sample_estimators"] = bench
_SPEC.loader.exec_module(bench)


def test_cca_is_unbiased_and_sliced_is_scored_on_its_own_truth() -> None:
    results = bench.measure(["cca", "sliced"], n=2000, dim=2, levels=[1.0, 2.0], seeds=2)
    # CCA's bias at n = 2000, d = 2: about d^2 / (2n) = 0.001; 0.1 is 10 seeds' SD of slack.
    assert all(abs(b) < 0.1 for b in results["cca"]["bias"])
    # Against I itself sliced would be off by > 0.5 nats; against its sliced truth it is close.
    assert all(abs(b) < 0.1 for b in results["sliced"]["bias"])
    table = bench.markdown(results, [1.0, 2.0])
    assert "| cca |" in table and "I = 2" in table
