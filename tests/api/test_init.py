"""mibench.api re-exports the user-facing calls of its modules."""

from __future__ import annotations

import mibench
from mibench import api
from mibench.api import bounds, estimate


def test_the_package_exports_the_estimate_and_the_bounds() -> None:
    assert api.estimate_mi is estimate.estimate_mi and api.MIEstimate is estimate.MIEstimate
    assert api.estimate_bounds is bounds.estimate_bounds and api.MIBounds is bounds.MIBounds
    assert mibench.estimate_mi is api.estimate_mi
