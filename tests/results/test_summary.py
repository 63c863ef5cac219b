"""Summary metrics against numpy re-derivations on synthetic frames with known statistics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mibench.core.interface import RunConfig
from mibench.results import schema
from mibench.results.summary import segments, summarize, window_start


def _config(seed: int, mi: float = 2.0, **kw) -> RunConfig:
    base = dict(estimator="infonce", task="gaussian", task_params={"dim": 2, "mi": mi},
                batch_size=16, n_steps=100, eval_every=10, seed=seed)  # fmt: skip
    base.update(kw)
    return RunConfig.make(**base)


def test_window_is_last_fifth_of_segment():
    # ceil(0.2 * 100) = 20 steps: window [80, 100).
    assert window_start(0, 100) == 80
    # A staircase level [400, 800): ceil(0.2 * 400) = 80 -> [720, 800).
    assert window_start(400, 800) == 720
    # Never empty, even for a one-step segment.
    assert window_start(5, 6) == 5


def test_segments_follow_true_mi_changes(make_frame):
    config = _config(0)
    frame = make_frame(config, estimate=lambda s: np.zeros(len(s)),
                       truth=lambda s: np.where(s < 40, 2.0, 4.0))  # fmt: skip
    train = frame[frame[schema.READOUT] == schema.READOUT_TRAIN]
    assert segments(train) == [(0, 40, 2.0), (40, 100, 4.0)]


def test_bias_variance_mse_match_numpy(make_frame, make_sidecar):
    rng = np.random.default_rng(1)
    configs = [_config(s) for s in range(3)]
    noise = {c.seed: rng.normal(0.0, 0.1 * (c.seed + 1), size=100) for c in configs}
    offsets = {0: -0.3, 1: -0.1, 2: -0.2}
    frames = {
        c.cell_hash(): make_frame(
            c, estimate=lambda s, c=c: 2.0 + offsets[c.seed] + noise[c.seed][s]
        )
        for c in configs
    }
    sidecars = {c.cell_hash(): make_sidecar(c) for c in configs}
    summary = summarize(frames, sidecars)
    assert len(summary) == 1
    row = summary.iloc[0]
    # Independent derivation: window = steps 80..99 of each seed's training readout.
    windows = [2.0 + offsets[s] + noise[s][80:100] for s in range(3)]
    means = np.array([w.mean() for w in windows])
    assert row[schema.BIAS] == pytest.approx(means.mean() - 2.0, abs=1e-12)
    assert row[schema.VAR_WITHIN] == pytest.approx(np.mean([w.var(ddof=1) for w in windows]))
    assert row[schema.VAR_ACROSS] == pytest.approx(means.var(ddof=1))
    assert row[schema.STD] == pytest.approx(
        math.sqrt(row[schema.VAR_WITHIN] + row[schema.VAR_ACROSS])
    )
    assert row[schema.MSE] == pytest.approx(np.mean((np.concatenate(windows) - 2.0) ** 2))
    assert row[schema.SATURATION_GAP] == pytest.approx(math.log(16) - means.mean())
    assert row[schema.N_SEEDS] == 3
    assert row[schema.DIVERGED_FRACTION] == 0.0
    # Held-out rows at steps 80 and 90 only.
    held = np.array([[2.0 + offsets[s] + noise[s][t] for t in (80, 90)] for s in range(3)])
    assert row[schema.HELDOUT_BIAS] == pytest.approx(held.mean() - 2.0)
    all_ess = pd.concat(frames.values())
    window_ess = all_ess[(all_ess[schema.READOUT] == "train") & (all_ess[schema.STEP] >= 80)]
    assert row[schema.ESS_MEAN] == pytest.approx(window_ess[schema.ESS].mean())


def test_mse_decomposes_into_bias_and_variances(make_frame, make_sidecar):
    # With equal window lengths n: mean_s e_s = bias^2 + ((n-1)/n) var_within + ((S-1)/S) var_across.
    rng = np.random.default_rng(2)
    configs = [_config(s) for s in range(4)]
    frames = {c.cell_hash(): make_frame(c, estimate=lambda s: 1.5 + rng.normal(0, 0.3, len(s)))
              for c in configs}  # fmt: skip
    row = summarize(frames, {c.cell_hash(): make_sidecar(c) for c in configs}).iloc[0]
    n, S = 20, 4
    expected = (row[schema.BIAS] ** 2 + (n - 1) / n * row[schema.VAR_WITHIN]
                + (S - 1) / S * row[schema.VAR_ACROSS])  # fmt: skip
    assert row[schema.MSE] == pytest.approx(expected, rel=1e-10)


def test_seeds_form_one_cell_and_mi_levels_separate_cells(make_frame, make_sidecar):
    configs = [_config(s, mi=mi) for s in range(2) for mi in (1.0, 3.0)]
    frames = {c.cell_hash(): make_frame(c, estimate=lambda s: np.ones(len(s))) for c in configs}
    summary = summarize(frames, {c.cell_hash(): make_sidecar(c) for c in configs})
    assert sorted(summary[schema.MI_LEVEL]) == [1.0, 3.0]
    assert set(summary[schema.N_SEEDS]) == {2}
    assert summary[schema.BIAS].tolist() == pytest.approx([0.0, -2.0])


def test_diverged_seed_is_excluded_and_counted(make_frame, make_sidecar):
    configs = [_config(s) for s in range(2)]
    frames = {
        configs[0].cell_hash(): make_frame(configs[0], estimate=lambda s: np.full(len(s), 1.0)),
        configs[1].cell_hash(): make_frame(configs[1], estimate=lambda s: np.full(len(s), 9.0),
                                           diverged_step=50),
    }  # fmt: skip
    sidecars = {c.cell_hash(): make_sidecar(c) for c in configs}
    row = summarize(frames, sidecars).iloc[0]
    assert row[schema.DIVERGED_FRACTION] == 0.5
    assert row[schema.BIAS] == pytest.approx(-1.0)  # only the finite seed's window (1.0 - 2.0)


def test_staircase_levels_are_separate_windows(make_frame, make_sidecar):
    config = _config(0, task="staircase", task_params={"levels": [2.0, 4.0]})
    frame = make_frame(config, estimate=lambda s: np.where(s < 50, 1.5, 3.0),
                       truth=lambda s: np.where(s < 50, 2.0, 4.0))  # fmt: skip
    summary = summarize({config.cell_hash(): frame}, {config.cell_hash(): make_sidecar(config)})
    assert summary[schema.SEGMENT].tolist() == [0, 1]
    assert summary[schema.MI_LEVEL].tolist() == [2.0, 4.0]  # mi_level NaN -> the level's truth
    assert summary[schema.WINDOW_START].tolist() == [40, 90]
    assert summary[schema.BIAS].tolist() == pytest.approx([-0.5, -1.0])
    assert math.isnan(summary[schema.VAR_ACROSS].iloc[0])  # one seed: no run-to-run variance


def test_steps_to_90_uses_ceiling_and_smoothing(make_frame, make_sidecar):
    # Estimate ramps 0.1 per step; truth 8, ceiling log(16) = 2.77: target 0.9 * 2.77 = 2.495.
    config = _config(0, mi=8.0)
    frame = make_frame(config, estimate=lambda s: 0.1 * s.astype(float), ceiling=math.log(16))
    row = summarize({config.cell_hash(): frame}, {config.cell_hash(): make_sidecar(config)}).iloc[0]
    # Trailing mean over round(0.05 * 100) = 5 rows of 0.1 t is 0.1 (t - 2); first t with
    # 0.1 (t - 2) >= 0.9 log 16.
    expected = math.ceil(0.9 * math.log(16) / 0.1 + 2)
    assert row[schema.STEPS_TO_90] == expected


def test_steps_to_90_is_nan_when_never_reached(make_frame, make_sidecar):
    config = _config(0, mi=8.0)
    frame = make_frame(config, estimate=lambda s: np.zeros(len(s)))
    row = summarize({config.cell_hash(): frame}, {config.cell_hash(): make_sidecar(config)}).iloc[0]
    assert math.isnan(row[schema.STEPS_TO_90])


def test_f_value_columns_when_present(make_frame, make_sidecar):
    config = _config(0, estimator="fmicl_pearson")
    frame = make_frame(config, estimate=lambda s: np.ones(len(s)))
    frame[schema.F_VALUE] = 0.5
    frame[schema.TRUE_F_MI] = 0.75
    row = summarize({config.cell_hash(): frame}, {config.cell_hash(): make_sidecar(config)}).iloc[0]
    assert row[schema.F_VALUE] == pytest.approx(0.5)
    assert row[schema.F_BIAS] == pytest.approx(-0.25)


def test_f_truth_follows_the_staircase_level(make_frame, make_sidecar):
    config = _config(0, estimator="fmicl_pearson", task="staircase", task_params={"levels": [1, 2]})
    frame = make_frame(config, estimate=lambda s: np.ones(len(s)),
                       truth=lambda s: np.where(s < 50, 1.0, 2.0))  # fmt: skip
    frame[schema.F_VALUE] = 0.25
    frame[schema.TRUE_F_MI] = np.where(frame[schema.STEP] < 50, np.expm1(2.0), np.expm1(4.0))
    summary = summarize({config.cell_hash(): frame}, {config.cell_hash(): make_sidecar(config)})
    assert summary[schema.TRUE_F_MI].tolist() == pytest.approx([np.expm1(2.0), np.expm1(4.0)])


def test_numpy_columns_give_the_same_summary(make_frame, make_sidecar):
    from mibench.results.summary import frame_columns

    configs = [_config(s) for s in range(2)]
    frames = {c.cell_hash(): make_frame(c, estimate=lambda s: np.sin(s)) for c in configs}
    sidecars = {c.cell_hash(): make_sidecar(c) for c in configs}
    columns = {k: frame_columns(v) for k, v in frames.items()}
    pd.testing.assert_frame_equal(summarize(frames, sidecars), summarize(columns, sidecars))


# ---------------------------------------------------------------------------------------------
# Robust summaries: median bias, IQR, the bias's t-interval over seeds, wild readouts
def test_robust_columns_match_numpy(make_frame, make_sidecar):
    from scipy import stats

    rng = np.random.default_rng(11)
    configs = [_config(s) for s in range(3)]
    noise = {c.seed: rng.normal(0.0, 0.2, size=100) for c in configs}
    frames = {
        c.cell_hash(): make_frame(c, estimate=lambda s, c=c: 1.7 + 0.1 * c.seed + noise[c.seed][s])
        for c in configs
    }
    summary = summarize(frames, {c.cell_hash(): make_sidecar(c) for c in configs})
    row = summary.iloc[0]
    windows = [1.7 + 0.1 * s + noise[s][80:100] for s in range(3)]
    errors = np.concatenate(windows) - 2.0
    assert row[schema.MEDIAN_BIAS] == pytest.approx(np.median(errors), abs=1e-12)
    q25, q75 = np.quantile(errors, [0.25, 0.75])
    assert row[schema.IQR] == pytest.approx(q75 - q25, abs=1e-12)
    seed_bias = np.array([w.mean() - 2.0 for w in windows])
    half = stats.t.ppf(0.975, 2) * seed_bias.std(ddof=1) / math.sqrt(3)
    assert row[schema.BIAS_CI_LOW] == pytest.approx(seed_bias.mean() - half, abs=1e-12)
    assert row[schema.BIAS_CI_HIGH] == pytest.approx(seed_bias.mean() + half, abs=1e-12)
    assert row[schema.BIAS_CI_LOW] < row[schema.BIAS] < row[schema.BIAS_CI_HIGH]
    assert row[schema.WILD_FRACTION] == 0.0
    assert not row[schema.UNSTABLE]


def test_one_exploding_readout_flags_the_cell_but_not_its_median(make_frame, make_sidecar):
    """A single 1e61 in a 60-readout window decides the mean (bias ~1.7e59) while the median bias
    and the IQR stay those of the other readouts; the wild share is exactly 1/60."""
    configs = [_config(s) for s in range(3)]

    def estimate(steps, seed):
        values = 2.0 + 0.01 * np.sin(steps + seed)
        return np.where((steps == 90) & (seed == 1), 1e61, values)

    frames = {
        c.cell_hash(): make_frame(c, estimate=lambda s, c=c: estimate(s, c.seed)) for c in configs
    }
    row = summarize(frames, {c.cell_hash(): make_sidecar(c) for c in configs}).iloc[0]
    assert row[schema.BIAS] > 1e59
    assert abs(row[schema.MEDIAN_BIAS]) < 0.01 and row[schema.IQR] < 0.02
    assert row[schema.WILD_FRACTION] == pytest.approx(1 / 60)
    assert row[schema.UNSTABLE]


@pytest.mark.parametrize(
    ("estimate", "truth", "wild"),
    [
        (12.0, 2.0, False),  # 10 nats off at I = 2: on the bound, not beyond
        (12.01, 2.0, True),
        (-8.5, 2.0, True),
        (4.16, 30.0, False),  # saturation at log 64 far below a large truth is not wild
        (-0.01, 30.0, True),  # ... but a negative estimate there is (farther than I)
        (math.nan, 2.0, True),
        (math.inf, 2.0, True),
    ],
)
def test_wild_bound(estimate, truth, wild):
    from mibench.results.summary import wild_mask

    assert bool(wild_mask(np.array([estimate]), np.array([truth]))[0]) is wild


def test_ess_mean_is_over_the_rows_where_ess_was_computed(make_frame, make_sidecar):
    """The trainer computes ESS at every N-th train row (NaN elsewhere): ess_mean is the mean of
    the window's computed values, not NaN and not diluted by the skipped rows."""
    config = _config(0)
    frame = make_frame(config, estimate=lambda s: np.full(len(s), 1.0))
    train = frame[schema.READOUT] == schema.READOUT_TRAIN
    skipped = train & (frame[schema.STEP] % 10 != 0)
    frame.loc[skipped, schema.ESS] = np.nan
    summary = summarize({config.cell_hash(): frame}, {config.cell_hash(): make_sidecar(config)})
    window = frame[train & (frame[schema.STEP] >= 80)]
    computed = window[schema.ESS].dropna()
    assert len(computed) == 2  # steps 80 and 90
    assert summary.iloc[0][schema.ESS_MEAN] == pytest.approx(computed.to_numpy().mean(), rel=1e-12)


def test_fixed_task_params_drop_only_the_parameters_that_set_the_mi_level():
    from mibench.results.summary import fixed_task_params, with_fixed_task_params

    assert fixed_task_params('{"mi": 2, "dim": 5, "base": "cubic"}') == (
        '{"base": "cubic", "dim": 5}'
    )
    assert fixed_task_params('{"rho": 0.5}') == fixed_task_params("") == "{}"
    summary = pd.DataFrame({schema.TASK_PARAMS: ['{"dim": 5, "mi": 2}', '{"mi": 4, "dim": 5}']})
    fixed = with_fixed_task_params(summary)[schema.FIXED_TASK_PARAMS]
    assert fixed.nunique() == 1  # two MI levels of one task: one curve
    assert schema.FIXED_TASK_PARAMS not in summary.columns  # a copy, the input is unchanged
