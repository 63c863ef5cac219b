"""Tests of the estimator registry and of the specs registered by variational.py / contrastive.py."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import pytest

import mibench.estimators as estimators
from mibench.core.interface import Estimator, UnknownNameError
from mibench.estimators import contrastive, variational
from mibench.estimators.registry import register

VARIATIONAL = {"dv", "mine", "nwj", "tuba", "js", "smile", "alpha"}
CONTRASTIVE = {"infonce", "infonce_drop", "flo", "flatnce", "holder_flatnce"}
TESTS = Path(__file__).resolve().parent
# "Eq. (3)", "Eq. 11", "Prop. S6", "Def. S7", "§2.2", "Table S2", "Algorithm S1", "Corollary S5"
REFERENCE = re.compile(
    r"(Eq\.|Prop\.|Def\.|§|Table|Algorithm|Corollary|Lemma|Thm\.|Theorem)\s*\(?[A-Z]?\d"
)


def test_names_are_sorted_unique_and_include_ours() -> None:
    names = estimators.names()
    assert names == sorted(set(names))
    assert set(names) >= VARIATIONAL | CONTRASTIVE
    assert set(estimators.registration_order()) == set(names)


def test_our_modules_register_exactly_these_names() -> None:
    by_module: dict[str, set[str]] = {}
    for name in estimators.score_names():
        module = estimators.get(name).value_fn.__module__
        by_module.setdefault(module, set()).add(name)
    assert by_module[variational.__name__] == VARIATIONAL
    assert by_module[contrastive.__name__] == CONTRASTIVE


def test_unknown_name_lists_the_valid_choices() -> None:
    with pytest.raises(UnknownNameError) as info:
        estimators.get("infonse")
    message = str(info.value)
    assert "infonse" in message
    for name in estimators.names():
        assert name in message
    with pytest.raises(KeyError):  # it is also a KeyError and a ValueError
        estimators.get("nope")
    with pytest.raises(ValueError):
        estimators.get("nope")


def test_duplicate_and_uppercase_registration_raise_and_change_nothing() -> None:
    before = estimators.names()
    with pytest.raises(ValueError, match="already registered"):
        register(estimators.get("dv"))
    spec = Estimator(name="Shouty", family="x", value_fn=len, loss_fn=len, citation="Eq. (1)")
    with pytest.raises(ValueError, match="lower-case"):
        register(spec)
    assert estimators.names() == before


@pytest.mark.parametrize("name", estimators.score_names())
def test_every_spec_is_complete(name: str) -> None:
    spec = estimators.get(name)
    assert spec.name == name
    assert callable(spec.value_fn) and callable(spec.loss_fn)
    assert spec.citation.strip()
    assert REFERENCE.search(spec.citation), (
        f"{name}: citation names no equation/section: {spec.citation!r}"
    )
    if "state" in spec.needs:
        assert spec.state_fn is not None
    if "dual" in spec.needs:
        assert spec.dual_of in {"x", "y", "pair", "y_density"}
    else:
        assert spec.dual_of is None
    # Hyperparameters reach both functions as keywords (named keyword-only, or through **hyper);
    # a named default agrees with the spec's.
    for fn in (spec.value_fn, spec.loss_fn):
        parameters = inspect.signature(fn).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        for key, default in spec.hyper.items():
            if key not in parameters:
                assert takes_any, (name, fn.__name__, key)
                continue
            assert parameters[key].kind is inspect.Parameter.KEYWORD_ONLY, (name, key)
            if parameters[key].default is not inspect.Parameter.empty:
                assert parameters[key].default == default, (name, fn.__name__, key)


@pytest.mark.parametrize("name", estimators.names())
def test_every_spec_has_a_test_file(name: str) -> None:
    spec = estimators.get(name)
    function = spec.sample_fn if estimators.is_sample(name) else spec.value_fn
    module = function.__module__.rsplit(".", 1)[-1]
    assert (TESTS / f"test_{module}.py").is_file(), f"{name}: no tests/estimators/test_{module}.py"


def test_our_specs_declare_what_they_need() -> None:
    expected = {
        "tuba": ("x", frozenset({"dual"})),
        "alpha": ("y", frozenset({"dual"})),
        "flo": ("pair", frozenset({"dual"})),
        "mine": (None, frozenset({"state"})),
    }
    for name in VARIATIONAL | CONTRASTIVE:
        spec = estimators.get(name)
        dual_of, needs = expected.get(name, (None, frozenset()))
        assert (spec.dual_of, spec.needs) == (dual_of, needs), name
    assert {n for n in VARIATIONAL | CONTRASTIVE if estimators.get(n).kind == "surrogate"} == {
        "smile",
        "flatnce",
        "holder_flatnce",
        "infonce_drop",
    }
    assert estimators.get("infonce").ceiling(64) == pytest.approx(math.log(64))
    assert estimators.get("dv").ceiling(64) is None


def test_every_estimator_states_its_readout() -> None:
    """What the reported number is must be readable in the spec (and `mibench list estimators`)."""
    for name in estimators.names():
        readout = estimators.get(name).readout
        assert len(readout) > 20, name
    for name in ("flatnce", "holder_flatnce", "infonce_drop", "infonce"):
        assert "log K" in estimators.get(name).readout, name


def test_with_hyper_rejects_unknown_names() -> None:
    assert estimators.get("smile").with_hyper(clip=2.0).hyper == {"clip": 2.0}
    with pytest.raises(ValueError, match="clip"):
        estimators.get("smile").with_hyper(tau=2.0)
    # Sample estimators share the rule: a copy, and one line naming the unknown and the valid.
    ksg = estimators.get("ksg")
    assert ksg.with_hyper(k=5).hyper == {"k": 5, "ensemble": 0} and ksg.hyper == {
        "k": 3,
        "ensemble": 0,
    }
    with pytest.raises(ValueError, match=r"'ksg' has no hyperparameter 'clip'; valid: ensemble, k"):
        ksg.with_hyper(clip=1.0)
