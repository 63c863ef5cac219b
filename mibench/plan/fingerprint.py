"""A plug-in estimator's fingerprint: a digest of its code, its settings and its version.

A plug-in's run ids hash its name *and* this fingerprint
(:attr:`~mibench.core.interface.RunConfig.estimator_fingerprint`), so editing its code retrains
exactly its runs, while an unchanged plug-in and every built-in estimator keep theirs.

What is digested, for a spec (:class:`~mibench.core.interface.Estimator` or
:class:`~mibench.core.interface.SampleEstimator`): the fields that change its numbers (kind,
layout, needs, hyperparameters, ...; not its description or citation) and the code of each of its
functions. The code of a function is its source text, its default arguments, the values its
closure holds and, followed recursively, the code of the functions and classes *of its own
module* it names and the plain constants it reads there: editing a helper the bound calls
retrains the bound, editing another estimator of the same file does not. Code in other modules
(NumPy, torch, mibench) is not followed: like a built-in estimator's runs, a plug-in's are not
retrained when a library changes. An object with an ``estimate`` method contributes its class's
code and its attribute values; an object with a ``mibench_fingerprint()`` method (an external
command, :mod:`mibench.estimators.command`) says itself what identifies it. Where no source is
available (a function typed into a plain interpreter), the compiled code object stands in.

Examples:
    >>> def bound(x, y):
    ...     return 0.0
    >>> code_fingerprint(bound) == code_fingerprint(bound)
    True
    >>> def other(x, y):
    ...     return 1.0
    >>> code_fingerprint(bound) == code_fingerprint(other)
    False
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import marshal
import re
import textwrap
import types
from collections.abc import Mapping
from typing import Any

from mibench.core.interface import Estimator, NegatedValue, SampleEstimator

FINGERPRINT_HEX_DIGITS = 16
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # reprs of objects carry their memory address
_PLAIN = (int, float, complex, str, bytes, bool, type(None))
# Spec fields that change an estimator's numbers (descriptions and citations do not).
_ESTIMATOR_FIELDS = ("kind", "layout", "needs", "dual_of", "caps_at_log_k", "hyper",
                     "default_critic", "score_kind", "f_information")  # fmt: skip
_ESTIMATOR_FUNCTIONS = ("value_fn", "loss_fn", "ceiling_fn", "state_fn", "extras_fn")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_HEX_DIGITS]


def _plain_repr(value: Any) -> str:
    """A repr stable across processes (memory addresses removed, mappings sorted)."""
    if isinstance(value, Mapping):
        items = sorted((str(k), _plain_repr(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_plain_repr(v) for v in value)) + "}"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_plain_repr(v) for v in value) + ")"
    return _ADDRESS.sub("", repr(value))


def _source(obj: Any) -> str:
    """The source text of a function or class, else its compiled code (no source available)."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is not None:
            return marshal.dumps(code).hex()
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"


def _names_used(code: types.CodeType) -> set[str]:
    """Global names a code object (and the code nested in it) reads."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def _function_text(fn: types.FunctionType, seen: set[int]) -> str:
    parts = [_source(fn), _plain_repr(fn.__defaults__), _plain_repr(fn.__kwdefaults__)]
    for cell in fn.__closure__ or ():
        try:
            parts.append(_code_text(cell.cell_contents, seen))
        except ValueError:  # an empty cell (a name assigned after the closure was made)
            parts.append("<empty>")
    for name in sorted(_names_used(fn.__code__)):
        if name not in fn.__globals__:
            continue
        value = fn.__globals__[name]
        same_module = getattr(value, "__module__", None) == fn.__module__
        if isinstance(value, types.FunctionType | type) and same_module:
            parts.append(f"{name}={_code_text(value, seen)}")
        elif isinstance(value, _PLAIN) or (
            isinstance(value, tuple) and all(isinstance(v, _PLAIN) for v in value)
        ):
            parts.append(f"{name}={value!r}")
    return "\n".join(parts)


def _code_text(obj: Any, seen: set[int]) -> str:
    """The text that identifies ``obj``'s behaviour (see the module docstring)."""
    if id(obj) in seen:  # recursion, or a helper reached twice: its name is enough
        return f"<{getattr(obj, '__qualname__', type(obj).__qualname__)}>"
    if isinstance(obj, _PLAIN):
        return repr(obj)
    seen.add(id(obj))
    own = getattr(obj, "mibench_fingerprint", None)
    if callable(own) and not isinstance(obj, type):
        return f"{type(obj).__qualname__}:{own()}"
    if isinstance(obj, NegatedValue):
        return f"-({_code_text(obj.value_fn, seen)})"
    if isinstance(obj, functools.partial):
        return f"partial({_code_text(obj.func, seen)}, {_plain_repr(obj.args)}, " \
               f"{_plain_repr(obj.keywords)})"  # fmt: skip
    if isinstance(obj, types.MethodType):
        return f"{_code_text(obj.__func__, seen)} of {_code_text(obj.__self__, seen)}"
    if isinstance(obj, types.FunctionType):
        return _function_text(obj, seen)
    if isinstance(obj, type | types.BuiltinFunctionType):
        return _source(obj)
    state = getattr(obj, "__dict__", None)
    return f"{_source(type(obj))}\nstate={_plain_repr(state if state is not None else obj)}"


def code_fingerprint(obj: Any) -> str:
    """16 hex digits identifying the code (and state) of a function, class or object."""
    return _digest(_code_text(obj, set()))


def spec_fingerprint(spec: Estimator | SampleEstimator, *, version: str = "") -> str:
    """16 hex digits of a plug-in spec: its name, the fields that change its numbers, the code
    of its functions and ``version`` (its distribution's, for an installed plug-in).

    Examples:
        >>> from mibench.core.interface import SampleEstimator
        >>> def zero(x, y):
        ...     return 0.0
        >>> a = spec_fingerprint(SampleEstimator(zero))
        >>> a == spec_fingerprint(SampleEstimator(zero)), a == spec_fingerprint(
        ...     SampleEstimator(zero), version="2.0")
        (True, False)
    """
    seen: set[int] = set()
    if isinstance(spec, Estimator):
        fields = [f"{name}={_plain_repr(getattr(spec, name))}" for name in _ESTIMATOR_FIELDS]
        code = [f"{name}={_code_text(getattr(spec, name), seen)}" for name in _ESTIMATOR_FUNCTIONS]
    else:
        fields = [f"hyper={_plain_repr(spec.hyper)}", f"target={spec.target}"]
        code = [f"sample_fn={_code_text(spec.sample_fn, seen)}"]
    text = "\n".join([type(spec).__name__, spec.name, *fields, *code, f"version={version}"])
    return _digest(text)
