"""The scheduler's estimate of what training costs: relative units per run-step.

A stacked step costs a fixed per-step overhead (a few hundred small kernel launches, the same
for any K) plus work on the K x K score matrix of every run (the loss, its backward, the float64
readout), which grows as K^2 and, once the matrices leave the cache, faster. Measured on one
core (``batch_sweep``'s eight estimators, separable critic 64-64-16, 36-run stacks, 200 steps,
log_every = 1), thread-seconds per 1000 run-steps: K = 8: 0.37, 32: 0.39, 64: 0.51, 128: 0.90,
256: 2.0, 512: 10.7. ``1 + (M / 128)^2`` (M the score matrix's side) is 1, 1.1, 1.25, 2, 5 and 17
for those K: the same order as the measured 1, 1.05, 1.4, 2.4, 5.5, 29, which is all the
scheduler needs to split the large-K stacks and start them first. Plans with equal shapes get
equal costs, so for them the split is by run-steps, as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from mibench.core.interface import RunConfig

REFERENCE_MATRIX = 128
# A stack holds at most this many score entries (R x M x M) per K x K tensor of its step: 8 runs
# at K = 512, 32 at K = 256, 128 at K = 128. Larger stacks of large matrices run slower per run:
# measured on one core, batch_sweep's estimators at K = 512, 186 / 159 / 144 run-steps per
# CPU-second for R = 9 / 18 / 36 (tensors past glibc's 32 MiB mmap ceiling are mapped and
# page-faulted afresh on every allocation, and none of them stay in cache).
MAX_STACK_SCORE_ELEMENTS = 2**21


def matrix_size(config: RunConfig) -> int:
    """Side of the score matrix a run's estimator sees: 2K in the views layout (both views)."""
    from mibench import estimators
    from mibench.plan import plugins

    registered = config.estimator in estimators.names() or config.estimator_fingerprint
    layout = plugins.spec_for(config).layout if registered else None
    return 2 * config.batch_size if layout == "views" else config.batch_size


def run_step_cost(config: RunConfig) -> float:
    """Relative cost of one step of one run: ``1 + (M / 128)^2``."""
    return 1.0 + (matrix_size(config) / REFERENCE_MATRIX) ** 2


# Sample estimators: thread-seconds of one estimate at n = SAMPLE_REFERENCE_N joint draws of a
# 5 x 5 task (benchmarks/bench_sample_estimators.py), in the units of ``work``: one unit is a
# run-step at K <= 128, about SECONDS_PER_UNIT thread-seconds (the measurements above).
SECONDS_PER_UNIT = 5e-4
SAMPLE_REFERENCE_N = 2000
SAMPLE_SECONDS = {
    "ksg": 0.05, "ksg2": 0.05, "kl": 0.02, "wkl": 0.03, "cca": 0.001, "histogram": 0.003,
    "kde": 0.15, "sliced": 0.5, "gmm": 0.3, "flow": 3.0,
}  # fmt: skip
SAMPLE_SECONDS_UNKNOWN = 0.1  # a plug-in sample estimator
QUADRATIC_IN_N = frozenset({"kde"})  # the n x n kernel matrix; the others grow about linearly


def sample_estimates(config: RunConfig) -> int:
    """Estimates one sample run makes: one per level of a schedule task (``levels``), else one."""
    levels = dict(config.task_params).get("levels")
    return len(levels) if isinstance(levels, tuple | list) and levels else 1


def sample_run_cost(config: RunConfig) -> float:
    """Relative cost (units of :func:`work`) of a sample-estimator run: its estimates' seconds."""
    seconds = SAMPLE_SECONDS.get(config.estimator, SAMPLE_SECONDS_UNKNOWN)
    growth = config.batch_size / SAMPLE_REFERENCE_N  # batch_size is the run's n
    scale = growth**2 if config.estimator in QUADRATIC_IN_N else growth
    return sample_estimates(config) * seconds * scale / SECONDS_PER_UNIT


def _is_sample(config: RunConfig) -> bool:
    from mibench import estimators
    from mibench.core.interface import SampleEstimator
    from mibench.plan import plugins

    if config.estimator_fingerprint:  # a plug-in (mibench.plan.plugins)
        return isinstance(plugins.spec_for(config), SampleEstimator)
    return config.estimator in estimators.names() and estimators.is_sample(config.estimator)


def work(configs: Iterable[RunConfig]) -> float:
    """Relative cost of ``configs``: trained runs' run-steps weighted by their step cost, sample
    runs by :func:`sample_run_cost`."""
    return sum(
        sample_run_cost(c) if _is_sample(c) else c.n_steps * run_step_cost(c) for c in configs
    )


def max_stack_runs(config: RunConfig) -> int:
    """Most runs one stack of ``config``'s shapes should hold (at least 2)."""
    return max(2, MAX_STACK_SCORE_ELEMENTS // matrix_size(config) ** 2)
