"""The claim machinery: what a claim is, what it returns, and the context it runs in.

A claim is a registered frozen :class:`Claim`: an ``id`` (kebab-case), the ``statement`` it tests,
its ``source`` (seed paper + equation / proposition / figure), a ``kind`` (``analytic`` claims are
deterministic identities or inequalities that run in seconds and make up ``--quick``;
``statistical`` claims are Monte Carlo checks at a known critic; ``training`` claims train critics
with the stacked trainer) and ``check(context) -> ClaimResult``.

Everything a check evaluates comes from the :class:`ClaimContext`: estimator specs, the ESS /
InfoNCE diagnostics, tasks and the trainer. The context resolves names through the project's
registries unless an override is given, which is how the tests feed a deliberately wrong
estimator and assert that the claim FAILS. No claim holds a private copy of an estimator's maths.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch
from torch import Tensor

from mibench.core.interface import Estimator, Task
from mibench.core.registry import Registry
from mibench.results.formatting import significant

ClaimKind = Literal["analytic", "statistical", "training"]
EvidenceValue = float | int | str | bool | list[float] | list[int] | list[str] | None

#: kebab-case ids: lower-case words joined by single hyphens.
CLAIM_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class ClaimResult:
    """The verdict of one claim and the numbers that decided it.

    ``evidence`` holds the measured numbers (JSON-ready scalars or short lists); ``summary`` is
    the one-line reading printed in the table; ``tolerance`` says what margin the decision
    allowed and ``why`` justifies that margin. ``claim_id``, ``statement``, ``source`` and
    ``seconds`` are filled in by :func:`mibench.claims.run_claims`. ``applicable`` is False for a
    result claim whose data the suite lacks (verdict ``N/A``, which is not a failure);
    ``differs_from_paper`` says, for a paper claim, how our setting differs from the paper's.
    """

    passed: bool
    evidence: Mapping[str, EvidenceValue]
    summary: str
    tolerance: str
    why: str
    claim_id: str = ""
    statement: str = ""
    source: str = ""
    seconds: float = math.nan
    applicable: bool = True
    differs_from_paper: str = ""

    @property
    def verdict(self) -> str:
        if not self.applicable:
            return "N/A"
        return "PASS" if self.passed else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        """The JSON record of ``mibench verify --json``."""
        return {
            "id": self.claim_id,
            "statement": self.statement,
            "source": self.source,
            "evidence": {
                **{k: jsonable(v) for k, v in self.evidence.items()},
                "summary": self.summary,
                "tolerance": self.tolerance,
                "why": self.why,
            },
            "passed": bool(self.passed),
            "verdict": self.verdict,
            "differs_from_paper": self.differs_from_paper,
            "seconds": round(float(self.seconds), 3),
        }


#: Functions (not registry entries) that claims evaluate, by name -> "module:attribute".
DEFAULT_FUNCTIONS: dict[str, str] = {
    "ess": "mibench.estimators.diagnostics:ess",
    "infonce_value": "mibench.estimators.diagnostics:infonce_value",
    "flatnce_with_positive_loss": "mibench.estimators.contrastive:flatnce_with_positive_loss",
    "per_row_dv": "mibench.estimators.contrastive:per_row_dv",
    "importance_weights": "mibench.estimators.contrastive:importance_weights",
    "sincere_coefficients": "mibench.estimators.supervised:anchor_gradient_coefficients",
    "train_stack": "mibench.train:train_stack",
}


@dataclass(frozen=True)
class ClaimContext:
    """Where a claim gets the things it checks; every piece can be overridden by a test.

    ``estimators`` / ``tasks`` map a registry name to a replacement spec / task builder;
    ``functions`` replaces a named function of :data:`DEFAULT_FUNCTIONS` (the ESS and InfoNCE
    diagnostics, FlatNCE's Eq. (12) form, the importance weights, the trainer
    ``train_stack(configs, *, device, progress[, estimators])``). ``seed`` seeds every generator (each claim
    derives its own stream from it and a salt, so a claim's numbers do not depend on which other
    claims ran). ``cache`` lets claims that read the same draws or training runs (the analytic
    score families, the log-K curse runs) compute them once per context.
    """

    estimators: Mapping[str, Estimator] = field(default_factory=dict)
    tasks: Mapping[str, Callable[..., Task]] = field(default_factory=dict)
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    cache: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def estimator(self, name: str) -> Estimator:
        """The spec for ``name``: the override when one is given, else the registry's."""
        if name in self.estimators:
            return self.estimators[name]
        from mibench.estimators import get

        return get(name)

    def task(self, name: str, **params: Any) -> Task:
        """A task built by the override for ``name`` or by the task registry."""
        if name in self.tasks:
            return self.tasks[name](**params)
        from mibench.tasks import build

        return build(name, **params)

    def function(self, name: str) -> Callable[..., Any]:
        """The override for ``name`` or the project function :data:`DEFAULT_FUNCTIONS` names."""
        if name in self.functions:
            return self.functions[name]
        module_name, _, attribute = DEFAULT_FUNCTIONS[name].partition(":")
        return getattr(importlib.import_module(module_name), attribute)

    def ess(self, scores: Tensor) -> Tensor:
        return self.function("ess")(scores)

    def infonce_value(self, scores: Tensor) -> Tensor:
        return self.function("infonce_value")(scores)

    def train(self, configs: list[Any], *, estimators: list[Estimator] | None = None) -> list[Any]:
        """Run ``configs`` with the stacked trainer (or its override), without a progress bar.

        ``estimators`` (one spec per config) are trained instead of the registry's (an estimator
        that is not registered, such as the ESS-scheduled FlatNCE); the trainer receives them as
        its ``estimators`` argument.
        """
        extra = {} if estimators is None else {"estimators": estimators}
        return self.function("train_stack")(configs, device=self.device, progress=None, **extra)

    def generator(self, salt: str) -> torch.Generator:
        """A CPU generator seeded from ``(seed, salt)``: one independent stream per use."""
        digest = hashlib.sha256(f"{self.seed}:{salt}".encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)

    def replaced(
        self,
        *,
        estimators: Mapping[str, Estimator] | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> ClaimContext:
        """A copy with some estimators / functions replaced and an empty cache (tests inject a
        deliberately wrong one this way)."""
        return replace(
            self,
            estimators={**self.estimators, **(estimators or {})},
            functions={**self.functions, **(functions or {})},
            cache={},
        )


@dataclass(frozen=True)
class Claim:
    """One paper claim as an executable check."""

    id: str
    statement: str
    source: str
    kind: ClaimKind
    check: Callable[[ClaimContext], ClaimResult]
    uses: tuple[str, ...] = ()  # the registry names (estimators, tasks, trainer) it exercises
    # How our setting differs from the paper's, for claims our measurement does not confirm
    # (shown beside a FAIL in the verify table and the report).
    differs_from_paper: str = ""

    @property
    def quick(self) -> bool:
        """Analytic claims are the ``--quick`` (CI) set."""
        return self.kind == "analytic"


def _check_kebab_case(claim_id: str) -> None:
    if not CLAIM_ID_PATTERN.match(claim_id):
        raise ValueError(f"claim ids are kebab-case, got {claim_id!r}")


# Claim ids are listed in registration order (the order of DESIGN.md's list).
REGISTRY: Registry[Claim] = Registry(
    "claim", key=lambda c: c.id, check_key=_check_kebab_case, sorted_names=False
)


def register(claim: Claim) -> Claim:
    """Add ``claim``; a duplicate or non-kebab-case id is an error."""
    return REGISTRY.register(claim)


def claim(
    *,
    id: str,
    statement: str,
    source: str,
    kind: ClaimKind,
    uses: tuple[str, ...] = (),
    differs_from_paper: str = "",
) -> Callable[[Callable[[ClaimContext], ClaimResult]], Callable[[ClaimContext], ClaimResult]]:
    """Decorator form of :func:`register` for a check function."""

    def wrap(check: Callable[[ClaimContext], ClaimResult]) -> Callable[[ClaimContext], ClaimResult]:
        register(
            Claim(
                id=id,
                statement=statement,
                source=source,
                kind=kind,
                check=check,
                uses=uses,
                differs_from_paper=differs_from_paper,
            )
        )
        return check

    return wrap


def get(claim_id: str) -> Claim:
    """The claim registered as ``claim_id``; an unknown id lists the valid ones."""
    return REGISTRY.get(claim_id)


def names() -> list[str]:
    """Claim ids in registration order (the order of DESIGN.md's list)."""
    return REGISTRY.names()


def jsonable(value: Any) -> Any:
    """Plain Python numbers / strings / lists for JSON (tensors and numpy scalars converted)."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().tolist()
    if hasattr(value, "item") and not isinstance(value, list | tuple | str):
        value = value.item()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


# Evidence summaries write numbers with the project's one formatter (3 significant digits,
# scientific when tiny or huge); claim modules import it under this short name.
fmt = significant
