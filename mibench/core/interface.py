"""Shared contracts of mibench: plain dataclasses and Protocols only.

This module imports nothing from the rest of the package (the bmi ``interface.py`` rule), so
every subpackage can depend on it without import cycles.

Score orientation (the one contract every estimator, critic and test follows)
-----------------------------------------------------------------------------
``scores`` is a float tensor of shape ``(..., K, K)`` with ``scores[..., i, j] = g(x_i, y_j)``:
row ``i`` is the ``x`` sample, column ``j`` the ``y`` sample, the diagonal holds the K positive
pairs drawn from p(x, y) and the K(K-1) off-diagonal entries stand for samples of p(x)p(y).
Leading axes are stacked runs. Two other layouts exist and are named by
:attr:`Estimator.layout`:

* ``"views"`` (SimCLR/NT-Xent): ``scores`` is the ``(..., 2N, 2N)`` Gram matrix of the
  concatenated views ``[a_1..a_N, b_1..b_N]``; the positive of row ``i`` is ``(i + N) mod 2N``
  and the diagonal (self-similarity) is excluded.
* ``"labels"`` (SINCERE/SupCon): ``scores`` is the ``(..., n, n)`` Gram matrix
  ``z_i . z_j / tau`` and ``labels`` (``(..., n)`` int64) defines the positives.
"""

from __future__ import annotations

import hashlib
import json
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, NamedTuple, Protocol, get_args, runtime_checkable

import torch
from torch import Tensor

Layout = Literal["pairs", "views", "labels"]
EstimatorKind = Literal[
    "lower_bound", "upper_bound", "estimate", "surrogate", "f_bound", "supervised"
]
DualOf = Literal["x", "y", "pair", "y_density"]
Need = Literal["dual", "labels", "state", "entropy_y"]
# What the score matrix must mean: any critic g(x_i, y_j) ("critic"), or a normalised
# conditional log-density S_ij = log q(y_j | x_i) ("log_conditional", the generative estimators).
ScoreKind = Literal["critic", "log_conditional"]
SampleEstimatorKind = Literal["sample"]
SampleTarget = Literal["mi", "sliced"]
# The family of an estimator written outside mibench when it names none.
PLUGIN_FAMILY = "plugin"


class UnknownNameError(KeyError, ValueError):
    """A registry lookup failed; the message names the bad value and every valid one."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        self.kind, self.name, self.valid = kind, name, valid
        super().__init__(f"unknown {kind} {name!r}; valid choices: {', '.join(valid)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class EstimatorFailedError(RuntimeError):
    """A plug-in estimator could not produce an estimate (an external command exited non-zero,
    timed out or printed no number; a user function raised). The run is recorded as *failed*
    with ``reason`` (one line) and ``detail`` (e.g. the tail of the program's standard error),
    and the sweep goes on."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        super().__init__(reason if not detail else f"{reason}: {detail}")


def _check_type(owner: str, name: str, value: Any, expected: type | tuple[type, ...]) -> None:
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in _flat(expected)):
        wanted = " or ".join(t.__name__ for t in _flat(expected))
        raise TypeError(f"{owner}.{name} must be {wanted}, got {type(value).__name__} {value!r}")


def _flat(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def _check_callable(owner: str, name: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not callable(value):
        what = "a callable or None" if optional else "a callable"
        raise TypeError(f"{owner}.{name} must be {what}, got {type(value).__name__} {value!r}")


def _check_choice(
    owner: str, name: str, value: Any, literal: Any, *, optional: bool = False
) -> None:
    choices = get_args(literal)
    if value is None and optional:
        return
    if value not in choices:
        raise ValueError(
            f"{owner}.{name}: invalid value {value!r}; valid choices: {', '.join(choices)}"
        )


def _checked_needs(owner: str, needs: Any) -> frozenset[str]:
    """``needs`` as a frozenset of valid names (a set, list or tuple is accepted)."""
    if isinstance(needs, str) or not isinstance(needs, set | frozenset | list | tuple):
        raise TypeError(
            f"{owner}.needs must be a set of names ({', '.join(get_args(Need))}), got "
            f"{type(needs).__name__} {needs!r}"
        )
    for need in needs:
        _check_choice(owner, "needs", need, Need)
    return frozenset(needs)


def _check_hyper(owner: str, hyper: Any) -> None:
    _check_type(owner, "hyper", hyper, Mapping)
    for key in hyper:
        if not isinstance(key, str):
            raise TypeError(f"{owner}.hyper keys must be str, got {type(key).__name__} {key!r}")


def _check_text_fields(owner: str, spec: Any, names: tuple[str, ...]) -> None:
    for name in names:
        _check_type(owner, name, getattr(spec, name), str)


def _check_name(owner: str, name: Any) -> None:
    _check_type(owner, "name", name, str)
    if not name or name != name.strip() or "," in name:
        raise ValueError(f"{owner}.name must be a non-empty name without commas, got {name!r}")


@dataclass(frozen=True)
class NegatedValue:
    """The default training loss of an estimator: minus its reported value (train the bound
    itself). A class, not a lambda, so that the spec pickles to Dask workers."""

    value_fn: Callable[..., Tensor]

    def __call__(self, scores: Tensor, **inputs: Any) -> Tensor:
        return -self.value_fn(scores, **inputs)


def _with_hyper(spec: Any, overrides: Mapping[str, float]) -> Any:
    """``spec`` (an Estimator or SampleEstimator) with some hyperparameters changed; unknown
    names are an error naming the valid ones."""
    unknown = sorted(set(overrides) - set(spec.hyper))
    if unknown:
        valid = ", ".join(sorted(spec.hyper)) or "(none)"
        raise ValueError(
            f"estimator {spec.name!r} has no hyperparameter {unknown[0]!r}; valid: {valid}"
        )
    return replace(spec, hyper={**spec.hyper, **overrides})


@dataclass(frozen=True)
class Estimator:
    """One MI estimator (or contrastive objective) as data: what to maximise and what to report.

    ``value_fn(scores, **inputs, **hyper)`` is the MI estimate reported (shape ``scores.shape[:-2]``);
    ``loss_fn(scores, **inputs, **hyper)`` is what training minimises (same shape; the trainer sums
    it over runs). They differ where the paper trains one objective and reads another (JS/SMILE,
    FlatNCE, MINE's bias-corrected gradient). ``inputs`` are the keyword arguments named in
    ``needs``: ``dual`` (``(..., K)``, the critic's dual head evaluated on what ``dual_of`` says),
    ``labels`` (``(..., n)`` int64), ``state`` (returned by ``state_fn(scores, state)``, which the
    trainer calls once per step *before* ``loss``; ``state=None`` means "first step") and
    ``entropy_y`` (``(...)``, the task's differential entropy H(Y) in nats, for Barber–Agakov).
    ``score_kind`` says what ``scores`` must mean (``"log_conditional"``: S_ij = log q(y_j | x_i)
    of a normalised density, as the generative estimators need; the trainer pairs such an
    estimator only with a critic of the same ``score_kind``). ``kind`` is what the reported value
    is: a ``lower_bound`` or ``upper_bound`` on I(X;Y), a plain ``estimate`` (neither), etc.
    ``readout`` says in words what ``value`` reports (a bound, its direction and cap, or which
    other reading of the critic), so a user can tell bounds from diagnostics.
    """

    name: str
    value_fn: Callable[..., Tensor]
    loss_fn: Callable[..., Tensor] = None  # type: ignore[assignment]  # None: -value_fn
    family: str = PLUGIN_FAMILY
    citation: str = ""
    kind: EstimatorKind = "lower_bound"
    layout: Layout = "pairs"
    needs: frozenset[str] = frozenset()
    dual_of: DualOf | None = None
    caps_at_log_k: bool = False
    ceiling_fn: Callable[[int], float] | None = None
    hyper: Mapping[str, float] = field(default_factory=dict)
    state_fn: Callable[..., Any] | None = None
    extras_fn: Callable[..., dict[str, Tensor]] | None = None
    description: str = ""
    # What the reported number (``value``) is, in words: which bound (and its direction and cap)
    # or which diagnostic reading; ``mibench list estimators`` shows it.
    readout: str = ""
    # The critic a suite's ``critic = "auto"`` trains this estimator with (None: chosen by layout).
    # The FlatNCE family needs a bounded one: its objective never saturates, so an unbounded
    # critic's scores grow without limit (FlatNCE trains cosine similarities / temperature).
    default_critic: str | None = None
    score_kind: ScoreKind = "critic"
    # The f whose f-information the estimator's ``f_value`` extra bounds (f-MICL: "kl", "js",
    # ...); None for the others. Where it is set, a run's frame also gets the task's true
    # f-information at each step (``true_f_mi``, from ``task.f_mi(f_information, ...)``).
    f_information: str | None = None

    def __post_init__(self) -> None:
        owner = "Estimator"
        _check_name(owner, self.name)
        _check_callable(owner, "value_fn", self.value_fn, optional=False)
        _check_callable(owner, "loss_fn", self.loss_fn, optional=True)
        if self.loss_fn is None:
            object.__setattr__(self, "loss_fn", NegatedValue(self.value_fn))
        _check_text_fields(owner, self, ("family", "citation", "description", "readout"))
        _check_choice(owner, "kind", self.kind, EstimatorKind)
        _check_choice(owner, "layout", self.layout, Layout)
        object.__setattr__(self, "needs", _checked_needs(owner, self.needs))
        _check_choice(owner, "dual_of", self.dual_of, DualOf, optional=True)
        _check_type(owner, "caps_at_log_k", self.caps_at_log_k, bool)
        for name in ("ceiling_fn", "state_fn", "extras_fn"):
            _check_callable(owner, name, getattr(self, name), optional=True)
        _check_hyper(owner, self.hyper)
        _check_type(owner, "default_critic", self.default_critic, (str, type(None)))
        _check_choice(owner, "score_kind", self.score_kind, ScoreKind)
        _check_type(owner, "f_information", self.f_information, (str, type(None)))

    def value(self, scores: Tensor, **inputs: Any) -> Tensor:
        """The reported estimate, one per leading index of ``scores``."""
        return self.value_fn(scores, **inputs, **self.hyper)

    def loss(self, scores: Tensor, **inputs: Any) -> Tensor:
        """The training loss, one per leading index of ``scores``."""
        return self.loss_fn(scores, **inputs, **self.hyper)

    def extras(self, scores: Tensor, **inputs: Any) -> dict[str, Tensor]:
        """Extra per-run diagnostics this estimator reports (e.g. f-MICL's ``f_value``)."""
        if self.extras_fn is None:
            return {}
        return self.extras_fn(scores, **inputs, **self.hyper)

    def next_state(self, scores: Tensor, state: Any) -> Any:
        """Advance the explicit state of a stateful estimator (MINE's EMA); identity otherwise."""
        return None if self.state_fn is None else self.state_fn(scores, state, **self.hyper)

    def ceiling(self, K: int) -> float | None:
        """Upper limit of the reported value for a ``K x K`` score matrix (None: unbounded)."""
        if self.ceiling_fn is not None:
            return float(self.ceiling_fn(K, **self.hyper))
        return math.log(K) if self.caps_at_log_k else None

    def with_hyper(self, **overrides: float) -> Estimator:
        """A copy with some hyperparameters changed; unknown names are an error."""
        return _with_hyper(self, overrides)


@dataclass(frozen=True)
class SampleEstimator:
    """A classical MI estimator as data: a function of n joint samples, no critic, no training.

    ``sample_fn(x, y, **hyper) -> float`` takes float64 NumPy arrays ``x`` ``(n, dim_x)`` and ``y``
    ``(n, dim_y)`` of joint draws and returns one MI estimate in nats. It is the second kind of
    the estimator registry (``kind == "sample"``): the runner sends such estimators through its
    sample path (:mod:`mibench.train.sample_runs`) instead of the stacked trainer, and
    ``mibench list estimators`` shows the kind beside every name.

    ``sample_fn`` may also be an object with an ``estimate(x, y)`` method (BMI's and
    scikit-learn-style estimators plug in unchanged); ``name`` defaults to the function's
    ``__name__`` (an object's class name). Fields are checked on construction as
    :class:`Estimator`'s are.

    Examples:
        >>> import numpy as np
        >>> def correlation_mi(x, y):
        ...     rho = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
        ...     return -0.5 * np.log(1 - rho**2)
        >>> spec = SampleEstimator(correlation_mi)
        >>> spec.name, spec.kind
        ('correlation_mi', 'sample')
        >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> round(spec.estimate(x, x + np.array([[0.1], [-0.1], [0.1], [-0.1]])), 3)
        2.488
    """

    sample_fn: Callable[..., float] | Any
    name: str = ""  # "": the function's __name__, or the object's class name
    family: str = PLUGIN_FAMILY
    citation: str = ""
    kind: SampleEstimatorKind = "sample"
    hyper: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    readout: str = ""  # what the reported number is (as Estimator.readout)
    # What the estimate is scored against: "mi" (the task's I(X; Y)) or "sliced" (the task's
    # sliced MI, ``task.sliced_mi(step, slice_dim=...)``; mibench.estimators.sliced).
    target: SampleTarget = "mi"
    # Fields the score-matrix specs have, at the values that describe a sample estimator, so
    # code that lists every spec (``mibench list estimators``) reads both kinds alike.
    layout: Layout = "pairs"
    needs: frozenset[str] = frozenset()
    caps_at_log_k: bool = False
    ceiling_fn: Callable[[int], float] | None = None

    def __post_init__(self) -> None:
        owner = "SampleEstimator"
        if not callable(self.sample_fn) and not has_estimate_method(self.sample_fn):
            raise TypeError(
                f"{owner}.sample_fn must be a callable f(x, y) -> float or an object with an "
                f"estimate(x, y) method, got {type(self.sample_fn).__name__} {self.sample_fn!r}"
            )
        if self.name == "":
            object.__setattr__(self, "name", default_name(self.sample_fn))
        _check_name(owner, self.name)
        _check_text_fields(owner, self, ("family", "citation", "description", "readout"))
        _check_choice(owner, "kind", self.kind, SampleEstimatorKind)
        _check_hyper(owner, self.hyper)

    def estimate(self, x: Any, y: Any) -> float:
        """The MI estimate (nats) from joint samples ``x`` ``(n, dim_x)``, ``y`` ``(n, dim_y)``."""
        fn = self.sample_fn
        call = fn.estimate if has_estimate_method(fn) else fn
        return float(call(x, y, **self.hyper))

    def ceiling(self, K: int) -> float | None:
        """Sample estimators have no score-matrix ceiling."""
        return None

    def with_hyper(self, **overrides: float) -> SampleEstimator:
        """A copy with some hyperparameters changed; unknown names are an error."""
        return _with_hyper(self, overrides)


def has_estimate_method(obj: Any) -> bool:
    """Whether ``obj`` is an estimator object with an ``estimate(x, y)`` method (a function or
    class is not, even when it carries such an attribute)."""
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | type):
        return False
    return callable(getattr(obj, "estimate", None))


def default_name(obj: Any) -> str:
    """A plug-in's default name: a function's ``__name__``, else its class name."""
    name = getattr(obj, "__name__", None)
    return name if isinstance(name, str) and name != "<lambda>" else type(obj).__name__


class Batch(NamedTuple):
    """One draw from a task. ``x``: ``(n, dim_x)``; ``y``: ``(n, dim_y)`` or None; ``labels``: ``(n,)``."""

    x: Tensor
    y: Tensor | None = None
    labels: Tensor | None = None


@runtime_checkable
class Task(Protocol):
    """A sampler with known ground truth.

    ``sample(n, generator, steps=...)``: ``steps`` is an optional ``(n,)`` int64 tensor giving the
    training step each sample belongs to (schedule tasks such as ``staircase`` change their MI
    with it; every other task ignores it), so a block of T steps is drawn in one call.
    ``true_mi(step)`` is the truth the estimate is scored against, in nats (for ``target ==
    "kl"`` tasks it is the class-conditional KL of the SINCERE paper, Thm. 3).
    ``log_ratio(x, y, steps=None)`` is the oracle critic log p(x,y)/(p(x)p(y)), broadcasting over
    leading axes (None where the task has no closed form).
    """

    name: str
    id: str
    dim_x: int
    dim_y: int
    params: Mapping[str, Any]
    target: Literal["mi", "kl"]

    def true_mi(self, step: int = 0) -> float: ...

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        *,
        steps: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Batch: ...

    def log_ratio(self, x: Tensor, y: Tensor, *, steps: Tensor | None = None) -> Tensor | None: ...


def _freeze(value: Any) -> Any:
    """Turn lists/dicts into tuples so a config is hashable and canonical."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


Params = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (one cell). Hashing it identifies its results.

    ``device`` is recorded with the results but left out of the hash: the same experiment on
    another device is the same cell. Parameter mappings are stored as sorted tuples of pairs
    (use :meth:`make` to build one from plain dicts).
    """

    estimator: str
    task: str
    task_params: Params = ()
    estimator_params: Params = ()
    critic: str = "separable"
    critic_params: Params = ()
    batch_size: int = 64
    n_steps: int = 2000
    lr: float = 5e-4
    seed: int = 0
    dtype: Literal["float32", "float64"] = "float32"
    negatives: Literal["offdiag", "derangement"] = "offdiag"
    eval_every: int = 100
    eval_batch_size: int | None = None  # None: 4 * batch_size
    log_every: int = 1
    suite: str = "adhoc"
    device: str = "cpu"
    # Contrastive system (mibench.systems): "inbatch" (the batch's own score matrix), "clip"
    # (both directions) or "moco" (momentum encoder + queue), and its parameters.
    system: str = "inbatch"
    system_params: Params = ()
    # A plug-in estimator's fingerprint (its name's code and version: mibench.plan.fingerprint);
    # "" for a built-in one. Part of the hash, so editing a plug-in retrains exactly its runs.
    estimator_fingerprint: str = ""

    HASH_EXCLUDE = ("device",)
    # Left out of the hash payload while at their default, so every cell hashed before these
    # fields existed keeps its hash (and its stored results).
    HASH_OMIT_DEFAULT = ("system", "system_params", "estimator_fingerprint")
    # Left out of as_dict() (sidecars, cell keys) while at their default: built-in runs written
    # before the field existed and after are seeds of one cell.
    RECORD_OMIT_DEFAULT = ("estimator_fingerprint",)

    @classmethod
    def make(cls, **kwargs: Any) -> RunConfig:
        for key in ("task_params", "estimator_params", "critic_params", "system_params"):
            if key in kwargs:
                kwargs[key] = _freeze(kwargs[key])
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (parameter tuples become dicts)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self.RECORD_OMIT_DEFAULT and value == f.default:
                continue
            if f.name.endswith("_params"):
                value = {k: _jsonable(v) for k, v in value}
            out[f.name] = value
        return out

    def kwargs(self, which: Literal["task", "estimator", "critic", "system"]) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in getattr(self, f"{which}_params")}

    @property
    def resolved_eval_batch_size(self) -> int:
        return self.eval_batch_size or 4 * self.batch_size

    def cell_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the config (minus device,
        and minus ``system``/``system_params`` while they hold their defaults)."""
        defaults = {f.name: f.default for f in fields(self) if f.name in self.HASH_OMIT_DEFAULT}
        payload = {
            k: v
            for k, v in self.as_dict().items()
            if k not in self.HASH_EXCLUDE
            and not (k in defaults and getattr(self, k) == defaults[k])
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
