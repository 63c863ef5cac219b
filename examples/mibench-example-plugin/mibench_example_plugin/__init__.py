"""An example mibench plug-in: a score-matrix bound and a sample estimator (see README.md)."""

from mibench_example_plugin.bounds import symmetric_infonce
from mibench_example_plugin.copula import copula_gaussian_mi

__all__ = ["copula_gaussian_mi", "symmetric_infonce"]
