"""The shipped suite files; installed as the package ``mibench.suites`` (see pyproject.toml).

A regular package, not a namespace one, so that importlib.resources also finds it in an editable
install (setuptools' editable finder maps a nested namespace package mapped from another folder
only through ``sys.path``, which a subpackage is never looked up in). No code: suites are read by
:mod:`mibench.plan.suite`.
"""
