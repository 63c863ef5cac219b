"""The public surface of mibench.reproduce."""

from __future__ import annotations

import mibench.reproduce as reproduce


def test_public_names_are_exported():
    assert set(reproduce.__all__) >= {"reproduce", "names", "get", "Budget", "Verdict"}
    assert reproduce.get("bmi2023").name in reproduce.names()
