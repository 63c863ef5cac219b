"""The generic registry (mibench/core/registry.py) behind the estimator, task, critic, claim and system
registries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mibench import critics, estimators, tasks
from mibench.claims import base as claims_base
from mibench.core.interface import UnknownNameError
from mibench.core.registry import Registry


@dataclass(frozen=True)
class Entry:
    name: str
    value: int = 0


def test_register_get_names_and_order() -> None:
    registry: Registry[Entry] = Registry("widget")
    for name in ("beta", "alpha", "gamma"):
        registry.register(Entry(name))
    assert registry.get("alpha") == Entry("alpha")
    assert registry.names() == ["alpha", "beta", "gamma"]  # sorted
    assert registry.registration_order() == ["beta", "alpha", "gamma"]
    assert [e.name for e in registry] == ["beta", "alpha", "gamma"]
    assert len(registry) == 3 and "beta" in registry and "delta" not in registry
    unordered: Registry[Entry] = Registry("widget", sorted_names=False)
    unordered.register(Entry("b"))
    unordered.register(Entry("a"))
    assert unordered.names() == ["b", "a"]


def test_unknown_name_is_one_line_naming_it_and_the_valid_choices() -> None:
    registry: Registry[Entry] = Registry("widget")
    registry.register(Entry("b"))
    registry.register(Entry("a"))
    with pytest.raises(UnknownNameError) as error:
        registry.get("c")
    assert str(error.value) == "unknown widget 'c'; valid choices: a, b"
    assert isinstance(error.value, KeyError) and isinstance(error.value, ValueError)


def test_duplicate_and_malformed_keys_are_refused() -> None:
    def lower_case(name: str) -> None:
        if name != name.lower():
            raise ValueError(f"lower-case only, got {name!r}")

    registry: Registry[Entry] = Registry("widget", check_key=lower_case)
    registry.register(Entry("a", 1))
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        registry.register(Entry("a", 2))
    assert registry.get("a").value == 1  # the first one stays (no silent overwrite)
    with pytest.raises(ValueError, match="lower-case only, got 'B'"):
        registry.register(Entry("B"))
    assert registry.names() == ["a"]


def test_custom_key_and_temporary_registration() -> None:
    @dataclass(frozen=True)
    class Claim:
        id: str

    registry: Registry[Claim] = Registry("claim", key=lambda c: c.id)
    with registry.registered(Claim("x-y")) as entry:
        assert registry.get("x-y") is entry
    assert "x-y" not in registry
    with pytest.raises(UnknownNameError):
        registry.get("x-y")


@pytest.mark.parametrize(
    ("module", "kind", "name"),
    [
        (estimators, "estimator", "infonce"),
        (tasks, "task", "gaussian"),
        (critics, "critic", "separable"),
        (claims_base, "claim", "infonce-le-log-k"),
    ],
)
def test_the_four_registries_are_instances_of_it(module, kind: str, name: str) -> None:
    registry = module.registry.REGISTRY if hasattr(module, "registry") else module.REGISTRY
    assert isinstance(registry, Registry) and registry.kind == kind
    assert module.get(name) is registry.get(name)
    with pytest.raises(UnknownNameError, match=f"unknown {kind} 'no-such'; valid choices: "):
        module.get("no-such")


def test_with_defaults_merges_and_names_the_valid_keys() -> None:
    @dataclass(frozen=True)
    class Spec:
        name: str
        defaults: dict

    registry: Registry[Spec] = Registry("gadget")
    spec = registry.register(Spec("g", {"width": 2, "depth": 3}))
    assert registry.with_defaults(spec, {"depth": 5}) == {"width": 2, "depth": 5}
    with pytest.raises(ValueError, match="gadget 'g' has no parameter 'size'; valid: depth, width"):
        registry.with_defaults(spec, {"size": 1})
