"""A name -> object registry filled by a decorator; registering a name twice raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pretrain.config import ConfigError

T = TypeVar("T")


class Registry(dict):
    """``REG = Registry("task")``; ``@REG.register("name")`` adds; ``REG.lookup(name)`` gets or
    raises a ConfigError that lists what is registered."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is already registered by {self[name]!r}")
            self[name] = obj
            return obj

        return wrap

    def lookup(self, name: str):
        if name not in self:
            raise ConfigError(f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self))}")
        return self[name]
