"""The tidy long-format results schema: one row per (run, readout, step). Column names live here only.

Per-step columns (written by the trainer, one Parquet file per run):

==================  =========================================================================
``run_id``          the run's cell hash (16 hex digits of SHA-256 of its config)
``suite``           suite name
``estimator``       registry name
``task``            task registry name; ``task_id`` the task's derived id (e.g. gaussian-d5-mi2)
``dim``             dim_x of the task
``true_mi``         ground truth at this step (staircase tasks change it), nats
``mi_level``        the configured target level of the cell (NaN for schedule tasks)
``batch_size``      K, the number of pairs per training batch
``critic``          critic registry name
``seed``            the run's seed
``dtype``           training dtype ("float32" / "float64")
``negatives``       "offdiag" or "derangement"
``step``            0-based training step
``readout``         "train" (the training batch, every ``log_every`` steps) or "eval"
                    (a fresh held-out batch of ``eval_batch_size``, every ``eval_every`` steps)
``estimate``        the estimator's reported value (nats), evaluated in float64
``loss``            the training loss (train readout; NaN for eval)
``infonce_value``   InfoNCE value of the same score matrix
``ess``             FlatNCE Eq. (4) mean ESS of the same score matrix
``log_k``           log of the score-matrix size used for this readout's ceiling
``ceiling``         the estimator's ceiling at this K (NaN when unbounded)
``grad_norm``       global gradient norm of the run's parameters (train readout)
``diverged``        True from the first step whose loss/estimate/gradient was NaN/Inf
``time_s``          wall seconds since the stack started
==================  =========================================================================

Estimator extras (e.g. ``f_value``, ``true_f_mi``) are added as further float columns, and
every run's frame ends with the columns of its contrastive system (:mod:`mibench.systems`)
and of the embedding readout (where the critic embeds):

========================  ===================================================================
``system``                the run's contrastive system ("inbatch", "clip", "moco")
``k_eff``                 candidates per anchor of the readout: K, 2N − 1 (views), Q + 1 (MoCo)
``align``, ``unif``       alignment and uniformity of the embeddings (Wang & Isola 2020)
``estimate_xy``, ``_yx``  CLIP: the estimate in each direction (x→y, y→x)
``estimate_before_head``  the estimate read on the representation before the projection head
========================  ===================================================================
"""

from __future__ import annotations

RUN_ID = "run_id"
SUITE = "suite"
ESTIMATOR = "estimator"
TASK = "task"
TASK_ID = "task_id"
DIM = "dim"
TRUE_MI = "true_mi"
MI_LEVEL = "mi_level"
BATCH_SIZE = "batch_size"
CRITIC = "critic"
SEED = "seed"
DTYPE = "dtype"
NEGATIVES = "negatives"
STEP = "step"
READOUT = "readout"
ESTIMATE = "estimate"
LOSS = "loss"
INFONCE_VALUE = "infonce_value"
ESS = "ess"
LOG_K = "log_k"
CEILING = "ceiling"
GRAD_NORM = "grad_norm"
DIVERGED = "diverged"
TIME_S = "time_s"

READOUT_TRAIN = "train"
READOUT_EVAL = "eval"

COLUMNS: tuple[str, ...] = (
    RUN_ID, SUITE, ESTIMATOR, TASK, TASK_ID, DIM, TRUE_MI, MI_LEVEL, BATCH_SIZE, CRITIC, SEED,
    DTYPE, NEGATIVES, STEP, READOUT, ESTIMATE, LOSS, INFONCE_VALUE, ESS, LOG_K, CEILING,
    GRAD_NORM, DIVERGED, TIME_S,
)  # fmt: skip

# Contrastive-system and embedding-readout columns (not in COLUMNS: they follow the extras).
SYSTEM = "system"
SYSTEM_PARAMS = (
    "system_params"  # JSON text (a cell's system parameters)
)
K_EFF = "k_eff"
ALIGN = "align"
UNIF = "unif"
ESTIMATE_XY = "estimate_xy"
ESTIMATE_YX = "estimate_yx"
ESTIMATE_BEFORE_HEAD = "estimate_before_head"

# summary.parquet: one row per cell (estimator x task x mi_level x batch_size x critic), over
# the evaluation window (the last EVAL_FRACTION of steps at a fixed MI level).
EVAL_FRACTION = 0.2
BIAS = "bias"
VAR_WITHIN = "var_within"  # mean over seeds of var(estimate) across window steps (batch noise)
VAR_ACROSS = "var_across"  # var over seeds of the per-seed window mean (run-to-run)
STD = "std"  # sqrt(var_within + var_across)
MSE = "mse"
SATURATION_GAP = "saturation_gap"
STEPS_TO_90 = "steps_to_90"
ESS_MEAN = "ess_mean"
DIVERGED_FRACTION = "diverged_fraction"
N_SEEDS = "n_seeds"
# Failed runs (a plug-in produced no estimate: mibench.train.failures): their share of the
# cell's seeds and the first one's reason ("" when none failed).
FAILED_FRACTION = "failed_fraction"
FAILURE = "failure"

# Further summary.parquet columns (added by the results store; definitions in
# mibench/results/summary.py). Identification of the cell and its evaluation window:
CELL_ID = "cell_id"  # 16 hex digits of SHA-256 of the config minus seed/device/suite
TARGET = "target"  # what true_mi measures: "mi", "kl" (SINCERE/SupCon tasks) or "sliced" (sliced MI)
SEGMENT = "segment"  # index of the fixed-MI segment (staircase levels; 0 otherwise)
WINDOW_START = "window_start"  # first step of the evaluation window
WINDOW_END = "window_end"  # one past the last step of the segment
N_STEPS = "n_steps"
LR = "lr"
CRITIC_ARCHITECTURE = "critic_architecture"
N_PARAMETERS = "n_parameters"
ESTIMATOR_PARAMS = "estimator_params"  # JSON text of the cell's parameter mappings
CRITIC_PARAMS = "critic_params"
TASK_PARAMS = "task_params"
MEAN_ESTIMATE = "mean_estimate"
HELDOUT_MEAN = "heldout_mean"  # the same metrics over the held-out ("eval") readout
HELDOUT_BIAS = "heldout_bias"
HELDOUT_STD = "heldout_std"
HELDOUT_MSE = "heldout_mse"
# Robust summaries (definitions in mibench/results/summary.py and tasks/README.md): over the
# window readouts pooled across the cell's non-diverged seeds.
MEDIAN_BIAS = "median_bias"  # median of (estimate - true_mi)
IQR = "iqr"  # interquartile range of (estimate - true_mi): q75 - q25
BIAS_CI_LOW = "bias_ci_low"  # 95 % Student-t interval of the bias over seeds (NaN with 1 seed)
BIAS_CI_HIGH = "bias_ci_high"
WILD_FRACTION = "wild_fraction"  # share of window readouts non-finite or |estimate - I| > bound
UNSTABLE = "unstable"  # wild_fraction > WILD_THRESHOLD: tables show median bias + wild share
HELDOUT_MEDIAN_BIAS = "heldout_median_bias"
HELDOUT_WILD_FRACTION = "heldout_wild_fraction"
# Standard deviation of the task's pointwise MI at the segment (mibench.tasks.pmi): how hard the
# task is beyond its MI (every Monte Carlo estimate of I over n pairs has variance Var[PMI]/n).
PMI_STD = "pmi_std"
# A readout is wild when it is non-finite or farther than max(WILD_NATS, true_mi) from the
# truth: for I <= 10 an estimate outside [I - 10, I + 10], for larger I outside [0, 2I]. Honest
# saturation (InfoNCE at log K << I) is never wild: log K > 0 = I - I.
WILD_NATS = 10.0
# A cell is unstable when more than this share of its window readouts is wild. Zero: one
# exploding readout already decides a mean (a single 1e61 among 10^4 readouts moves it by 1e57).
WILD_THRESHOLD = 0.0
# Task parameters that set the MI level: what changes along one estimator's curve over levels
# (``reroll`` and ``pixels``: the levels of the digits tasks, whose truth they fix).
SWEPT_TASK_PARAMS = ("mi", "rho", "reroll", "pixels")
# The sandwich table (mibench.results.brackets): per cell group, the best lower and upper bound.
SANDWICH_LOWER = "lower"
SANDWICH_UPPER = "upper"
SANDWICH_LOWER_ESTIMATOR = "lower_estimator"
SANDWICH_UPPER_ESTIMATOR = "upper_estimator"
SANDWICH_WIDTH = "width"
SANDWICH_COVERS = "covers"
# Derived, never stored: JSON (sorted keys) of task_params minus SWEPT_TASK_PARAMS, the task an
# estimator's curve over MI levels keeps fixed (summary.with_fixed_task_params adds it).
FIXED_TASK_PARAMS = "fixed_task_params"
PER_ROW_DV = "per_row_dv"  # FlatNCE-family extra: per-row DV of the scores (not the readout)
BETA = "beta"  # ESS-scheduled FlatNCE extras: the inverse temperature and the ESS it reached
SCHEDULED_ESS = "scheduled_ess"
F_VALUE = "f_value"  # f-MICL extras: window mean of the f-value, the task's f-MI, their gap
F_VALUE_MEDIAN = "f_value_median"  # window median of the f-value (robust to exploding batches)
TRUE_F_MI = "true_f_mi"
F_BIAS = "f_bias"
