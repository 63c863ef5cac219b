"""The Python API on a user's own arrays: :func:`estimate_mi` (one estimate with its readout
and early stopping) and :func:`estimate_bounds` (a lower and an upper bound on the same data)."""

from __future__ import annotations

from mibench.api.bounds import MIBounds, estimate_bounds
from mibench.api.estimate import MIEstimate, estimate_mi

__all__ = ["MIBounds", "MIEstimate", "estimate_bounds", "estimate_mi"]
