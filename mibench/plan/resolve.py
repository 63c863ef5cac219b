"""Names to objects, once: a cell's config becomes a :class:`ResolvedRun` the trainer runs as is.

The planner (:mod:`mibench.plan.suite`), :func:`mibench.estimate_mi` and :func:`mibench.train.train_stack`
all go through here. A :class:`ResolvedRun` carries the run's config with the objects its names
stand for: the estimator spec (its ``estimator_params`` applied), the task and the critic spec.
:func:`resolve_run` is the one place a :class:`~mibench.core.interface.RunConfig` is checked: its
settings, and whether estimator, task, critic and contrastive system fit together
(:func:`compatibility`, from what the specs declare: the estimator's ``layout``, ``needs``,
``dual_of`` and ``score_kind``, the critic's ``layouts``, ``same_dims`` and ``score_kind``, the
system's rules in :mod:`mibench.systems`). Nothing here imports the trainer or builds a critic,
so the planner can ask every question before anything trains.

Runs that share a :func:`stack_key` train as one stack: :func:`check_stack` checks that they can,
and :func:`stack_runs` puts them in stack order (:class:`StackRun`: dual-head kind, then
estimator), the order in which the trainer's estimator groups and dual heads are slices.

A user-written :class:`~mibench.core.interface.Estimator` resolves like a registered one (pass it as
``estimator=``); nothing is registered globally. A plan's plug-in estimators
(:mod:`mibench.plan.plugins`) are found from a config by its name and
``estimator_fingerprint``. Stacks of records cross to Dask workers as their
configs (:mod:`mibench.execute.jobs`): a worker resolves each config once, from the registries, without
checking it again (the plan did).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from mibench import critics as critic_registry
from mibench import estimators as estimator_registry
from mibench import systems
from mibench import tasks as task_registry
from mibench.core.interface import Estimator, RunConfig, SampleEstimator, Task
from mibench.critics import CriticSpec
from mibench.plan import plugins

Spec = Estimator | SampleEstimator

# Canonical cell of a sample estimator (KSG, CCA, ...; see mibench.train.sample_runs): no critic.
SAMPLE_CRITIC = "none"
SAMPLE_DTYPE = "float64"
SAMPLE_DEVICE = "cpu"  # NumPy/SciPy estimators


# ------------------------------------------------------------------------------------ names
@lru_cache(maxsize=256)
def _build_task(name: str, params: tuple[tuple[str, Any], ...]) -> Task:
    return task_registry.build(name, **{k: _plain(v) for k, v in params})


def _plain(value: Any) -> Any:
    """Frozen config values back to plain Python (tuples -> lists, recursively)."""
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def build_task(config: RunConfig) -> Task:
    """The task of ``config`` (cached: tasks are frozen)."""
    return _build_task(config.task, config.task_params)


def estimator_spec(estimator: str | Spec) -> Spec:
    """The spec ``estimator`` names (a registry lookup), or ``estimator`` itself when it is one."""
    if isinstance(estimator, Estimator | SampleEstimator):
        return estimator
    return estimator_registry.get(estimator)


def critic_spec(critic: str | CriticSpec) -> CriticSpec:
    """The spec ``critic`` names, or ``critic`` itself when it is one."""
    return critic if isinstance(critic, CriticSpec) else critic_registry.get(critic)


def resolve_estimator(config: RunConfig, spec: Spec | None = None) -> Spec:
    """The estimator spec of ``config`` (or ``spec``) with ``config.estimator_params`` applied.

    This is the spec as the estimator package defines it; the trainer presents it to the run's
    contrastive system (CLIP's symmetric form, MoCo's queue) itself.
    """
    spec = plugins.spec_for(config) if spec is None else spec
    overrides = config.kwargs("estimator")
    return spec.with_hyper(**overrides) if overrides else spec


# ----------------------------------------------------------------------------- capabilities
_OUTPUTS: dict[tuple[str, str], tuple[bool, bool]] = {}


def _task_outputs(task: Task) -> tuple[bool, bool]:
    """(has y, has labels): read off one tiny draw from a throwaway generator (cached per id)."""
    key = (type(task).__qualname__, task.id)
    if key not in _OUTPUTS:
        batch = task.sample(2, torch.Generator().manual_seed(0))
        _OUTPUTS[key] = (batch.y is not None, batch.labels is not None)
    return _OUTPUTS[key]


def task_entropy_y(task: Task) -> float | None:
    """The task's differential entropy H(Y) in nats where it is known in closed form, else None."""
    entropy = getattr(task, "entropy_y", None)
    return None if entropy is None else entropy()


def default_critic_for(spec: Estimator, task: Task) -> str:
    """The critic ``auto`` picks: the spec's ``default_critic`` where it names one, else
    ``encoder`` for the views/labels layouts (one shared network) and ``separable`` otherwise.

    NT-Xent on a pair task embeds view a = x and view b = y with the one shared encoder (so it
    needs dim_x == dim_y); SINCERE/SupCon embed the labeled task's x only.
    """
    if spec.default_critic is not None:
        return spec.default_critic
    if spec.score_kind == "log_conditional":  # generative estimators need a density model
        return "gaussian_conditional"
    return "encoder" if spec.layout in ("views", "labels") else "separable"


def sliced_truth(task: Task, step: int = 0, *, slice_dim: int = 1) -> float | None:
    """The task's k-sliced MI at ``step`` (``task.sliced_mi``) where it is known, else None."""
    sliced = getattr(task, "sliced_mi", None)
    return None if sliced is None else sliced(step, slice_dim=slice_dim)


def sample_compatibility(
    estimator_name: str, task: Task, spec: SampleEstimator | None = None
) -> str | None:
    """None when a sample estimator applies to ``task``, else why not (paired MI tasks only;
    an estimator of sliced MI also needs the task's sliced truth)."""
    if task.target != "mi":
        return f"{estimator_name} estimates MI; task {task.name} reports a {task.target} target"
    if not _task_outputs(task)[0]:
        return f"{estimator_name} needs paired samples (x, y); task {task.name} has no y"
    if spec is not None and spec.target == "sliced" and sliced_truth(task) is None:
        return (
            f"{estimator_name} estimates sliced MI; task {task.name} has no sliced-MI truth "
            "(known for the Gaussian tasks only)"
        )
    return None


def compatibility(estimator: str | Spec, task: Task, critic: str | CriticSpec | None) -> str | None:
    """None when the (estimator, task, critic) triple can be trained, else the reason why not.

    Lets ``--estimators all`` skip a pair with a note instead of failing. Sample estimators (no
    critic) are asked :func:`sample_compatibility` instead. Names or specs are accepted; a name is
    looked up once.
    """
    spec = estimator_spec(estimator)
    estimator_name = spec.name
    if isinstance(spec, SampleEstimator):
        return sample_compatibility(estimator_name, task, spec)
    critic = critic_spec(critic)  # type: ignore[arg-type]  # None: unknown critic error
    critic_name = critic.name
    has_y, has_labels = _task_outputs(task)
    layout = spec.layout
    if layout not in critic.layouts:
        supported = ", ".join(sorted(critic.layouts))
        return f"{layout}-layout estimators need the encoder critic; {critic_name!r} supports {supported}"
    if layout == "labels":
        if not has_labels:
            return f"{estimator_name} needs labels; task {task.name} has none"
        return None
    if not has_y:
        return f"{estimator_name} needs paired samples (x, y); task {task.name} has no y"
    if (layout == "views" or critic.same_dims) and task.dim_x != task.dim_y:
        return (
            f"critic {critic_name!r} embeds x and y with one network and needs dim_x == dim_y; "
            f"task {task.name} has {task.dim_x} and {task.dim_y}"
        )
    if "dual" in spec.needs and spec.dual_of not in critic_registry.DUAL_KINDS:
        return f"{estimator_name} needs a dual head but names dual_of={spec.dual_of!r}"
    # A log-density is a valid critic for every estimator; the converse does not hold.
    if spec.score_kind == "log_conditional" and critic.score_kind != "log_conditional":
        return (
            f"{estimator_name} reads scores as log q(y|x) and needs a density critic such as "
            f"'gaussian_conditional'; {critic_name!r} gives unnormalised scores"
        )
    if "entropy_y" in spec.needs and task_entropy_y(task) is None:
        return f"{estimator_name} needs H(Y) in closed form; task {task.name} does not give it"
    return None


# ----------------------------------------------------------------------------------- stacks
_KEY_FIELDS = (
    "critic",
    "critic_params",
    "batch_size",
    "dim_x",
    "dim_y",
    "layout",
    "dtype",
    "n_steps",
    "negatives",
    "eval_every",
    "eval_batch_size",
    "log_every",
    "system",
    "system_params",
)


def stack_key(
    config: RunConfig, task: Task | None = None, spec: Spec | None = None
) -> tuple[Any, ...]:
    """Configs with equal keys can be trained in one :func:`~mibench.train.train_stack` call.

    The key holds everything that fixes tensor shapes or the step schedule (fields named in
    ``_KEY_FIELDS``); estimator, task (of equal dims), MI level, seed, lr and suite may differ.
    ``task`` and ``spec`` override the registry's task and estimator of ``config``.
    """
    task = build_task(config) if task is None else task
    spec = plugins.spec_for(config) if spec is None else spec
    return (
        config.critic,
        config.critic_params,
        config.batch_size,
        task.dim_x,
        task.dim_y,
        spec.layout,
        config.dtype,
        config.n_steps,
        config.negatives,
        config.eval_every,
        config.resolved_eval_batch_size,
        config.log_every,
        config.system,
        config.system_params,
    )


# ---------------------------------------------------------------------------------- records
@dataclass(frozen=True, eq=False)
class ResolvedRun:
    """One run with its names resolved: what the trainer needs, looked up once.

    ``estimator`` has the config's ``estimator_params`` applied; ``critic`` is None for a sample
    estimator (no critic). Build one with :func:`resolve_run` (which checks the config) or directly
    when the caller has checked it (the planner, :func:`mibench.estimate_mi`).
    """

    config: RunConfig
    estimator: Spec
    task: Task
    critic: CriticSpec | None

    @property
    def key(self) -> tuple[Any, ...]:
        """The run's :func:`stack_key`."""
        return stack_key(self.config, self.task, self.estimator)


def _check_settings(config: RunConfig) -> None:
    for name, value, least in (
        ("n_steps", config.n_steps, 1),
        ("batch_size", config.batch_size, 2),
        ("log_every", config.log_every, 1),
        ("eval_every", config.eval_every, 1),
        ("eval_batch_size", config.resolved_eval_batch_size, 2),
    ):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")


def check_run(run: ResolvedRun) -> None:
    """ValueError (one line) when ``run`` cannot be trained: a setting out of range, or an
    estimator, task, critic and system that do not fit together."""
    config, spec = run.config, run.estimator
    _check_settings(config)
    reason = compatibility(spec, run.task, run.critic)
    if reason is None and isinstance(spec, Estimator):
        reason = systems.system_compatibility(config, spec)
    if reason is not None:
        raise ValueError(reason)
    if config.negatives == "derangement" and spec.layout != "pairs":
        raise ValueError(
            f"derangement negatives apply to the pairs layout; {spec.name} is {spec.layout}"
        )


def resolve_run(
    config: RunConfig,
    *,
    task: Task | None = None,
    estimator: Spec | None = None,
    checked: bool = False,
) -> ResolvedRun:
    """``config`` with its names resolved (``task``/``estimator`` replace the registries' objects).

    The config is checked (:func:`check_run`) unless ``checked`` says it already was (a plan's
    cell resolved again on a worker).
    """
    spec = resolve_estimator(config, estimator)
    critic = None if isinstance(spec, SampleEstimator) else critic_registry.get(config.critic)
    run = ResolvedRun(config, spec, build_task(config) if task is None else task, critic)
    if not checked:
        check_run(run)
    return run


def resolve_runs(
    configs: Sequence[RunConfig | ResolvedRun],
    *,
    tasks: Sequence[Task] | None = None,
    estimators: Sequence[Spec] | None = None,
) -> list[ResolvedRun]:
    """Every config resolved (records pass through); ``tasks``/``estimators``: one per config."""
    for name, given in (("tasks", tasks), ("estimators", estimators)):
        if given is not None and len(given) != len(configs):
            raise ValueError(
                f"{name} needs one {name[:-1]} per config: {len(given)} for {len(configs)}"
            )
    return [
        item
        if isinstance(item, ResolvedRun)
        else resolve_run(
            item,
            task=None if tasks is None else tasks[i],
            estimator=None if estimators is None else estimators[i],
        )
        for i, item in enumerate(configs)
    ]


def check_stack(runs: Sequence[ResolvedRun], eval_tasks: Sequence[Task] | None = None) -> None:
    """ValueError unless ``runs`` can share one stack (equal :func:`stack_key`) and each held-out
    task has its training task's dims."""
    if not runs:
        raise ValueError("train_stack needs at least one config")
    if eval_tasks is not None and len(eval_tasks) != len(runs):
        raise ValueError(f"eval_tasks needs one task per config: {len(eval_tasks)} for {len(runs)}")
    for run, held in zip(runs, eval_tasks or [r.task for r in runs], strict=True):
        task = run.task
        if (held.dim_x, held.dim_y) != (task.dim_x, task.dim_y):
            raise ValueError(
                f"eval task {held.id} has dims ({held.dim_x}, {held.dim_y}); its training task "
                f"{task.id} has ({task.dim_x}, {task.dim_y})"
            )
    first = runs[0]
    keys = [run.key for run in runs]
    for run, key in zip(runs, keys, strict=True):
        if key != keys[0]:
            diff = next(i for i, (a, b) in enumerate(zip(key, keys[0], strict=True)) if a != b)
            raise ValueError(
                f"configs cannot share a stack: {_KEY_FIELDS[diff]} is {keys[0][diff]!r} for "
                f"{first.config.estimator}/{first.config.task} but {key[diff]!r} for "
                f"{run.config.estimator}/{run.config.task}; group them with stack_key()"
            )


# ------------------------------------------------------------------------------ stack order
# Dual-head order; also the order of estimator groups inside a stack (runs needing the same head
# are contiguous, so every head and every group is a slice of the run axis).
HEAD_ORDER = {None: 0, "x": 1, "y": 2, "pair": 3, "y_density": 4}


def head_of(spec: Estimator) -> str | None:
    """The dual head a spec trains with (None: no dual)."""
    return spec.dual_of if "dual" in spec.needs else None


@dataclass
class StackRun:
    """One run of a stack, in stack order, as the trainer reads it."""

    position: int  # index in the caller's list
    config: RunConfig
    task: Task
    eval_task: Task  # where the held-out batches come from (the training task by default)
    spec: Estimator  # the estimator as the run's contrastive system presents it


def _as_given(spec: Estimator, config: RunConfig) -> Estimator:
    return spec


def stack_runs(
    runs: Sequence[ResolvedRun],
    eval_tasks: Sequence[Task] | None = None,
    *,
    present: Callable[[Estimator, RunConfig], Estimator] = _as_given,
) -> list[StackRun]:
    """The runs of one stack (checked by :func:`check_stack`) in stack order: dual-head kind
    first, then estimator, so every dual head and every estimator group is a contiguous slice.

    ``present(spec, config)`` is the estimator as the trainer reads it (the trainer passes its
    contrastive systems' form: CLIP's symmetric estimator, MoCo's queue readings); it keeps the
    spec's name, layout and needs, so the order is that of the resolved specs.
    """
    held = list(eval_tasks) if eval_tasks is not None else [run.task for run in runs]
    ordered = [
        # A stack trains score-matrix estimators only (sample estimators have no critic).
        StackRun(i, run.config, run.task, eval_task, present(run.estimator, run.config))  # type: ignore[arg-type]
        for i, (run, eval_task) in enumerate(zip(runs, held, strict=True))
    ]
    ordered.sort(
        key=lambda r: (
            HEAD_ORDER[head_of(r.spec)],
            r.config.estimator,
            r.config.estimator_params,
            r.position,
        )
    )
    return ordered


# ----------------------------------------------------------------------------- sample cells
def is_schedule(task: Task) -> bool:
    """Whether ``task`` changes its MI with the step (has ``segments``, as ``staircase``)."""
    return callable(getattr(task, "segments", None))


def sample_config(
    *,
    estimator: str,
    task_name: str,
    task: Task,
    task_params: Mapping[str, Any],
    estimator_params: Mapping[str, Any],
    seed: int,
    sample_size: int,
    steps: int,
    suite: str,
    estimator_fingerprint: str = "",
) -> RunConfig:
    """The canonical cell of a sample-estimator run (see :mod:`mibench.train.sample_runs`)."""
    return RunConfig.make(
        estimator=estimator,
        task=task_name,
        task_params=task_params,
        estimator_params=estimator_params,
        critic=SAMPLE_CRITIC,
        batch_size=sample_size,
        n_steps=steps if is_schedule(task) else 1,
        seed=seed,
        dtype=SAMPLE_DTYPE,
        suite=suite,
        device=SAMPLE_DEVICE,
        estimator_fingerprint=estimator_fingerprint,
    )
