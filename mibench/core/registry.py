"""One generic name -> entry registry, used by the estimator, task, critic and claim registries.

A :class:`Registry` holds entries under a key read off each entry (``spec.name``, ``claim.id``),
refuses a duplicate key (bmi's task dict overwrote one silently) and a key its ``check_key``
rejects, and answers an unknown key with one line naming it and every valid key
(:class:`~mibench.core.interface.UnknownNameError`, a ``KeyError`` and a ``ValueError``). It keeps the
registration order, which the estimator registry uses as the colour order of every figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from mibench.core.interface import UnknownNameError

T = TypeVar("T")


def _name_of(entry: Any) -> str:
    return str(entry.name)


class Registry(Generic[T]):
    """Entries of one kind (``"estimator"``, ``"task"``, ...) by key, in registration order.

    Args:
        kind: the word the error messages use ("unknown estimator 'x'; valid choices: ...").
        key: reads an entry's key (default ``entry.name``).
        check_key: raises ``ValueError`` for a malformed key (run before the duplicate check).
        sorted_names: :meth:`names` sorted (default) or in registration order.
    """

    def __init__(
        self,
        kind: str,
        *,
        key: Callable[[T], str] = _name_of,
        check_key: Callable[[str], None] | None = None,
        sorted_names: bool = True,
    ) -> None:
        self.kind = kind
        self._key = key
        self._check_key = check_key
        self._sorted = sorted_names
        self._entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        """Add ``entry`` under its key; a malformed or duplicate key is a ``ValueError``."""
        name = self._key(entry)
        if self._check_key is not None:
            self._check_key(name)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name lists the valid ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        """Every key, sorted (or in registration order when built with ``sorted_names=False``)."""
        return sorted(self._entries) if self._sorted else list(self._entries)

    def with_defaults(self, entry: T, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` over ``entry.defaults``; a key it has no default for is an error naming the
        valid keys (every parameter of a task or critic has a default)."""
        defaults: Mapping[str, Any] = entry.defaults  # type: ignore[attr-defined]
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            valid = ", ".join(sorted(defaults)) or "(none)"
            name = self._key(entry)
            raise ValueError(
                f"{self.kind} {name!r} has no parameter {unknown[0]!r}; valid: {valid}"
            )
        return {**defaults, **params}

    def registration_order(self) -> list[str]:
        """Every key in the order the entries were registered."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[T]:
        """The entries in registration order."""
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    @contextmanager
    def registered(self, entry: T) -> Iterator[T]:
        """``entry`` registered for the duration of a ``with`` block (tests), then removed."""
        self.register(entry)
        try:
            yield entry
        finally:
            del self._entries[self._key(entry)]
