"""The reproductions by name: ``mibench reproduce --list`` and ``mibench reproduce NAME``."""

from __future__ import annotations

from mibench.reproduce.base import Reproduction, ReproductionError


def _all() -> dict[str, Reproduction]:
    from mibench.reproduce import bmi2023, club2020, flatnce2021, poole2019, song_ermon2020

    modules = (poole2019, song_ermon2020, bmi2023, flatnce2021, club2020)
    return {m.REPRODUCTION.name: m.REPRODUCTION for m in modules}


def names() -> list[str]:
    """Every reproduction's name, in the order ``--list`` shows them.

    Examples:
        >>> "poole2019" in names()
        True
    """
    return list(_all())


def get(name: str) -> Reproduction:
    """The named reproduction; ReproductionError (one line, the valid names) otherwise.

    Examples:
        >>> get("poole2019").title
        'Poole et al. 2019, Fig. 2'
    """
    known = _all()
    if name not in known:
        raise ReproductionError(f"unknown reproduction {name!r}; valid choices: {', '.join(known)}")
    return known[name]
