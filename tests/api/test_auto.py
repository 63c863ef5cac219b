"""The auto rule: each branch, its reasons, and the diagnostics on data with a known answer."""

from __future__ import annotations

import math

import numpy as np

from mibench.api import auto


def _d(n=5000, dim_x=1, dim_y=1, small=0.5, large=0.5) -> auto.Diagnostics:
    return auto.Diagnostics(n=n, dim_x=dim_x, dim_y=dim_y, ksg_small=small, ksg_large=large)


def test_low_dimension_and_stable_ksg_choose_ksg():
    choice = auto.choose(_d(small=0.50, large=0.49))
    assert (choice.method, choice.estimator) == ("sample", "ksg")
    assert "stable over k" in choice.why and "d_x + d_y = 2" in choice.why


def test_many_dimensions_choose_the_neural_estimator():
    choice = auto.choose(_d(dim_x=auto.KSG_MAX_DIM, dim_y=1))
    assert (choice.method, choice.estimator) == ("neural", "infonce")
    assert f"more than {auto.KSG_MAX_DIM} dimensions" in choice.why


def test_a_ksg_gap_over_k_chooses_the_neural_estimator():
    choice = auto.choose(_d(small=1.0, large=1.0 - 2 * auto.KSG_MAX_GAP))
    assert choice.method == "neural" and "gap >" in choice.why


def test_too_few_rows_for_the_neural_estimator_choose_ksg():
    choice = auto.choose(_d(n=auto.NEURAL_MIN_ROWS - 1, dim_x=20, dim_y=20, small=3, large=1))
    assert choice.estimator == "ksg" and "fewer than" in choice.why


def test_thresholds_are_arguments():
    assert auto.choose(_d(dim_x=5, dim_y=5), max_dim=10).method == "sample"
    assert auto.choose(_d(small=1, large=0), max_gap=math.inf).method == "sample"


def test_diagnose_reads_ksg_at_both_k():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 1))
    y = 0.8 * x + 0.6 * rng.standard_normal((3000, 1))  # I = -log 0.6 = 0.511
    d = auto.diagnose(x, y)
    assert (d.n, d.dim_x, d.dim_y) == (3000, 1, 1)
    # 1-d Gaussian, n = 3000: KSG's sd is ~0.015 nats and its bias at k = 3 and 10 far smaller,
    # so both lie within 0.06 (4 sd) of the truth and close to each other.
    assert abs(d.ksg_small - 0.511) < 0.06 and abs(d.ksg_large - 0.511) < 0.06
    assert d.gap == abs(d.ksg_small - d.ksg_large)
