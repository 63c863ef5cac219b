"""Budgets and reproduction records (mibench.reproduce.base)."""

from __future__ import annotations

import pytest

from mibench.reproduce.base import Budget, ReproductionError
from mibench.reproduce.registry import get


def test_budget_label_names_the_budget():
    assert Budget("quick", steps=10, seeds=1).label == "quick budget"
    assert Budget("full", steps=10, seeds=1).is_full


def test_unknown_budget_is_one_line():
    with pytest.raises(ReproductionError) as error:
        get("poole2019").budget("fast")
    assert str(error.value) == "--budget: invalid value 'fast'; valid choices: full, quick"
