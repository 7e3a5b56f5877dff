"""One registry per plug-in family: plug-ins register by name, lookups fail listing valid names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from accelctl.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = item
            return item

        return add

    @contextmanager
    def registered(self, name: str, item: T) -> Iterator[T]:
        """`item` registered as `name` only inside the with-block: a plug-in one command brings along
        (simulate's `paper` policy) stays out of every other command's list."""
        self.register(name)(item)
        try:
            yield item
        finally:
            del self._items[name]

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise InputError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}") from None

    def create(self, name: str, options: dict | None = None, where: str = "options"):
        """Instantiate plug-in class `name` from its pydantic `config_model` and `options`."""
        from pydantic import ValidationError

        from accelctl.files import validation_message

        cls = self.get(name)
        try:
            config = cls.config_model.model_validate(options or {})
        except ValidationError as err:
            raise InputError(validation_message(f"{where} of {self.kind} {name!r}", err)) from None
        return cls(config)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
