"""The reproductions by name (mibench.reproduce.registry)."""

from __future__ import annotations

import pytest

from mibench.reproduce import registry
from mibench.reproduce.base import BUDGETS, ReproductionError


def test_at_least_the_five_papers_are_registered():
    assert set(registry.names()) >= {
        "poole2019",
        "song_ermon2020",
        "bmi2023",
        "flatnce2021",
        "club2020",
    }


@pytest.mark.parametrize("name", registry.names())
def test_every_reproduction_has_both_budgets_and_differences(name):
    item = registry.get(name)
    assert set(item.budgets) == set(BUDGETS) and item.name == name
    for budget in item.budgets.values():
        assert item.differences(budget)
        assert item.suite_name(budget) == (name if budget.is_full else f"{name}-quick")
        assert item.build_suite(budget).name == item.suite_name(budget)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ReproductionError, match="valid choices: poole2019, "):
        registry.get("poole")
