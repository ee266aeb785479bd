"""Settings a plugin owns inside a section it shares with others (``data.*``, ``encoder.*``).

The section's shared keys are the core dataclass's fields (every dataset has a root and a
size); the rest belong to the plugin the section's ``name`` selects, typed by the settings
dataclass it registered with (``@register_dataset("synthetic", settings=SyntheticSettings)``).
YAML stays flat (``data.synthetic_size``). A key that another plugin owns is set aside: said
in one line where its value is not that plugin's default (a run's config.yaml records every
plugin's defaults), so old configs still load; any other key is an error naming it.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from pretrain.core.typed_yaml import ConfigError, parse_dataclass, yaml_keys


def split_section(
    data: Any, shared: type, owned: type | None, others: dict[str, type], path: str, name: str
) -> tuple[dict, dict]:
    """(the shared keys of ``data``, the keys ``owned`` declares); keys of ``others`` set aside."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
    shared_keys, own_keys = set(yaml_keys(shared)), set(yaml_keys(owned)) if owned else set()
    common, own = {}, {}
    for key, value in data.items():
        if key in shared_keys or key in own_keys:
            (common if key in shared_keys else own)[key] = value
            continue
        owner = next((n for n, t in others.items() if key in yaml_keys(t)), None)
        if owner is None:
            allowed = ", ".join(sorted(shared_keys | own_keys))
            raise ConfigError(f"unknown config key {path}.{key}; {path} with name={name} takes: {allowed}")
        if value != default_of(others[owner], key):
            print(f"note: {path}.{key} is a setting of {owner}, not of {name}; ignored")
    return common, own


def default_of(settings: type, key: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(settings)}[key]
    return field.default if field.default is not dataclasses.MISSING else field.default_factory()


def parse_options(owned: type | None, data: dict, path: str) -> Any:
    """The plugin's typed settings (None for a plugin without any)."""
    return parse_dataclass(owned, data, path) if owned is not None else None


def options_dict(options: Any) -> dict:
    """A plugin's settings as the flat keys config.yaml writes."""
    return copy.deepcopy(dataclasses.asdict(options)) if options is not None else {}


class PluginSection:
    """A dataclass section (``data``, ``encoder``) whose ``name`` selects the plugin that owns
    some of its keys; the subclass names its lookups, ``plugin_settings(name)`` and
    ``every_plugin_settings()``, and keeps the plugin's typed settings in ``options``."""

    section = ""  # the YAML key of the section, where it is not nested (eval.data names its own path)

    @classmethod
    def from_mapping(cls, data: Any, path: str = "") -> Any:
        path = path or cls.section
        name = data.get("name", cls.name) if isinstance(data, dict) else cls.name
        owned = cls.plugin_settings(name)
        shared, own = split_section(data, cls, owned, cls.every_plugin_settings(), path, name)
        cfg = parse_dataclass(cls, shared, path)
        cfg.options = parse_options(owned, own, path)
        return cfg

    def settings(self) -> Any:
        """The selected plugin's own settings (its defaults for a section built in code)."""
        if self.options is None and (owned := self.plugin_settings(self.name)) is not None:
            self.options = owned()
        return self.options

    def to_dict(self) -> dict:
        shared = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "options"}
        return shared | options_dict(self.options)
