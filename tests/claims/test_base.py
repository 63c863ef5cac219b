"""The claim machinery: registry rules, the context's overrides and streams, result records."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mibench.claims import Claim, ClaimContext, ClaimResult, get, names
from mibench.claims.base import CLAIM_ID_PATTERN, jsonable, register
from mibench.core.interface import UnknownNameError
from mibench.estimators import ess
from mibench.estimators import get as get_estimator

DESIGN_CLAIMS = (
    22  # DESIGN.md's 19, its log-K bullet split in 3 (as in the issue), + log-k-curse-precision
)


def _result(passed: bool = True) -> ClaimResult:
    return ClaimResult(passed=passed, evidence={"x": 1.0}, summary="s", tolerance="t", why="w")


def test_every_claim_is_kebab_case_cited_and_kind_consistent() -> None:
    assert len(names()) == DESIGN_CLAIMS
    for claim_id in names():
        claim = get(claim_id)
        assert CLAIM_ID_PATTERN.match(claim.id)
        assert claim.statement and claim.source and claim.uses
        assert any(ch.isdigit() for ch in claim.source), f"{claim.id}: source names no Eq./Fig."
        assert claim.quick == (claim.kind == "analytic")


def test_register_rejects_duplicates_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(Claim("infonce-le-log-k", "s", "src 1", "analytic", lambda c: _result()))
    with pytest.raises(ValueError, match="kebab-case"):
        register(Claim("Bad_Id", "s", "src 1", "analytic", lambda c: _result()))


def test_unknown_claim_lists_the_valid_ids() -> None:
    with pytest.raises(UnknownNameError, match="valid choices: infonce-le-log-k"):
        get("no-such-claim")


def test_context_resolves_overrides_before_registries() -> None:
    replacement = get_estimator("dv")
    context = ClaimContext(estimators={"nwj": replacement}, functions={"ess": lambda s: s.sum()})
    assert context.estimator("nwj") is replacement
    assert context.estimator("infonce") is get_estimator("infonce")
    assert context.ess(torch.ones(2, 2)).item() == 4.0
    assert ClaimContext().ess is not None
    scores = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(ClaimContext().ess(scores), ess(scores))


def test_replaced_copies_overrides_and_clears_the_cache() -> None:
    base = ClaimContext()
    base.cache["k"] = 1
    other = base.replaced(estimators={"nwj": get_estimator("dv")})
    assert other.cache == {} and base.cache == {"k": 1}
    assert other.estimator("nwj").name == "dv" and base.estimator("nwj").name == "nwj"


def test_generators_are_reproducible_and_independent_per_salt_and_seed() -> None:
    def draw(context: ClaimContext, salt: str) -> torch.Tensor:
        return torch.rand(4, generator=context.generator(salt))

    a, b = ClaimContext(seed=0), ClaimContext(seed=1)
    torch.testing.assert_close(draw(a, "x"), draw(ClaimContext(seed=0), "x"))
    assert not torch.equal(draw(a, "x"), draw(a, "y"))
    assert not torch.equal(draw(a, "x"), draw(b, "x"))


def test_result_as_dict_is_json_ready() -> None:
    result = ClaimResult(
        passed=False,
        evidence={"t": torch.tensor([1.0, 2.0]), "inf": math.inf, "n": torch.tensor(3)},
        summary="s",
        tolerance="t",
        why="w",
        claim_id="c",
        statement="st",
        source="src",
        seconds=1.23456,
    )
    record = json.loads(json.dumps(result.as_dict()))
    assert record["id"] == "c" and record["passed"] is False and record["seconds"] == 1.235
    assert record["evidence"]["t"] == [1.0, 2.0] and record["evidence"]["n"] == 3
    assert record["evidence"]["inf"] == "inf"
    assert {"summary", "tolerance", "why"} <= set(record["evidence"])
    assert result.verdict == "FAIL" and _result().verdict == "PASS"


def test_jsonable_handles_nested_lists() -> None:
    assert jsonable([torch.tensor(1.5), (2, float("nan"))]) == [1.5, [2, "nan"]]
