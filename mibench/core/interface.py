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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

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


class UnknownNameError(KeyError, ValueError):
    """A registry lookup failed; the message names the bad value and every valid one."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        self.kind, self.name, self.valid = kind, name, valid
        super().__init__(f"unknown {kind} {name!r}; valid choices: {', '.join(valid)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


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
    family: str
    value_fn: Callable[..., Tensor]
    loss_fn: Callable[..., Tensor]
    citation: str
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
    """

    name: str
    family: str
    sample_fn: Callable[..., float]
    citation: str
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

    def estimate(self, x: Any, y: Any) -> float:
        """The MI estimate (nats) from joint samples ``x`` ``(n, dim_x)``, ``y`` ``(n, dim_y)``."""
        return float(self.sample_fn(x, y, **self.hyper))

    def ceiling(self, K: int) -> float | None:
        """Sample estimators have no score-matrix ceiling."""
        return None

    def with_hyper(self, **overrides: float) -> SampleEstimator:
        """A copy with some hyperparameters changed; unknown names are an error."""
        return _with_hyper(self, overrides)


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

    HASH_EXCLUDE = ("device",)
    # Left out of the hash payload while at their default, so every cell hashed before these
    # fields existed keeps its hash (and its stored results).
    HASH_OMIT_DEFAULT = ("system", "system_params")

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
