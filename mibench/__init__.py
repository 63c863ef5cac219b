"""mibench: how neural mutual-information estimators really behave, on tasks with known truth."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("mibench")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

if TYPE_CHECKING:
    from mibench.api import MIEstimate, estimate_mi

_LAZY = {"estimate_mi": "mibench.api", "MIEstimate": "mibench.api"}


def __getattr__(name: str) -> Any:
    # Lazy: `import mibench` stays light (no torch) until the API is used.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mibench' has no attribute {name!r}")


__all__ = ["MIEstimate", "__version__", "estimate_mi"]
