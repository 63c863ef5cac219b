"""Estimators from outside mibench: names and objects to specs, once, for the planner.

Three doors lead here, and every one ends as a :class:`Plugin` (a spec with its fingerprint and
origin) that the planner treats like a built-in estimator:

* a Python object passed to :func:`mibench.run`: an :class:`~mibench.core.interface.Estimator`,
  a :class:`~mibench.core.interface.SampleEstimator`, a plain function ``f(x, y) -> float`` or an
  object with an ``estimate(x, y)`` method (the last two are wrapped as a sample estimator named
  after the function or the object's class: :func:`as_spec`);
* a name ``package.module:attribute`` in a suite file or ``--estimators``: the module is
  imported (from ``sys.path`` or the working folder) and the attribute read;
* the name of an entry point of the group ``mibench.estimators`` that an installed package
  declares (``[project.entry-points."mibench.estimators"] my_bound = "pkg.module:my_bound"``);
  the entry point's name is the estimator's name. ``mibench list estimators`` shows every such
  entry point with its package and version, or, for one that fails to import, why.

``all`` means the built-in estimators only: installing a package never changes what a suite
that says ``all`` trains (name plug-ins beside it: ``--estimators all,my_bound``).

A plug-in's run ids include its name and its fingerprint (:mod:`mibench.plan.fingerprint`,
with the version of the distribution it comes from), so editing it retrains exactly its runs.
Resolved plug-ins are kept in this process by (name, fingerprint) — how the trainer finds a
run's spec from its config (:func:`loaded`); a Dask worker gets them through
:class:`PluginPayload` (:func:`install`): a ``module:attribute`` or entry point is imported there
again (it must be importable on the worker; the folder it came from here is added to the
worker's ``sys.path`` when it exists there), a Python object travels pickled by value.

Every problem is a :class:`PluginError` (a ValueError) whose message is one line naming the bad
name or object.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mibench import estimators as estimator_registry
from mibench.core.interface import (
    Estimator,
    RunConfig,
    SampleEstimator,
    UnknownNameError,
    has_estimate_method,
)
from mibench.plan.fingerprint import spec_fingerprint

Spec = Estimator | SampleEstimator
ENTRY_POINT_GROUP = "mibench.estimators"
TARGET_SEPARATOR = ":"
ORIGIN_BUILT_IN = "built-in"
ORIGIN_OBJECT = "Python object"
KINDS_ACCEPTED = (
    "an Estimator, a SampleEstimator, a function f(x, y) -> float or an object with an "
    "estimate(x, y) method"
)


class PluginError(ValueError):
    """A plug-in name or object cannot be used; ``str(error)`` is one line naming it."""


@dataclass(frozen=True)
class Plugin:
    """A resolved estimator from outside mibench.

    ``origin`` says where it came from in words; ``target`` is how another process finds it
    again (``module:attribute``, or the entry point's name), None for a Python object.
    """

    spec: Spec
    fingerprint: str
    origin: str
    target: str | None = None
    version: str = ""
    search_path: str | None = None  # the folder its module was imported from

    @property
    def name(self) -> str:
        return self.spec.name

    def record(self) -> dict[str, Any]:
        """What the results folder keeps about it (``plugins.json``): enough to judge its runs
        without importing it (kind, cap, readout) and to tell which code made them."""
        spec = self.spec
        return {
            "name": spec.name,
            "kind": spec.kind,
            "family": spec.family,
            "caps_at_log_k": bool(spec.caps_at_log_k),
            "layout": spec.layout,
            "readout": spec.readout,
            "citation": spec.citation,
            "origin": self.origin,
            "target": self.target,
            "version": self.version,
            "fingerprint": self.fingerprint,
        }


# (name, fingerprint) -> plug-in, for every plug-in resolved or installed in this process.
_LOADED: dict[tuple[str, str], Plugin] = {}


def loaded(name: str, fingerprint: str) -> Spec:
    """The spec of the plug-in ``name`` with ``fingerprint`` resolved in this process."""
    try:
        return _LOADED[(name, fingerprint)].spec
    except KeyError:
        raise PluginError(
            f"plug-in estimator {name!r} (fingerprint {fingerprint}) is not loaded in this "
            "process; resolve it first (mibench.run, a suite file, or --estimators)"
        ) from None


def spec_for(config: RunConfig) -> Spec:
    """The estimator spec a config names: the registry's, or the loaded plug-in's."""
    if not config.estimator_fingerprint:
        return estimator_registry.get(config.estimator)
    return loaded(config.estimator, config.estimator_fingerprint)


def _remember(plugin: Plugin) -> Plugin:
    _LOADED[(plugin.name, plugin.fingerprint)] = plugin
    return plugin


# ---------------------------------------------------------------------------------- objects
def as_spec(obj: Any, *, name: str | None = None) -> Spec:
    """``obj`` as an estimator spec: a spec as it is (renamed to ``name`` when given), a
    function or an object with ``estimate(x, y)`` wrapped as a
    :class:`~mibench.core.interface.SampleEstimator`.

    Raises:
        TypeError: ``obj`` is none of those (the message names its type).

    Examples:
        >>> def my_ksg(x, y):
        ...     return 0.0
        >>> as_spec(my_ksg).name, as_spec(my_ksg, name="ksg_mine").kind
        ('my_ksg', 'sample')
    """
    if isinstance(obj, Estimator | SampleEstimator):
        return obj if name is None or name == obj.name else replace(obj, name=name)
    if isinstance(obj, type):
        raise TypeError(
            f"{obj.__qualname__} is a class; give an instance of it (or {KINDS_ACCEPTED})"
        )
    if callable(obj) or has_estimate_method(obj):
        return SampleEstimator(obj, name=name or "")
    raise TypeError(
        f"a {type(obj).__name__} ({obj!r:.80}) is not an estimator; give {KINDS_ACCEPTED}"
    )


def from_object(obj: Any) -> Plugin | None:
    """The plug-in an object passed from Python stands for; None for a built-in spec."""
    if isinstance(obj, Estimator | SampleEstimator) and _is_built_in(obj):
        return None
    spec = as_spec(obj)
    return _remember(Plugin(spec, spec_fingerprint(spec), ORIGIN_OBJECT))


def _is_built_in(spec: Spec) -> bool:
    return spec.name in estimator_registry.names() and estimator_registry.get(spec.name) is spec


# -------------------------------------------------------------------------- module:attribute
def is_target(name: str) -> bool:
    """Whether ``name`` has the form ``package.module:attribute``."""
    return TARGET_SEPARATOR in name


@contextlib.contextmanager
def _importable_from(*folders: str) -> Iterator[None]:
    """``folders`` (those that exist, and are not there yet) on ``sys.path`` meanwhile; the
    command line's working folder is where a user's ``mymodule.py`` usually sits."""
    added = [f for f in folders if f and Path(f).is_dir() and f not in sys.path]
    sys.path.extend(added)
    try:
        yield
    finally:
        for folder in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


def _module_root(module: Any, module_name: str) -> str | None:
    """The folder ``module_name`` was imported from (what to put on a worker's sys.path)."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    depth = len(module_name.split("."))
    path = Path(file).resolve()
    return str(path.parents[depth if path.stem == "__init__" else depth - 1])


def _distribution_version(module_name: str) -> str:
    """``"name version"`` of the installed distribution providing ``module_name``, or ""."""
    top = module_name.split(".")[0]
    try:
        names = importlib.metadata.packages_distributions().get(top, [])
    except Exception:  # a broken distribution's metadata must not stop the import
        return ""
    for dist_name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return f"{dist_name} {importlib.metadata.version(dist_name)}"
    return ""


def import_target(target: str, *, search_path: str | None = None) -> Plugin:
    """Import ``package.module:attribute`` and resolve the object it names (see the module
    docstring); :class:`PluginError` names the module, attribute or object that is wrong."""
    module_name, _, attribute = target.partition(TARGET_SEPARATOR)
    if not module_name or not attribute or TARGET_SEPARATOR in attribute:
        raise PluginError(f"estimator {target!r}: give it as package.module:attribute")
    with _importable_from(*([search_path] if search_path else []), os.getcwd()):
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # the plug-in's own import failing is its message to show
            raise PluginError(
                f"estimator {target!r}: cannot import module {module_name!r}: "
                f"{type(error).__name__}: {error}"
            ) from None
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise PluginError(
                f"estimator {target!r}: module {module_name!r} has no attribute {attribute!r}"
            )
        obj = getattr(obj, part)
    try:
        spec = as_spec(obj)
    except TypeError as error:
        raise PluginError(f"estimator {target!r}: {error}") from None
    version = _distribution_version(module_name)
    plugin = Plugin(
        spec,
        spec_fingerprint(spec, version=version),
        f"module {module_name}" + (f" ({version})" if version else ""),
        target=target,
        version=version,
        search_path=_module_root(module, module_name),
    )
    return _remember(plugin)


# ------------------------------------------------------------------------------ entry points
def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The entry points of the group ``mibench.estimators`` of every installed distribution,
    sorted by name (a duplicated name: the first distribution found)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)
    return [found[name] for name in sorted(found)]


def _entry_point_origin(point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    """(origin in words, ``"distribution version"``) of an entry point."""
    dist = getattr(point, "dist", None)
    version = f"{dist.name} {dist.version}" if dist is not None else ""
    return f"entry point of {version or 'an unknown distribution'}", version


def load_entry_point(point: importlib.metadata.EntryPoint) -> Plugin:
    """The plug-in an entry point names; :class:`PluginError` says why it cannot be used."""
    origin, version = _entry_point_origin(point)
    try:
        obj = point.load()
    except Exception as error:  # a broken plug-in package: say why, never crash mibench
        raise PluginError(
            f"estimator {point.name!r} ({origin}, {point.value}): failed to import: "
            f"{type(error).__name__}: {error}"
        ) from None
    try:
        spec = as_spec(obj, name=point.name)
    except (TypeError, ValueError) as error:
        raise PluginError(f"estimator {point.name!r} ({origin}): {error}") from None
    fingerprint = spec_fingerprint(spec, version=version)
    return _remember(Plugin(spec, fingerprint, origin, target=point.name, version=version))


@dataclass(frozen=True)
class EntryPointRow:
    """One entry point as ``mibench list estimators`` shows it: loaded, or broken and why."""

    name: str
    origin: str
    plugin: Plugin | None = None
    error: str = ""


def entry_point_rows() -> list[EntryPointRow]:
    """Every entry point of the group, each loaded (a broken one carries its error instead)."""
    rows = []
    for point in entry_points():
        origin, _ = _entry_point_origin(point)
        try:
            rows.append(EntryPointRow(point.name, origin, plugin=load_entry_point(point)))
        except PluginError as error:
            rows.append(EntryPointRow(point.name, origin, error=str(error)))
    return rows


# ------------------------------------------------------------------------------------ names
def from_name(name: str) -> Plugin | None:
    """The plug-in ``name`` stands for; None for a built-in estimator's name.

    Raises:
        PluginError: a ``module:attribute`` or entry point that cannot be used.
        UnknownNameError: neither built in, nor ``module:attribute``, nor an entry point (the
            message lists the valid names).
    """
    if name in estimator_registry.names():
        return None
    if is_target(name):
        return import_target(name)
    points = {point.name: point for point in entry_points()}
    if name in points:
        return load_entry_point(points[name])
    valid = [*estimator_registry.names(), *sorted(points), "package.module:attribute"]
    raise UnknownNameError("estimator", name, valid)


@dataclass(frozen=True)
class Resolved:
    """One estimator of a grid: its spec, its fingerprint ("" for a built-in one), where it
    came from, and the name or object it was given as."""

    spec: Spec
    fingerprint: str = ""
    plugin: Plugin | None = None
    given: str = ""


def resolve(entry: Any) -> Resolved:
    """A grid's estimator entry (a name or an object) resolved; raises as :func:`from_name`
    (an object that is not an estimator: :class:`PluginError`)."""
    if isinstance(entry, str):
        plugin = from_name(entry)
        given = entry
    else:
        try:
            plugin = from_object(entry)
        except (TypeError, ValueError) as error:
            raise PluginError(str(error)) from None
        given = getattr(entry, "name", None) or getattr(entry, "__name__", type(entry).__name__)
    if plugin is None:
        spec = entry if not isinstance(entry, str) else estimator_registry.get(entry)
        return Resolved(spec, given=str(given))
    return Resolved(plugin.spec, plugin.fingerprint, plugin, given=str(given))


def check_unique(resolved: Sequence[Resolved]) -> None:
    """:class:`PluginError` when two different estimators share a name, or a plug-in takes a
    built-in estimator's name; the message names both."""
    seen: dict[str, Resolved] = {}
    for item in resolved:
        name = item.spec.name
        if item.plugin is not None and name in estimator_registry.names():
            raise PluginError(
                f"estimator {item.given!r} ({item.plugin.origin}) is named {name!r}, the name of "
                "a built-in estimator; give it another name"
            )
        first = seen.setdefault(name, item)
        if first.fingerprint != item.fingerprint:
            raise PluginError(
                f"two estimators are named {name!r}: {_describe(first)} and {_describe(item)}; "
                "give one another name"
            )


def _describe(item: Resolved) -> str:
    origin = ORIGIN_BUILT_IN if item.plugin is None else item.plugin.origin
    return f"{item.given!r} ({origin})"


# ----------------------------------------------------------------------------- to the workers
@dataclass(frozen=True)
class PluginPayload:
    """What a Dask worker needs to find a plug-in again (see the module docstring).

    In this process it holds the plug-in itself; pickled (to travel to a worker) it becomes a
    target to import or, for a Python object, the spec pickled by value with cloudpickle —
    bytes, so that a worker that cannot load them reports that in one line
    (:func:`install`) instead of failing inside Dask's unpickling.
    """

    name: str
    fingerprint: str
    target: str | None = None
    search_path: str | None = None
    pickled: bytes | None = None
    plugin: Plugin | None = field(default=None, compare=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        pickled = self.pickled
        if pickled is None and self.target is None and self.plugin is not None:
            import cloudpickle

            pickled = cloudpickle.dumps(self.plugin.spec)
        return (
            PluginPayload,
            (self.name, self.fingerprint, self.target, self.search_path, pickled),
        )


def payloads(configs: Sequence[RunConfig]) -> tuple[PluginPayload, ...]:
    """One payload per plug-in the configs name (built-in estimators need none)."""
    keys = dict.fromkeys(
        (c.estimator, c.estimator_fingerprint) for c in configs if c.estimator_fingerprint
    )
    out = []
    for name, fingerprint in keys:
        plugin = _LOADED.get((name, fingerprint))
        if plugin is None:
            loaded(name, fingerprint)  # raises: the plan's plug-ins were resolved here
        assert plugin is not None
        out.append(
            PluginPayload(name, fingerprint, plugin.target, plugin.search_path, plugin=plugin)
        )
    return tuple(out)


def install(items: Sequence[PluginPayload]) -> None:
    """Make the plug-ins of a stack available in this process (a Dask worker); a plug-in that
    cannot be loaded here, or whose code here differs, is a :class:`PluginError` saying so."""
    for item in items:
        if (item.name, item.fingerprint) in _LOADED:
            continue
        if item.target is not None:
            _install_target(item)
        elif item.pickled is not None:
            _install_pickled(item)
        else:
            loaded(item.name, item.fingerprint)  # raises: nothing to load it from


def _install_target(item: PluginPayload) -> None:
    assert item.target is not None
    if is_target(item.target):
        plugin = import_target(item.target, search_path=item.search_path)
    else:
        points = {point.name: point for point in entry_points()}
        if item.target not in points:
            raise PluginError(
                f"estimator {item.name!r}: no entry point {item.target!r} is installed on this "
                "worker; install the plug-in's package on every worker"
            )
        plugin = load_entry_point(points[item.target])
    if plugin.fingerprint != item.fingerprint:
        raise PluginError(
            f"estimator {item.name!r}: {item.target} on this worker is not the code the plan was "
            f"made with (fingerprint {plugin.fingerprint}, planned {item.fingerprint}); install "
            "the same version everywhere"
        )


def _install_pickled(item: PluginPayload) -> None:
    import cloudpickle

    try:
        spec = cloudpickle.loads(item.pickled)
    except Exception as error:  # e.g. its module is not importable on this worker
        raise PluginError(
            f"estimator {item.name!r}: cannot load it on this worker: "
            f"{type(error).__name__}: {error}"
        ) from None
    _remember(Plugin(spec, item.fingerprint, ORIGIN_OBJECT))
