"""A small name -> factory registry, shared by the Challenger and Reasoner reward shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Maps names to factories (a class or any callable returning a ``T``).

    Args:
        kind: What is registered, for error messages ("Challenger reward shape").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T], *, overwrite: bool = False) -> None:
        """Register ``factory`` under ``name``; re-registering needs ``overwrite=True``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        if name in self._factories and not overwrite:
            raise ValueError(
                f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it"
            )
        self._factories[name] = factory

    def make(self, name: str, **kwargs: Any) -> T:
        """Build the registered ``name`` with ``kwargs``."""
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories))
            raise ValueError(f"unknown {self.kind} {name!r}; registered: {known}") from None
        return factory(**kwargs)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
