"""Typed YAML: dataclasses filled from mappings with every key and type checked, dotted
overrides, and diffs of nested configs. Generic; the schema lives in pretrain.core.config."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where ``3e-4`` is a string and ``no``, ``off``, ``yes`` are
    booleans; read them as YAML 1.2 does: a float, and strings (only true/false are booleans,
    so ``train.precision=no`` stays the string "no")."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$"),
    list("-+0123456789."),
)


def read_yaml(text: str):
    return yaml.load(text, Loader=_Loader)


class ConfigError(ValueError):
    """A config key or value that does not fit the schema; the message names its path."""


def parse_dataclass(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = set(yaml_keys(cls))
    unknown = sorted(set(data) - known)
    if unknown:
        where = ", ".join(_join(path, k) for k in unknown)
        raise ConfigError(f"unknown config key {where}; {cls.__name__} takes: {', '.join(sorted(known))}")
    kwargs = {k: _coerce(hints[k], v, _join(path, k)) for k, v in data.items()}
    return cls(**kwargs)


NOT_A_KEY = {"key": False}  # field metadata: set by code after parsing, never read from YAML


def yaml_keys(cls: type) -> list[str]:
    """The fields of dataclass ``cls`` a YAML mapping may set."""
    return [f.name for f in dataclasses.fields(cls) if f.init and f.metadata.get("key", True)]


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(
        tp
    ):  # a section whose plugin owns some keys parses itself (pretrain.core.plugin_settings)
        return tp.from_mapping(value, path) if hasattr(tp, "from_mapping") else parse_dataclass(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_coerce(item, v, f"{path}.{i}") for i, v in enumerate(value)]
    if origin is tuple and typing.get_args(tp)[1:] == (Ellipsis,):  # tuple[T, ...]: a list in YAML
        return tuple(_coerce(list[typing.get_args(tp)[0]], value, path))
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ConfigError(f"{path}: expected {getattr(tp, '__name__', tp)}, got {value!r} ({type(value).__name__})")


def to_plain(value: Any) -> Any:
    """Plain mappings and lists of a config, as ``dataclasses.asdict`` makes them, except that a
    dataclass with a ``to_dict`` (a section holding a plugin's settings) writes itself."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def apply_override(data: dict, dotted: str) -> None:
    """Set ``a.b.c=value`` in a nested dict/list; the value is parsed as YAML (1e-3, true, [1,2])."""
    if "=" not in dotted:
        raise ConfigError(f"override {dotted!r} must look like key.sub=value")
    key, raw = dotted.split("=", 1)
    parts = key.strip().split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: i + 1]))
    last = parts[-1]
    value = read_yaml(raw) if raw.strip() else ""
    if isinstance(node, list):
        node[_list_index(node, last, key)] = value
    else:
        node[last] = value


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, path)]
    if part not in node or node[part] is None:
        node[part] = {}
    return node[part]


def _list_index(node: list, part: str, path: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {path}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists of mappings are indexed (tasks.0.name)."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        items = enumerate(data)
    else:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(flatten(value, _join(prefix, key)))
    return out


def config_changes(old: dict, new: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two config mappings, as 'key: old -> new'."""
    a, b = flatten(old), flatten(new)
    keys = sorted((set(a) | set(b)) - set(ignore))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]
