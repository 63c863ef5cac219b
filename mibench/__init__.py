"""mibench: how neural mutual-information estimators really behave, on tasks with known truth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The one place of the version: pyproject.toml reads it (setuptools' dynamic `attr`), so the
# installed distribution's version and `mibench --version` cannot disagree.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from mibench.api.estimate import MIEstimate, estimate_mi

_LAZY = {"estimate_mi": "mibench.api.estimate", "MIEstimate": "mibench.api.estimate"}


def __getattr__(name: str) -> Any:
    # Lazy: `import mibench` stays light (no torch) until the API is used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mibench' has no attribute {name!r}")


__all__ = ["MIEstimate", "__version__", "estimate_mi"]
