"""The Python API on a user's own arrays: :func:`estimate_mi` (one estimate, KSG or a trained
critic chosen from the data, with a 95 % interval) and :func:`estimate_bounds` (a lower and an
upper bound on the same data)."""

from __future__ import annotations

from mibench.api.bounds import MIBounds, estimate_bounds
from mibench.api.estimate import MIEstimate, estimate_mi

__all__ = ["MIBounds", "MIEstimate", "estimate_bounds", "estimate_mi"]
