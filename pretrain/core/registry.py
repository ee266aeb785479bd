"""A name -> object registry filled by a decorator; registering a name twice raises.

A registry whose entries are plugins living above the core (pretext tasks in ``ssl_tasks``,
protocols in ``evaluate.protocols``) or beside it (datasets in ``pretrain.core.datasets``,
backbones in ``pretrain.core.backbones``) names the package that holds them; the first lookup
imports that package by name, and the package's ``__init__`` imports every module in it
(``import_plugins``), which registers everything there: the four registries find their
plugins the same way, and importing any one plugin module first still loads its package whole. The core
therefore never imports its plugins with an import statement, and no cycle can form.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pretrain.core.typed_yaml import ConfigError

T = TypeVar("T")


class Registry:
    """``REG = Registry("task", plugins="ssl_tasks")``; ``@REG.register("name")`` adds an
    entry; ``REG.lookup(name)`` (or ``REG[name]``) gets it or raises a ConfigError that lists
    what is registered; ``REG.names()`` (or iterating) lists every name."""

    def __init__(self, kind: str, plugins: str | None = None):
        self.kind = kind
        self.plugins = plugins  # package imported on first lookup; importing it registers its entries
        self._entries: dict[str, Any] = {}
        self._plugins_loaded = plugins is None

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            self.load_plugins()  # a name the plugins register is taken even before the first lookup
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered by {self._entries[name]!r}")
            self._entries[name] = obj
            return obj

        return wrap

    def unregister(self, name: str) -> None:
        """Remove an entry (a test that plugs in a temporary one takes it out again)."""
        del self._entries[name]

    def load_plugins(self) -> None:
        """Import the plugin package once (a no-op for registries without one); the package
        imports every module in it (``import_plugins``)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True  # set first: the package's modules register while it imports
        try:
            importlib.import_module(self.plugins)
        except BaseException:
            self._plugins_loaded = False
            raise

    def lookup(self, name: str) -> Any:
        self.load_plugins()
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._entries)

    def describe(self) -> list[tuple[str, str]]:
        """(name, the first sentence of its entry's docstring, else of its module's) for every entry."""
        found = [(name, first_sentence(documentation(self.lookup(name)))) for name in self.names()]
        return [(name, text.removeprefix(f"``{name}``: ")) for name, text in found]

    def get(self, name: str, default: Any = None) -> Any:
        self.load_plugins()
        return self._entries.get(name, default)

    __getitem__ = lookup

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def documentation(obj: Any) -> str:
    """``obj``'s own docstring, else its module's ("" without either)."""
    own = obj.__doc__ if isinstance(obj, type) or callable(obj) else type(obj).__doc__
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    return own or (module.__doc__ if module else "") or ""


SENTENCE_END = re.compile(r"(?<!\bal)(?<!\bsec)(?<!e\.g)(?<!i\.e)(?<!\bvs)(?<!\bcf)\.\s")  # not "et al. "


def first_sentence(text: str, limit: int = 110) -> str:
    """The first sentence of ``text``'s first paragraph on one line, cut to ``limit`` characters."""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    end = SENTENCE_END.search(paragraph)
    sentence = paragraph if end is None else paragraph[: end.start() + 1]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def import_plugins(package: str, path: list[str]) -> None:
    """Import every module of ``package`` (its ``__init__`` calls this with ``__name__`` and
    ``__path__``): a plugin is found by being there, never by being listed."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
