"""The registry of evaluation protocols, and the parsing of their settings sections.

A protocol is a plugin of this layer (``evaluate/protocols/``, one module each) that may own
a settings dataclass, ``settings_type``, parsed from ``eval.<name>`` (e.g. ``eval.knn.k=10``;
evaluate.settings). The core never imports this module: it checks a pretraining config's
``eval`` section against the schema evaluate.settings publishes. The first lookup imports
the plugin package by name, as every registry does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from pretrain.core.registry import Registry
from pretrain.core.typed_yaml import ConfigError, parse_dataclass

T = TypeVar("T")

PROTOCOLS = Registry("protocol", plugins="evaluate.protocols")

# keys of an ``eval`` section written before the protocols owned their settings -> where they live now
MOVED_EVAL_KEYS = {
    "knn_k": ("knn", "k"),
    "knn_temperature": ("knn", "temperature"),
    "linear_l2": ("linear", "l2"),
    "linear_max_iter": ("linear", "max_iter"),
    "head": ("mlp_head", None),
}


def register_protocol(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: ``@register_protocol("knn") class Knn(FrozenProtocol)``; the registry
    holds one instance, named ``name``; a name can be registered once."""

    def wrap(cls: type[T]) -> type[T]:
        cls.name = name
        PROTOCOLS.register(name)(cls())
        return cls

    return wrap


def settings_types() -> dict[str, type]:
    """{protocol name: its settings dataclass} for every registered protocol that has settings."""
    return {name: PROTOCOLS[name].settings_type for name in PROTOCOLS if PROTOCOLS[name].settings_type is not None}


def parse_protocol_sections(section: dict, path: str = "eval") -> tuple[dict, dict[str, Any]]:
    """(the rest of ``section``, {protocol name: typed settings}): every protocol's settings,
    from its own ``<path>.<name>`` mapping where the section has one, else its defaults."""
    rest, parsed = dict(section), {}
    for name, settings_type in settings_types().items():
        parsed[name] = parse_dataclass(settings_type, rest.pop(name, None) or {}, f"{path}.{name}")
    return rest, parsed


def migrate_moved_keys(section: dict, path: str = "eval") -> dict:
    """An ``eval`` section of an older run with its moved keys (``MOVED_EVAL_KEYS``) placed in
    their protocols' sections, each move printed; ``finetune.enabled: false`` becomes ``skip``."""
    section = dict(section)
    for old, (protocol, key) in MOVED_EVAL_KEYS.items():
        if old not in section:
            continue
        value = section.pop(old)
        target = dict(section.get(protocol) or {})
        target.update(value if key is None else {key: value})
        section[protocol] = target
        print(f"note: {path}.{old} in the run's config.yaml is now {path}.{protocol}{'.' + key if key else ''}")
    finetune = dict(section.get("finetune") or {})
    if finetune.pop("enabled", True) is False:
        section["skip"] = sorted({*section.get("skip", []), "finetune"})
        print(f"note: {path}.finetune.enabled=false in the run's config.yaml is now {path}.skip=[finetune]")
    if "finetune" in section:
        section["finetune"] = finetune
    return section


def sections_to_dict(sections: dict[str, Any]) -> dict:
    """The protocols' settings as plain mappings, for config.yaml and hashes."""
    return {name: dataclasses.asdict(settings) for name, settings in sections.items()}


def check_protocol_names(names: list[str], key: str) -> None:
    """Every name in ``names`` (``eval.protocols`` or ``eval.skip``) is a registered protocol."""
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise ConfigError(f"{key}: {', '.join(map(repr, unknown))} unknown; registered: {', '.join(PROTOCOLS)}")
